#include "asteroid/planner.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace asteroid {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// A partial plan, summarised by what the rest of the pipeline needs to finish its latency.
struct Label {
  double a, b, c;  // before dm: U, X, m; after dm: V, W, C (see planner.hpp)
  bool after_dm;
  int parent;      // label of the previous stage, -1 for the first
  int l, e, n, h;  // the stage that made it: layers [l, e], devices order[n..h]
};

struct Step {
  double F, B, A, c;
};

bool dominates(const Label& x, const Label& y) {
  if (x.after_dm != y.after_dm) return false;
  if (!x.after_dm) return x.a <= y.a && x.b <= y.b && x.c <= y.c;
  return x.a <= y.a && x.b <= y.b && x.c >= y.c;
}

class Search {
 public:
  Search(const CostModel& model, const PlannerOptions& opt)
      : model_(model), opt_(opt), order_(planner_device_order(model.cluster())) {
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
  PlanSearchStats stats;
  std::string last_reason;  // why the last infeasible stage was refused, for the error message

 private:
  double lower_bound(const Label& x) const { return x.after_dm ? x.a : x.a + M_ * x.c; }

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

  void insert(std::vector<int>& bucket, const Label& lab) {
    if (lower_bound(lab) >= best) return;
    for (int id : bucket)
      if (dominates(arena_[id], lab)) return;
    bucket.erase(std::remove_if(bucket.begin(), bucket.end(),
                                [&](int id) { return dominates(lab, arena_[id]); }),
                 bucket.end());
    arena_.push_back(lab);
    bucket.push_back(int(arena_.size()) - 1);
    ++stats.labels_created;
  }

  void finish(const Label& lab, int beta, int P) {
    if (!lab.after_dm || lab.a >= best) return;
    best = lab.a;
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

  size_t key(int l, int g, int n) const { return (size_t(l) * N_ + g) * (N_ + 1) + n; }

  const CostModel& model_;
  const PlannerOptions& opt_;
  std::vector<int> order_;
  bool uniform_network_ = true;
  int N_ = 0, L_ = 0;
  double M_ = 1;
  std::vector<Label> arena_;
};

void Search::run(int beta, int P) {
  N_ = model_.num_devices();
  L_ = model_.num_layers();
  M_ = double(model_.options().batch_size / beta);
  arena_.clear();
  size_t num_keys = size_t(L_ + 1) * N_ * (N_ + 1);
  std::vector<std::vector<int>> cur(num_keys), next(num_keys);
  arena_.push_back({0, -kInf, 0, false, -1, 0, 0, 0, 0});
  cur[key(0, 0, 0)].push_back(0);

  int max_group = opt_.max_group_size > 0 ? opt_.max_group_size : N_;
  std::vector<int> gs_start;  // group starts with labels, for one (l, n)
  Label made[4], tmp[2];
  for (int p = 0; p < P; ++p) {
    bool last = p == P - 1;
    int K = 2 * (P - p) - 1;
    int stages_after = P - 1 - p;
    for (int l = p; l <= L_ - 1 - stages_after; ++l) {
      for (int n = p; n <= N_ - 1 - stages_after; ++n) {
        gs_start.clear();
        for (int g = 0; g < N_; ++g) {
          auto& bucket = cur[key(l, g, n)];
          bucket.erase(std::remove_if(bucket.begin(), bucket.end(),
                                      [&](int id) { return lower_bound(arena_[id]) >= best; }),
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
            StageCost sc = model_.stage(l, e, group, size, beta, K,
                                        shares.empty() ? nullptr : shares.data());
            ++stats.stage_evaluations;
            if (!sc.feasible) {
              last_reason = sc.reason;
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
                    insert(next[key(e + 1, uniform_network_ ? 0 : n, h + 1)], lab);
                }
              }
            }
          }
        }
      }
    }
    std::swap(cur, next);
    for (auto& b : next) b.clear();
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
  if (search.best == kInf) {
    std::string why = search.last_reason.empty() ? "no plan satisfies the constraints"
                                                 : "no plan fits in memory; e.g. " + search.last_reason;
    return Error{"", "", why};
  }
  PlannerResult r;
  r.plan = search.best_plan;
  r.round_latency_s = search.best;
  r.stats = search.stats;
  return r;
}

}  // namespace asteroid
