#include "asteroid/backend_setup.hpp"

#include <algorithm>

#include "asteroid/json_reader.hpp"
#include "asteroid/strategies.hpp"
#include "asteroid/survivors.hpp"

namespace asteroid {

CostModel make_cost_model(const Scenario& s) {
  CostOptions o;
  o.batch_size = s.training.batch_size;
  o.optimizer = s.training.optimizer;
  o.latency_model = s.planner.latency_model;
  return CostModel(make_cluster(s), o);
}

PlannerOptions planner_options(const Scenario& s) {
  PlannerOptions o;
  o.microbatch_sizes = s.planner.microbatch_sizes;
  o.max_stages = s.planner.max_stages;
  o.time_limit_s = s.planner.time_limit_s;
  return o;
}

int run_rounds(const Scenario& s, const RunOverrides& o) {
  return o.rounds > 0 ? o.rounds : s.training.rounds;
}

CoordinatorConfig coordinator_config(const Scenario& s, const RunOverrides& o) {
  CoordinatorConfig c;
  c.heartbeat_interval_s = s.faults.heartbeat_interval_s;
  c.missed_heartbeats = s.faults.missed_heartbeats;
  c.replication_interval_rounds = s.faults.replication_interval_rounds;
  c.replicate = o.replicate.value_or(!s.faults.events.empty());
  c.recovery = o.recovery.value_or(s.faults.recovery);
  c.planner = planner_options(s);
  c.rounds = run_rounds(s, o);
  c.absent = absent_at_start(s.devices, s.faults);
  return c;
}

Result<Evaluation> backend_plan(const Scenario& s, const CostModel& model, const RunOverrides& o) {
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
    StrategyResult r = run_strategy(strategy, present.model, planner_options(s));
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

std::vector<std::optional<DevicePower>> device_powers(const Scenario& s) {
  std::vector<std::optional<DevicePower>> out(s.devices.size());
  for (size_t d = 0; d < s.devices.size(); ++d) {
    auto pm = s.power_models.find(s.devices[d].type);
    if (pm == s.power_models.end()) continue;
    const ModePower* mode = pm->second.mode(device_power_mode(s, int(d)));
    if (!mode) continue;  // refused when the scenario was loaded
    out[d] = DevicePower{pm->second.device_type, pm->second.file, *mode, pm->second.provenance};
  }
  return out;
}

}  // namespace asteroid
