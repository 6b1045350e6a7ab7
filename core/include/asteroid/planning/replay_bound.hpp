// A lower bound on the 1F1B replay's round latency (pipeline_schedule.hpp), cheap enough to prune a
// search by it (replay_search.hpp; docs/method.md §3.7).
//
// Why it is a bound: the replay runs every operation in a fixed order (each unit's 1F1B order,
// each sender's queue in micro-batch order, ring steps one after another) and starts each as soon
// as what it waits for has ended; sharing a channel only lengthens a flow. So a chain of
// operations that must follow one another, each at its time alone on the network (latency plus
// bytes at its route's slowest channel or TCP window, whichever is lower), cannot take longer
// than the replay; nor can the bytes a channel carries over the round at its full capacity.
// The chains used, for M micro-batches:
// - each member u of a stage at step s: micro-batch 0 reaching it (A_s: the least forward time of
//   each earlier step), its M forwards and M backwards, then micro-batch M-1's gradient going
//   back to stage 0 (D_s: the least backward time of each earlier step) and stage 0's tail, or
//   its own tail (optimizer step, and the all-reduce: its ring steps, each at least its slowest
//   flow alone, or T_a without a network);
// - the same member's first backward, which waits for micro-batch 0's round trip through every
//   later step (U_s), after which M backwards and the forwards beyond its warm-up remain;
// - each sender's queue of a communication step: M messages, one at a time;
// - each channel: its bytes over the round (every slice, every ring step) at its capacity.
#pragma once

#include <vector>

#include "asteroid/model/cost_model.hpp"
#include "asteroid/model/network_use.hpp"

namespace asteroid {

// `steps` are the first steps of a chain of `total_steps` (odd counts, compute first and last);
// `use` (empty when the network is ignored: then each communication step is one flow per
// direction of E_f / E_b) has entries for at least those steps. With fewer steps than the total,
// the bound holds for every completion of the chain (the missing steps count as taking no time,
// except for what `rest` proves of them).
// Seconds; 0 for an empty chain.
// `ends`, when given, receives the given chain's ends (seconds, each a lower bound): for a search
// that prices the next stages cheaply before costing them (replay_search.cpp): any member of a later
// stage waits at least `reach` for micro-batch 0, its last backward is followed by at least `back`
// before stage 0's, and stage 0's tail takes at least `tail0` after that.
struct ReplayChainEnds {
  double reach = 0, back = 0, tail0 = 0;
};
// What a partial chain's caller can prove of the missing steps (seconds, each a lower bound; 0:
// nothing known). The missing stages come after the given ones, so each chain through one of them
// passes the next communication step (the one after the given chain) both ways.
struct ReplayRest {
  // The longest forward + backward time of one micro-batch on any member of the missing stages.
  double step_s = 0;
  // The longest M forwards and backwards of any member of a missing stage plus its stage's tail
  // (optimizer step and all-reduce): the chain from its first forward to the round's end.
  double stages_s = 0;
  // The longest chain through a missing stage's member from micro-batch 0 reaching the first
  // missing stage to micro-batch M-1's gradient leaving it (through the missing stages before
  // that member and back), without its tail.
  double stages_back_s = 0;
  // Micro-batch 0's round trip through every missing step: from the end of its forward on the
  // last given stage to the start of its backward there.
  double round_trip_s = 0;
  // The next communication step: its least flow forward and backward, and its busiest sender's
  // M forward messages (the given chain's last stage sends them, one at a time).
  double next_fwd_s = 0, next_bwd_s = 0, next_queue_s = 0;
};
double replay_lower_bound(const std::vector<StepCost>& steps, int microbatches, const NetworkUse& use,
                          int total_steps, const ReplayRest& rest = {}, ReplayChainEnds* ends = nullptr,
                          PipelineSchedule kind = PipelineSchedule::one_f_one_b);

}  // namespace asteroid
