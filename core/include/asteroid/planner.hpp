// The HPP planner (PAPER.md section 4, Alg. 2), exactly optimal over its search space under the cost
// model: contiguous layer ranges x contiguous device groups over the devices sorted by memory (then
// speed; a prefix of that order may be left idle) x micro-batch size (divisors of B).
//
// SUBTLE: the round latency is not a sum over stages: it depends on the dominant step dm, the first
// step with the largest E_f + E_b, anywhere in the pipeline, and on where each stage's all-reduce
// starts. A plain prefix DP is therefore not exact. This planner is a dynamic program over (stages
// placed, next layer, next device, start of the last group) whose entries hold Pareto sets of
// partial-plan labels from which the objective can be finished exactly; dominated labels are dropped.
// - pipeline latency model: (U = sum of E_f, T = max_s (T_a^s + sum of E_b from s to the end so far),
//   m = max E_f + E_b); the latency sum_s (E_f + E_b) + (M - 1) m + max_s (T_a^s - sum_{i<s} E_b^i)
//   equals U + (M - 1) m + T of the complete plan, and grows with each of the three.
// - paper (Eq. 4-6): before dm (U = sum of E_f, X = max_s (T_a^s + sum of E_b from s on), m); after dm
//   (V = latency so far, W = base - sum of E_b since dm, C = E_f + E_b of dm). Choosing any step j with
//   E_f + E_b >= every other step as "dm" gives a latency no lower than the true one, and the true dm
//   gives it exactly, so the minimum over labels is the optimum.
// Labels whose lower bound cannot beat the best complete plan found are pruned (the bound includes
// the least time the remaining layers need on the remaining devices), and a stage's layer range stops
// growing once M x (its slowest device's time) alone reaches the best.
// Pure: no I/O, no globals (it reads a steady clock only when a time limit is set).
#pragma once

#include <vector>

#include "asteroid/cost_model.hpp"
#include "asteroid/error.hpp"

namespace asteroid {

enum class ShareRule {
  allocate,  // Alg. 1 with memory caps (Asteroid, HetPipe)
  even,      // equal shares, as data-parallel frameworks split a batch
};

struct PlannerOptions {
  std::vector<int> microbatch_sizes;  // empty: every divisor of the batch size
  int max_stages = 0;                 // 0: as many as devices (and layers)
  int max_group_size = 0;             // 0: no limit (1: a straight pipeline)
  bool use_all_devices = false;       // forbid leaving devices idle
  ShareRule share_rule = ShareRule::allocate;
  // Stop searching after this long (0: never) and return the best plan found so far, marked as not
  // proven optimal. The search is the same; only its end is cut.
  double time_limit_s = 0;
};

struct PlanSearchStats {
  long long stage_evaluations = 0;
  long long labels_created = 0;
};

struct PlannerResult {
  Plan plan;
  bool proven_optimal = true;  // false when time_limit_s cut the search
  double round_latency_s = 0;  // as the search computed it; evaluate(plan) gives the same
  PlanSearchStats stats;
};

// Finds the plan with the lowest round latency; an Error (reason: memory) when no plan fits.
Result<PlannerResult> plan_optimal(const CostModel& model, const PlannerOptions& options);

// Micro-batch sizes to try: the given ones, or every divisor of `batch_size`.
std::vector<int> microbatch_candidates(int batch_size, const std::vector<int>& allowed);

}  // namespace asteroid
