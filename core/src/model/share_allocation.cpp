#include "model/share_allocation.hpp"

#include <algorithm>
#include <cmath>
#include <queue>
#include <utility>

namespace asteroid::detail {
namespace {

// Devices with the same table and cap: their items have identical values.
struct ShareClass {
  const LayerTable* table = nullptr;
  long long cap = 0;
  int count = 0;
  long long taken = 0;  // samples per device of the class so far
  // T at the breakpoints y = 0 and the trace's batch sizes below the cap, then at the cap.
  std::vector<std::pair<double, double>> points;  // (y, T(y)), y increasing, ending at the cap
};

// The largest real y <= cap with T(y) <= tau, T linear between the points.
double real_share(const ShareClass& c, double tau) {
  const auto& p = c.points;
  size_t j = std::upper_bound(p.begin(), p.end(), tau, [](double v, const auto& q) { return v < q.second; }) -
             p.begin();
  // p[j - 1] is the last point with T <= tau (p[0] is (0, 0), and tau >= 0).
  if (j == 0) return 0;
  const auto& a = p[j - 1];
  if (j == p.size()) return double(c.cap);  // the last point is the cap
  const auto& b = p[j];
  return a.first + (tau - a.second) / (b.second - a.second) * (b.first - a.first);
}

double total_share(const ShareClass* cs, int num, double tau) {
  double s = 0;
  for (int k = 0; k < num; ++k) s += cs[k].count * real_share(cs[k], tau);
  return s;
}

}  // namespace

namespace {

// One class (the same table and cap on every device, the planner's usual group): the even split,
// q = beta / n each and one more to the first beta % n, is the beta smallest items exactly when no
// tie lets a device take a second item of one level before the others take their first: T(q) <
// T(q + 1), and T(q + 1) < T(q + 2) when some devices take q + 1. False when it cannot tell.
bool even_split_of_one_class(const LayerTable* const* tables, const long long* caps, int n, int first,
                             int last, int beta, int* shares) {
  const LayerTable* t = tables[0];
  long long cap = std::min<long long>(caps[0], beta);
  for (int i = 1; i < n; ++i)
    if (tables[i] != t || std::min<long long>(caps[i], beta) != cap) return false;
  int q = beta / n, r = beta % n;
  if (q + (r > 0) > cap) return false;  // the caller guarantees room; leave odd cases to the general rule
  auto T = [&](long long y) { return step_time(*t, first, last, int(y)); };
  if (q + 1 <= cap && !(T(q) < T(q + 1))) return false;
  if (r > 0 && q + 2 <= cap && !(T(q + 1) < T(q + 2))) return false;
  for (int i = 0; i < n; ++i) shares[i] = q + (i < r);
  return true;
}

}  // namespace

void allocate_shares(const LayerTable* const* tables, const long long* caps, int n, int first, int last,
                     int beta, int* shares) {
  if (even_split_of_one_class(tables, caps, n, first, last, beta, shares)) return;
  // Scratch reused across calls (the planner makes millions): classes keep their buffers.
  thread_local std::vector<ShareClass> pool;
  thread_local std::vector<int> class_of;
  thread_local std::vector<double> levels;
  thread_local std::vector<long long> run;
  int num = 0;
  class_of.assign(n, -1);
  for (int i = 0; i < n; ++i) {
    shares[i] = 0;
    long long cap = std::min<long long>(caps[i], beta);
    if (cap <= 0) continue;
    int k = 0;
    while (k < num && (pool[k].table != tables[i] || pool[k].cap != cap)) ++k;
    if (k == num) {
      if (num == int(pool.size())) pool.emplace_back();
      ShareClass& c = pool[num++];
      c.table = tables[i];
      c.cap = cap;
      c.count = 0;
    }
    ++pool[k].count;
    class_of[i] = k;
  }
  ShareClass* cs = pool.data();

  // The continuous water level: sum over classes of count x real share = beta.
  levels.clear();
  for (int k = 0; k < num; ++k) {
    ShareClass& c = cs[k];
    const LayerTable& t = *c.table;
    const auto& bs = t.batch_sizes();
    c.points.clear();
    c.points.push_back({0.0, 0.0});
    for (size_t k = 0; k < bs.size() && bs[k] < double(c.cap); ++k) {
      BatchPoint at{int(k), int(k), 1.0, 0.0};
      c.points.push_back({bs[k], t.fwd_s(first, last, at) + t.bwd_s(first, last, at)});
    }
    double at_cap = step_time(t, first, last, int(c.cap));
    c.points.push_back({double(c.cap), at_cap});
    for (size_t j = 1; j < c.points.size(); ++j) levels.push_back(c.points[j].second);
  }
  std::sort(levels.begin(), levels.end());
  levels.erase(std::unique(levels.begin(), levels.end()), levels.end());
  // The first breakpoint level at which the shares reach beta (the last one always does: every
  // class is at its cap there, and the caps add up to at least beta).
  size_t hi = std::partition_point(levels.begin(), levels.end(),
                                   [&](double v) { return total_share(cs, num, v) < beta; }) -
              levels.begin();
  hi = std::min(hi, levels.size() - 1);
  double u = hi > 0 ? levels[hi - 1] : 0.0, v = levels[hi];
  // Between two breakpoint levels the total is linear (it may jump at v, where a flat piece starts).
  double tau = v;
  double mid = 0.5 * (u + v), f_u = total_share(cs, num, u), f_mid = total_share(cs, num, mid);
  if (f_mid > f_u && mid > u) tau = std::min(v, u + (beta - f_u) * (mid - u) / (f_mid - f_u));

  // Every item strictly below a level just under tau is one of the beta smallest: their count is
  // at most beta, as the real shares at tau add up to beta. Counted with the exact values.
  auto take_below = [&](double level) {
    long long base = 0;
    for (int k = 0; k < num; ++k) {
      ShareClass& c = cs[k];
      const LayerTable& t = *c.table;
      long long y = std::max<long long>(0, (long long)std::floor(real_share(c, level)));
      y = std::min(y, c.cap);
      while (y > 0 && step_time(t, first, last, int(y)) >= level) --y;
      while (y < c.cap && step_time(t, first, last, int(y + 1)) < level) ++y;
      c.taken = y;
      base += y * c.count;
    }
    return base;
  };
  long long base = take_below(tau * (1 - 1e-9));
  if (base > beta) base = take_below(u);  // rounding in the level: fall back to the breakpoint below
  if (base > beta) {
    for (int k = 0; k < num; ++k) cs[k].taken = 0;
    base = 0;
  }

  // The rest level by level, in (T, position) order.
  long long left = beta - base;
  while (left > 0) {
    double level = INFINITY;
    for (int k = 0; k < num; ++k)
      if (cs[k].taken < cs[k].cap)
        level = std::min(level, step_time(*cs[k].table, first, last, int(cs[k].taken + 1)));
    // Per class, how many consecutive items per device sit exactly at this level.
    long long at_level = 0;
    run.assign(num, 0);
    for (int k = 0; k < num; ++k) {
      const ShareClass& c = cs[k];
      while (c.taken + run[k] < c.cap && step_time(*c.table, first, last, int(c.taken + run[k] + 1)) == level)
        ++run[k];
      at_level += run[k] * c.count;
    }
    if (at_level <= left) {
      for (int k = 0; k < num; ++k) cs[k].taken += run[k];
      left -= at_level;
      continue;
    }
    // The last level: its items go to the devices in group order, each taking its whole run.
    for (int i = 0; i < n; ++i) {
      int k = class_of[i];
      if (k < 0) continue;
      long long extra = std::min(run[k], left);
      shares[i] = int(extra);
      left -= extra;
    }
    break;
  }
  for (int i = 0; i < n; ++i)
    if (class_of[i] >= 0) shares[i] += int(cs[class_of[i]].taken);
}

void allocate_shares_one_by_one(const LayerTable* const* tables, const long long* caps, int n, int first,
                                int last, int beta, int* shares) {
  using Item = std::pair<double, int>;  // (time with one more sample, device position)
  std::priority_queue<Item, std::vector<Item>, std::greater<Item>> next;
  for (int i = 0; i < n; ++i) {
    shares[i] = 0;
    if (caps[i] > 0) next.push({step_time(*tables[i], first, last, 1), i});
  }
  for (int s = 0; s < beta; ++s) {
    auto [time, i] = next.top();
    next.pop();
    int y = ++shares[i];
    if (y < caps[i]) next.push({step_time(*tables[i], first, last, y + 1), i});
  }
}

}  // namespace asteroid::detail
