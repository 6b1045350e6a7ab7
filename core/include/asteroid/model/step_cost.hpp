// One step of a plan's pipeline, priced (docs/method.md §3.1-3.4): a stage's compute or the
// communication between two stages, with Eq. 4-8's terms. The cost model fills them in
// (cost_model.hpp); the replays read them (pipeline_schedule.hpp, the planners).
#pragma once

namespace asteroid {

enum class StepKind { compute, communication };

struct StepCost {
  StepKind kind = StepKind::compute;
  int stage = 0;  // compute: the stage; communication: the stage it leaves
  double E_f = 0, E_b = 0, T_w = 0, T_e = 0, T_a = 0;
  double T_o = 0;  // compute: the optimizer step after the all-reduce (not in Eq. 4-8: ours)
  double L = 0;  // communication: the link latency included in E_f and E_b (the rest is bytes / bandwidth)
  // Seconds per micro-batch the step holds its busiest resource in steady 1F1B; 0 means E_f + E_b
  // (a compute step, or a communication step whose two directions share a channel).
  double period_s = 0;
  double total() const { return T_w + T_e + T_a + T_o; }
  double period() const { return period_s > 0 ? period_s : E_f + E_b; }
};

}  // namespace asteroid
