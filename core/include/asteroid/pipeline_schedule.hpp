// The round latency of the step chain executed for real under 1F1B, as opposed to Eq. 4-6's
// closed form. Eq. 4-6 assumes the dominant step never waits; when the steps after it take longer
// to return the first gradient than its warm-up forwards last (few micro-batches, deep pipelines),
// the real round is longer. This replays the schedule the Program prescribes, step by step:
// - compute step of stage p: min(M, 2(P-p)-1) forwards, then alternating backward/forward, then the
//   remaining backwards (1F1B with the communication steps counted as pipeline positions, which is
//   where the cost model's K = 2(P-p)-1 in-flight micro-batches comes from);
// - communication step: two independent FIFO channels (activations forward, gradients backward: the
//   links are full duplex);
// - each stage's all-reduce starts after its last backward.
// O(S x M) time.
#pragma once

#include <vector>

#include "asteroid/cost_model.hpp"

namespace asteroid {

struct ScheduleTiming {
  double latency_s = 0;
  std::vector<double> last_backward_end_s;  // per step
};

ScheduleTiming schedule_latency(const std::vector<StepCost>& steps, int microbatches);

}  // namespace asteroid
