// The exact search for the paper's latency (Eq. 4-6): a dynamic program over (stages placed, next
// layer, next device, start of the last group), one pass per pipeline depth P (a stage's
// K = min(M, 2(P-p)-1) needs it), whose entries hold Pareto sets of partial-plan labels.
// SUBTLE: the latency depends on the dominant step dm, the first step with the largest E_f + E_b,
// anywhere in the pipeline. Labels before dm are (U = sum of E_f, X = max_s (T_a^s + sum of E_b
// from s on), m); after dm (V = latency so far, W = base - sum of E_b since dm, C = E_f + E_b of dm).
// Choosing any step j with E_f + E_b >= every other step as "dm" gives a latency no lower than the
// true one, and the true dm gives it exactly, so the minimum over labels is the optimum.
#include <algorithm>
#include <cstdint>
#include <unordered_map>

#include "asteroid/model/schedule.hpp"
#include "planning/planner_common.hpp"

namespace asteroid::planner_detail {
namespace {

// A partial plan, summarised by what the rest of the pipeline needs to finish its latency.
struct Label {
  double a, b, c;  // before dm: U, X, m; after dm: V, W, C (see the top of this file)
  bool after_dm;
  int parent;      // label of the previous stage, -1 for the first
  int l, e, n, h;  // the stage that made it: layers [l, e], devices order[n..h]
};

struct Step {
  double F, B, A, c;
};

// Before dm: every component the smaller the better; after dm, a larger C (the dominant step's
// cost, a cap on later steps) is better.
bool dominates(const Label& x, const Label& y) {
  if (x.after_dm != y.after_dm) return false;
  if (!x.after_dm) return x.a <= y.a && x.b <= y.b && x.c <= y.c;
  return x.a <= y.a && x.b <= y.b && x.c >= y.c;
}

class Search {
 public:
  Search(const CostModel& model, const PlannerOptions& opt, const std::vector<int>& order,
         const RestBound& rest, SearchState& state)
      : model_(model),
        opt_(opt),
        order_(order),
        rest_(rest),
        st_(state),
        uniform_network_(uniform_network(model.cluster())) {}

  void run(int beta, int P);

 private:
  // The largest E_f + E_b of the steps for layers [l, L) on devices order[n..] is at least this
  // (RestBound), less a margin for rounding so that the bound never cuts an optimum.
  double rest_c(int l, int n) const {
    if (l >= L_ || n >= N_) return 0.0;
    return beta_ * rest_.work_after[l] / rest_.cap_after[n] * (1 - 1e-9);
  }

  // No completion of x from state (l, n) can have a latency below this.
  double lower_bound(const Label& x, int l, int n) const {
    double rest = rest_c(l, n);
    if (x.after_dm) return rest > x.c ? kInf : x.a;
    return x.a + M_ * std::max(x.c, rest);
  }

  // The latency of a complete plan's label.
  double final_value(const Label& x) const { return x.after_dm ? x.a : kInf; }

  // Appends step s to x; writes up to two labels (x continues before dm, or s becomes dm).
  int extend(const Label& x, const Step& s, Label* out) const {
    int k = 0;
    if (!x.after_dm) {
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
    if (lower_bound(lab, l, n) >= st_.best) return;
    for (int id : bucket)
      if (dominates(arena_[id], lab)) return;
    bucket.erase(
        std::remove_if(bucket.begin(), bucket.end(), [&](int id) { return dominates(lab, arena_[id]); }),
        bucket.end());
    arena_.push_back(lab);
    bucket.push_back(int(arena_.size()) - 1);
    ++st_.stats.labels_created;
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
      ++st_.stats.stage_evaluations;
      Cached c{free.fwd_s, free.bwd_s, free.tail_s(), free.slowest_s, -1};
      if (free.feasible)
        c.max_k = model_.max_in_flight(l, e, group, size, free.shares.data());
      else
        st_.refused(free, beta);
      it = cache.emplace(key, c).first;
    }
    const Cached& c = it->second;
    if (K <= c.max_k) {
      StageCost sc;
      sc.fwd_s = c.fwd;
      sc.bwd_s = c.bwd;
      sc.allreduce_s = c.tail;  // all-reduce and optimizer step together: the search needs their sum
      sc.slowest_s = c.slowest;
      return sc;
    }
    if (c.max_k < 0) {  // the weights alone do not fit: no K helps
      StageCost sc;
      sc.feasible = false;
      return sc;
    }
    ++st_.stats.stage_evaluations;
    StageCost sc = model_.stage(l, e, group, size, beta, K, fixed);
    if (!sc.feasible) st_.refused(sc, beta);
    return sc;
  }

  // Whether some label at (l, g, n), for g in gs, could still beat the best plan if the stage
  // ending at layer e1 - 1 on devices up to h1 - 1 were added: checked before paying for the stage.
  bool any_label_can_continue(const std::vector<int>& gs, int l, int n, int e1, int h1) const {
    for (int g : gs)
      for (int id : (*cur_)[key(l, g, n)]) {
        if (lower_bound(arena_[id], e1, h1) < st_.best) return true;
      }
    return false;
  }

  void finish(const Label& lab, int beta, int P) {
    double value = final_value(lab);
    if (value >= st_.best) return;
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
    st_.record(value, plan);
  }

  // On a uniform network the start of the previous group does not matter (g is always 0): the
  // table then has one row per (layer, device) instead of N.
  int groups_in_key() const { return uniform_network_ ? 1 : N_; }
  size_t key(int l, int g, int n) const { return (size_t(l) * groups_in_key() + g) * (N_ + 1) + n; }

  const CostModel& model_;
  const PlannerOptions& opt_;
  const std::vector<int>& order_;
  const RestBound& rest_;
  SearchState& st_;
  bool uniform_network_;
  int N_ = 0, L_ = 0;
  double M_ = 1, beta_ = 1;
  std::vector<Label> arena_;
  const std::vector<std::vector<int>>* cur_ = nullptr;
  struct Cached {
    double fwd, bwd, tail, slowest;  // tail: all-reduce + optimizer step
    long long max_k;  // the cost holds for K <= max_k; -1: infeasible at any K
  };
  std::unordered_map<int, std::unordered_map<uint64_t, Cached>> cache_;  // per micro-batch size
};

void Search::run(int beta, int P) {
  N_ = model_.num_devices();
  L_ = model_.num_layers();
  M_ = double(model_.options().batch_size / beta);
  beta_ = beta;
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
    int K = schedule::in_flight(model_.options().schedule, int(M_), P, p);
    int stages_after = P - 1 - p;
    for (int l = p; l <= L_ - 1 - stages_after; ++l) {
      if (st_.checkpoint()) return;
      for (int n = p; n <= N_ - 1 - stages_after; ++n) {
        gs_start.clear();
        for (int g = 0; g < groups_in_key(); ++g) {
          auto& bucket = cur[key(l, g, n)];
          bucket.erase(std::remove_if(bucket.begin(), bucket.end(),
                                      [&](int id) { return lower_bound(arena_[id], l, n) >= st_.best; }),
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
          std::vector<double> comm(N_, 0.0), comm_b(N_, 0.0);  // forward and back
          bool any_comm_ok = p == 0;
          for (int g : gs_start) {
            if (p == 0) break;
            const int* prev = uniform_network_ ? order_.data() + n - 1 : order_.data() + g;
            int prev_size = uniform_network_ ? 1 : n - g;
            comm[g] = model_.transfer_s(l - 1, prev, prev_size, group, size, beta);
            comm_b[g] = model_.transfer_s(l - 1, prev, prev_size, group, size, beta, nullptr, true);
            if (M_ * (comm[g] + comm_b[g]) < st_.best) any_comm_ok = true;
          }
          if (!any_comm_ok) continue;
          int e_min = last ? L_ - 1 : l;
          int e_max = L_ - 1 - stages_after;
          for (int e = e_min; e <= e_max; ++e) {
            if (!last && !any_label_can_continue(gs_start, l, n, e + 1, h + 1)) continue;
            StageCost sc = stage_cost(l, e, n, h, beta, K, shares);
            if (!sc.feasible) {
              st_.refused(sc, beta);
              break;  // more layers need more memory
            }
            Step st{sc.fwd_s, sc.bwd_s, sc.tail_s(), sc.fwd_s + sc.bwd_s};
            // E_f + E_b >= slowest_s, and slowest_s only grows with more layers.
            if (M_ * sc.slowest_s >= st_.best) break;
            if (M_ * st.c >= st_.best) continue;
            for (int g : gs_start) {
              Step cs{comm[g], comm_b[g], 0, comm[g] + comm_b[g]};
              if (p > 0 && M_ * cs.c >= st_.best) continue;
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

void search_stages_forward(const CostModel& m, const PlannerOptions& opt, const std::vector<int>& order,
                           const std::vector<int>& betas, const RestBound& rb, SearchState& state) {
  Search search(m, opt, order, rb, state);
  int P_max = std::min(m.num_devices(), m.num_layers());
  if (opt.max_stages > 0) P_max = std::min(P_max, opt.max_stages);
  for (int P = 1; P <= P_max; ++P)
    for (int beta : betas) search.run(beta, P);
}

}  // namespace asteroid::planner_detail
