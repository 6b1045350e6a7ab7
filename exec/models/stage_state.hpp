// The training state of a stage, layer by layer: each layer's parameters and the optimizer's
// buffers for them. The optimizers (SGD, SGD with momentum 0.9, Adam) are written per parameter
// here, rather than taken from torch::optim, so that one layer's state can be flattened into one
// tensor, copied to a backup device, checkpointed, and loaded on another device after a re-plan.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "asteroid/input/scenario.hpp"
#include "models.hpp"

namespace asteroid::exec {

class StageState {
 public:
  // Layers [first, last] of `net` (whose parameters this object updates in place).
  StageState(const PlannerModel& net, int first, int last, Optimizer kind, double learning_rate);

  void step();  // one optimizer step from the parameters' gradients
  void zero_grad();

  // Elements of layer l's flat state (parameters, then one or two buffers of each, then the step
  // count): known from the model alone, so a backup can size what it receives.
  static int64_t flat_size(const PlannerModel& net, int l, Optimizer kind);
  torch::Tensor flat(int l) const;
  void load(int l, const torch::Tensor& flat);  // throws std::runtime_error on a size mismatch

 private:
  Optimizer kind_;
  double lr_;
  int first_, last_;
  std::map<int, std::vector<torch::Tensor>> params_, m_, v_;  // per layer
  double steps_ = 0;
};

// Writes `t` to `path` whole (a temporary file, then rename); reads it back.
void save_tensor(const torch::Tensor& t, const std::string& path);
torch::Tensor load_tensor(const std::string& path);

}  // namespace asteroid::exec
