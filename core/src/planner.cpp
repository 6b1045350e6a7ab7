#include "asteroid/planner.hpp"

#include <algorithm>

#include "planner_common.hpp"

namespace asteroid {

std::vector<int> microbatch_candidates(int batch_size, const std::vector<int>& allowed) {
  std::vector<int> out;
  if (!allowed.empty()) {
    for (int b : allowed)
      if (b > 0 && batch_size % b == 0) out.push_back(b);
  } else {
    for (int b = 1; b <= batch_size; ++b)
      if (batch_size % b == 0) out.push_back(b);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Result<PlannerResult> plan_optimal(const CostModel& model, const PlannerOptions& options) {
  using namespace planner_detail;
  // Largest micro-batches first: they are usually the best, so the bound prunes early.
  std::vector<int> betas = microbatch_candidates(model.options().batch_size, options.microbatch_sizes);
  std::reverse(betas.begin(), betas.end());
  if (betas.empty())
    return Error{"", "planner.microbatch_sizes", "no micro-batch size divides the batch size"};
  std::vector<int> order = planner_device_order(model.cluster());
  RestBound rb = rest_bound(model, order);
  SearchState state(options.time_limit_s);
  seed_with_heuristic_plans(model, options, order, betas, rb, state);
  if (model.options().latency_model == LatencyModel::paper)
    search_stages_forward(model, options, order, betas, rb, state);
  else
    search_stages_backward(model, options, order, betas, rb, state);
  if (state.best == kInf && state.out_of_time)
    return Error{"", "", "no plan found within the planner's time limit"};
  if (state.best == kInf) {
    std::string why = state.last_reason.empty() ? "no plan satisfies the constraints"
                                                : "no plan fits in memory; e.g. " + state.last_reason;
    return Error{"", "", why};
  }
  PlannerResult r;
  r.plan = state.best_plan;
  r.round_latency_s = state.best;
  r.stats = state.stats;
  r.proven_optimal = !state.out_of_time;
  return r;
}

}  // namespace asteroid
