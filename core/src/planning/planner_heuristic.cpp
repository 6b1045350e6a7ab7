// Quick plans that give the exact searches a bound to prune with from the start. Correctness does
// not depend on them (the searches drop only what cannot beat a plan actually found); a good one
// makes the searches much faster on large clusters, where most states cannot beat it.
// The plans: the first G x k devices of the planner's order in G groups of k, the layers split so
// that each group's share of the work matches its share of the capacity (RestBound); then, for the
// most promising of those, the layer split by bisection on the largest step time, filling each
// stage greedily.
#include <algorithm>

#include "asteroid/model/schedule.hpp"
#include "planning/planner_common.hpp"

namespace asteroid::planner_detail {
namespace {

struct Shape {
  int beta, group_size, groups;
  double latency;
};

class HeuristicPlans {
 public:
  HeuristicPlans(const CostModel& m, const PlannerOptions& opt, const std::vector<int>& order,
                 const RestBound& rb, SearchState& state)
      : m_(m), opt_(opt), order_(order), rb_(rb), st_(state), N_(m.num_devices()), L_(m.num_layers()) {}

  void run(const std::vector<int>& betas) {
    int max_group = opt_.max_group_size > 0 ? opt_.max_group_size : N_;
    std::vector<Shape> shapes;
    for (int beta : betas)
      for (int k = 1; k <= max_group; ++k) {
        if (out_of_time()) break;
        for (int G = 1; (G - 1) * k < N_; ++G) {
          int used = std::min(N_, G * k);
          if (opt_.use_all_devices && used != N_) continue;
          if (G > L_ || (opt_.max_stages > 0 && G > opt_.max_stages)) break;
          Plan p = shaped(beta, k, G);
          split_by_capacity(p);
          double latency = consider(p);
          if (latency < kInf) shapes.push_back({beta, k, G, latency});
        }
      }
    std::sort(shapes.begin(), shapes.end(),
              [](const Shape& a, const Shape& b) { return a.latency < b.latency; });
    if (shapes.size() > kRefined) shapes.resize(kRefined);
    for (const Shape& s : shapes)
      if (!out_of_time()) refine(s);
  }

 private:
  // Past the time limit once some plan is found (without one, the seeding goes on: it is quick
  // next to the searches, and the limit returns the best plan found).
  bool out_of_time() { return st_.best < kInf && st_.past_deadline(); }

  static constexpr size_t kRefined = 8;

  // Groups of k consecutive devices of the order (the last may be smaller), no layers yet.
  Plan shaped(int beta, int k, int G) const {
    Plan p;
    p.microbatch_size = beta;
    p.microbatches = m_.options().batch_size / beta;
    int used = std::min(N_, G * k);
    for (int g = 0; g < G; ++g) {
      StagePlan s;
      int end = std::min(used, (g + 1) * k);
      s.devices.assign(order_.begin() + g * k, order_.begin() + end);
      if (opt_.share_rule == ShareRule::even) s.shares = even_shares(beta, int(s.devices.size()));
      p.stages.push_back(s);
    }
    return p;
  }

  // Device positions of stage g in the order, for the capacity prefix sums.
  std::pair<int, int> positions(const Plan& p, int g) const {
    int first = 0;
    for (int i = 0; i < g; ++i) first += int(p.stages[i].devices.size());
    return {first, first + int(p.stages[g].devices.size())};
  }

  void split_by_capacity(Plan& p) const {
    int G = p.num_stages();
    auto [lo, hi] = positions(p, G - 1);
    double total_cap = rb_.cap_before[hi], total_work = rb_.work_before[L_];
    int first = 0;
    for (int g = 0; g < G; ++g) {
      int last;
      if (g == G - 1) {
        last = L_ - 1;
      } else {
        double target = total_work * rb_.cap_before[positions(p, g).second] / total_cap;
        last = int(std::lower_bound(rb_.work_before.begin(), rb_.work_before.end(), target) -
                   rb_.work_before.begin()) -
               1;
        last = std::clamp(last, first, L_ - 1 - (G - 1 - g));
      }
      p.stages[g].first_layer = first;
      p.stages[g].last_layer = last;
      first = last + 1;
    }
  }

  // Fills stages greedily with the most layers whose step stays within tau (found by bisection:
  // a step only grows with more layers, and so does the memory it needs); false if the layers do
  // not all fit.
  bool split_within(Plan& p, double tau) {
    int G = p.num_stages(), beta = p.microbatch_size;
    int first = 0;
    for (int g = 0; g < G; ++g) {
      StagePlan& s = p.stages[g];
      int K = schedule::in_flight(m_.options().schedule, p.microbatches, G, g), n = int(s.devices.size());
      const int* fixed = s.shares.empty() ? nullptr : s.shares.data();
      int last_allowed = g == G - 1 ? L_ - 1 : L_ - 1 - (G - 1 - g);
      auto within = [&](int e) {
        m_.stage(scratch_, first, e, s.devices.data(), n, beta, K, fixed);
        return scratch_.feasible && scratch_.fwd_s + scratch_.bwd_s <= tau;
      };
      int last = first - 1, hi = last_allowed + 1;  // within(last) holds (or last < first), within(hi) not
      if (g == G - 1) {
        if (!within(last_allowed)) return false;
        last = last_allowed;
      }
      while (hi - last > 1) {
        int mid = (last + hi) / 2;
        (within(mid) ? last : hi) = mid;
      }
      if (last < first || (g == G - 1 && last != L_ - 1)) return false;
      s.first_layer = first;
      s.last_layer = last;
      first = last + 1;
    }
    return true;
  }

  void refine(const Shape& s) {
    Plan p = shaped(s.beta, s.group_size, s.groups);
    double lo = 0, hi = s.latency;  // no step of a plan exceeds its round latency
    for (int i = 0; i < 16 && !out_of_time(); ++i) {
      double tau = (lo + hi) / 2;
      if (split_within(p, tau)) {
        consider(p);
        hi = tau;
      } else {
        lo = tau;
      }
    }
  }

  // The plan's round latency (infinite if it does not fit); keeps it if it is the best so far.
  double consider(const Plan& plan) {
    std::vector<StepCost> steps;
    int P = plan.num_stages();
    for (int g = 0; g < P; ++g) {
      const StagePlan& s = plan.stages[g];
      int n = int(s.devices.size());
      StageCost c = m_.stage(s.first_layer, s.last_layer, s.devices.data(), n, plan.microbatch_size,
                             schedule::in_flight(m_.options().schedule, plan.microbatches, P, g),
                             s.shares.empty() ? nullptr : s.shares.data());
      ++st_.stats.stage_evaluations;
      if (!c.feasible) return kInf;
      if (g > 0) {
        const StagePlan& prev = plan.stages[g - 1];
        StepCost comm;
        comm.kind = StepKind::communication;
        comm.E_f = m_.transfer_s(prev.last_layer, prev.devices.data(), int(prev.devices.size()),
                                 s.devices.data(), n, plan.microbatch_size);
        comm.E_b = m_.transfer_s(prev.last_layer, prev.devices.data(), int(prev.devices.size()),
                                 s.devices.data(), n, plan.microbatch_size, nullptr, true);
        if (!m_.directions_share_channel(prev.devices.data(), int(prev.devices.size()), s.devices.data(), n))
          comm.period_s = std::max(comm.E_f, comm.E_b);
        steps.push_back(comm);
      }
      StepCost st;
      st.E_f = c.fwd_s;
      st.E_b = c.bwd_s;
      st.T_a = c.allreduce_s;
      st.T_o = c.optimizer_s;
      steps.push_back(st);
    }
    double latency = round_latency(steps, plan.microbatches, m_.options().latency_model, nullptr);
    if (latency < st_.best) st_.record(latency, plan);
    return latency;
  }

  const CostModel& m_;
  const PlannerOptions& opt_;
  const std::vector<int>& order_;
  const RestBound& rb_;
  SearchState& st_;
  int N_, L_;
  StageCost scratch_;
};

}  // namespace

void seed_with_heuristic_plans(const CostModel& m, const PlannerOptions& opt, const std::vector<int>& order,
                               const std::vector<int>& betas, const RestBound& rb, SearchState& state) {
  HeuristicPlans(m, opt, order, rb, state).run(betas);
}

}  // namespace asteroid::planner_detail
