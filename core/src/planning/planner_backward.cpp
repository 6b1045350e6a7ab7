// The exact search for the pipeline latency (cost_model.hpp):
//   latency = S + (M - 1) m + R,  S = sum over steps of E_f + E_b,  m = max of E_f + E_b,
//   R = max over steps s of (T_a^s - sum of E_b of the steps before s).
// Stages are added from the last to the first. A suffix of the pipeline (layers [l, L) on devices
// order[n..], the devices after the last stage idle) is summarised by the label (S, R, m, q) of
// its own steps, q its stage count; putting a step (F, B, A) in front gives
//   (S + F + B, max(A, R - B), max(m, F + B), q),
// which grows with each component; a label is dropped when another finishes no later under every
// completion (dominates(): no larger in each component, or smaller in S by enough to cover a
// larger m or R; m is dropped when M = 1). The front stage's memory depends on K = min(M, 2q + 1),
// so labels compete only at equal "qkey": q, capped where K reaches M, or -1 when no stage of any
// useful completion can reach its memory cap (then q is irrelevant); with a stage cap, always q.
// Because the stages after a stage fix its K, one pass over the states (l, n), from the last layer
// down, covers every pipeline depth at once.
// A label at (l, n) cannot finish below what the cheapest front (layers [0, l) on devices
// order[..n)) adds to it under a relaxation of the stage costs (planner_prefix_bound.hpp); labels
// and stages that cannot beat the best plan are dropped, and so is a micro-batch size whose whole
// relaxation cannot.
#include <algorithm>

#include "asteroid/model/schedule.hpp"
#include "planning/planner_common.hpp"
#include "planning/planner_prefix_bound.hpp"

namespace asteroid::planner_detail {
namespace {

struct Label {
  double S, R, m;
  int q;
  int qkey;
  int parent;      // the label this one was made from (the stages after), -1 for a start
  int l, e, n, h;  // the stage it added: layers [l, e], devices order[n..h]; e = -1 for a start
};

struct Step {
  double F, B, A;
  double period = 0;  // 0: F + B (StepCost::period)
};

Label extend(const Label& x, const Step& s) {
  Label y = x;
  y.S = x.S + s.F + s.B;
  y.R = std::max(s.A, x.R - s.B);
  y.m = std::max(x.m, s.period > 0 ? s.period : s.F + s.B);
  return y;
}

// A label in a state's set, as the dominance test sees it: beside its index, S, and R and m
// clamped to what any completion makes them at least (R' >= 0 for the first stage's all-reduce
// term, m >= the front's least step), so that the scans read memory in order.
struct Entry {
  double S, R, m;
  int qkey;
  int id;
};

// Whether x finishes no later than y with every completion of their state. A completion adds
// S' >= 0, makes m = max(m, m') and R = max(R - B', R') with B' >= 0, R' >= 0 and m' >= the clamp:
// then (M - 1) max(m, m') grows by at most (M - 1)(m_x - m_y)+ from y to x, and the R term by at
// most (R_x - R_y)+, both with the clamped values. With m_x <= m_y and R_x <= R_y this is plain
// Pareto dominance; otherwise x must make up for them with a smaller S.
bool dominates(const Entry& x, const Entry& y, double periods) {
  if (x.qkey != y.qkey) return false;
  double slack = y.S - x.S;
  if (slack < 0) return false;
  if (x.m > y.m) slack -= periods * (x.m - y.m);
  if (x.R > y.R) slack -= x.R - y.R;
  return slack >= 0;
}

class BackwardSearch {
 public:
  BackwardSearch(const CostModel& model, const PlannerOptions& opt, const std::vector<int>& order,
                 SearchState& state)
      : model_(model),
        opt_(opt),
        order_(order),
        st_(state),
        uniform_(uniform_network(model.cluster())),
        links_(model, order),
        N_(model.num_devices()),
        L_(model.num_layers()),
        max_group_(opt.max_group_size > 0 ? opt.max_group_size : N_),
        front_(model, order, rest_, links_, max_group_) {
    const Cluster& c = model.cluster();
    min_memory_before_.assign(N_ + 1, kInf);
    for (int i = 0; i < N_; ++i)
      min_memory_before_[i + 1] = std::min(min_memory_before_[i], c.devices[order_[i]].memory_bytes);
  }

  void run(int beta);

 private:
  size_t key(int l, int n, int f) const { return (size_t(l) * (N_ + 1) + n) * groups_ + f; }

  // The least latency any front (layers before l on devices order[..n)) can finish x with
  // (planner_prefix_bound.hpp).
  double lower_bound(const Label& x, int l, int n) const {
    if (l == 0) return x.S + (M_ - 1) * x.m + x.R;
    return front_.completion(l, n, x.S, x.R, x.m);
  }

  // Every stage in front of a label at (l, n) with q stages keeps at most as many micro-batches as
  // the first stage of a pipeline of q + min(l, n) stages; if even the smallest device there holds that many of the largest useful stage
  // (useful_stage_bounds) at full micro-batch, no memory cap binds and q does not matter.
  int qkey(int q, int l, int n) const {
    if (opt_.max_stages > 0) return q;  // q also limits how many stages may still come
    if (l == 0 || model_.options().ignore_memory) return -1;
    // Under `all` every stage's memory has a part that does not grow with K (cost_model.hpp):
    // the test below does not cover it, so q is kept. (Under `auto`, a stage recomputes only where
    // a cap binds without, which the test rules out.)
    if (model_.options().recomputation == Recomputation::all) return std::min(q, q_full_);
    double room = min_memory_before_[n] - static_before_[l];
    const double k_max = schedule::in_flight(model_.options().schedule, int(M_), q + std::min(l, n), 0);
    if (room >= 0 && k_max * beta_ * stored_before_[l] <= room) return -1;
    return std::min(q, q_full_);  // from q_full_ on, every stage in front keeps all M micro-batches
  }

  // A stage whose slowest device takes best / M or more cannot be part of a plan that beats the
  // best (latency >= M x its E_f + E_b), and the slowest device of a stage takes at least the sum
  // over its layers of the least time any device needs for any share from 1 to beta. For each l,
  // the most weight memory and stored-activation bytes per sample of any stage within [0, l) that
  // passes this test, into static_before_ and stored_before_.
  void useful_stage_bounds();

  void insert(std::vector<Entry>& bucket, Label y, int l, int n) {
    if (lower_bound(y, l, n) >= st_.best) return;
    y.qkey = qkey(y.q, l, n);
    Entry ey{y.S, std::max(y.R, 0.0), std::max(y.m, front_.step(l, n)), y.qkey, int(arena_.size())};
    for (const Entry& x : bucket)
      if (dominates(x, ey, M_ - 1)) return;
    bucket.erase(std::remove_if(bucket.begin(), bucket.end(),
                                [&](const Entry& x) { return dominates(ey, x, M_ - 1); }),
                 bucket.end());
    arena_.push_back(y);
    bucket.push_back(ey);
    ++st_.stats.labels_created;
  }

  void finish(const Label& y) {
    double value = y.S + (M_ - 1) * y.m + y.R;
    if (value >= st_.best) return;
    Plan plan;
    plan.microbatch_size = int(beta_);
    plan.microbatches = int(M_);
    for (const Label* cur = &y; cur->e >= 0; cur = &arena_[cur->parent]) {
      StagePlan sp;
      sp.first_layer = cur->l;
      sp.last_layer = cur->e;
      sp.devices.assign(order_.begin() + cur->n, order_.begin() + cur->h + 1);
      if (opt_.share_rule == ShareRule::even) sp.shares = even_shares(int(beta_), cur->h - cur->n + 1);
      plan.stages.push_back(sp);
    }
    st_.record(value, plan);
  }

  void expand(int lp, int np, int f);
  double trainable_bytes(int first, int last) const {
    return model_.cluster().devices[0].table->trainable_bytes(first, last);
  }

  const CostModel& model_;
  const PlannerOptions& opt_;
  const std::vector<int>& order_;
  RestBound rest_;  // for the micro-batch size of the run
  SearchState& st_;
  bool uniform_;
  RangeLinks links_;
  int N_, L_;
  int max_group_;
  PrefixBound front_;
  int groups_ = 1;  // keys per (l, n): the end of the first group, needed when links differ
  std::vector<double> min_memory_before_;
  std::vector<double> static_before_, stored_before_;  // useful_stage_bounds
  double M_ = 1, beta_ = 1;
  int q_full_ = 0;  // the least q with 2q + 1 >= M
  std::vector<Label> arena_;
  std::vector<std::vector<Entry>> buckets_;
  StageCost scratch_;
};

void BackwardSearch::run(int beta) {
  beta_ = beta;
  M_ = double(model_.options().batch_size / beta);
  rest_ = rest_bound(model_, order_, beta);
  q_full_ = int(M_) / 2;
  groups_ = uniform_ ? 1 : N_;
  if (st_.checkpoint()) return;
  front_.compute(beta, st_.best);
  if (front_.root_bound() >= st_.best) return;  // no plan of this micro-batch size can beat the best
  arena_.clear();
  buckets_.assign(size_t(L_ + 1) * (N_ + 1) * groups_, {});
  useful_stage_bounds();
  // Starts: no stage yet, devices order[np..] idle.
  for (int np = opt_.use_all_devices ? N_ : 1; np <= N_; ++np) {
    arena_.push_back({0, -kInf, 0, 0, -1, -1, 0, -1, 0, 0});
    buckets_[key(L_, np, 0)].push_back({0, -kInf, 0, -1, int(arena_.size()) - 1});
  }
  for (int lp = L_; lp >= 1; --lp)
    for (int np = N_; np >= 1; --np) {
      if (st_.checkpoint()) return;
      for (int f = 0; f < groups_; ++f) expand(lp, np, f);
    }
}

void BackwardSearch::useful_stage_bounds() {
  static_before_.assign(L_ + 1, 0.0);
  stored_before_.assign(L_ + 1, 0.0);
  double tau = st_.best / M_;
  std::vector<double> least(L_, kInf);  // per layer: least forward + backward time, any device and share
  for (const Device& d : model_.cluster().devices) {
    const LayerTable& t = *d.table;
    std::vector<double> ys = {1.0, beta_};
    for (double b : t.batch_sizes())
      if (b >= 1 && b <= beta_) ys.push_back(b);
    for (double y : ys) {
      BatchPoint bp = t.locate(y);
      for (int l = 0; l < L_; ++l) least[l] = std::min(least[l], t.fwd_s(l, l, bp) + t.bwd_s(l, l, bp));
    }
  }
  const LayerTable& t0 = *model_.cluster().devices[0].table;
  double state_factor = optimizer_state_factor(model_.options().optimizer);
  // The longest useful stage ending at each layer b starts at a; both ends only move forward.
  double sum = 0;
  for (int a = 0, b = 0; b < L_; ++b) {
    sum += least[b];
    while (a < b && sum * (1 - 1e-9) >= tau) sum -= least[a++];
    static_before_[b + 1] = std::max(static_before_[b], t0.static_bytes(a, b, state_factor));
    stored_before_[b + 1] = std::max(stored_before_[b], t0.stored_bytes_per_sample(a, b));
  }
}

// Puts every possible stage [l, lp - 1] x order[n, np - 1] in front of the labels at (lp, np, f),
// f the end of their first group.
void BackwardSearch::expand(int lp, int np, int f) {
  std::vector<Entry>& source = buckets_[key(lp, np, f)];
  source.erase(std::remove_if(source.begin(), source.end(),
                              [&](const Entry& x) { return lower_bound(arena_[x.id], lp, np) >= st_.best; }),
               source.end());
  if (source.empty()) return;
  double S_min = kInf, m_min = kInf;
  for (const Entry& x : source) {
    S_min = std::min(S_min, x.S);
    m_min = std::min(m_min, x.m);
  }
  const bool first_placed = lp == L_;  // the stage to add is the pipeline's last
  const int e = lp - 1, h = np - 1;
  std::vector<int> shares;
  std::vector<std::pair<int, StageCost>> by_k;  // costs at K beyond the stage's caps
  for (int n = h; n >= 0 && h - n + 1 <= max_group_; --n) {
    const int* group = order_.data() + n;
    int size = h - n + 1;
    if (n > 0 && (n + max_group_ - 1) / max_group_ > e) continue;  // too few layers for the devices before
    if (opt_.share_rule == ShareRule::even) shares = even_shares(int(beta_), size);
    double t = 0, tb = 0;  // the transfer into the suffix's first stage, forward and back
    if (!first_placed) {
      const int* next = order_.data() + np;
      t = uniform_ ? model_.transfer_s(e, group, 1, next, 1, int(beta_))
                   : model_.transfer_s(e, group, size, next, f - np + 1, int(beta_));
      tb = uniform_ ? model_.transfer_s(e, group, 1, next, 1, int(beta_), nullptr, true)
                    : model_.transfer_s(e, group, size, next, f - np + 1, int(beta_), nullptr, true);
    }
    // Full duplex: the step holds each direction for one transfer per micro-batch.
    double period = t + tb;
    if (!first_placed &&
        !model_.directions_share_channel(group, size, order_.data() + np, uniform_ ? 1 : f - np + 1))
      period = std::max(t, tb);
    if (t + tb + (M_ - 1) * period >= st_.best) continue;
    const Step comm{t, tb, 0, period};
    double capacity = rest_.cap_before[h + 1] - rest_.cap_before[n];
    const LinkSummary* links = size > 1 ? &links_.get(n, h) : nullptr;
    int l_low = n == 0 ? 0 : 1, l_high = n == 0 ? 0 : e;
    for (int l = l_high; l >= l_low; --l) {
      if (n > 0 && (n + max_group_ - 1) / max_group_ > l) break;  // the devices before need more layers
      double c_low = beta_ * (rest_.work_before[e + 1] - rest_.work_before[l]) / capacity * (1 - 1e-9);
      double S_low = S_min + t + tb + c_low, m_low = std::max({m_min, period, c_low});
      // The new label's R is at least the stage's all-reduce, known before the stage is costed.
      double allreduce = 0;
      if (links && !model_.options().ignore_network)
        allreduce = 2.0 * (size - 1) *
                    (trainable_bytes(l, e) / (size * links->bandwidth_Bps) + links->latency_s) * (1 - 1e-9);
      if (S_low + (M_ - 1) * m_low + allreduce >= st_.best) break;  // all only grow with more layers
      if (l > 0 && front_.completion(l, n, S_low, allreduce, m_low) >= st_.best) continue;
      StageCost& sc = scratch_;
      model_.stage(sc, l, e, group, size, int(beta_), 0, shares.empty() ? nullptr : shares.data(), links);
      ++st_.stats.stage_evaluations;
      if (!sc.feasible) {
        st_.refused(sc, int(beta_));
        break;  // the weights alone do not fit; more layers need more
      }
      // The slowest device only gets slower with more layers, and tighter caps only slow it more.
      if (M_ * sc.slowest_s >= st_.best) break;
      long long max_k = model_.max_in_flight(l, e, group, size, sc.shares.data());
      by_k.clear();
      size_t count = source.size();  // insert() may add to other buckets only: sizes are stable
      for (size_t i = 0; i < count; ++i) {
        int id = source[i].id;
        const Label& x = arena_[id];
        if (opt_.max_stages > 0 &&
            x.q + 1 + (l > 0 ? (n + max_group_ - 1) / max_group_ : 0) > opt_.max_stages)
          continue;
        const int K = schedule::in_flight(model_.options().schedule, int(M_), x.q + 1, 0);  // x.q stages after
        const StageCost* use = &sc;
        if (K > max_k) {
          auto it = std::find_if(by_k.begin(), by_k.end(), [&](const auto& p) { return p.first == K; });
          if (it == by_k.end()) {
            ++st_.stats.stage_evaluations;
            by_k.emplace_back(K, model_.stage(l, e, group, size, int(beta_), K,
                                              shares.empty() ? nullptr : shares.data(), links));
            it = by_k.end() - 1;
          }
          if (!it->second.feasible) {
            st_.refused(it->second, int(beta_));
            continue;
          }
          use = &it->second;
        }
        Label y = first_placed ? x : extend(x, comm);
        y = extend(y, {use->fwd_s, use->bwd_s, use->tail_s()});
        if (M_ == 1) y.m = 0;  // (M - 1) m: no period after the first micro-batch
        y.q = x.q + 1;
        y.parent = id;
        y.l = l;
        y.e = e;
        y.n = n;
        y.h = h;
        if (l == 0)
          finish(y);
        else
          insert(buckets_[key(l, n, uniform_ ? 0 : h)], y, l, n);
      }
    }
  }
}

}  // namespace

void search_stages_backward(const CostModel& m, const PlannerOptions& opt, const std::vector<int>& order,
                            const std::vector<int>& betas, SearchState& state) {
  BackwardSearch search(m, opt, order, state);
  for (int beta : betas) {
    if (state.past_deadline()) return;
    search.run(beta);
  }
}

}  // namespace asteroid::planner_detail
