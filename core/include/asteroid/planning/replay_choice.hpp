// Choosing the plan by its 1F1B replay (pipeline_schedule.hpp) where the closed form misleads.
//
// The exact planner (planner.hpp) minimises the closed-form round latency. That form assumes the
// dominant step never waits; when a pipeline's messages take about as long as its stages compute
// (slow links, few samples per micro-batch), each stage waits for the gradients of its K in-flight
// micro-batches and the real round can be far longer (up to 80% on environment A's BERT-small at
// 100 Mbps). The replay, which the simulator matches within 1% on the agreement plans
// (sim/README.md), then ranks better than the closed form.
//
// The choice: the planner's optimum under each micro-batch size and each cap on the number of
// stages, each replayed, the shortest replay kept. It runs only when the optimum's replay is more
// than `kReplayGap` longer than its closed form; otherwise the optimum is kept. The result is the
// best of those candidates under the replay: the starting plan of the exact search by replay
// (replay_search.hpp), which prunes with it.
// Cost: up to |micro-batch sizes| x |stage caps| planner runs (caps 1..8, then every 1.5x).
#pragma once

#include "asteroid/model/cost_model.hpp"
#include "asteroid/planning/planner.hpp"

namespace asteroid {

constexpr double kReplayGap = 0.01;

struct ReplayChoice {
  Evaluation evaluation;        // of the chosen plan (its schedule_latency_s is what was minimised)
  int candidates = 0;           // plans replayed (0: the optimum's replay matched its closed form)
  double optimum_replay_s = 0;  // the closed-form optimum's replay, for comparison
  PlanSearchStats stats;        // the searches', summed
  bool proven_optimal = true;   // every search proven (under the closed form)
};

// `optimum` is plan_optimal(model, options) (already run by the caller). Requires the model's
// replay_schedule option; without it, returns the optimum's evaluation unchanged.
// options.time_limit_s (seconds, 0: none) bounds the whole choice: each closed-form search gets
// what is left of it, and none starts after it (the best candidate so far is kept).
ReplayChoice choose_by_replay(const CostModel& model, const PlannerOptions& options,
                              const PlannerResult& optimum);

}  // namespace asteroid
