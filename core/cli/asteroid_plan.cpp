// asteroid-plan SCENARIO [--strategy NAME] [--json] [-o FILE]
// asteroid-plan SCENARIO --evaluate PLAN.json [--json]
// asteroid-plan SCENARIO --memory [--strategy NAME] [--json]   (training memory, broken down)
// asteroid-plan SCENARIO --objective energy [--max-slowdown 10%] [--power-modes free] [--json]
// asteroid-plan SCENARIO --objective lifetime [--deadline 10min] [--max-slowdown P] [--power-modes free]
// Plans (or scores given plans) with the cost model and prints the result. PLAN.json: a plan, the
// output of asteroid-plan --json, or an array of either. Bad input: one line on stderr naming the
// file, the field and the problem; exit status 2.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

#include "asteroid/run/backend_setup.hpp"
#include "asteroid/input/cli_args.hpp"
#include "asteroid/planning/evaluation_json.hpp"
#include "asteroid/input/json_reader.hpp"
#include "asteroid/input/limits.hpp"
#include "asteroid/model/memory_breakdown.hpp"
#include "asteroid/model/plan_memory.hpp"
#include "asteroid/planning/objective_planner.hpp"
#include "asteroid/planning/plan_energy.hpp"
#include "asteroid/input/scenario.hpp"
#include "asteroid/input/scenario_overrides.hpp"
#include "asteroid/planning/strategies.hpp"
#include "asteroid/planning/strategy_table.hpp"
#include "asteroid/input/units.hpp"
#include "asteroid/input/vocabulary.hpp"

using namespace asteroid;

namespace {

std::string usage() {
  return "usage: asteroid-plan SCENARIO [--strategy NAME] [--latency-model MODEL] [--json] [-o FILE]\n"
         "       asteroid-plan SCENARIO --strategy all [--json | --csv] [-o FILE]   (every strategy, one table)\n"
         "       asteroid-plan SCENARIO --evaluate PLAN.json [--latency-model MODEL] [--json] [-o FILE]\n"
         "       asteroid-plan SCENARIO --memory [--strategy NAME] [--json] [-o FILE]   (training memory:\n"
         "         weights, activations, gradients, optimizer states; whole model on one device and per device)\n"
         "       asteroid-plan SCENARIO --objective OBJECTIVE [--max-slowdown PERCENT] [--power-modes CHOICE]\n"
         "         [--json] [-o FILE]   (the least-energy plan within a slowdown of the fastest, e.g. 10%)\n"
         "       asteroid-plan SCENARIO --objective lifetime [--deadline TIME] [--max-slowdown PERCENT]\n"
         "         [--power-modes CHOICE] [--json] [-o FILE]   (the most samples before the first battery\n"
         "         reaches its floor, or by the deadline, e.g. 10min)\n"
         "strategies:\n" +
         kStrategies.help(4) + "latency models:\n" + kLatencyModels.help(4) + "objectives:\n" + kObjectives.help(4) +
         "power modes:\n" + kPowerModeChoices.help(4) + overrides_help();
}

[[noreturn]] void fail(const std::string& message) {
  std::cerr << "asteroid-plan: " << message << "\n";
  std::exit(2);
}

struct Args {
  std::string scenario, evaluate, output;
  std::optional<Strategy> strategy;
  std::optional<LatencyModel> latency_model;
  bool json = false, csv = false;
  bool memory = false;  // --memory: the training memory, broken down
  bool all = false;  // --strategy all: every strategy side by side (strategy_table.hpp)
  ScenarioOverrides overrides;  // --bandwidth, --add-device, ... (scenario_overrides.hpp)
  ObjectiveFlags objective;  // over the scenario's planner block (objective_planner.hpp)
};

Args parse_args(int argc, char** argv) {
  Args a;
  CliArgs args(argc, argv, [](const std::string& m) { fail(m); });
  while (args.next()) {
    const std::string& s = args.arg();
    if (s == "--strategy" && args.peek() == "all") {
      args.value();
      a.all = true;
    } else if (take_override(args, a.overrides)) {
      continue;
    } else if (s == "--strategy")
      a.strategy = args.token(kStrategies);
    else if (s == "--evaluate")
      a.evaluate = args.value();
    else if (take_objective_flag(args, a.objective))
      continue;
    else if (s == "--latency-model")
      a.latency_model = args.token(kLatencyModels);
    else if (s == "-o" || s == "--output")
      a.output = args.value();
    else if (s == "--json")
      a.json = true;
    else if (s == "--csv")
      a.csv = true;
    else if (s == "--memory")
      a.memory = true;
    else
      args.help_or_scenario(a.scenario, usage());
  }
  if (a.scenario.empty()) fail("no scenario given (see --help)");
  if ((a.strategy || a.all) && !a.evaluate.empty()) fail("--strategy and --evaluate exclude each other");
  if (a.csv && !a.all) fail("--csv goes with --strategy all");
  if (a.csv && a.json) fail("--csv and --json exclude each other");
  if (a.memory && (a.all || !a.evaluate.empty())) fail("--memory goes with one strategy, not --evaluate or --strategy all");
  if (a.objective.any() && (a.all || a.memory || !a.evaluate.empty()))
    fail("--objective, --max-slowdown and --power-modes go with planning (so does --deadline), not --evaluate, "
         "--memory or --strategy all");
  return a;
}

// One plan of --evaluate's input, at `path` in `file`: a bare plan, or what `asteroid-plan --json`
// writes (the plan under "plan", the planner's report around it), so that its output evaluates as is.
Plan read_plan(const nlohmann::json& j, const CostModel& model, int batch_size, const std::string& file,
               const std::string& path) {
  const bool output =
      j.is_object() && !j.contains("stages") && (j.contains("plan") || j.contains("feasible"));
  const std::string at = output ? (path.empty() ? "plan" : path + ".plan") : path;
  if (output && !j.contains("plan"))  // an infeasible result carries no plan, only its reason
    fail(Error{file, path.empty() ? "feasible" : path + ".feasible", "the planner found no plan here"}.str());
  auto p = plan_from_json(output ? j["plan"] : j, model.cluster(), model.num_layers(), batch_size, file, at);
  if (!p) fail(p.error().str());
  return std::move(p).value();
}

void emit(const Args& a, const std::string& text) {
  if (a.output.empty()) {
    std::cout << text;
    return;
  }
  auto w = write_file_atomically(a.output, text);
  if (!w) fail(w.error().str());
}

std::string bytes_cell(double b) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%12s", units::format_bytes(b).c_str());
  return buf;
}

std::string breakdown_row(const MemoryBreakdown& m) {
  return bytes_cell(m.weights_bytes) + bytes_cell(m.activations_bytes) + bytes_cell(m.gradients_bytes) +
         bytes_cell(m.optimizer_states_bytes) + bytes_cell(m.total_bytes());
}

// --memory: the whole model on one device (the scenario's set-up, and full training beside it
// when the scenario fine-tunes), then per device of the strategy's plan.
void print_memory(const Args& args, const Scenario& s, const CostModel& model, Strategy strategy) {
  const Optimizer opt = s.training.optimizer;
  const int B = s.training.batch_size, L = model.num_layers();
  const Profile& profile = s.profiles.begin()->second;
  const LayerTable mine(profile, 1.0, opt, &s.training.layers);
  const LayerTable full(profile, 1.0, opt, nullptr);
  const MemoryBreakdown one = memory_breakdown(mine, opt, 0, L - 1, B, 1);
  const MemoryBreakdown one_full = memory_breakdown(full, opt, 0, L - 1, B, 1);
  const MemoryBreakdown inference = inference_memory(profile, B);
  const std::string set_up = s.training.layers.full() ? "full" : s.training.layers.summary;
  StrategyResult r = run_strategy(strategy, model, planner_options(s));
  const std::vector<DeviceMemory> devices =
      r.evaluation.feasible ? plan_memory(model, r.evaluation) : std::vector<DeviceMemory>{};
  if (args.json) {
    nlohmann::json j = {{"scenario", s.name}, {"model", s.model}, {"batch_size", B},
                        {"optimizer", to_string(opt)}, {"training", set_up}, {"strategy", to_string(strategy)}};
    j["whole_model"] = {{"training", memory_breakdown_to_json(one)},
                        {"full", memory_breakdown_to_json(one_full)},
                        {"inference", memory_breakdown_to_json(inference)}};
    j["feasible"] = r.evaluation.feasible;
    if (!r.evaluation.feasible) j["reason"] = r.evaluation.reason;
    if (r.evaluation.feasible) j["plan"] = plan_to_json(r.evaluation.plan, model.cluster());
    nlohmann::json per = nlohmann::json::array();
    for (const DeviceMemory& d : devices) {
      nlohmann::json x = memory_breakdown_to_json(d.memory);
      x["device"] = model.cluster().devices[size_t(d.device)].name;
      x["stage"] = d.stage;
      x["samples_per_microbatch"] = d.samples;
      x["in_flight_microbatches"] = d.in_flight;
      x["recompute"] = d.recompute;
      x["usable_bytes"] = d.usable_bytes;
      per.push_back(x);
    }
    j["devices"] = per;
    emit(args, j.dump(2) + "\n");
    return;
  }
  const std::string head = "            weights activations   gradients   optimizer       total";
  std::string text = "scenario " + s.name + ": model " + s.model + ", batch " + std::to_string(B) + ", optimizer " +
                     to_string(opt) + "\ntraining: " + set_up + "\n";
  text += "whole model on one device, " + std::to_string(B) + " samples at once:\n" + head + "\n";
  text += "training" + breakdown_row(one) + "\n";
  if (!s.training.layers.full()) text += "full    " + breakdown_row(one_full) + "\n";
  text += "inference" + breakdown_row(inference).substr(1) + "\n";
  if (!r.evaluation.feasible) {
    text += std::string("no plan (") + to_string(strategy) + "): " + r.evaluation.reason + "\n";
    emit(args, text);
    return;
  }
  const Plan& p = r.evaluation.plan;
  text += std::string("per device of the ") + to_string(strategy) + " plan (" + std::to_string(p.num_stages()) + (p.num_stages() == 1 ? " stage, " : " stages, ") +
          std::to_string(p.microbatches) + (p.microbatches == 1 ? " micro-batch of " : " micro-batches of ") +
          std::to_string(p.microbatch_size) +
          "; activations: samples x in-flight micro-batches):\n";
  text += "device       stage samples x K" + head.substr(8) + "      usable\n";
  for (const DeviceMemory& d : devices) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%-12s %5d %7d x %d", model.cluster().devices[size_t(d.device)].name.c_str(),
                  d.stage, d.samples, d.in_flight);
    text += buf + breakdown_row(d.memory) + bytes_cell(d.usable_bytes) +
            (d.recompute ? "  recomputes (keeps K inputs + 1 micro-batch)" : "") + "\n";
  }
  emit(args, text);
}

// An objective other than the shortest round, or the power modes free (objective_planner.hpp): the
// chosen plan as asteroid-plan prints any plan, its power modes, and the objective's block.
void plan_objective(const Args& args, Scenario& s) {
  if (args.strategy && *args.strategy != Strategy::asteroid)
    fail("--objective and --power-modes plan with the asteroid strategy, not " + std::string(to_string(*args.strategy)));
  const ObjectiveOptions o = objective_options(s);
  auto t0 = std::chrono::steady_clock::now();
  auto r = plan_for_objective(s, o);
  if (!r) fail(r.error().str());
  const double planning_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  apply_power_modes(s, r->chosen.power_modes);
  const CostModel model = make_cost_model(s);
  const Evaluation ev = model.evaluate(r->chosen.evaluation.plan);
  const PlanEnergy energy = predict_plan_energy(model, ev, device_powers(s));
  if (args.json) {
    nlohmann::json j = evaluation_to_json(ev, model.cluster());
    j["scenario"] = s.name;
    j["model"] = s.model;
    j["strategy"] = to_string(Strategy::asteroid);
    j["latency_model"] = to_string(s.planner.latency_model);
    j["batch_size"] = s.training.batch_size;
    j["training"] = s.training.layers.full() ? "full" : s.training.layers.summary;
    j["planning_time_s"] = planning_s;
    j["proven_optimal"] = r->proven_optimal;
    j["energy"] = plan_energy_to_json(energy);
    j["power_modes"] = scored_plan_to_json(r->chosen, model.cluster())["power_modes"];
    j["objective"] = objective_to_json(*r, o, model.cluster());
    emit(args, j.dump(2) + "\n");
    return;
  }
  std::string text = "scenario " + s.name + ": model " + s.model + ", " + std::to_string(s.devices.size()) +
                     " devices, batch " + std::to_string(s.training.batch_size) + ", strategy asteroid\n";
  text += evaluation_to_text(ev, model.cluster(), layer_names(s)) + plan_energy_to_text(energy);
  text += objective_to_text(*r, o, model.cluster());
  char buf[64];
  std::snprintf(buf, sizeof buf, "planning time %.1f ms\n", planning_s * 1e3);
  emit(args, text + buf);
}

}  // namespace

namespace {

// --evaluate PLAN.json: each plan of the file scored by the cost model, as text or JSON.
void evaluate_plans(const Args& args, const Scenario& s, const CostModel& model) {
  auto j = read_json_file(args.evaluate);
  if (!j) fail(j.error().str());
  bool many = j->is_array();
  std::vector<Plan> plans;
  if (many) {
    for (size_t i = 0; i < j->size(); ++i)
      plans.push_back(
          read_plan((*j)[i], model, s.training.batch_size, args.evaluate, "[" + std::to_string(i) + "]"));
  } else {
    plans.push_back(read_plan(j.value(), model, s.training.batch_size, args.evaluate, ""));
  }
  nlohmann::json out = nlohmann::json::array();
  std::string text;
  for (const auto& p : plans) {
    Evaluation e = model.evaluate(p);
    if (args.json)
      out.push_back(evaluation_to_json(e, model.cluster()));
    else
      text += evaluation_to_text(e, model.cluster(), layer_names(s)) + (plans.size() > 1 ? "\n" : "");
  }
  if (args.json)
    emit(args, (many ? out.dump() : out[0].dump(2)) + "\n");
  else
    emit(args, text);
}

// --all: every strategy's plan in one table.
void strategy_table(const Args& args, const Scenario& s, const CostModel& model) {
  const std::vector<StrategyRow> rows = compare_strategies(model, planner_options(s));
  if (args.json)
    emit(args, strategy_table_json(rows).dump(2) + "\n");
  else if (args.csv)
    emit(args, strategy_table_csv(rows));
  else
    emit(args, "scenario " + s.name + ": model " + s.model + ", " + std::to_string(s.devices.size()) +
                   " devices, batch " + std::to_string(s.training.batch_size) + ", every strategy\n" +
                   strategy_table_text(rows));
}

// The strategy's plan (the scenario's, or --strategy), its energy and how good it is proven to be,
// as text or JSON.
void plan_with_strategy(const Args& args, const Scenario& s, const CostModel& model) {
  const Strategy strategy = args.strategy.value_or(s.planner.strategy);
  auto t0 = std::chrono::steady_clock::now();
  StrategyResult r = run_strategy(strategy, model, planner_options(s));
  double planning_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // Recomputing every stage was asked for and no plan fits even so: bad input, not a result.
  if (!r.evaluation.feasible && s.training.recomputation == Recomputation::all)
    fail(recomputation_refused(s, r.evaluation.reason).str());
  const PlanEnergy energy = predict_plan_energy(model, r.evaluation, device_powers(s));
  if (args.json) {
    nlohmann::json j = evaluation_to_json(r.evaluation, model.cluster());
    j["scenario"] = s.name;
    j["model"] = s.model;
    j["strategy"] = to_string(strategy);
    j["latency_model"] = to_string(s.planner.latency_model);
    j["batch_size"] = s.training.batch_size;
    j["training"] = s.training.layers.full() ? "full" : s.training.layers.summary;
    j["planning_time_s"] = planning_s;
    if (!s.applied_overrides.empty()) j["overrides"] = s.applied_overrides;
    j["proven_optimal"] = r.proven_optimal;
    j["peak_memory_bytes"] = process_peak_memory_bytes();
    if (r.lower_bound_s > 0) {
      // Proven: no plan of the strategy's space is shorter (docs/formats.md).
      j["lower_bound_s"] = r.lower_bound_s;
      j["optimality_gap"] = optimality_gap(r.objective_s, r.lower_bound_s);
    }
    j["energy"] = plan_energy_to_json(energy);
    if (strategy == Strategy::asteroid) {
      j["replay_candidates"] = r.replay_candidates;
      j["closed_form_optimum_schedule_latency_s"] = r.optimum_replay_s;
      j["replay_search"] = {{"partial_plans", r.replay_search.partial_plans},
                            {"replays", r.replay_search.replays}};
    }
    emit(args, j.dump(2) + "\n");
    return;
  }
  std::string text = "scenario " + s.name + ": model " + s.model + ", " + std::to_string(s.devices.size()) +
                     " devices, batch " + std::to_string(s.training.batch_size) + ", strategy " +
                     to_string(strategy) + ", latency model " + to_string(s.planner.latency_model) + "\n";
  if (!s.training.layers.full()) text += "training: " + s.training.layers.summary + "\n";
  text += evaluation_to_text(r.evaluation, model.cluster(), layer_names(s));
  if (r.evaluation.feasible) text += plan_energy_to_text(energy);
  char buf[256];
  if (strategy == Strategy::asteroid && r.evaluation.feasible && r.optimum_replay_s > 0) {
    std::snprintf(buf, sizeof buf,
                  "chosen by its 1F1B replay: %lld partial plans bounded, %lld replayed (the closed-form "
                  "optimum replays at %.4f s)\n",
                  r.replay_search.partial_plans, r.replay_search.replays, r.optimum_replay_s);
    text += buf;
  }
  std::snprintf(buf, sizeof buf, "planning time %.1f ms, peak memory %.0f MiB", planning_s * 1e3,
                process_peak_memory_bytes() / (1 << 20));
  text += buf;
  if (r.lower_bound_s > 0 && r.evaluation.feasible) {
    // The default strategy always says how good its plan is: optimal, or how far at most.
    text += "; " + optimality_text(r.proven_optimal, r.objective_s, r.lower_bound_s);
    if (!r.proven_optimal) {
      std::snprintf(buf, sizeof buf, " (time limit reached; no plan beats %.4f s)", r.lower_bound_s);
      text += buf;
    }
    text += "\n";
  } else {
    text += r.proven_optimal ? "\n" : " (time limit reached: the best plan found, not proven optimal)\n";
  }
  emit(args, text);
}

}  // namespace

int main(int argc, char** argv) {
  Args args = parse_args(argc, argv);
  auto loaded = load_scenario(args.scenario, args.overrides);
  if (!loaded) fail(loaded.error().str());
  Scenario& s = loaded.value();
  // The what-ifs applied, on the console: on stdout before the text, on stderr beside JSON or CSV
  // (which stay parseable); a single plan's JSON also lists them under "overrides".
  for (const std::string& line : s.applied_overrides)
    (args.json || args.csv ? std::cerr << "asteroid-plan: " : std::cout) << "what-if: " << line << "\n";
  if (args.latency_model) s.planner.latency_model = *args.latency_model;
  if (auto bad = apply_objective_flags(s, args.objective)) fail(bad->str());
  if (plans_for_objective(s)) {
    plan_objective(args, s);
    return 0;
  }
  CostModel model = make_cost_model(s);
  if (args.memory) {
    print_memory(args, s, model, args.strategy.value_or(s.planner.strategy));
    return 0;
  }

  if (!args.evaluate.empty())
    evaluate_plans(args, s, model);
  else if (args.all)
    strategy_table(args, s, model);
  else
    plan_with_strategy(args, s, model);
  return 0;
}
