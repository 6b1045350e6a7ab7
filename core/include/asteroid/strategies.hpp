// Planning strategies, each a documented policy whose plan is scored by the same cost model, so that
// comparisons are fair: asteroid, device, dp, pp, pipedream, dapple, alpa, hetpipe. A strategy whose
// plan does not fit in memory comes back infeasible with an "out of memory" reason (the paper's x).
#pragma once

#include <string>

#include "asteroid/cost_model.hpp"
#include "asteroid/planner.hpp"

namespace asteroid {

struct StrategyResult {
  std::string strategy;
  Evaluation evaluation;  // feasible == false: out of memory (reason says where) or no plan
  PlanSearchStats stats;
  bool proven_optimal = true;  // false when the planner's time limit cut the search
};

// `base` carries the scenario's planner options (micro-batch sizes, max stages).
StrategyResult run_strategy(const std::string& name, const CostModel& model, const PlannerOptions& base);

// The scenario's cluster and cost options.
CostModel make_cost_model(const Scenario& s);
PlannerOptions planner_options(const Scenario& s);

// The plan a backend runs: the one in `plan_file` if given, else the strategy's (the scenario's
// when `strategy` is empty), scored by the cost model. An Error when the file is bad, no plan is
// found, or the plan does not fit.
Result<Evaluation> backend_plan(const Scenario& s, const CostModel& model, const std::string& plan_file,
                                const std::string& strategy);

}  // namespace asteroid
