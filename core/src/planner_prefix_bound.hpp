// Lower bounds on what the front of a pipeline adds, for the backward search: the layers [0, l) on
// exactly the devices order[..n), split into stages of contiguous layers and devices.
//
// A stage that cannot be part of a plan beating the best one found is "useless": latency >= M x
// (its E_f + E_b) + its all-reduce (cost_model.hpp: the all-reduce starts after the stage's own
// backward, and the steps before it add their E_f), and E_f + E_b >= beta x work / capacity
// (RestBound); its weights must also fit its smallest device. A relaxed dynamic program over
// splits of the front into useful stages, each costed at that bound, gives
//   sum(l, n):  the least sum of E_f + E_b over the front's steps (transfers between its stages, and
//               the one into the stage at l, at the fastest link),
//   step(l, n): the least largest step.
// Infinite when no split into useful stages exists. O(L^2 N^2) in the worst case; usefulness
// usually cuts stages to a few layers.
#pragma once

#include <vector>

#include "planner_common.hpp"

namespace asteroid::planner_detail {

class PrefixBound {
 public:
  PrefixBound(const CostModel& m, const std::vector<int>& order, const RestBound& rb, const RangeLinks& links,
              int max_group);

  // Recomputes the bounds for micro-batch size beta and the best latency so far.
  void compute(int beta, double best);

  double sum(int l, int n) const { return sum_[index(l, n)]; }
  double step(int l, int n) const { return step_[index(l, n)]; }

  // Least forward + backward transfer across the boundary after layer `boundary`.
  double least_transfer(int boundary) const;

 private:
  size_t index(int l, int n) const { return size_t(l) * (N_ + 1) + n; }

  const CostModel& m_;
  const std::vector<int>& order_;
  const RestBound& rb_;
  const RangeLinks& links_;
  int N_, L_, max_group_;
  double beta_ = 1;
  double best_bw_ = 0, least_lat_ = 0;
  std::vector<double> sum_, step_;
};

}  // namespace asteroid::planner_detail
