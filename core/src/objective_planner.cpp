#include "asteroid/objective_planner.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <tuple>

#include "asteroid/backend_setup.hpp"
#include "asteroid/cluster.hpp"
#include "asteroid/replay_search.hpp"
#include "asteroid/strategies.hpp"

namespace asteroid {

namespace {

// Lower is better: what each objective minimises, written once.
double score(PlanningObjective o, const ScoredPlan& p) {
  switch (o) {
    case PlanningObjective::time: return p.round_s();
    case PlanningObjective::energy: return p.energy.J_per_sample;
  }
  return p.round_s();
}

// a beats b under o: a lower score (beyond rounding); at the same score, a shorter round, then
// less energy per sample (so that of two modes as fast, the time objective takes the thriftier).
bool beats(PlanningObjective o, const ScoredPlan& a, const ScoredPlan& b) {
  if (!b.evaluation.feasible) return a.evaluation.feasible;
  if (!a.evaluation.feasible) return false;
  auto less = [](double x, double y) { return x < y * (1 - 1e-12); };
  const double x = score(o, a), y = score(o, b);
  if (less(x, y) || less(y, x)) return less(x, y);
  if (less(a.round_s(), b.round_s()) || less(b.round_s(), a.round_s())) return less(a.round_s(), b.round_s());
  return a.energy.available && b.energy.available && less(a.energy.J_per_sample, b.energy.J_per_sample);
}

// Adds p to the front of (time, energy) per sample if no plan there beats it on both, and drops
// the plans it beats on both.
void add_to_front(std::vector<ScoredPlan>& front, const ScoredPlan& p) {
  const double t = p.s_per_sample(), e = p.energy.J_per_sample;
  for (const ScoredPlan& q : front)
    if (q.s_per_sample() <= t && q.energy.J_per_sample <= e) return;
  std::vector<ScoredPlan> kept;
  for (ScoredPlan& q : front)
    if (!(t <= q.s_per_sample() && e <= q.energy.J_per_sample)) kept.push_back(std::move(q));
  kept.push_back(p);
  std::sort(kept.begin(), kept.end(), [](const ScoredPlan& a, const ScoredPlan& b) {
    return a.s_per_sample() < b.s_per_sample();
  });
  front = std::move(kept);
}

// Every pair of devices sees the same bandwidth and latency: devices of one kind are then
// interchangeable for the network too.
bool symmetric_network(const Cluster& c) {
  for (int a = 0; a < c.size(); ++a)
    for (int b = 0; b < c.size(); ++b)
      if (a != b && (c.bandwidth_Bps[a][b] != c.bandwidth_Bps[0][1] || c.latency_s[a][b] != c.latency_s[0][1]))
        return false;
  return true;
}

// Devices whose modes are chosen together (only how many take each mode matters) and their modes.
struct ModeGroup {
  std::vector<int> devices;
  std::vector<std::string> modes;
};

std::vector<ModeGroup> mode_groups(const Scenario& s, const Cluster& c) {
  const bool symmetric = symmetric_network(c);
  std::map<std::tuple<std::string, double, double>, size_t> index;
  std::vector<ModeGroup> groups;
  for (size_t d = 0; d < s.devices.size(); ++d) {
    const DeviceSpec& spec = s.devices[d];
    std::vector<std::string> modes = traced_power_modes(s, spec.type);
    if (modes.size() < 2) continue;  // nothing to choose
    const auto key = std::make_tuple(spec.type, spec.speed_factor, spec.memory_bytes.value_or(-1));
    auto it = symmetric ? index.find(key) : index.end();
    if (it == index.end()) {
      if (symmetric) index[key] = groups.size();
      groups.push_back({{}, modes});
      groups.back().devices.push_back(int(d));
    } else {
      groups[it->second].devices.push_back(int(d));
    }
  }
  return groups;
}

// C(n + k - 1, k - 1): the ways n interchangeable devices take k modes; capped at `cap` + 1.
double multisets(int n, int k, double cap) {
  double v = 1;
  for (int i = 1; i < k; ++i) v = std::min(v * double(n + i) / double(i), cap + 1);
  return v;
}

// Every assignment of modes to the groups' devices (one per multiset of modes per group).
void assignments(const std::vector<ModeGroup>& groups, size_t g, std::vector<std::string>& modes,
                 std::vector<std::vector<std::string>>& out) {
  if (g == groups.size()) {
    out.push_back(modes);
    return;
  }
  const ModeGroup& grp = groups[g];
  const int n = int(grp.devices.size()), k = int(grp.modes.size());
  std::vector<int> counts(size_t(k), 0);
  // counts per mode summing to n, in lexicographic order from (n, 0, ..., 0)
  std::function<void(int, int)> place = [&](int m, int left) {
    if (m == k - 1) {
      counts[size_t(m)] = left;
      int next = 0;
      for (int i = 0; i < k; ++i)
        for (int j = 0; j < counts[size_t(i)]; ++j) modes[size_t(grp.devices[size_t(next++)])] = grp.modes[size_t(i)];
      assignments(groups, g + 1, modes, out);
      return;
    }
    for (int c = left; c >= 0; --c) {
      counts[size_t(m)] = c;
      place(m + 1, left - c);
    }
  };
  place(0, n);
}

ScoredPlan scored(const Scenario& s, const CostModel& m, const std::vector<std::string>& modes, Evaluation ev) {
  ScoredPlan p;
  p.power_modes = modes;
  p.energy = predict_plan_energy(m, ev, device_powers(s));
  p.evaluation = std::move(ev);
  return p;
}

}  // namespace

double ScoredPlan::s_per_sample() const {
  const double samples = double(evaluation.plan.microbatch_size) * evaluation.plan.microbatches;
  return samples > 0 ? round_s() / samples : 0;
}

ObjectiveOptions objective_options(const Scenario& s) {
  ObjectiveOptions o;
  o.objective = s.planner.objective;
  o.max_slowdown = s.planner.max_slowdown;
  o.power_modes = s.planner.power_modes;
  return o;
}

void apply_power_modes(Scenario& s, const std::vector<std::string>& modes) {
  for (size_t d = 0; d < s.devices.size() && d < modes.size(); ++d)
    if (!modes[d].empty()) s.devices[d].power_mode = modes[d];
}

Result<ObjectiveResult> plan_for_objective(const Scenario& s, const ObjectiveOptions& o) {
  if (o.objective == PlanningObjective::energy) {
    if (s.planner.latency_model != LatencyModel::pipeline)
      return Error{s.file, "planner.objective",
                   "the energy objective scores plans by their 1F1B replay: it needs the pipeline latency model"};
    for (const DeviceSpec& d : s.devices)
      if (!s.power_models.count(d.type))
        return Error{s.file, "planner.objective",
                     "the energy objective needs a power model for every device type; " + d.type +
                         " has none (no power.json beside its trace, no \"power\" entry)"};
  }
  const PlannerOptions options = planner_options(s);
  std::vector<std::string> current(s.devices.size());
  for (size_t d = 0; d < s.devices.size(); ++d) current[d] = device_power_mode(s, int(d));
  std::vector<std::vector<std::string>> modes_list;
  if (o.power_modes == PowerModeChoice::fixed) {
    modes_list.push_back(current);
  } else {
    const std::vector<ModeGroup> groups = mode_groups(s, make_cluster(s));
    double count = 1;
    for (const ModeGroup& g : groups)
      count = std::min(count * multisets(int(g.devices.size()), int(g.modes.size()), o.max_mode_assignments),
                       double(o.max_mode_assignments) + 1);
    if (count > o.max_mode_assignments)
      return Error{s.file, "planner.power_modes",
                   "free power modes give more than " + std::to_string(o.max_mode_assignments) +
                       " assignments to search; fix some devices' power_mode"};
    assignments(groups, 0, current, modes_list);
  }

  ObjectiveResult r;
  r.mode_assignments = int(modes_list.size());
  std::string first_error;
  for (const std::vector<std::string>& modes : modes_list) {
    Scenario sa = s;
    apply_power_modes(sa, modes);
    const CostModel m = make_cost_model(sa);
    StrategyResult sr = run_strategy(Strategy::asteroid, m, options);
    if (!sr.proven_optimal) r.proven_optimal = false;
    if (!sr.evaluation.feasible && first_error.empty()) first_error = sr.evaluation.reason;
    ScoredPlan p = scored(sa, m, modes, std::move(sr.evaluation));
    if (beats(PlanningObjective::time, p, r.fastest)) r.fastest = p;
    r.assignment_fastest.push_back(std::move(p));
  }
  if (!r.fastest.evaluation.feasible) return Error{s.file, "", "no plan: " + first_error};
  r.ceiling_s = r.fastest.round_s() * (1 + o.max_slowdown);
  r.chosen = r.fastest;

  switch (o.objective) {
    case PlanningObjective::time:
      r.front.push_back(r.fastest);
      break;
    case PlanningObjective::energy: {
      PlannerOptions bounded = options;
      if (bounded.time_limit_s <= 0) bounded.time_limit_s = options.replay_time_limit_s;
      for (size_t a = 0; a < modes_list.size(); ++a) {
        ScoredPlan best;
        const ScoredPlan& fastest = r.assignment_fastest[a];
        if (fastest.evaluation.feasible && fastest.round_s() <= r.ceiling_s) {
          Scenario sa = s;
          apply_power_modes(sa, modes_list[a]);
          const CostModel m = make_cost_model(sa);
          best = scored(sa, m, modes_list[a], fastest.evaluation);
          add_to_front(r.front, best);
          const bool complete = enumerate_by_replay(m, bounded, r.ceiling_s, [&](const Evaluation& e) {
            ++r.plans_scored;
            ScoredPlan p = scored(sa, m, modes_list[a], e);
            add_to_front(r.front, p);
            if (beats(o.objective, p, best)) best = std::move(p);
          });
          if (!complete) r.proven_optimal = false;
          if (beats(o.objective, best, r.chosen)) r.chosen = best;
        }
        r.assignment_least_energy.push_back(std::move(best));
      }
      break;
    }
  }
  return r;
}

}  // namespace asteroid
