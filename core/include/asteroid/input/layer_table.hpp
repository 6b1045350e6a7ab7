// Prefix sums over a profile's layers, so that the time and bytes of any contiguous layer range cost
// O(1) (plus O(log K) to locate the batch size among K profiled points). Times are made
// non-decreasing in the batch size (a measured point below an earlier one is raised to it), so
// that every device's time grows with its share: Alg. 1 and the planner rely on it.
#pragma once

#include <vector>

#include "asteroid/input/fine_tuning.hpp"
#include "asteroid/input/profile.hpp"
#include "asteroid/input/vocabulary.hpp"

namespace asteroid {

// Where `samples` falls among the profiled batch sizes: t(samples) = w0 * t[k0] + w1 * t[k1].
struct BatchPoint {
  int k0 = 0, k1 = 0;
  double w0 = 0, w1 = 0;
};

class LayerTable {
 public:
  // `speed_factor` > 1 makes every time shorter (a faster device of the same type); `optimizer`
  // picks the layers' optimizer step times (none listed: 0); `training` says what trains
  // (fine_tuning.hpp: its laws give every byte size and time below; null: every layer trains).
  LayerTable(const Profile& p, double speed_factor = 1.0, Optimizer optimizer = Optimizer::sgd_momentum,
             const TrainingLayers* training = nullptr);

  int num_layers() const { return num_layers_; }
  BatchPoint locate(double samples) const;

  // Forward / backward time of layers [first, last] for the located number of samples.
  double fwd_s(int first, int last, const BatchPoint& b) const { return range(fwd_, first, last, b); }
  double bwd_s(int first, int last, const BatchPoint& b) const { return range(bwd_, first, last, b); }

  // One optimizer step over layers [first, last] (after the round's all-reduce).
  double optimizer_s(int first, int last) const { return opt_[last + 1] - opt_[first]; }
  bool has_optimizer_times() const { return has_opt_; }

  // Weights held by a device running layers [first, last], frozen ones included (bytes).
  double weight_bytes(int first, int last) const { return weights_[last + 1] - weights_[first]; }
  // Parameters that train (bytes): what gradients, optimizer state, the all-reduce and replica
  // copies are made of. Equal to weight_bytes under full training.
  double trainable_bytes(int first, int last) const { return trainable_[last + 1] - trainable_[first]; }
  // Weights, gradients and optimizer state (`state_factor` bytes per trainable byte: 0, 1, 2).
  double static_bytes(int first, int last, double state_factor) const {
    return weight_bytes(first, last) + trainable_bytes(first, last) * (1 + state_factor);
  }
  // Activations kept for backward per sample per in-flight micro-batch (0 where backward does not cross).
  double stored_bytes_per_sample(int first, int last) const { return stored_[last + 1] - stored_[first]; }
  double output_bytes_per_sample(int layer) const { return output_[layer]; }
  // The gradient sent back across the boundary after `layer`, per sample: the output's size, or 0
  // inside a frozen prefix (no backward there needs it).
  double gradient_bytes_per_sample(int layer) const { return gradient_[layer]; }
  double whole_model_speed() const { return speed_; }
  const std::vector<double>& batch_sizes() const { return batch_sizes_; }

 private:
  double range(const std::vector<std::vector<double>>& t, int first, int last, const BatchPoint& b) const {
    const auto& a = t[b.k0];
    const auto& c = t[b.k1];
    return b.w0 * (a[last + 1] - a[first]) + b.w1 * (c[last + 1] - c[first]);
  }

  int num_layers_ = 0;
  std::vector<double> batch_sizes_;
  std::vector<std::vector<double>> fwd_, bwd_;  // [batch point][layer prefix]
  std::vector<double> weights_, trainable_, stored_, output_, gradient_, opt_;
  bool has_opt_ = false;
  double speed_ = 0;
};

}  // namespace asteroid
