// The four planner models in libtorch. Each model is an ordered list of planner layers; each layer is
// a module with `torch::Tensor forward(torch::Tensor)`, so any contiguous range of layers is a
// pipeline stage and the chain of all layers is the whole model.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "planner_layers.hpp"

namespace asteroid::exec {

struct PlannerModel {
  std::string name;
  std::string input;                  // input tag, as in the traces ("cifar10_32", ...)
  std::vector<int64_t> sample_shape;  // one sample: {3,32,32}, {3,224,224} or {seq_len}
  bool token_input = false;           // BERT: int64 token ids in [0, vocab)
  int64_t vocab = 0;
  std::vector<std::string> layer_names;
  // An imported model's description (its importer's counts); null for the built-in models, whose
  // describe() counts through the instrumented ops.
  std::shared_ptr<const ModelDesc> description;
  // AnyModule::forward is non-const; the modules are shared, so constness would be shallow anyway
  mutable std::vector<torch::nn::AnyModule> layers;

  size_t size() const { return layers.size(); }
  std::shared_ptr<torch::nn::Module> module(size_t i) const { return layers.at(i).ptr(); }
  // Runs layers [begin, end) on x (autograd connected).
  torch::Tensor forward_range(torch::Tensor x, size_t begin, size_t end) const;
  torch::Tensor forward(torch::Tensor x) const { return forward_range(std::move(x), 0, size()); }
  // A random input batch (float images or int64 token ids).
  torch::Tensor make_input(int64_t batch) const;
  std::vector<torch::Tensor> parameters() const;
  std::vector<torch::Tensor> layer_parameters(size_t i) const;
  int64_t parameter_count() const;
  void train(bool on = true) const;
};

// Throws std::invalid_argument for an unknown name or bad options.
PlannerModel make_model(const std::string& name, const ModelOptions& opt = {});

// An imported model from its archive folder (asteroid/input/model_archive.hpp). Throws
// std::invalid_argument naming the file and the problem (manifest, changed layer file, a module
// libtorch cannot load).
PlannerModel load_archive(const std::string& dir);

// Description of an already built model (uses a batch of 2 in its current train/eval mode).
ModelDesc describe(const PlannerModel& m);

}  // namespace asteroid::exec
