#include "asteroid/run/backend_setup.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "asteroid/input/json_reader.hpp"
#include "asteroid/input/limits.hpp"
#include "asteroid/planning/plan_energy.hpp"
#include "asteroid/planning/strategies.hpp"
#include "asteroid/planning/survivors.hpp"
#include "asteroid/input/units.hpp"

namespace asteroid {


Error recomputation_refused(const Scenario& s, const std::string& reason) {
  return Error{s.file, "training.recomputation", "\"all\", and no plan fits even so: " + reason};
}


RunLength run_length(const Scenario& s, const RunOverrides& o, double round_s,
                     const std::vector<double>& joules_per_round) {
  if (o.rounds > 0) return {o.rounds, ""};
  if (s.training.rounds > 0) return {s.training.rounds, ""};
  RunLength r{kDefaultRounds, ""};
  // Batteries: the rounds until the last one reaches its floor at the first plan's drain.
  double battery_rounds = 0;
  std::string last_battery;
  for (size_t d = 0; d < s.devices.size() && d < joules_per_round.size(); ++d)
    if (s.devices[d].battery && joules_per_round[d] > 0) {
      const double n = std::ceil(s.devices[d].battery->usable_J() / joules_per_round[d]);
      if (n > battery_rounds) battery_rounds = n, last_battery = s.devices[d].name;
    }
  if (battery_rounds > 0) {
    r.rounds = int(std::clamp(battery_rounds + kRoundsAfterLastEvent, double(kDefaultRounds), double(limits::kMaxRounds)));
    r.reason = "training.rounds is not set: " + std::to_string(r.rounds) + " rounds, to reach the last battery's floor (" +
               last_battery + "'s, after about " + std::to_string((long long)battery_rounds) +
               " rounds as the first plan drains it; departures change the pace) and run " +
               std::to_string(kRoundsAfterLastEvent) + " rounds after it (set training.rounds or --rounds for another length)";
  }
  double last = -1;
  for (const FaultEvent& e : s.faults.events) last = std::max(last, e.time_s);
  if (battery_rounds > 0 && (last < 0 || !(round_s > 0) ||
                             std::ceil((last + s.faults.heartbeat_interval_s * s.faults.missed_heartbeats) / round_s) +
                                     kRoundsAfterLastEvent <= r.rounds))
    return r;  // the batteries outlast the fault events
  if (last < 0 || !(round_s > 0)) {
    r.reason = "training.rounds is not set: " + std::to_string(r.rounds) +
               " rounds, enough for a steady throughput (set training.rounds or --rounds for another length)";
    return r;
  }
  const double detected = last + s.faults.heartbeat_interval_s * s.faults.missed_heartbeats;
  const double needed = std::ceil(detected / round_s) + kRoundsAfterLastEvent;
  r.rounds = int(std::clamp(needed, double(kDefaultRounds), double(limits::kMaxRounds)));
  r.reason = "training.rounds is not set: " + std::to_string(r.rounds) + " rounds, to reach the last fault event (at " +
             units::format_seconds(last) + ", detected at most " + units::format_seconds(detected - last) +
             " later, at " + units::format_seconds(round_s) + " per round as predicted) and run " +
             std::to_string(kRoundsAfterLastEvent) + " rounds after it (at least " +
             std::to_string(kDefaultRounds) + "; set training.rounds or --rounds for another length)";
  return r;
}

int run_rounds(const Scenario& s, const RunOverrides& o) {
  return o.rounds > 0 ? o.rounds : s.training.rounds > 0 ? s.training.rounds : kDefaultRounds;
}

std::vector<std::string> unreached_fault_warnings(const FaultSpec& f, const RunReport& r, double round_s) {
  int committed = 0;
  for (const RoundRecord& x : r.rounds) committed = std::max(committed, x.round + 1);
  const double mean = committed > 0 && r.end_s > 0 ? r.end_s / committed : round_s;
  std::vector<std::string> out;
  for (const FaultEvent& e : f.events) {
    if (e.time_s < r.end_s) continue;
    std::string w = "the " + std::string(to_string(e.kind)) + " of " + e.device + " at " +
                    units::format_seconds(e.time_s) + " did not happen: the run ended at " +
                    units::format_seconds(r.end_s);
    if (mean > 0) {
      // Rounds go on at the run's mean pace; the event falls in the round after the last one before it.
      const double rounds = std::min(double(limits::kMaxRounds), std::floor(e.time_s / mean) + 1);
      w += ", after " + std::to_string(committed) + " rounds; about " + std::to_string((long long)rounds) +
           " rounds (training.rounds or --rounds) would reach it";
    }
    out.push_back(w);
  }
  return out;
}

double process_peak_memory_bytes() {
  struct rusage u {};
  if (getrusage(RUSAGE_SELF, &u) != 0) return 0;
  return double(u.ru_maxrss) * 1024;  // Linux reports KiB
}

CoordinatorConfig coordinator_config(const Scenario& s, const RunOverrides& o) {
  CoordinatorConfig c;
  c.heartbeat_interval_s = s.faults.heartbeat_interval_s;
  c.missed_heartbeats = s.faults.missed_heartbeats;
  c.replication_interval_rounds = s.faults.replication_interval_rounds;
  // Copies whenever a device may go unannounced: a fault event, or a battery reaching its floor
  // under the reactive policy (a proactive departure copies the leaver's state out itself).
  const bool battery = std::any_of(s.devices.begin(), s.devices.end(), [](const DeviceSpec& d) { return d.battery; });
  c.replicate = o.replicate.value_or(!s.faults.events.empty() || (battery && s.faults.battery == BatteryPolicy::react));
  c.recovery = o.recovery.value_or(s.faults.recovery);
  c.planner = planner_options(s);
  c.rounds = run_rounds(s, o);
  c.absent = absent_at_start(s.devices, s.faults);
  return c;
}

Result<Evaluation> backend_plan(const Scenario& s, const CostModel& model, const RunOverrides& o,
                                std::optional<PlanningRecord>* planning) {
  Plan plan;
  if (!o.plan_file.empty()) {
    auto j = read_json_file(o.plan_file);
    if (!j) return j.error();
    // asteroid-plan --json writes the evaluation with the plan under "plan".
    const bool evaluation = j->is_object() && j->contains("plan") && !j->contains("stages");
    if (evaluation && j->contains("feasible") && (*j)["feasible"] == false)
      return Error{o.plan_file, "feasible", "the file holds an infeasible plan"};
    auto p = plan_from_json(evaluation ? (*j)["plan"] : j.value(), model.cluster(), model.num_layers(),
                            s.training.batch_size, o.plan_file, evaluation ? "plan" : "");
    if (!p) return p.error();
    plan = p.value();
  } else {
    // On the devices there at the start (those that join later are planned in when they come).
    Strategy strategy = o.strategy.value_or(s.planner.strategy);
    SurvivorModel present = survivors_model(model, absent_at_start(s.devices, s.faults));
    const auto t0 = std::chrono::steady_clock::now();
    StrategyResult r = run_strategy(strategy, present.model, planner_options(s));
    if (planning)
      *planning = PlanningRecord{to_string(strategy),
                                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                                 r.proven_optimal, r.lower_bound_s, r.objective_s};
    if (!r.evaluation.feasible && s.training.recomputation == Recomputation::all)
      return recomputation_refused(s, r.evaluation.reason);
    if (!r.evaluation.feasible)
      return Error{s.file, "",
                   std::string("strategy ") + to_string(strategy) + " finds no plan: " + r.evaluation.reason};
    plan = to_full_indices(r.evaluation.plan, present.to_full);
  }
  for (int d : absent_at_start(s.devices, s.faults))
    for (const StagePlan& sp : plan.stages)
      if (std::count(sp.devices.begin(), sp.devices.end(), d))
        return Error{o.plan_file, "", "the plan uses " + s.devices[d].name + ", which joins only later"};
  Evaluation ev = model.evaluate(plan);
  if (!ev.feasible)
    return Error{o.plan_file.empty() ? s.file : o.plan_file, "", "plan does not fit: " + ev.reason};
  return ev;
}


RunLength run_length(const Scenario& s, const RunOverrides& o, const CostModel& model, const Evaluation& ev) {
  std::vector<double> joules_per_round;
  const PlanEnergy predicted = predict_plan_energy(model, ev, device_powers(s));
  if (predicted.available)
    for (const DeviceEnergy& d : predicted.devices) joules_per_round.push_back(d.modelled ? d.total_J() : 0);
  return run_length(s, o, ev.predicted_round_s(), joules_per_round);
}

bool take_run_override(CliArgs& args, RunOverrides& o) {
  const std::string& flag = args.arg();
  if (flag == "--strategy")
    o.strategy = args.token(kStrategies);
  else if (flag == "--plan")
    o.plan_file = args.value();
  else if (flag == "--rounds")
    o.rounds = int(args.number(1, true, limits::kMaxRounds));
  else if (flag == "--recovery")
    o.recovery = args.token(kRecoveries);
  else if (flag == "--replicate")
    o.replicate = true;
  else if (flag == "--no-replicate")
    o.replicate = false;
  else
    return false;
  return true;
}

}  // namespace asteroid
