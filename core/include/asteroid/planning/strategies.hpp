// Planning strategies, each a documented policy whose plan is scored by the same cost model, so that
// comparisons are fair: asteroid, device, dp, pp, pp_net, pipedream, dapple, alpa, hetpipe. A
// strategy whose plan does not fit in memory comes back infeasible with an "out of memory" reason
// (the paper's x).
#pragma once

#include <string>

#include "asteroid/model/cost_model.hpp"
#include "asteroid/planning/planner.hpp"
#include "asteroid/planning/replay_search.hpp"
#include "asteroid/input/vocabulary.hpp"

namespace asteroid {

struct StrategyResult {
  std::string strategy;
  Evaluation evaluation;  // feasible == false: out of memory (reason says where) or no plan
  PlanSearchStats stats;
  bool proven_optimal = true;  // false when the planner's time limit cut the search
  // asteroid: seconds no plan of its space beats under its objective (the replay, or the closed
  // form under the paper's latency model), proven; equal to the plan's when proven optimal; 0: none
  // known (other strategies, which are policies, not searches). optimality_gap (replay_search.hpp)
  // turns it into "within x% of optimal".
  double lower_bound_s = 0;
  double objective_s = 0;  // asteroid: the plan's value under that objective (seconds)
  // asteroid: the closed-form optima replayed to start the search by replay (0: the closed-form
  // optimum's replay matched its closed form), the closed-form optimum's replay
  // (replay_choice.hpp), and the search's counts (replay_search.hpp).
  int replay_candidates = 0;
  double optimum_replay_s = 0;
  ReplaySearchStats replay_search;
};

// `base` carries the scenario's planner options (micro-batch sizes, max stages).
StrategyResult run_strategy(Strategy strategy, const CostModel& model, const PlannerOptions& base);

}  // namespace asteroid
