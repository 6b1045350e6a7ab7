// The 1F1B schedule's facts, written once (docs/method.md §1.1): what the Program runs, what the
// cost model prices, what the planners' memory checks and the replay's bounds assume.
//
// A pipeline of P stages has S = 2P - 1 steps: the stages, and the transfers between neighbouring
// stages, each a pipeline position of its own (stage p is step 2p). Step s runs min(M, S - s)
// forwards before its first backward (its warm-up), then alternates a backward with a forward, then
// runs its last backwards. So stage p keeps K_p = min(M, 2(P - p) - 1) micro-batches in flight: their
// activations are stored until their backward (with recomputation, only their inputs: the count is
// the same, what each costs is memory_breakdown.hpp's).
//
// GPipe (planner.schedule "gpipe") is the same order with every step's warm-up M: all forwards, then
// all backwards, M micro-batches in flight at every stage. The functions that take a
// PipelineSchedule are the ones the Program, the cost model, the planners and the replay read; those
// without are 1F1B's.
//
// Within a stage, the devices of a data-parallel group each take a slice of every micro-batch: the
// samples [lo, hi) of their share, in group order; a message between neighbouring stages carries the
// samples where a sender's slice and a receiver's overlap.
#pragma once

#include <algorithm>
#include <utility>
#include <vector>

#include "asteroid/input/vocabulary.hpp"

namespace asteroid::schedule {

// Steps of a pipeline of `stages` stages: the stages and the transfers between them.
constexpr int pipeline_steps(int stages) { return 2 * stages - 1; }

// Forwards step `step` (of `steps`) runs before its first backward: min(M, S - s).
constexpr int warmup(int microbatches, int steps, int step) { return std::min(microbatches, steps - step); }

// Micro-batches stage `stage` of `stages` holds in flight: the warm-up of its step, K_p.
constexpr int in_flight(int microbatches, int stages, int stage) {
  return warmup(microbatches, pipeline_steps(stages), 2 * stage);
}

// Forwards step `step` runs before its first backward under `kind`: 1F1B's warm-up, or all M.
constexpr int warmup(PipelineSchedule kind, int microbatches, int steps, int step) {
  return kind == PipelineSchedule::gpipe ? microbatches : warmup(microbatches, steps, step);
}

// Micro-batches stage `stage` of `stages` holds in flight under `kind`.
constexpr int in_flight(PipelineSchedule kind, int microbatches, int stages, int stage) {
  return warmup(kind, microbatches, pipeline_steps(stages), 2 * stage);
}

// One operation of a stage's round: a forward or a backward of one micro-batch.
struct Pass {
  bool backward = false;
  int microbatch = 0;
};

// A stage's passes in 1F1B order, given its warm-up: the warm-up forwards, then backward and forward
// alternating, then the last backwards. 2M entries.
inline std::vector<Pass> stage_order(int microbatches, int warmup_forwards) {
  std::vector<Pass> out;
  out.reserve(size_t(2 * microbatches));
  int f = 0, b = 0;
  for (; f < warmup_forwards; ++f) out.push_back({false, f});
  while (b < microbatches) {
    out.push_back({true, b++});
    if (f < microbatches) out.push_back({false, f++});
  }
  return out;
}

// The sample slices [lo, hi) of a micro-batch, per device of a stage in group order, from the
// devices' shares (samples each): {5, 3} gives {[0, 5), [5, 8)}.
inline std::vector<std::pair<int, int>> sample_ranges(const std::vector<int>& shares) {
  std::vector<std::pair<int, int>> r;
  r.reserve(shares.size());
  int at = 0;
  for (int y : shares) {
    r.push_back({at, at + y});
    at += y;
  }
  return r;
}

// Each step's passes under `kind`, for a pipeline of `steps` steps: a compute step's stage_order
// with its warm-up, a communication step's empty.
inline std::vector<std::vector<Pass>> pipeline_order(PipelineSchedule kind, int microbatches, int steps) {
  std::vector<std::vector<Pass>> order(static_cast<size_t>(steps));
  for (int s = 0; s < steps; s += 2) order[size_t(s)] = stage_order(microbatches, warmup(kind, microbatches, steps, s));
  return order;
}

// Samples two slices [lo, hi) have in common: what one device sends the other per micro-batch.
constexpr int overlap(std::pair<int, int> a, std::pair<int, int> b) {
  return std::max(0, std::min(a.second, b.second) - std::max(a.first, b.first));
}

}  // namespace asteroid::schedule
