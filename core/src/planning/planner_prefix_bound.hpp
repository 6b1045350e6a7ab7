// Lower bounds on what the front of a pipeline adds, for the backward search: the layers [0, l) on
// exactly the devices order[..n), split into stages of contiguous layers and devices.
//
// Each stage of the front is costed by a relaxation that never exceeds its true step E_f + E_b:
// with W the least per-sample work of its layers (RestBound, at shares up to beta), a group of k
// devices needs at least beta W / capacity (fractional shares) and at least ceil(beta / k) W
// lambda_min (some device takes ceil(beta / k) samples, none is faster than the group's fastest);
// both are coef(group) x W. Some device also takes ceil(beta / k) samples at its own time for
// that many, fixed costs included: the sum over the layers of the least such time over the
// group's device classes (busiest_time), which is what binds on wide groups with small shares. Of
// the two the one larger over the whole model is used for the group, so that a stage's cost stays
// separable in its two ends (w[l] - w[a]). Transfers are costed at
// the fastest link. Weights must fit the group's smallest memory, and a stage must be useful: M x
// its step plus its all-reduce below the best latency (cost_model.hpp: the all-reduce starts after
// the stage's last backward).
//
// The round latency is S + (M - 1) m + R: a front that adds little to S has large steps, and the
// other way round, so the front's least sum and least largest step, bounded apart, are far too
// weak together. For a grid of step caps tau_0 < ... < tau_{K-1}, H_j(l, n) is the least sum of
// the front's steps when every step is at most tau_j (a dynamic program over (l, n) with a
// sliding-window minimum per group, O(L N G) for G group sizes), and H_inf the least sum with no
// cap. A front whose largest step lies in (tau_{j-1}, tau_j] adds at least H_j to S and makes m at
// least tau_{j-1}; every complete plan has m >= tau_lo (the least cap at which the whole model fits
// some devices), so for a label (S, R, m) at (l, n)
//   latency >= S + min_j [ (M - 1) max(m, tau_{j-1}) + max(R, H_j(l, n)) ],  tau_{-1} = tau_lo.
// The grid lies between tau_lo and the largest m a plan beating the best can have, so it is as
// fine as it needs to be where the optimum is. Each cap costs one more pass of the dynamic
// program; finer grids prune more labels but cost more than they save (bench_planner's
// instructions under callgrind, 32 devices x 200 layers at 0.1, 1 and 10 Gbps: before the
// busiest-device bound 8 caps 11.1e9, 4 caps 8.5e9, 2 caps 7.4e9; with it 2 caps 6.2e9, 1 cap
// 5.8e9), so the grid has one cap.
#pragma once

#include <vector>

#include "planning/planner_common.hpp"

namespace asteroid::planner_detail {

class PrefixBound {
 public:
  PrefixBound(const CostModel& m, const std::vector<int>& order, const RestBound& rb, const RangeLinks& links,
              int max_group);

  // Recomputes the bounds for micro-batch size beta and the best latency so far.
  void compute(int beta, double best);

  // The least latency a label (S, R, m) at (l, n), l > 0, can finish with (see the top).
  double completion(int l, int n, double S, double R, double m) const;

  // No plan of this micro-batch size has a lower latency (infinite when none fits).
  double root_bound() const { return root_bound_; }

  // The front's least largest step and least sum of steps (infinite when no front fits).
  double step(int l, int n) const { return step_[index(l, n)]; }
  double sum(int l, int n) const { return sum_inf_[index(l, n)]; }

  // Least forward + backward transfer across the boundary after layer `boundary`.
  double least_transfer(int boundary) const;

 private:
  // Fronts of one device count together: the dynamic programs read and write along l.
  size_t index(int l, int n) const { return size_t(n) * (L_ + 1) + l; }
  // The least sum of steps of each front with every step at most tau (kInf: no cap) into `out`.
  void least_sums(double tau, std::vector<double>& out);
  // The least largest step of each front into `out`.
  void least_steps(std::vector<double>& out);
  // A transfer's least share of m: one direction (full duplex, cost_model.hpp).
  // Half the least round trip: no more than the larger direction (the full-duplex period) even
  // where the gradient back is smaller than the activations (a frozen prefix).
  double comm_period(int a) const { return comm_[a] / 2; }
  // For the micro-batch size: the busiest device's least time, per range of classes and share.
  void busiest_tables();
  // Prefix sums over layers (shaded by the margin) of the least forward + backward time, over the
  // classes of devices order[n1..n), of ceil(beta / (n - n1)) samples: some device of such a group
  // takes that many, and times grow with the samples (layer_table.hpp).
  const double* busiest_time(int n1, int n) const;
  // The lower bound on the step of stages on devices order[n1..n): w[l] - w[a] for layers [a, l),
  // w either coef x the work (RestBound; written into `scaled`) or busiest_time, whichever is
  // larger over the whole model (both bound the step; their larger one per range would not be
  // separable in the range's ends).
  const double* work_scale(int n1, int n, double coef, std::vector<double>& scaled) const;
  // The least value over fronts of the whole model on some devices (idle after them).
  double root(const std::vector<double>& sums) const;

  const CostModel& m_;
  const std::vector<int>& order_;
  const RestBound& rb_;
  const RangeLinks& links_;
  int N_, L_, max_group_;
  double beta_ = 1, M_ = 1, best_ = kInf;
  double best_bw_ = 0, least_lat_ = 0;
  double tau_lo_ = 0, root_bound_ = 0;
  std::vector<double> taus_;                 // the grid
  std::vector<std::vector<double>> capped_;  // [j][index]: H_j, the transfer into l included
  std::vector<double> sum_inf_, step_;       // H_inf (transfer included); least step
  std::vector<double> comm_;                 // [a]: least transfer into a stage starting at a
  std::vector<double> memory_;               // [i]: memory of order[i]
  std::vector<int> rank_;                    // [i]: the class of order[i], numbered along the order
  std::vector<const LayerTable*> class_tables_;  // [rank]
  std::vector<int> share_index_;             // [k]: which share table groups of k devices use
  std::vector<std::vector<double>> busiest_;  // [(share, first rank, last rank)]: prefix sums
};

}  // namespace asteroid::planner_detail
