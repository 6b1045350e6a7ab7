// An imported model's archive, as tools/import_model/import_model.py writes it (docs/model_import.md):
// a folder holding model.json (the manifest read here), description.json (the layer description,
// the format of traces/models/) and layers/NNN.pt (one TorchScript module per planner layer).
// Read by the scenario loader, which checks it against the traces, and by asteroid-exec and
// asteroid-profile, which load the layers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "asteroid/input/error.hpp"

namespace asteroid {

struct ArchiveLayer {
  std::string name;    // the planner layer's name, as in the traces
  std::string file;    // path of its TorchScript module, resolved against the archive folder
  std::string sha256;  // of that file, lower-case hex (checked when the layer is loaded)
};

struct ModelArchive {
  std::string dir;                    // the archive folder
  std::string model;                  // the model's name in scenarios and traces
  std::string input;                  // the input tag ("image_3x224x224", "tokens_128")
  std::string source;                 // what was imported ("torchvision:resnet18", "FILE.py:CLASS")
  std::string input_dtype;            // "float32" or "int64"
  std::vector<int64_t> sample_shape;  // one sample, without the batch dimension
  std::vector<int64_t> output_shape;  // the last layer's output per sample
  int64_t vocab = 0;                  // int64 inputs: ids are in [0, vocab)
  std::vector<ArchiveLayer> layers;
};

// Reads DIR/model.json. Errors name that file, the JSON field and the problem: a missing folder or
// manifest, an unknown or missing key, a layer file outside the folder or missing, a bad shape.
Result<ModelArchive> read_model_archive(const std::string& dir);

}  // namespace asteroid
