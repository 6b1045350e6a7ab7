#include "asteroid/model/memory_breakdown.hpp"

#include <algorithm>
#include <cstdio>

#include "asteroid/model/schedule.hpp"
#include "asteroid/input/units.hpp"

namespace asteroid {

double activation_bytes_per_sample(const LayerTable& t, int first, int last, int in_flight, bool recompute) {
  if (in_flight == 0) return 0;
  if (!recompute) return in_flight * t.stored_bytes_per_sample(first, last);
  const double input = first > 0 ? t.output_bytes_per_sample(first - 1) : 0;
  return in_flight * input + t.stored_bytes_per_sample(first, last);
}

MemoryBreakdown memory_breakdown(const LayerTable& t, Optimizer optimizer, int first, int last, int samples,
                                 int in_flight, bool recompute) {
  MemoryBreakdown m;
  const double trainable = t.trainable_bytes(first, last);
  m.weights_bytes = t.weight_bytes(first, last);
  m.gradients_bytes = trainable;
  m.optimizer_states_bytes = trainable * optimizer_state_factor(optimizer);
  m.activations_bytes = samples * activation_bytes_per_sample(t, first, last, in_flight, recompute);
  return m;
}

MemoryBreakdown inference_memory(const Profile& p, int samples) {
  MemoryBreakdown m;
  double live = 0;
  for (size_t l = 0; l < p.layers.size(); ++l) {
    m.weights_bytes += p.layers[l].param_bytes;
    const double in = l > 0 ? p.layers[l - 1].output_activation_bytes_per_sample : 0;
    live = std::max(live, in + p.layers[l].output_activation_bytes_per_sample);
  }
  m.activations_bytes = live * samples;
  return m;
}

nlohmann::json memory_breakdown_to_json(const MemoryBreakdown& m) {
  return {{"weights_bytes", m.weights_bytes},
          {"activations_bytes", m.activations_bytes},
          {"gradients_bytes", m.gradients_bytes},
          {"optimizer_states_bytes", m.optimizer_states_bytes},
          {"total_bytes", m.total_bytes()}};
}

}  // namespace asteroid
