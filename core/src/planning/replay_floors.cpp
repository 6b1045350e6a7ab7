#include "planning/replay_floors.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "asteroid/model/network_use.hpp"
#include "asteroid/planning/planner.hpp"
#include "asteroid/planning/replay_choice.hpp"
#include "asteroid/model/schedule.hpp"
#include "planning/planner_common.hpp"

namespace asteroid::replay_detail {
namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
// The shared-out table's grid: 2% apart (what the bound may lose to the rounding, per stage), from
// the slowest device doing all the work and every way through down to 10^-4 of it; built only
// where it costs no more than kMaxSharedOutCells cells (layers^2 / 2 x stages x grid points), as
// a few closed-form searches do.
constexpr double kGridRatio = 1.02, kGridRange = 1e4;
constexpr double kMaxSharedOutCells = 1e7;

}  // namespace

NetFloors net_floors(const CostModel& m) {
  NetFloors f;
  const Cluster& c = m.cluster();
  const int N = c.size(), L = m.num_layers();
  if (m.options().ignore_network || N < 2 || N > kMaxFloorDevices || !c.network) return f;
  f.known = true;
  f.lat_from.assign(size_t(N), kInf);
  f.inv_rate_from.assign(size_t(N), kInf);
  std::vector<double> capacity;
  for (const Channel& ch : c.network->channels()) capacity.push_back(ch.capacity_Bps);
  std::vector<int> route;
  for (int i = 0; i < N; ++i)
    for (int j = 0; j < N; ++j) {
      if (i == j) continue;
      const double lat = c.latency_s[size_t(i)][size_t(j)];
      double inv = lat > 0 ? 2 * lat / kTcpGammaBytes : 0.0;
      route.clear();
      c.route_channels(i, j, &route);
      for (int ch : route) inv = std::max(inv, 1.0 / capacity[size_t(ch)]);
      f.lat_from[size_t(i)] = std::min(f.lat_from[size_t(i)], lat);
      f.inv_rate_from[size_t(i)] = std::min(f.inv_rate_from[size_t(i)], inv);
    }
  f.lat = *std::min_element(f.lat_from.begin(), f.lat_from.end());
  f.inv_rate = *std::min_element(f.inv_rate_from.begin(), f.inv_rate_from.end());
  f.out_bytes.assign(size_t(L), kInf);
  for (const std::vector<int>& k : device_classes(c))
    for (int l = 0; l < L; ++l)
      f.out_bytes[size_t(l)] = std::min(f.out_bytes[size_t(l)], c.devices[size_t(k[0])].table->output_bytes_per_sample(l));
  f.out_after.assign(size_t(L) + 1, kInf);
  for (int l = L - 2; l >= 0; --l) f.out_after[size_t(l)] = std::min(f.out_after[size_t(l) + 1], f.out_bytes[size_t(l)]);
  return f;
}

Work work_of(const CostModel& m, int beta, const NetFloors& net, int max_group) {
  const int N = m.num_devices(), L = m.num_layers(), M = m.options().batch_size / beta;
  std::vector<int> identity(static_cast<size_t>(N));
  for (int d = 0; d < N; ++d) identity[size_t(d)] = d;
  planner_detail::RestBound r = planner_detail::rest_bound(m, identity, beta);
  Work w;
  w.after = r.work_after;
  for (double l : r.lambda) w.inverse_lambda.push_back(1.0 / l);
  // The g fastest devices' capacity, for every g.
  std::vector<double> sorted = w.inverse_lambda;
  std::sort(sorted.rbegin(), sorted.rend());
  const int G = max_group > 0 ? std::min(N, max_group) : N;
  std::vector<double> top(size_t(G) + 1, 0.0);
  for (int g = 1; g <= G; ++g) top[size_t(g)] = top[size_t(g) - 1] + sorted[size_t(g) - 1];
  std::vector<const LayerTable*> tables;
  for (const std::vector<int>& k : device_classes(m.cluster())) tables.push_back(m.cluster().devices[size_t(k[0])].table.get());
  // h[a][b]: one stage of layers a..b.
  std::vector<double> h(size_t(L) * size_t(L), kInf);
  for (int a = 0; a < L; ++a)
    for (int b = a; b < L; ++b) {
      double opt = kInf, params = kInf;
      for (const LayerTable* t : tables) {
        opt = std::min(opt, t->optimizer_s(a, b));
        params = std::min(params, t->trainable_bytes(a, b));  // what the ring all-reduce carries
      }
      const double work = double(M) * beta * (w.after[size_t(a)] - w.after[size_t(b) + 1]);
      double best = kInf;
      for (int g = 1; g <= G; ++g) {
        // The ring grows with g at least by its latencies: past the best, no larger g is better.
        if (net.known && 2.0 * (g - 1) * net.lat >= best) break;
        const double ring = net.known && g > 1 ? 2.0 * (g - 1) * net.one(std::floor(params / g)) : 0.0;
        best = std::min(best, (top[size_t(g)] > 0 ? work / top[size_t(g)] : kInf) + ring);
      }
      h[size_t(a) * size_t(L) + size_t(b)] = best + opt;
    }
  // Per layer, the least forward and backward time of one sample on any device: a share of y
  // samples takes at least y times it (the least of t(y) / y, at a profiled size, 1 or beta).
  std::vector<double> fwd1(size_t(L), kInf), bwd1(size_t(L), kInf);
  for (const LayerTable* t : tables) {
    std::vector<double> ys = {1.0, double(beta)};
    for (double y : t->batch_sizes())
      if (y >= 1 && y <= beta) ys.push_back(y);
    for (double y : ys) {
      const BatchPoint bp = t->locate(y);
      for (int l = 0; l < L; ++l) {
        fwd1[size_t(l)] = std::min(fwd1[size_t(l)], t->fwd_s(l, l, bp) / y);
        bwd1[size_t(l)] = std::min(bwd1[size_t(l)], t->bwd_s(l, l, bp) / y);
      }
    }
  }
  std::vector<double> fwd_before(size_t(L) + 1, 0.0), bwd_before(size_t(L) + 1, 0.0);
  for (int l = 0; l < L; ++l) {
    fwd_before[size_t(l) + 1] = fwd_before[size_t(l)] + fwd1[size_t(l)];
    bwd_before[size_t(l) + 1] = bwd_before[size_t(l)] + bwd1[size_t(l)];
  }
  auto message = [&](int b) { return b < L - 1 ? net.one(net.out_bytes[size_t(b)]) : 0.0; };
  w.columns = std::min(N, L) + 1;
  w.stages.assign(size_t(L + 1) * size_t(w.columns), kInf);
  w.stages_back.assign(size_t(L + 1) * size_t(w.columns), kInf);
  w.stages[size_t(L) * size_t(w.columns)] = w.stages_back[size_t(L) * size_t(w.columns)] = 0;
  for (int k = 1; k < w.columns; ++k)
    for (int l = L - k; l >= 0; --l) {
      double best = kInf, best_back = kInf;
      for (int b = l; b <= L - k; ++b) {
        const double own = h[size_t(l) * size_t(L) + size_t(b)];
        const double own_work = top[size_t(G)] > 0 ? double(M) * beta * (w.after[size_t(l)] - w.after[size_t(b) + 1]) / top[size_t(G)] : kInf;
        if (k == 1) {  // the last stage: every layer left
          if (b < L - 1) continue;
          best = std::min(best, own);
          best_back = std::min(best_back, own_work);
          continue;
        }
        const double fwd = fwd_before[size_t(b) + 1] - fwd_before[size_t(l)] + message(b);
        const double bwd = bwd_before[size_t(b) + 1] - bwd_before[size_t(l)] + message(b);
        best = std::min(best, std::max(own, fwd + w.stages_after(b + 1, k - 1)));
        best_back = std::min(best_back, std::max(own_work, fwd + bwd + w.stages_back_after(b + 1, k - 1)));
      }
      w.stages[size_t(l) * size_t(w.columns) + size_t(k)] = best;
      w.stages_back[size_t(l) * size_t(w.columns) + size_t(k)] = best_back;
    }
  const double slowest = *std::min_element(w.inverse_lambda.begin(), w.inverse_lambda.end());
  double way = 0;
  for (int b = 0; b < L; ++b) way += fwd1[size_t(b)] + bwd1[size_t(b)] + 2 * message(b);
  const double top_T = (slowest > 0 ? double(M) * beta * w.after[0] / slowest : 0) + way;
  const int points = int(std::ceil(std::log(kGridRange) / std::log(kGridRatio))) + 1;
  if (top_T > 0 && std::isfinite(top_T) && 0.5 * L * L * double(w.columns) * points <= kMaxSharedOutCells) {
    const size_t G = size_t(points);
    for (size_t g = 0; g < G; ++g) w.grid.push_back(top_T * std::pow(kGridRatio, double(g) - double(G - 1)));
    w.need.assign(size_t(L + 1) * size_t(w.columns) * G, kInf);
    for (size_t g = 0; g < G; ++g) w.need[(size_t(L) * size_t(w.columns)) * G + g] = 0;
    // The first grid point at or above x (the first one when x is below them all).
    auto up = [&](double x) {
      return size_t(std::lower_bound(w.grid.begin(), w.grid.end(), x) - w.grid.begin());
    };
    for (int k = 1; k < w.columns; ++k)
      for (int l = L - k; l >= 0; --l)
        for (size_t g = 0; g < G; ++g) {
          const double T = w.grid[g];
          double best = kInf;
          for (int b = k == 1 ? L - 1 : l; b <= L - k; ++b) {
            double v = double(M) * beta * (w.after[size_t(l)] - w.after[size_t(b) + 1]) / T;
            if (k > 1) {
              const double d = fwd_before[size_t(b) + 1] - fwd_before[size_t(l)] + bwd_before[size_t(b) + 1] -
                               bwd_before[size_t(l)] + 2 * message(b);
              // T - d <= T is on the grid or below it: rounded up, never past it.
              const size_t later = std::min(up(T - d), G - 1);
              v += w.need[(size_t(b + 1) * size_t(w.columns) + size_t(k - 1)) * G + later];
            }
            best = std::min(best, v);
          }
          w.need[(size_t(l) * size_t(w.columns) + size_t(k)) * G + g] = best;
        }
  }
  return w;
}

ReplayRest rest_of(const Work& w, const NetFloors& net, int beta, int P, int p, int l1,
                   const std::vector<int>& devices, const std::vector<int>& shares, double cap_rest) {
  ReplayRest r;
  const int after = P - p - 1;
  if (after == 0) return r;
  r.step_s = cap_rest > 0 ? beta * w.after[size_t(l1) + 1] / cap_rest : kInf;
  r.stages_s = w.stages_after(l1 + 1, after);
  r.stages_back_s = std::max(w.stages_back_after(l1 + 1, after), w.shared_out(l1 + 1, after, cap_rest));
  if (!net.known) return r;
  // Every flow of a communication step carries at least one sample's output of its boundary layer.
  r.next_fwd_s = r.next_bwd_s = net.one(net.out_bytes[size_t(l1)]);
  const double later = after > 1 ? net.one(net.out_after[size_t(l1) + 1]) : 0.0;
  r.round_trip_s = 2 * (r.next_fwd_s + (after - 1) * later);
  // A member sends its share of each micro-batch, in one flow or more, each at least its latency.
  for (size_t i = 0; i < devices.size(); ++i) {
    if (i >= shares.size() || shares[i] <= 0) continue;
    const size_t d = size_t(devices[i]);
    r.next_queue_s = std::max(r.next_queue_s, net.lat_from[d] + shares[i] * net.out_bytes[size_t(l1)] * net.inv_rate_from[d]);
  }
  return r;
}

}  // namespace asteroid::replay_detail
