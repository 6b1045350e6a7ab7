#include "asteroid/memory_breakdown.hpp"

#include <algorithm>
#include <cstdio>

#include "asteroid/schedule.hpp"
#include "asteroid/units.hpp"

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

std::vector<DeviceMemory> plan_memory(const CostModel& model, const Evaluation& ev) {
  std::vector<DeviceMemory> out;
  const Plan& plan = ev.plan;
  const int P = plan.num_stages();
  for (int p = 0; p < P; ++p) {
    const StagePlan& sp = plan.stages[size_t(p)];
    const int K = schedule::in_flight(model.options().schedule, plan.microbatches, P, p);
    for (size_t i = 0; i < sp.devices.size(); ++i) {
      DeviceMemory d;
      d.device = sp.devices[i];
      d.stage = p;
      d.samples = sp.shares.empty() ? 0 : sp.shares[i];
      d.in_flight = K;
      d.recompute = sp.recompute;
      const Device& dev = model.cluster().devices[size_t(d.device)];
      d.memory = memory_breakdown(*dev.table, model.options().optimizer, sp.first_layer, sp.last_layer, d.samples, K,
                                  sp.recompute);
      d.usable_bytes = dev.memory_bytes;
      out.push_back(d);
    }
  }
  return out;
}

nlohmann::json memory_breakdown_to_json(const MemoryBreakdown& m) {
  return {{"weights_bytes", m.weights_bytes},
          {"activations_bytes", m.activations_bytes},
          {"gradients_bytes", m.gradients_bytes},
          {"optimizer_states_bytes", m.optimizer_states_bytes},
          {"total_bytes", m.total_bytes()}};
}

std::string memory_against_prediction_text(const RunReport& r, const std::vector<DeviceMemory>& predicted) {
  std::string t;
  for (const DeviceMemory& m : predicted) {
    const size_t d = size_t(m.device);
    const double held = d < r.peak_allocated_bytes.size() ? r.peak_allocated_bytes[d] : 0;
    if (held <= 0 || d >= r.devices.size()) continue;
    const double want = m.memory.total_bytes();
    char buf[240];
    std::snprintf(buf, sizeof buf, "  %-10s predicted %10s   allocated %10s (%.2fx)   resident %10s\n",
                  r.devices[d].c_str(), units::format_bytes(want).c_str(), units::format_bytes(held).c_str(),
                  want > 0 ? held / want : 0.0,
                  units::format_bytes(d < r.peak_memory_bytes.size() ? r.peak_memory_bytes[d] : 0).c_str());
    t += buf;
  }
  if (t.empty()) return t;
  return "memory per device: the cost model's peak for plan 0 (weights, gradients, optimizer state, "
         "activations in flight), the most libtorch's allocator held in a training round (tensors alone), the "
         "process's resident peak" +
         std::string(r.plans.size() > 1 ? "; the measured peaks span every plan of the run" : "") + ":\n" + t;
}

}  // namespace asteroid
