// Every strategy on one scenario, side by side (`asteroid-plan SCENARIO --strategy all`): the
// question a user asks first ("which plan, and how much better than the obvious ones?") in one
// command. Each strategy is planned and scored by the same cost model (strategies.hpp); rows are
// sorted by throughput, the infeasible ones last with their reason.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "asteroid/model/cost_model.hpp"
#include "asteroid/planning/planner.hpp"

namespace asteroid {

struct StrategyRow {
  std::string strategy;
  bool feasible = false;
  std::string reason;                    // when infeasible
  double round_s = 0;                    // the prediction: the 1F1B replay (Evaluation::predicted_round_s)
  double closed_form_round_s = 0;        // the closed form of the same plan
  double throughput_samples_per_s = 0;   // batch / round_s
  double per_1000_samples_s = 0;         // 1000 / throughput: an epoch of N samples takes N / 1000 x this
  double memory_headroom = 0;            // the least free share of a device's memory in the plan, 0..1
  std::string tightest_device;           // the device with that least headroom
  std::string plan;                      // "M x beta: [L0-7 on a:2,b:2] [L8-19 on c:4]"
  double planning_s = 0;                 // wall time the strategy took
  bool proven_optimal = true;
};

// Plans with every strategy; rows sorted by throughput (highest first), infeasible last.
std::vector<StrategyRow> compare_strategies(const CostModel& model, const PlannerOptions& options);

// A table for people; the speed-up of the first row over each other row in its last column.
std::string strategy_table_text(const std::vector<StrategyRow>& rows);
nlohmann::json strategy_table_json(const std::vector<StrategyRow>& rows);
std::string strategy_table_csv(const std::vector<StrategyRow>& rows);

// The plan in one line: "M x beta: [L<first>-<last> on <device>:<share>,...] ...".
std::string plan_one_line(const Plan& p, const Cluster& c);

}  // namespace asteroid
