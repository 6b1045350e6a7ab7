#include "planner_prefix_bound.hpp"

#include <algorithm>

namespace asteroid::planner_detail {

namespace {
constexpr double kMargin = 1 - 1e-9;  // bounds are shaded so that rounding never cuts an optimum
}

PrefixBound::PrefixBound(const CostModel& m, const std::vector<int>& order, const RestBound& rb,
                         const RangeLinks& links, int max_group)
    : m_(m),
      order_(order),
      rb_(rb),
      links_(links),
      N_(m.num_devices()),
      L_(m.num_layers()),
      max_group_(max_group) {
  const Cluster& c = m.cluster();
  least_lat_ = N_ < 2 ? 0 : kInf;
  for (int i = 0; i < N_; ++i)
    for (int j = 0; j < N_; ++j)
      if (i != j) {
        best_bw_ = std::max(best_bw_, c.bandwidth_Bps[i][j]);
        least_lat_ = std::min(least_lat_, c.latency_s[i][j]);
      }
}

double PrefixBound::least_transfer(int boundary) const {
  if (m_.options().ignore_network || N_ < 2) return 0;
  double bytes = beta_ * m_.cluster().devices[0].table->output_bytes_per_sample(boundary);
  return 2 * (least_lat_ + bytes / best_bw_) * kMargin;
}

void PrefixBound::compute(int beta, double best) {
  beta_ = beta;
  double M = double(m_.options().batch_size / beta);
  const CostOptions& o = m_.options();
  const LayerTable& t = *m_.cluster().devices[0].table;
  double state_factor = 2.0 + optimizer_state_factor(o.optimizer);
  std::vector<double> sum0(size_t(L_ + 1) * (N_ + 1), kInf), step0(sum0.size(), kInf);
  sum0[index(0, 0)] = step0[index(0, 0)] = 0;
  for (int n = 1; n <= N_; ++n) {
    // The stage's devices are order[n1..n-1]; the smallest memory is the last one's.
    double memory = m_.cluster().devices[order_[n - 1]].memory_bytes;
    for (int k = 1; k <= std::min(n, max_group_); ++k) {
      int n1 = n - k;
      double capacity = rb_.cap_before[n] - rb_.cap_before[n1];
      const LinkSummary* links = k > 1 && !o.ignore_network ? &links_.get(n1, n - 1) : nullptr;
      for (int l = 1; l <= L_; ++l) {
        // Stage [a, l - 1]; a = 0 exactly when it is the first stage (n1 = 0).
        for (int a = n1 == 0 ? 0 : l - 1; a >= (n1 == 0 ? 0 : 1); --a) {
          double c = beta * (rb_.work_before[l] - rb_.work_before[a]) / capacity * kMargin;
          double w = t.param_bytes(a, l - 1);
          double allreduce =
              links ? 2.0 * (k - 1) * (w / (k * links->bandwidth_Bps) + links->latency_s) * kMargin : 0;
          // Both only grow with more layers: no longer stage is useful either.
          if (M * c + allreduce >= best) break;
          if (!o.ignore_memory && w * state_factor > memory) break;
          size_t from = index(a, n1);
          if (step0[from] == kInf) continue;
          double comm = a > 0 ? least_transfer(a - 1) : 0;
          size_t to = index(l, n);
          sum0[to] = std::min(sum0[to], sum0[from] + comm + c);
          // A communication step's period is at least one direction (full duplex).
          step0[to] = std::min(step0[to], std::max({step0[from], comm / 2, c}));
        }
      }
    }
  }
  // Add the transfer into the stage at l (none after the last layer).
  sum_.assign(sum0.size(), kInf);
  step_.assign(sum0.size(), kInf);
  for (int l = 0; l <= L_; ++l)
    for (int n = 0; n <= N_; ++n) {
      double comm = l > 0 && l < L_ ? least_transfer(l - 1) : 0;
      sum_[index(l, n)] = sum0[index(l, n)] + comm;
      step_[index(l, n)] = std::max(step0[index(l, n)], comm / 2);
    }
}

}  // namespace asteroid::planner_detail
