// The round latency of the step chain executed for real under 1F1B, as opposed to Eq. 4-6's
// closed form. Eq. 4-6 assumes the dominant step never waits; when the steps after it take longer
// to return the first gradient than its warm-up forwards last (few micro-batches, deep pipelines),
// the real round is longer. This replays the schedule the Program prescribes, step by step:
// - compute step of stage p: min(M, 2(P-p)-1) forwards, then alternating backward/forward, then the
//   remaining backwards (1F1B with the communication steps counted as pipeline positions, which is
//   where the cost model's K = min(M, 2(P-p)-1) in-flight micro-batches comes from);
// - communication step: two FIFO channels, one message at a time each (activations forward,
//   gradients backward), each message its link latency L and then its bytes;
// - shared NICs (the default): the devices of a compute step have one full-duplex port on the
//   switch, so their uplink carries both their activations downstream and their gradients upstream,
//   and their downlink both directions' incoming messages; flows crossing a port share its rate
//   max-min fairly, as on a star of full-duplex links (SimGrid's CM02 model, sim/README.md). The
//   closed form of cost_model.hpp gives each communication step channels of its own, which is the
//   replay with `shared_nics = false`: on a star, a middle stage whose port is nearly as loaded as
//   the dominant step waits for its messages, and the real round is longer than both;
// - each stage's all-reduce starts after its last backward and takes T_a; it is not charged for
//   sharing the stage's ports with its last gradient still leaving upstream.
// A fluid event simulation: O(S x M) events, each O(S^2).
//
// With the round's flows on the network graph (NetworkUse, from CostModel::network_use), the
// replay runs them instead of the star's ports: each message of a communication step is its
// slices, one flow per pair of devices, each sender sending one at a time per direction (as the
// Program's devices do); the members of a data-parallel group run the 1F1B order each on its own
// time for its share, each starting an operation when the slices it computes on have landed (a
// group in lock-step would wait for its slowest slice); each all-reduce is its 2(g-1) ring steps,
// every member's flow at once and the next ring step when all of them landed; every flow waits its route's
// latency, then shares the channels it crosses by weighted max-min, its rate going as 1 / its route's
// latency as CM02's sharing penalty has it (a full-duplex link's two directions are two
// channels, a half-duplex link or a medium one), its rate also bounded by SimGrid's TCP window over its round
// trip (CM02's gamma / 2 latency). This is what the simulator runs, so where steps meet on a
// channel (a middle stage's port, a medium, an uplink) the replay waits as the simulator does.
#pragma once

#include <utility>
#include <vector>

#include "asteroid/input/vocabulary.hpp"
#include "asteroid/model/network_use.hpp"
#include "asteroid/model/step_cost.hpp"

namespace asteroid {

struct ScheduleTiming {
  double latency_s = 0;
  std::vector<double> last_backward_end_s;  // per step
};

// The operations of each compute step s (even) of S steps, in 1F1B order: min(M, S - s) warm-up
// forwards, then backward and forward alternating, then the last backwards; each entry is
// (is_backward, micro-batch). Communication steps' entries are empty. schedule::pipeline_order's,
// as pairs (the replays read that one).
std::vector<std::vector<std::pair<bool, int>>> one_f_one_b_order(int S, int M);

// `kind`: the order each compute step runs (schedule.hpp); 1F1B unless GPipe.
ScheduleTiming schedule_latency(const std::vector<StepCost>& steps, int microbatches,
                                bool shared_nics = true, PipelineSchedule kind = PipelineSchedule::one_f_one_b);

// The replay on the network graph; `use` has an entry per step (schedule_flows.cpp).
ScheduleTiming schedule_latency(const std::vector<StepCost>& steps, int microbatches, const NetworkUse& use,
                                PipelineSchedule kind = PipelineSchedule::one_f_one_b);

}  // namespace asteroid
