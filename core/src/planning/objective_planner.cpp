#include "asteroid/planning/objective_planner.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <tuple>

#include "asteroid/input/cluster.hpp"
#include "asteroid/input/limits.hpp"
#include "asteroid/planning/planner.hpp"
#include "asteroid/planning/replay_search.hpp"
#include "asteroid/planning/strategies.hpp"

namespace asteroid {

namespace {

// Lower is better: what each objective minimises, written once.
double score(PlanningObjective o, const ScoredPlan& p) {
  switch (o) {
    case PlanningObjective::time: return p.round_s();
    case PlanningObjective::energy: return p.energy.J_per_sample;
    case PlanningObjective::lifetime: return p.lifetime.available ? -p.lifetime.samples : INFINITY;
  }
  return p.round_s();
}

// a beats b under o: a lower score (beyond rounding); at the same score, a shorter round, then
// less energy per sample (so that of two modes as fast, the time objective takes the thriftier).
bool beats(PlanningObjective o, const ScoredPlan& a, const ScoredPlan& b) {
  if (!b.evaluation.feasible) return a.evaluation.feasible;
  if (!a.evaluation.feasible) return false;
  // x below y beyond rounding, whatever their signs (the lifetime score is negative).
  auto less = [](double x, double y) { return x < y - std::abs(y) * 1e-12; };
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

// by_battery (the lifetime objective): devices on different batteries are not interchangeable,
// since which of them runs in the thriftier mode matters.
std::vector<ModeGroup> mode_groups(const Scenario& s, const Cluster& c, bool by_battery) {
  const bool symmetric = symmetric_network(c);
  std::map<std::tuple<std::string, double, double, double>, size_t> index;
  std::vector<ModeGroup> groups;
  for (size_t d = 0; d < s.devices.size(); ++d) {
    const DeviceSpec& spec = s.devices[d];
    std::vector<std::string> modes = traced_power_modes(s, spec.type);
    if (modes.size() < 2) continue;  // nothing to choose
    const double charge = by_battery && spec.battery ? spec.battery->usable_J() : -1;
    const auto key = std::make_tuple(spec.type, spec.speed_factor, spec.memory_bytes.value_or(-1), charge);
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

// Per cluster device, its battery's usable charge (nullopt: on mains).
std::vector<std::optional<double>> usable_charges(const Scenario& s) {
  std::vector<std::optional<double>> out;
  for (const DeviceSpec& d : s.devices)
    out.push_back(d.battery ? std::optional<double>(d.battery->usable_J()) : std::nullopt);
  return out;
}

bool has_battery(const Scenario& s) {
  for (const DeviceSpec& d : s.devices)
    if (d.battery) return true;
  return false;
}

ScoredPlan scored(const Scenario& s, const CostModel& m, const std::vector<std::string>& modes, Evaluation ev,
                  double deadline_s) {
  ScoredPlan p;
  p.power_modes = modes;
  p.energy = predict_plan_energy(m, ev, device_powers(s));
  if (has_battery(s))
    p.lifetime = predict_plan_lifetime(p.energy, usable_charges(s), double(m.options().batch_size), deadline_s);
  p.evaluation = std::move(ev);
  return p;
}

// The refusals of plan_for_objective that do not need a plan (objective_planner.hpp).
std::optional<Error> refusal(const Scenario& s, const ObjectiveOptions& o) {
  if (o.deadline_s > 0 && o.objective != PlanningObjective::lifetime)
    return Error{s.file, "planner.deadline",
                 std::string("a deadline goes with the lifetime objective, not ") + to_string(o.objective)};
  if (o.objective == PlanningObjective::time) return std::nullopt;
  const std::string name = to_string(o.objective);
  if (s.planner.latency_model != LatencyModel::pipeline)
    return Error{s.file, "planner.objective",
                 "the " + name + " objective scores plans by their 1F1B replay: it needs the pipeline latency model"};
  for (const DeviceSpec& d : s.devices)
    if (!s.power_models.count(d.type))
      return Error{s.file, "planner.objective",
                   "the " + name + " objective needs a power model for every device type; " + d.type +
                       " has none (no power.json beside its trace, no \"power\" entry)"};
  if (o.objective == PlanningObjective::lifetime && !has_battery(s))
    return Error{s.file, "planner.objective",
                 "the lifetime objective needs a device on a battery (cluster.devices[i].battery); none has one"};
  return std::nullopt;
}

// `p` with its devices swapped within their classes so that its batteries last longest
// (battery_relabeling), when that beats `against` under the lifetime objective; nullopt otherwise
// (the swap is scored from p's energies first and evaluated only when it would win).
std::optional<ScoredPlan> relabeled(const Scenario& sa, const CostModel& m, const ScoredPlan& p,
                                    const ScoredPlan& against, double deadline_s) {
  const std::vector<std::optional<double>> usable = usable_charges(sa);
  const std::vector<int> perm = battery_relabeling(device_classes(m.cluster()), p.energy, usable);
  bool moved = false;
  for (size_t d = 0; d < perm.size(); ++d) moved = moved || perm[d] != int(d);
  if (!moved) return std::nullopt;
  ScoredPlan guess = p;
  guess.lifetime = predict_plan_lifetime(relabel_energy(p.energy, perm), usable, m.options().batch_size, deadline_s);
  if (!beats(PlanningObjective::lifetime, guess, against)) return std::nullopt;
  Evaluation e = m.evaluate(relabel_plan(p.evaluation.plan, perm));
  if (!e.feasible) return std::nullopt;
  ScoredPlan q = scored(sa, m, p.power_modes, std::move(e), deadline_s);
  if (!beats(PlanningObjective::lifetime, q, against)) return std::nullopt;
  return q;
}

// The lifetime objective's search (objective_planner.hpp): per assignment, fastest first, every plan
// within the ceiling that the incumbent and lifetime_seconds_bound give (and max_slowdown, when
// given); the incumbent is the best so far, starting from the best of the fastest plans.
std::optional<Error> search_lifetime(const Scenario& s, const ObjectiveOptions& o, const PlannerOptions& options,
                                     const std::vector<std::vector<std::string>>& modes_list, ObjectiveResult& r) {
  PlannerOptions bounded = options;
  if (bounded.time_limit_s <= 0) bounded.time_limit_s = options.replay_time_limit_s;
  for (size_t a = 0; a < modes_list.size(); ++a) {
    ScoredPlan& p = r.assignment_fastest[a];
    if (!p.evaluation.feasible) continue;
    Scenario sa = s;
    apply_power_modes(sa, modes_list[a]);
    if (auto q = relabeled(sa, make_cost_model(sa), p, p, o.deadline_s)) p = std::move(*q);
    if (beats(o.objective, p, r.chosen)) r.chosen = p;
  }
  const double user_ceiling_s = o.max_slowdown_given ? r.fastest.round_s() * (1 + o.max_slowdown) : INFINITY;
  const double samples_per_round = double(s.training.batch_size);
  std::vector<size_t> order(modes_list.size());
  for (size_t a = 0; a < order.size(); ++a) order[a] = a;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return beats(PlanningObjective::time, r.assignment_fastest[a], r.assignment_fastest[b]);
  });
  r.ceiling_s = 0;
  r.assignment_most_samples.assign(modes_list.size(), ScoredPlan{});
  for (size_t a : order) {
    const ScoredPlan& fastest = r.assignment_fastest[a];
    if (!fastest.evaluation.feasible) continue;
    Scenario sa = s;
    apply_power_modes(sa, modes_list[a]);
    // No plan of this assignment slower than B x K / I beats the incumbent I.
    const double k_s = lifetime_seconds_bound(usable_charges(sa), device_powers(sa), o.deadline_s);
    const double incumbent = r.chosen.lifetime.samples;
    double ceiling_s = user_ceiling_s;
    if (incumbent > 0 && std::isfinite(k_s)) ceiling_s = std::min(ceiling_s, samples_per_round * k_s / incumbent);
    if (incumbent <= 0) ceiling_s = std::min(ceiling_s, r.fastest.round_s());  // every plan trains 0: the fastest
    if (!std::isfinite(ceiling_s))
      return Error{s.file, "planner.objective",
                   "the lifetime objective cannot bound its search: no battery device draws power by its model; "
                   "give planner.deadline or planner.max_slowdown"};
    ceiling_s *= 1 + 1e-9;  // a plan at the bound may tie the incumbent
    r.ceiling_s = std::max(r.ceiling_s, ceiling_s);
    if (fastest.round_s() > ceiling_s) continue;
    const CostModel m = make_cost_model(sa);
    ScoredPlan best = fastest;
    add_to_front(r.front, best);
    // Each better plan lowers the ceiling as it is found (the bound with the new incumbent).
    auto lower = [&](const ScoredPlan& incumbent) {
      if (incumbent.lifetime.samples > 0 && std::isfinite(k_s))
        ceiling_s = std::min(ceiling_s, samples_per_round * k_s / incumbent.lifetime.samples * (1 + 1e-9));
    };
    if (beats(o.objective, r.chosen, best)) lower(r.chosen); else lower(best);
    const bool complete = enumerate_by_replay_lowering(m, bounded, &ceiling_s, [&](const Evaluation& e) {
      ++r.plans_scored;
      ScoredPlan p = scored(sa, m, modes_list[a], e, o.deadline_s);
      add_to_front(r.front, p);
      if (auto q = relabeled(sa, m, p, best, o.deadline_s)) p = std::move(*q);
      if (beats(o.objective, p, best)) {
        best = std::move(p);
        lower(best);
      }
    });
    if (!complete) r.proven_optimal = false;
    if (beats(o.objective, best, r.chosen)) r.chosen = best;
    r.assignment_most_samples[a] = std::move(best);
  }
  return std::nullopt;
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
  o.max_slowdown_given = s.planner.max_slowdown_given;
  o.deadline_s = s.planner.deadline_s;
  return o;
}

void apply_power_modes(Scenario& s, const std::vector<std::string>& modes) {
  for (size_t d = 0; d < s.devices.size() && d < modes.size(); ++d)
    if (!modes[d].empty()) s.devices[d].power_mode = modes[d];
}

Result<ObjectiveResult> plan_for_objective(const Scenario& s, const ObjectiveOptions& o) {
  if (auto e = refusal(s, o)) return *e;
  const PlannerOptions options = planner_options(s);
  std::vector<std::string> current(s.devices.size());
  for (size_t d = 0; d < s.devices.size(); ++d) current[d] = device_power_mode(s, int(d));
  std::vector<std::vector<std::string>> modes_list;
  if (o.power_modes == PowerModeChoice::fixed) {
    modes_list.push_back(current);
  } else {
    const std::vector<ModeGroup> groups = mode_groups(s, make_cluster(s), o.objective == PlanningObjective::lifetime);
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
    ScoredPlan p = scored(sa, m, modes, std::move(sr.evaluation), o.deadline_s);
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
          best = scored(sa, m, modes_list[a], fastest.evaluation, o.deadline_s);
          add_to_front(r.front, best);
          const bool complete = enumerate_by_replay(m, bounded, r.ceiling_s, [&](const Evaluation& e) {
            ++r.plans_scored;
            ScoredPlan p = scored(sa, m, modes_list[a], e, o.deadline_s);
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
    case PlanningObjective::lifetime:
      if (auto e = search_lifetime(s, o, options, modes_list, r)) return *e;
      break;
  }
  return r;
}

bool take_objective_flag(CliArgs& args, ObjectiveFlags& f) {
  const std::string& flag = args.arg();
  if (flag == "--objective")
    f.objective = args.token(kObjectives);
  else if (flag == "--max-slowdown")
    f.max_slowdown = args.percent(limits::kMaxSlowdown);
  else if (flag == "--deadline")
    f.deadline_s = args.positive_seconds(limits::kMaxDeadlineS);
  else if (flag == "--power-modes")
    f.power_modes = args.token(kPowerModeChoices);
  else
    return false;
  return true;
}

std::optional<Error> apply_objective_flags(Scenario& s, const ObjectiveFlags& f) {
  if (f.objective) s.planner.objective = *f.objective;
  if (f.max_slowdown) s.planner.max_slowdown = *f.max_slowdown, s.planner.max_slowdown_given = true;
  if (f.deadline_s) s.planner.deadline_s = *f.deadline_s;
  if (f.power_modes) s.planner.power_modes = *f.power_modes;
  if (s.planner.deadline_s > 0 && s.planner.objective != PlanningObjective::lifetime)
    return Error{s.file, "planner.deadline",
                 std::string("a deadline goes with the lifetime objective, not ") + to_string(s.planner.objective)};
  return std::nullopt;
}

bool plans_for_objective(const Scenario& s) {
  return s.planner.objective != PlanningObjective::time || s.planner.power_modes == PowerModeChoice::free;
}

}  // namespace asteroid
