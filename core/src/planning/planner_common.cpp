#include "planning/planner_common.hpp"

#include <algorithm>

namespace asteroid::planner_detail {

RestBound rest_bound(const CostModel& m, const std::vector<int>& order, int max_samples) {
  int L = m.num_layers(), N = m.num_devices();
  int B = max_samples > 0 ? max_samples : m.options().batch_size;
  std::vector<std::vector<double>> rho(N, std::vector<double>(L, kInf));
  for (int d = 0; d < N; ++d) {
    const LayerTable& t = *m.cluster().devices[d].table;
    std::vector<double> ys = {1.0, double(B)};
    for (double b : t.batch_sizes())
      if (b <= B) ys.push_back(b);
    for (double y : ys) {
      BatchPoint bp = t.locate(y);
      for (int l = 0; l < L; ++l)
        rho[d][l] = std::min(rho[d][l], (t.fwd_s(l, l, bp) + t.bwd_s(l, l, bp)) / y);
    }
  }
  RestBound r;
  std::vector<double> rho_min(L, kInf);
  for (int d = 0; d < N; ++d)
    for (int l = 0; l < L; ++l) rho_min[l] = std::min(rho_min[l], rho[d][l]);
  r.work_after.assign(L + 1, 0.0);
  for (int l = L - 1; l >= 0; --l) r.work_after[l] = r.work_after[l + 1] + rho_min[l];
  r.work_before.assign(L + 1, 0.0);
  for (int l = 0; l < L; ++l) r.work_before[l + 1] = r.work_before[l] + rho_min[l];
  std::vector<double> inverse_lambda(N);
  r.lambda.assign(N, 1.0);
  for (int i = 0; i < N; ++i) {
    int d = order[i];
    double lambda = kInf;
    for (int l = 0; l < L; ++l) lambda = std::min(lambda, rho_min[l] > 0 ? rho[d][l] / rho_min[l] : 1.0);
    if (!(lambda > 0 && lambda < kInf)) lambda = 1.0;
    r.lambda[i] = lambda;
    inverse_lambda[i] = 1.0 / lambda;
  }
  r.cap_after.assign(N + 1, 0.0);
  for (int i = N - 1; i >= 0; --i) r.cap_after[i] = r.cap_after[i + 1] + inverse_lambda[i];
  r.cap_before.assign(N + 1, 0.0);
  for (int i = 0; i < N; ++i) r.cap_before[i + 1] = r.cap_before[i] + inverse_lambda[i];
  return r;
}

bool uniform_network(const Cluster& c) {
  if (c.size() < 2) return true;
  if (c.network && c.network->star_center() < 0) return false;  // routes of several hops or links
  double bw = c.bandwidth_Bps[0][1], lat = c.latency_s[0][1];
  for (int i = 0; i < c.size(); ++i)
    for (int j = 0; j < c.size(); ++j)
      if (i != j && (c.bandwidth_Bps[i][j] != bw || c.latency_s[i][j] != lat)) return false;
  return true;
}

std::vector<int> even_shares(int beta, int n) {
  std::vector<int> s(n, beta / n);
  for (int i = 0; i < beta % n; ++i) ++s[i];
  return s;
}

RangeLinks::RangeLinks(const CostModel& m, const std::vector<int>& order) : n_(int(order.size())) {
  table_.assign(size_t(n_) * n_, LinkSummary{kInf, 0});
  // The ring all-reduce of each range, priced on the network by the cost model.
  for (int len = 2; len <= n_; ++len)
    for (int n = 0; n + len - 1 < n_; ++n) table_[size_t(n) * n_ + n + len - 1] = m.group_links(order.data() + n, len);
}

}  // namespace asteroid::planner_detail
