// Device profiles ("traces"): per layer of one model on one device type, forward and backward time
// as a function of batch size, plus the byte sizes the cost model needs. Format: docs/formats.md.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "asteroid/input/error.hpp"

namespace asteroid {

// One linear map inside a layer (a y = W x + b over `in_features` inputs), as LoRA and adapters
// need it: traces do not otherwise carry per-map shapes. Optional in a trace (docs/formats.md).
struct LinearMap {
  std::string name;            // e.g. "query", "value", "attention_output"
  long long in_features = 0;   // width of x
  long long out_features = 0;  // width of y
  double weight_bytes = 0;     // bytes of W: in x out x bytes per element (so the element size)
  long long rows_per_sample = 1;  // vectors x per sample the map is applied to (a sequence: its tokens)
  double bytes_per_element() const { return weight_bytes / (double(in_features) * double(out_features)); }
};

struct LayerProfile {
  std::string name;
  std::string layer_class;  // "conv", "dwconv", ...; may be empty
  double fwd_flops_per_sample = 0;
  double bwd_flops_per_sample = 0;
  double param_bytes = 0;
  double output_activation_bytes_per_sample = 0;
  double stored_activation_bytes_per_sample = 0;
  std::vector<double> fwd_s;  // one per Profile::batch_sizes
  std::vector<double> bwd_s;
  // One optimizer step over this layer's parameters, per optimizer token ("sgd", "sgd_momentum",
  // "adam"), in seconds; independent of the batch size. Optional: an optimizer the trace does not
  // list costs nothing (docs/formats.md).
  std::map<std::string, double> optimizer_step_s;
  // The layer's linear maps, by name (optional; LoRA and adapters need the maps they name).
  std::vector<LinearMap> linear_maps;
  const LinearMap* map(const std::string& name) const {
    for (const LinearMap& m : linear_maps)
      if (m.name == name) return &m;
    return nullptr;
  }
};

struct Profile {
  std::string device_type;
  double memory_bytes = 0;
  double usable_memory_bytes = 0;
  std::string model;
  std::string input;
  nlohmann::json provenance;        // free-form; "kind" is measured | derived | synthetic
  std::vector<double> batch_sizes;  // strictly increasing, shared by all layers
  std::vector<LayerProfile> layers;
  nlohmann::json extra_device;  // the "device" block's description, kept for reports
  // The power mode the times are for (the "device" block's power_mode); empty: the default mode
  // of the type's power model (power_model.hpp).
  std::string power_mode;

  size_t num_layers() const { return layers.size(); }
};

// Time for `samples` samples given measured points (batch_sizes[i], times[i]): linear between
// points, proportional below the first, the last segment extended above the last. Linear in the
// times, so interpolating a sum of layers equals summing the interpolations (prefix sums rely on it).
double interpolate_time(const std::vector<double>& batch_sizes, const std::vector<double>& times,
                        double samples);

Result<Profile> load_profile(const std::string& file);
Result<Profile> parse_profile(const nlohmann::json& j, const std::string& file);
nlohmann::json profile_to_json(const Profile& p);

// An empty string when both profiles describe the same layer list (names and byte sizes);
// otherwise what differs, e.g. "layer 17 is \"block3\" in one and \"block4\" in the other".
std::string layer_list_mismatch(const Profile& a, const Profile& b);

}  // namespace asteroid
