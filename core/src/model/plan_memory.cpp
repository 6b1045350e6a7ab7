#include "asteroid/model/plan_memory.hpp"

#include "asteroid/model/schedule.hpp"

namespace asteroid {

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

}  // namespace asteroid
