#include "asteroid/backend_setup.hpp"

#include "asteroid/json_reader.hpp"
#include "asteroid/strategies.hpp"

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
    Strategy strategy = o.strategy.value_or(s.planner.strategy);
    StrategyResult r = run_strategy(strategy, model, planner_options(s));
    if (!r.evaluation.feasible)
      return Error{s.file, "",
                   std::string("strategy ") + to_string(strategy) + " finds no plan: " + r.evaluation.reason};
    plan = r.evaluation.plan;
  }
  Evaluation ev = model.evaluate(plan);
  if (!ev.feasible)
    return Error{o.plan_file.empty() ? s.file : o.plan_file, "", "plan does not fit: " + ev.reason};
  return ev;
}

}  // namespace asteroid
