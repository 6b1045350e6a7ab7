#include "planning/planner_prefix_bound.hpp"

#include <algorithm>
#include <cmath>

namespace asteroid::planner_detail {

namespace {
constexpr double kMargin = 1 - 1e-9;  // bounds are shaded so that rounding never cuts an optimum
constexpr int kGrid = 1;              // step caps between tau_lo and the largest useful m (the header)
}  // namespace

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
  for (int i = 0; i < N_; ++i) memory_.push_back(c.devices[order_[i]].memory_bytes);
  // The classes along the order: each class's devices are together in it (planner.hpp).
  std::vector<int> class_of(N_, -1);
  std::vector<std::vector<int>> classes = device_classes(c);
  for (size_t k = 0; k < classes.size(); ++k)
    for (int d : classes[k]) class_of[d] = int(k);
  for (int i = 0; i < N_; ++i) {
    if (i == 0 || class_of[order_[i]] != class_of[order_[i - 1]])
      class_tables_.push_back(c.devices[order_[i]].table.get());
    rank_.push_back(int(class_tables_.size()) - 1);
  }
}

double PrefixBound::least_transfer(int boundary) const {
  if (m_.options().ignore_network || N_ < 2) return 0;
  const LayerTable& t = *m_.cluster().devices[0].table;
  const double forward = least_lat_ + beta_ * t.output_bytes_per_sample(boundary) / best_bw_;
  const double back = least_lat_ + beta_ * t.gradient_bytes_per_sample(boundary) / best_bw_;
  return (forward + back) * kMargin;
}

void PrefixBound::least_sums(double tau, std::vector<double>& out) {
  const CostOptions& o = m_.options();
  const LayerTable& t = *m_.cluster().devices[0].table;
  const double state_factor = optimizer_state_factor(o.optimizer);
  out.assign(size_t(L_ + 1) * (N_ + 1), kInf);
  out[index(0, 0)] = 0;
  std::vector<int> window(L_ + 1);  // deque of candidate starts a, by increasing a
  std::vector<double> before(L_ + 1), least_after(L_ + 2), scaled(L_ + 1);
  for (int n = 1; n <= N_; ++n) {
    double lam_min = kInf, memory = kInf;
    for (int k = 1; k <= std::min(n, max_group_); ++k) {
      const int n1 = n - k;
      lam_min = std::min(lam_min, rb_.lambda[n1]);
      memory = std::min(memory, memory_[n1]);
      const double capacity = rb_.cap_before[n] - rb_.cap_before[n1];
      // The stage's step is at least coef x the work of its layers, or the busiest device's time
      // (the top of the header): w(l) - w(a) with w the larger of the two over the whole model.
      const double coef = std::max(beta_ / capacity, std::ceil(beta_ / k) * lam_min) * kMargin;
      const double* wp = work_scale(n1, n, coef, scaled);
      // Its all-reduce: slope x its parameter bytes + fixed.
      const LinkSummary* links = k > 1 && !o.ignore_network ? &links_.get(n1, n - 1) : nullptr;
      const double slope = links ? 2.0 * (k - 1) / (k * links->bandwidth_Bps) * kMargin : 0;
      const double fixed = links ? 2.0 * (k - 1) * links->latency_s * kMargin : 0;
      auto w = [&](int x) { return wp[x]; };
      auto step = [&](int a, int l) { return wp[l] - wp[a]; };
      auto allreduce = [&](int a, int l) { return slope * t.trainable_bytes(a, l - 1) + fixed; };
      auto fits = [&](int a, int l) {  // stage [a, l - 1]; every condition only tightens with more layers
        double c = step(a, l);
        return c <= tau && (o.ignore_memory || t.static_bytes(a, l - 1, state_factor) <= memory) &&
               M_ * c + allreduce(a, l) < best_;
      };
      if (n1 == 0) {  // the first stage: layers [0, l)
        for (int l = 1; l <= L_ && fits(0, l); ++l)
          out[index(l, n)] = std::min(out[index(l, n)], step(0, l) + allreduce(0, l));
        continue;
      }
      // Stages [a, l - 1], a >= 1, after a front at (a, n1): before(a) is that front's value with
      // the transfer into a; U = step + max(before(a), allreduce). Replacing before(a) by the least
      // over starts from a on keeps a lower bound and makes it non-decreasing in a, while the
      // all-reduce falls with a: from the first start a* where before(a) >= allreduce on, U is
      // step + before(a) (a sliding minimum); below it, step + allreduce falls with a, so a* - 1
      // is the best there. a* only moves forward with l.
      for (int a = 1; a <= L_; ++a) {
        double v = out[index(a, n1)];
        before[a] = a < L_ && v < kInf && comm_period(a) <= tau ? v + comm_[a] : kInf;
      }
      least_after[L_ + 1] = kInf;
      for (int a = L_; a >= 1; --a) least_after[a] = std::min(before[a], least_after[a + 1]);
      auto value = [&](int a) { return least_after[a] - w(a); };
      int head = 0, tail = 0, lo = 1, star = 1;
      for (int l = 2; l <= L_; ++l) {
        while (lo < l && !fits(lo, l)) ++lo;
        while (star < l && least_after[star] < allreduce(star, l)) ++star;
        int from = std::max(lo, star);
        int a = l - 1;
        if (a >= from && least_after[a] < kInf) {
          while (tail > head && value(window[tail - 1]) >= value(a)) --tail;
          window[tail++] = a;
        }
        while (tail > head && window[head] < from) ++head;
        double& u = out[index(l, n)];
        if (tail > head) u = std::min(u, value(window[head]) + w(l));
        if (star - 1 >= lo && least_after[star - 1] < kInf)
          u = std::min(u, step(star - 1, l) + allreduce(star - 1, l));
      }
    }
  }
  // The transfer into the stage at l is in `before` of the next stage; here it is added for the
  // bound of a label at l (none after the last layer).
  for (int l = 1; l < L_; ++l)
    for (int n = 0; n <= N_; ++n) {
      double& v = out[index(l, n)];
      v = comm_period(l) <= tau ? v + comm_[l] : kInf;
    }
}

void PrefixBound::least_steps(std::vector<double>& out) {
  const CostOptions& o = m_.options();
  const LayerTable& t = *m_.cluster().devices[0].table;
  const double state_factor = optimizer_state_factor(o.optimizer);
  out.assign(size_t(L_ + 1) * (N_ + 1), kInf);
  out[index(0, 0)] = 0;
  std::vector<double> least_after(L_ + 2), scaled(L_ + 1);
  for (int n = 1; n <= N_; ++n) {
    double lam_min = kInf, memory = kInf;
    for (int k = 1; k <= std::min(n, max_group_); ++k) {
      const int n1 = n - k;
      lam_min = std::min(lam_min, rb_.lambda[n1]);
      memory = std::min(memory, memory_[n1]);
      const double capacity = rb_.cap_before[n] - rb_.cap_before[n1];
      const double coef = std::max(beta_ / capacity, std::ceil(beta_ / k) * lam_min) * kMargin;
      const double* wp = work_scale(n1, n, coef, scaled);
      const LinkSummary* links = k > 1 && !o.ignore_network ? &links_.get(n1, n - 1) : nullptr;
      const double slope = links ? 2.0 * (k - 1) / (k * links->bandwidth_Bps) * kMargin : 0;
      const double fixed = links ? 2.0 * (k - 1) * links->latency_s * kMargin : 0;
      auto step = [&](int a, int l) { return wp[l] - wp[a]; };
      auto fits = [&](int a, int l) {
        double c = step(a, l), w = t.trainable_bytes(a, l - 1);
        return (o.ignore_memory || t.static_bytes(a, l - 1, state_factor) <= memory) && M_ * c + slope * w + fixed < best_;
      };
      if (n1 == 0) {
        for (int l = 1; l <= L_ && fits(0, l); ++l) out[index(l, n)] = std::min(out[index(l, n)], step(0, l));
        continue;
      }
      // The front at a and the transfer into a give max(out(a, n1), period(a)); its least over
      // starts from a on is non-decreasing in a while the stage's step falls with a: the best
      // start is where they cross (a lower bound: the least over later starts stands in).
      least_after[L_] = least_after[L_ + 1] = kInf;
      for (int a = L_ - 1; a >= 1; --a) {
        double v = out[index(a, n1)];
        least_after[a] = std::min(v < kInf ? std::max(v, comm_period(a)) : kInf, least_after[a + 1]);
      }
      int lo = 1, cross = 1;
      for (int l = 2; l <= L_; ++l) {
        while (lo < l && !fits(lo, l)) ++lo;
        while (cross < l && least_after[cross] < step(cross, l)) ++cross;
        double& b = out[index(l, n)];
        int a = std::max(cross, lo);
        if (a < l && least_after[a] < kInf) b = std::min(b, least_after[a]);
        if (cross - 1 >= lo && least_after[cross - 1] < kInf) b = std::min(b, step(cross - 1, l));
      }
    }
  }
  for (int l = 1; l < L_; ++l)
    for (int n = 0; n <= N_; ++n) out[index(l, n)] = std::max(out[index(l, n)], comm_period(l));
}

void PrefixBound::busiest_tables() {
  // share_of_k_[k]: the share the busiest of k devices takes at least; one table per distinct share.
  share_index_.assign(N_ + 1, 0);
  std::vector<int> shares;
  for (int k = 1; k <= N_; ++k) {
    int y = int(std::ceil(beta_ / k));
    if (shares.empty() || shares.back() != y) shares.push_back(y);
    share_index_[k] = int(shares.size()) - 1;
  }
  const int R = int(class_tables_.size());
  busiest_.assign(shares.size() * R * R, {});
  std::vector<double> least(L_);
  for (size_t s = 0; s < shares.size(); ++s) {
    std::vector<std::vector<double>> per_class(R, std::vector<double>(L_));
    for (int r = 0; r < R; ++r) {
      const LayerTable& t = *class_tables_[r];
      BatchPoint bp = t.locate(shares[s]);
      for (int l = 0; l < L_; ++l) per_class[r][l] = t.fwd_s(l, l, bp) + t.bwd_s(l, l, bp);
    }
    for (int r1 = 0; r1 < R; ++r1) {
      least.assign(L_, kInf);
      for (int r2 = r1; r2 < R; ++r2) {
        for (int l = 0; l < L_; ++l) least[l] = std::min(least[l], per_class[r2][l]);
        std::vector<double>& prefix = busiest_[(s * R + r1) * R + r2];
        prefix.assign(L_ + 1, 0.0);
        for (int l = 0; l < L_; ++l) prefix[l + 1] = prefix[l] + least[l];
        for (double& v : prefix) v *= kMargin;
      }
    }
  }
}

const double* PrefixBound::work_scale(int n1, int n, double coef, std::vector<double>& scaled) const {
  const double* busiest = busiest_time(n1, n);
  const std::vector<double>& wb = rb_.work_before;
  if (busiest[L_] > coef * wb[L_]) return busiest;
  for (int x = 0; x <= L_; ++x) scaled[x] = coef * wb[x];
  return scaled.data();
}

const double* PrefixBound::busiest_time(int n1, int n) const {
  const int R = int(class_tables_.size());
  return busiest_[(size_t(share_index_[n - n1]) * R + rank_[n1]) * R + rank_[n - 1]].data();
}

double PrefixBound::root(const std::vector<double>& values) const {
  double r = kInf;
  for (int n = 1; n <= N_; ++n) r = std::min(r, values[index(L_, n)]);
  return r;
}

void PrefixBound::compute(int beta, double best) {
  beta_ = beta;
  best_ = best;
  M_ = double(m_.options().batch_size / beta);
  comm_.assign(L_ + 1, 0.0);
  for (int a = 1; a < L_; ++a) comm_[a] = least_transfer(a - 1);
  busiest_tables();
  // No step of a plan that beats the best takes best / M or more (latency >= M m).
  least_sums(best < kInf ? best / M_ : kInf, sum_inf_);
  least_steps(step_);
  taus_.clear();
  capped_.clear();
  tau_lo_ = root(step_);
  // Every plan has S + R >= the root's least value and m >= tau_lo.
  root_bound_ = root(sum_inf_) < kInf ? root(sum_inf_) + (M_ - 1) * tau_lo_ : kInf;
  if (M_ > 1 && root_bound_ < best) {
    // Every plan that beats the best has m < (best - least sum) / (M - 1).
    double hi = (best - root(sum_inf_)) / (M_ - 1);
    for (int j = 1; j <= kGrid && hi > tau_lo_; ++j) taus_.push_back(tau_lo_ + (hi - tau_lo_) * j / kGrid);
    capped_.resize(taus_.size());
    for (size_t j = 0; j < taus_.size(); ++j) least_sums(taus_[j], capped_[j]);
  }
}

double PrefixBound::completion(int l, int n, double S, double R, double m) const {
  const size_t i = index(l, n);
  if (sum_inf_[i] == kInf) return kInf;
  if (M_ == 1) return S + std::max(R, sum_inf_[i]);
  double periods = M_ - 1;
  m = std::max({m, step_[i], tau_lo_});
  double least = periods * std::max(m, taus_.empty() ? 0 : taus_.back()) + std::max(R, sum_inf_[i]);
  double prev = 0;
  for (size_t j = 0; j < taus_.size(); ++j) {
    double h = capped_[j][i];
    if (h < kInf) least = std::min(least, periods * std::max(m, prev) + std::max(R, h));
    prev = taus_[j];
  }
  return S + least;
}

}  // namespace asteroid::planner_detail
