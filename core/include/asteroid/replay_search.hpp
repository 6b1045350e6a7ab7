// The plan with the shortest 1F1B replay (pipeline_schedule.hpp) in the planner's search space: the
// objective the simulator runs, not the closed form (docs/method.md §3.7).
//
// The replay is not a sum or a maximum of per-stage terms, so the closed form's dynamic program
// (planner.hpp) cannot minimise it. This is a branch and bound over the same space (every order of
// the device classes, groups contiguous in it, the last devices of the order idle, every stage
// count, every micro-batch size, the share rule and memory of the cost model): stages are placed
// first to last; a partial plan is cut when a lower bound on the replay of every plan that
// completes it (replay_bound.hpp, with the remaining layers' least time on the remaining devices)
// is no shorter than the best replay found; a complete plan whose bound passes is replayed.
// Starting from a good plan (the closed-form optimum and the per-stage-cap optima,
// replay_choice.hpp) keeps the tree small.
//
// Exact: with no time limit reached and every order of the device classes searched, no plan of the
// space replays shorter than the result (tests/core/test_replay_search.cpp checks it against
// exhaustive enumeration). Cost: a replay per complete plan the bound does not cut; the stage
// costs of each partial plan.
#pragma once

#include "asteroid/cost_model.hpp"
#include "asteroid/planner.hpp"

namespace asteroid {

struct ReplaySearchStats {
  long long partial_plans = 0;  // stages placed (each a stage cost and a bound)
  long long replays = 0;        // complete plans replayed
};

struct ReplaySearchResult {
  Evaluation evaluation;        // the plan with the shortest replay found (schedule_latency_s)
  bool proven_optimal = true;   // the whole space searched
  bool improved = false;        // shorter than the starting plan
  ReplaySearchStats stats;
};

// `start`: a feasible evaluation with its replay (the best known plan). Requires the model's
// replay_schedule option; `options` as for plan_optimal (its time limit counts from the call).
ReplaySearchResult search_by_replay(const CostModel& model, const PlannerOptions& options, const Evaluation& start);

// Asteroid's planner: the closed-form optimum (plan_optimal), the replay choice among the optima per
// micro-batch size and stage cap (replay_choice.hpp) as the starting plan, then search_by_replay.
// Without the replay (the model's replay_schedule off) or under the paper's latency model, the
// closed-form optimum alone. Errors as plan_optimal's.
struct PlannedByReplay {
  Evaluation evaluation;
  bool proven_optimal = true;  // under the objective: the replay, or the closed form without it
  PlanSearchStats stats;       // the closed-form searches'
  ReplaySearchStats search;
  int candidates = 0;          // closed-form optima replayed to choose the starting plan
  double optimum_replay_s = 0;  // the closed-form optimum's replay
};
Result<PlannedByReplay> plan_by_replay(const CostModel& model, const PlannerOptions& options);

}  // namespace asteroid
