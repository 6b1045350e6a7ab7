#include "asteroid/input/layer_table.hpp"

#include <algorithm>
#include <cassert>

namespace asteroid {

LayerTable::LayerTable(const Profile& p, double speed_factor, Optimizer optimizer, const TrainingLayers* training)
    : num_layers_(int(p.layers.size())), batch_sizes_(p.batch_sizes) {
  assert(speed_factor > 0 && "speed factor must be positive");
  size_t K = batch_sizes_.size();
  fwd_.assign(K, std::vector<double>(num_layers_ + 1, 0.0));
  bwd_.assign(K, std::vector<double>(num_layers_ + 1, 0.0));
  weights_.assign(num_layers_ + 1, 0.0);
  trainable_.assign(num_layers_ + 1, 0.0);
  stored_.assign(num_layers_ + 1, 0.0);
  opt_.assign(num_layers_ + 1, 0.0);
  const std::string opt_key = to_string(optimizer);
  for (int l = 0; l < num_layers_; ++l) {
    const auto& L = p.layers[l];
    const LayerLaw law = layer_law(p, training, l);
    // A layer never takes less time for more samples: a measured point below an earlier one
    // (noise) is raised to it. Alg. 1's greedy is then exact, and the planner's bounds hold.
    double f = 0, b = 0;
    for (size_t k = 0; k < K; ++k) {
      f = std::max(f, L.fwd_s[k]);
      b = std::max(b, L.bwd_s[k]);
      // The laws keep times non-decreasing in the batch size (min and sums of such).
      fwd_[k][l + 1] = fwd_[k][l] + law.fwd_s(f) / speed_factor;
      bwd_[k][l + 1] = bwd_[k][l] + law.bwd_s(f, b) / speed_factor;
    }
    auto o = L.optimizer_step_s.find(opt_key);
    has_opt_ = has_opt_ || o != L.optimizer_step_s.end();
    opt_[l + 1] = opt_[l] + (o != L.optimizer_step_s.end() ? law.optimizer_factor * o->second / speed_factor : 0.0);
    weights_[l + 1] = weights_[l] + law.weight_bytes;
    trainable_[l + 1] = trainable_[l] + law.trainable_bytes;
    stored_[l + 1] = stored_[l] + law.stored_bytes_per_sample;
    output_.push_back(L.output_activation_bytes_per_sample);
    gradient_.push_back(asteroid::gradient_bytes_per_sample(p, training, l));
  }
  double total = fwd_[K - 1][num_layers_] + bwd_[K - 1][num_layers_];
  speed_ = total > 0 ? batch_sizes_[K - 1] / total : 1e300;
}

BatchPoint LayerTable::locate(double y) const {
  BatchPoint b;
  size_t n = batch_sizes_.size();
  if (y <= 0) return b;  // weights zero: no samples, no time
  if (n == 1 || y <= batch_sizes_[0]) {
    b.w0 = y / batch_sizes_[0];
    return b;
  }
  size_t i = 1;
  while (i < n - 1 && batch_sizes_[i] < y) ++i;
  double w = (y - batch_sizes_[i - 1]) / (batch_sizes_[i] - batch_sizes_[i - 1]);
  b.k0 = int(i - 1);
  b.k1 = int(i);
  b.w0 = 1 - w;
  b.w1 = w;
  return b;
}

}  // namespace asteroid
