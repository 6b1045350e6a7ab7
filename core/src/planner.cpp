#include "asteroid/planner.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <unordered_map>
#include <cmath>
#include <limits>

namespace asteroid {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// A partial plan, summarised by what the rest of the pipeline needs to finish its latency.
struct Label {
  double a, b, c;  // paper, before dm: U, X, m; after dm: V, W, C;
                   // pipeline: U = sum of E_f, T = max_s (T_a^s + sum of E_b from s on), m (planner.hpp)
  bool after_dm;
  int parent;      // label of the previous stage, -1 for the first
  int l, e, n, h;  // the stage that made it: layers [l, e], devices order[n..h]
};

struct Step {
  double F, B, A, c;
};

// Pipeline labels and paper labels before dm: every component the smaller the better; after dm, a
// larger C (the dominant step's cost, a cap on later steps) is better.
bool dominates(const Label& x, const Label& y) {
  if (x.after_dm != y.after_dm) return false;
  if (!x.after_dm) return x.a <= y.a && x.b <= y.b && x.c <= y.c;
  return x.a <= y.a && x.b <= y.b && x.c >= y.c;
}

// Lower bound on the largest E_f + E_b still to come. Let rho(d, l) be the least forward + backward
// time per sample of layer l on device d at any batch size up to B (times are piecewise linear in the
// samples, so t(y)/y is smallest at a profiled batch size, at 1, or at B), rho_min(l) the least over
// devices, and lambda_d = min_l rho(d, l) / rho_min(l) >= 1 how much slower d is at best. A device of a
// stage with step time C processes at most C / (lambda_d rho_min(stage)) samples, and the stage's
// devices must process beta; summing over the remaining stages,
//   C >= beta x sum_{l' >= l} rho_min(l') / sum_{remaining d} 1 / lambda_d.
struct RestBound {
  std::vector<double> work;      // [l]: sum over layers >= l of rho_min
  std::vector<double> capacity;  // [n]: sum over devices order[n..] of 1 / lambda_d
};

RestBound rest_bound(const CostModel& m, const std::vector<int>& order) {
  int L = m.num_layers(), B = m.options().batch_size, N = m.num_devices();
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
  std::vector<double> rho_min(L, kInf);
  for (int d = 0; d < N; ++d)
    for (int l = 0; l < L; ++l) rho_min[l] = std::min(rho_min[l], rho[d][l]);
  RestBound r;
  r.work.assign(L + 1, 0.0);
  for (int l = L - 1; l >= 0; --l) r.work[l] = r.work[l + 1] + rho_min[l];
  r.capacity.assign(N + 1, 0.0);
  for (int i = N - 1; i >= 0; --i) {
    int d = order[i];
    double lambda = kInf;
    for (int l = 0; l < L; ++l)
      lambda = std::min(lambda, rho_min[l] > 0 ? rho[d][l] / rho_min[l] : 1.0);
    r.capacity[i] = r.capacity[i + 1] + (lambda > 0 && lambda < kInf ? 1.0 / lambda : 1.0);
  }
  return r;
}

class Search {
 public:
  Search(const CostModel& model, const PlannerOptions& opt)
      : model_(model), opt_(opt), order_(planner_device_order(model.cluster())),
        paper_(model.options().latency_model == LatencyModel::paper) {
    const Cluster& c = model.cluster();
    uniform_network_ = true;
    for (int i = 0; i < c.size() && uniform_network_; ++i)
      for (int j = 0; j < c.size(); ++j)
        if (i != j && (c.bandwidth_Bps[i][j] != c.bandwidth_Bps[0][1 % c.size()] ||
                       c.latency_s[i][j] != c.latency_s[0][1 % c.size()]))
          uniform_network_ = false;
  }

  void run(int beta, int P);

  double best = kInf;
  Plan best_plan;
  bool out_of_time = false;
  PlanSearchStats stats;
  std::string last_reason;  // why the last infeasible stage was refused, for the error message

 private:
  // The largest E_f + E_b of the steps for layers [l, L) on devices order[n..] is at least this
  // (RestBound), less a margin for rounding so that the bound never cuts an optimum.
  double rest_c(int l, int n) const {
    if (l >= L_ || n >= N_) return 0.0;
    return beta_ * rest_.work[l] / rest_.capacity[n] * (1 - 1e-9);
  }

  // No completion of x from state (l, n) can have a latency below this.
  double lower_bound(const Label& x, int l, int n) const {
    double rest = rest_c(l, n);
    if (!paper_) return x.a + std::max(x.b, 0.0) + rest + (M_ - 1) * std::max(x.c, rest);
    if (x.after_dm) return rest > x.c ? kInf : x.a;
    return x.a + M_ * std::max(x.c, rest);
  }

  // The latency of a complete plan's label.
  double final_value(const Label& x) const {
    if (!paper_) return x.a + (M_ - 1) * x.c + x.b;
    return x.after_dm ? x.a : kInf;
  }

  // Appends step s to x; writes up to two labels (x continues before dm, or s becomes dm).
  int extend(const Label& x, const Step& s, Label* out) const {
    int k = 0;
    if (!paper_) {
      out[k++] = {x.a + s.F, std::max(x.b, s.A) + s.B, std::max(x.c, s.c), false, 0, 0, 0, 0, 0};
    } else if (!x.after_dm) {
      out[k++] = {x.a + s.F, std::max(x.b, s.A) + s.B, std::max(x.c, s.c), false, 0, 0, 0, 0, 0};
      if (s.c >= x.c) {
        double base = x.a + M_ * s.c;
        out[k++] = {base + std::max(x.b, s.A), base - s.B, s.c, true, 0, 0, 0, 0, 0};
      }
    } else if (s.c <= x.c) {
      out[k++] = {std::max(x.a, x.b + s.A), x.b - s.B, x.c, true, 0, 0, 0, 0, 0};
    }
    return k;
  }

  void insert(std::vector<int>& bucket, const Label& lab, int l, int n) {
    if (lower_bound(lab, l, n) >= best) return;
    for (int id : bucket)
      if (dominates(arena_[id], lab)) return;
    bucket.erase(std::remove_if(bucket.begin(), bucket.end(),
                                [&](int id) { return dominates(lab, arena_[id]); }),
                 bucket.end());
    arena_.push_back(lab);
    bucket.push_back(int(arena_.size()) - 1);
    ++stats.labels_created;
  }

  // A stage's cost does not depend on K (the in-flight micro-batches, i.e. on how many stages
  // follow) as long as no device's memory cap binds: then Alg. 1 hands out the same shares as with
  // unlimited activation memory. So the cost without activation memory is computed once per
  // micro-batch size, with the largest K it holds for, and reused across pipeline depths.
  // Memory: one entry per stage evaluated, at most layers^2 x devices^2 per micro-batch size.
  StageCost stage_cost(int l, int e, int n, int h, int beta, int K, const std::vector<int>& shares) {
    const int* group = order_.data() + n;
    int size = h - n + 1;
    const int* fixed = shares.empty() ? nullptr : shares.data();
    auto& cache = cache_[beta];
    uint64_t key = ((uint64_t(l) * L_ + e) * N_ + n) * N_ + h;
    auto it = cache.find(key);
    if (it == cache.end()) {
      StageCost free = model_.stage(l, e, group, size, beta, 0, fixed);
      ++stats.stage_evaluations;
      Cached c{free.fwd_s, free.bwd_s, free.allreduce_s, free.slowest_s, -1};
      if (free.feasible) c.max_k = model_.max_in_flight(l, e, group, size, free.shares.data());
      else last_reason = free.reason;
      it = cache.emplace(key, c).first;
    }
    const Cached& c = it->second;
    if (K <= c.max_k) {
      StageCost sc;
      sc.fwd_s = c.fwd;
      sc.bwd_s = c.bwd;
      sc.allreduce_s = c.allreduce;
      sc.slowest_s = c.slowest;
      return sc;
    }
    if (c.max_k < 0) {  // the weights alone do not fit: no K helps
      StageCost sc;
      sc.feasible = false;
      return sc;
    }
    ++stats.stage_evaluations;
    StageCost sc = model_.stage(l, e, group, size, beta, K, fixed);
    if (!sc.feasible) last_reason = sc.reason;
    return sc;
  }

  bool past_deadline() {
    if (opt_.time_limit_s <= 0) return false;
    if (!out_of_time)
      out_of_time = std::chrono::steady_clock::now() - start_ > std::chrono::duration<double>(opt_.time_limit_s);
    return out_of_time;
  }

  // Whether some label at (l, g, n), for g in gs, could still beat the best plan if the stage ending
  // at layer e1 - 1 on devices up to h1 - 1 were added: checked before paying for the stage.
  bool any_label_can_continue(const std::vector<int>& gs, int l, int n, int e1, int h1) const {
    double rest = rest_c(e1, h1);
    for (int g : gs)
      for (int id : (*cur_)[key(l, g, n)]) {
        if (lower_bound(arena_[id], e1, h1) < best) return true;
      }
    return false;
  }

  void finish(const Label& lab, int beta, int P) {
    double value = final_value(lab);
    if (value >= best) return;
    best = value;
    Plan plan;
    plan.microbatch_size = beta;
    plan.microbatches = model_.options().batch_size / beta;
    plan.stages.resize(P);
    const Label* cur = &lab;
    for (int p = P - 1; p >= 0; --p) {
      StagePlan& sp = plan.stages[p];
      sp.first_layer = cur->l;
      sp.last_layer = cur->e;
      sp.devices.assign(order_.begin() + cur->n, order_.begin() + cur->h + 1);
      if (opt_.share_rule == ShareRule::even) sp.shares = even_shares(beta, cur->h - cur->n + 1);
      if (cur->parent >= 0) cur = &arena_[cur->parent];
    }
    best_plan = plan;
  }

  static std::vector<int> even_shares(int beta, int n) {
    std::vector<int> s(n, beta / n);
    for (int i = 0; i < beta % n; ++i) ++s[i];
    return s;
  }

  // On a uniform network the start of the previous group does not matter (g is always 0): the
  // table then has one row per (layer, device) instead of N.
  int groups_in_key() const { return uniform_network_ ? 1 : N_; }
  size_t key(int l, int g, int n) const {
    return (size_t(l) * groups_in_key() + g) * (N_ + 1) + n;
  }

  const CostModel& model_;
  const PlannerOptions& opt_;
  std::vector<int> order_;
  bool paper_;
  bool uniform_network_ = true;
  int N_ = 0, L_ = 0;
  double M_ = 1, beta_ = 1;
  RestBound rest_;
  bool have_rest_ = false;
  std::vector<Label> arena_;
  const std::vector<std::vector<int>>* cur_ = nullptr;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  struct Cached {
    double fwd, bwd, allreduce, slowest;
    long long max_k;  // the cost holds for K <= max_k; -1: infeasible at any K
  };
  std::unordered_map<int, std::unordered_map<uint64_t, Cached>> cache_;  // per micro-batch size
};

void Search::run(int beta, int P) {
  N_ = model_.num_devices();
  L_ = model_.num_layers();
  M_ = double(model_.options().batch_size / beta);
  beta_ = beta;
  if (!have_rest_) {
    rest_ = rest_bound(model_, order_);
    have_rest_ = true;
  }
  arena_.clear();
  size_t num_keys = size_t(L_ + 1) * groups_in_key() * (N_ + 1);
  std::vector<std::vector<int>> cur(num_keys), next(num_keys);
  arena_.push_back({0, -kInf, 0, false, -1, 0, 0, 0, 0});
  cur[key(0, 0, 0)].push_back(0);
  cur_ = &cur;

  int max_group = opt_.max_group_size > 0 ? opt_.max_group_size : N_;
  std::vector<int> gs_start;  // group starts with labels, for one (l, n)
  Label made[4], tmp[2];
  for (int p = 0; p < P; ++p) {
    bool last = p == P - 1;
    int K = 2 * (P - p) - 1;
    int stages_after = P - 1 - p;
    for (int l = p; l <= L_ - 1 - stages_after; ++l) {
      if (past_deadline()) return;
      for (int n = p; n <= N_ - 1 - stages_after; ++n) {
        gs_start.clear();
        for (int g = 0; g < groups_in_key(); ++g) {
          auto& bucket = cur[key(l, g, n)];
          bucket.erase(std::remove_if(bucket.begin(), bucket.end(),
                                      [&](int id) { return lower_bound(arena_[id], l, n) >= best; }),
                       bucket.end());
          if (!bucket.empty()) gs_start.push_back(g);
        }
        if (gs_start.empty()) continue;
        int h_min = n;
        int h_max = std::min(N_ - 1 - stages_after, n + max_group - 1);
        if (last && opt_.use_all_devices) h_min = N_ - 1;
        for (int h = h_min; h <= h_max; ++h) {
          const int* group = order_.data() + n;
          int size = h - n + 1;
          std::vector<int> shares;
          if (opt_.share_rule == ShareRule::even) shares = even_shares(beta, size);
          // The communication step into this group, per start of the previous group.
          std::vector<double> comm(N_, 0.0);
          bool any_comm_ok = p == 0;
          for (int g : gs_start) {
            if (p == 0) break;
            const int* prev = uniform_network_ ? order_.data() + n - 1 : order_.data() + g;
            int prev_size = uniform_network_ ? 1 : n - g;
            comm[g] = model_.transfer_s(l - 1, prev, prev_size, group, size, beta);
            if (M_ * 2 * comm[g] < best) any_comm_ok = true;
          }
          if (!any_comm_ok) continue;
          int e_min = last ? L_ - 1 : l;
          int e_max = L_ - 1 - stages_after;
          for (int e = e_min; e <= e_max; ++e) {
            if (!last && !any_label_can_continue(gs_start, l, n, e + 1, h + 1)) continue;
            StageCost sc = stage_cost(l, e, n, h, beta, K, shares);
            if (!sc.feasible) {
              if (!sc.reason.empty()) last_reason = sc.reason;
              break;  // more layers need more memory
            }
            Step st{sc.fwd_s, sc.bwd_s, sc.allreduce_s, sc.fwd_s + sc.bwd_s};
            // E_f + E_b >= slowest_s, and slowest_s only grows with more layers.
            if (M_ * sc.slowest_s >= best) break;
            if (M_ * st.c >= best) continue;
            for (int g : gs_start) {
              Step cs{comm[g], comm[g], 0, 2 * comm[g]};
              if (p > 0 && M_ * cs.c >= best) continue;
              for (int id : cur[key(l, g, n)]) {
                Label src = arena_[id];
                int count = 0;
                if (p == 0) {
                  count = extend(src, st, made);
                } else {
                  int k1 = extend(src, cs, tmp);
                  for (int i = 0; i < k1; ++i) count += extend(tmp[i], st, made + count);
                }
                for (int i = 0; i < count; ++i) {
                  Label lab = made[i];
                  lab.parent = id;
                  lab.l = l;
                  lab.e = e;
                  lab.n = n;
                  lab.h = h;
                  if (last)
                    finish(lab, beta, P);
                  else
                    insert(next[key(e + 1, uniform_network_ ? 0 : n, h + 1)], lab, e + 1, h + 1);
                }
              }
            }
          }
        }
      }
    }
    std::swap(cur, next);
    for (auto& b : next) b.clear();  // O(keys) per stage: cheap now that keys are layers x devices
  }
}

}  // namespace

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
  Search search(model, options);
  int N = model.num_devices();
  int P_max = std::min(N, model.num_layers());
  if (options.max_stages > 0) P_max = std::min(P_max, options.max_stages);
  // Largest micro-batches first: they are usually the best, so the bound prunes early.
  std::vector<int> betas = microbatch_candidates(model.options().batch_size, options.microbatch_sizes);
  std::reverse(betas.begin(), betas.end());
  if (betas.empty()) return Error{"", "planner.microbatch_sizes", "no micro-batch size divides the batch size"};
  for (int P = 1; P <= P_max; ++P)
    for (int beta : betas) search.run(beta, P);
  if (search.best == kInf && search.out_of_time)
    return Error{"", "", "no plan found within the planner's time limit"};
  if (search.best == kInf) {
    std::string why = search.last_reason.empty() ? "no plan satisfies the constraints"
                                                 : "no plan fits in memory; e.g. " + search.last_reason;
    return Error{"", "", why};
  }
  PlannerResult r;
  r.plan = search.best_plan;
  r.round_latency_s = search.best;
  r.stats = search.stats;
  r.proven_optimal = !search.out_of_time;
  return r;
}

}  // namespace asteroid
