// asteroid-sim SCENARIO [--rounds N] [--strategy S] [--plan PLAN.json] [--recovery R|all [--json|--csv]]
//              [-o DIR] [--network textbook|lv08] [--replicate|--no-replicate] [--no-spans]
//              [--objective O] [--max-slowdown PERCENT] [--power-modes fixed|free] [--deadline TIME]
// Simulates the scenario's training with SimGrid and writes DIR/report.json, DIR/trace.json and
// DIR/rounds.csv (DIR defaults to out/<scenario name>/); --recovery all runs it once per recovery
// strategy and prints their table (each_recovery.hpp). The what-if flags (--bandwidth, --add-device,
// ...) change the scenario first (scenario_overrides.hpp). Bad input: one line on stderr, exit 2.
// Exit 1 when training could not go on (no plan fits on the survivors).
#include <xbt/log.h>
#include <simgrid/s4u.hpp>
#include <xbt/config.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <vector>

#include "asteroid/run/backend_setup.hpp"
#include "asteroid/input/cli_args.hpp"
#include "asteroid/report/energy.hpp"
#include "asteroid/input/json_reader.hpp"
#include "asteroid/input/limits.hpp"
#include "asteroid/planning/objective_planner.hpp"
#include "asteroid/planning/plan_energy.hpp"
#include "asteroid/planning/replay_search.hpp"
#include "asteroid/report/run_summary.hpp"
#include "asteroid/input/scenario.hpp"
#include "asteroid/input/scenario_overrides.hpp"
#include "asteroid/report/report_files.hpp"
#include "each_recovery.hpp"
#include "simulation.hpp"

using namespace asteroid;
namespace sg4 = simgrid::s4u;

namespace {

// The simulator's network models (`--network`): which SimGrid model main configures.
enum class NetworkModel { textbook, lv08 };
constexpr auto kNetworkModels = vocabulary<NetworkModel>(
    "network model",
    Term<NetworkModel>{NetworkModel::textbook, "textbook",
                       "latency + size / bandwidth per message (SimGrid CM02, no cross-traffic; the default)"},
    Term<NetworkModel>{NetworkModel::lv08, "lv08",
                       "SimGrid's LV08 TCP model: bandwidth x 0.97, latency x 13.01, reverse ACK traffic"});

std::string usage() {
  return "usage: asteroid-sim SCENARIO [--rounds N] [--strategy S | --plan PLAN.json] [--recovery R] [-o "
         "DIR]\n"
         "                    [--network textbook|lv08] [--replicate | --no-replicate] [--no-spans]\n"
         "                    [--objective O] [--max-slowdown PERCENT] [--power-modes fixed|free]\n"
         "                    [--deadline TIME]   (the lifetime objective's: plans for the samples by then;\n"
         "                    the run itself still runs training.rounds)\n"
         "       asteroid-sim SCENARIO --recovery all [--json | --csv] [-o DIR] ...   (one run per recovery\n"
         "         strategy, one table: detection, re-plan, transfer, replay, total, samples/s, rounds replayed)\n"
         "network models (\"default\", lv08's former name, is still accepted):\n" +
         kNetworkModels.help(4) + "strategies:\n" +
         kStrategies.help(4) + "recovery strategies:\n" + kRecoveries.help(4) + "objectives:\n" +
         kObjectives.help(4) + "power modes:\n" + kPowerModeChoices.help(4) + overrides_help();
}

[[noreturn]] void fail(const std::string& message) {
  std::cerr << "asteroid-sim: " << message << "\n";
  std::exit(2);
}

struct Args {
  std::string scenario, output;
  NetworkModel network = NetworkModel::textbook;
  RunOverrides run;
  bool spans = true;
  bool all_recoveries = false;  // --recovery all (each_recovery.hpp)
  sim::TableFormat table = sim::TableFormat::text;
  ScenarioOverrides overrides;  // --bandwidth, --add-device, ... (scenario_overrides.hpp)
  ObjectiveFlags objective;  // over the scenario's planner block (objective_planner.hpp)
};

Args parse_args(int argc, char** argv) {
  Args a;
  CliArgs args(argc, argv, [](const std::string& m) { fail(m); });
  while (args.next()) {
    const std::string& s = args.arg();
    if (s == "--recovery" && args.peek() == "all")
      args.value(), a.all_recoveries = true;
    else if (take_run_override(args, a.run))
      continue;
    else if (s == "--json")
      a.table = sim::TableFormat::json;
    else if (s == "--csv")
      a.table = sim::TableFormat::csv;
    else if (take_override(args, a.overrides))
      continue;
    else if (s == "-o" || s == "--output")
      a.output = args.value();
    else if (s == "--network") {
      const std::string v = args.value();
      if (v == "default")  // lv08's former name: SimGrid's default model
        a.network = NetworkModel::lv08;
      else if (auto m = kNetworkModels.parse(v))
        a.network = *m;
      else
        fail("--network: \"" + v + "\" is neither " + kNetworkModels.token(NetworkModel::textbook) + " nor " +
             kNetworkModels.token(NetworkModel::lv08));
    }
    else if (s == "--no-spans")
      a.spans = false;
    else if (take_objective_flag(args, a.objective))
      continue;
    else
      args.help_or_scenario(a.scenario, usage());
  }
  if (a.scenario.empty()) fail("no scenario given (see --help)");
  if (a.run.strategy && !a.run.plan_file.empty()) fail("--strategy and --plan exclude each other");
  if (a.table != sim::TableFormat::text && !a.all_recoveries) fail("--json and --csv go with --recovery all");
  return a;
}

// A SimGrid option, --cfg=KEY:VALUE (several may share one argument, space-separated). SimGrid
// 3.32 throws on an unknown key or a malformed number, but ends the process (exit status 134) on
// an option without ":VALUE" and on an unknown model or context factory; and the network models
// Constant (no links) and ns-3 (its own routing) abort on this platform. Those are checked here,
// before SimGrid sees them, so that they are bad input like the rest.
void check_simgrid_option(const std::string& arg) {
  static const std::map<std::string, std::vector<std::string>> choices = {
      {"network/model", {"CM02", "LV08", "SMPI", "IB"}},
      {"cpu/model", {"Cas01"}},
      {"host/model", {"default", "compound", "ptask_L07"}},
      {"disk/model", {"default"}},
      {"network/optim", {"Lazy", "TI", "Full"}},
      {"cpu/optim", {"Lazy", "TI", "Full"}},
      {"contexts/factory", {"thread", "raw", "ucontext", "boost"}}};
  std::istringstream items(arg.substr(std::string("--cfg=").size()));
  std::string item;
  while (items >> item) {
    const size_t colon = item.find(':');
    if (colon == std::string::npos) fail("--cfg=" + item + ": expected KEY:VALUE");
    const std::string key = item.substr(0, colon), value = item.substr(colon + 1);
    auto it = choices.find(key);
    if (it == choices.end() || std::count(it->second.begin(), it->second.end(), value)) continue;
    std::string list;
    for (const std::string& v : it->second) list += (list.empty() ? "" : ", ") + v;
    fail("--cfg=" + item + ": \"" + value + "\" is not accepted here (" + key + ": one of " + list + ")");
  }
}

void write(const std::string& file, const std::string& text) {
  auto w = write_file_atomically(file, text);
  if (!w) fail(w.error().str());
}

}  // namespace

// AddressSanitizer cannot follow SimGrid's default stack switching (its own assembly): a build with
// it runs every actor on a thread instead (docs/robustness.md).
#if defined(__SANITIZE_ADDRESS__)
#define ASTEROID_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASTEROID_ASAN 1
#endif
#endif

namespace {

// SimGrid's Engine, given SimGrid's own options (--cfg=..., --log=...), which it takes out of argv
// (toolchain-notes S4); ours are left for parse_args. It announces every configuration change on
// stderr: kept quiet, so that output and errors stay ours.
std::unique_ptr<sg4::Engine> start_engine(int& argc, char**& argv) {
  std::string simgrid_options;  // for SimGrid's own refusals, which name the value but not the key
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]).rfind("--cfg=", 0) == 0) {
      check_simgrid_option(argv[i]);
      simgrid_options += (simgrid_options.empty() ? "" : " ") + std::string(argv[i]);
    }
  static std::vector<char*> engine_argv;
  engine_argv.assign(argv, argv + argc);
  static char quiet_config[] = "--log=xbt_cfg.thresh:warning";
  engine_argv.insert(engine_argv.begin() + 1, quiet_config);
#ifdef ASTEROID_ASAN
  static char thread_contexts[] = "--cfg=contexts/factory:thread";
  engine_argv.insert(engine_argv.begin() + 2, thread_contexts);
#endif
  argc = int(engine_argv.size());
  engine_argv.push_back(nullptr);
  argv = engine_argv.data();
  std::unique_ptr<sg4::Engine> engine;
  try {
    engine = std::make_unique<sg4::Engine>(&argc, argv);
  } catch (const std::exception& e) {
    const std::string what = e.what();  // its first line; SimGrid lists every key after it
    fail("a SimGrid option (" + (simgrid_options.empty() ? "--cfg=KEY:VALUE" : simgrid_options) +
         "): " + what.substr(0, what.find('\n')));
  }
  xbt_log_control_set("root.thresh:warning");
  return engine;
}

// The scenario with the command line's what-ifs and planning flags applied.
Scenario load_for_sim(const Args& args) {
  auto loaded = load_scenario(args.scenario, args.overrides);
  if (!loaded) fail(loaded.error().str());
  Scenario s = std::move(loaded.value());
  for (const std::string& line : s.applied_overrides)
    (args.table == sim::TableFormat::text ? std::cout : std::cerr << "asteroid-sim: ") << "what-if: " << line << "\n";
  if (auto bad = apply_objective_flags(s, args.objective)) fail(bad->str());
  return s;
}

// An objective other than the shortest round, or free power modes: the objective's plan, each
// device put in its chosen power mode (its trace's times, its mode's power). nullopt otherwise.
std::optional<ObjectiveResult> plan_objective(Scenario& s, const Args& args) {
  if (!plans_for_objective(s)) return std::nullopt;
  if (!args.run.plan_file.empty() || (args.run.strategy && *args.run.strategy != Strategy::asteroid))
    fail("--objective and --power-modes plan with the asteroid strategy, not with --plan or another --strategy");
  if (!absent_at_start(s.devices, s.faults).empty())
    fail(s.file + ": planner.objective: devices that join later are not planned for an objective other than time");
  auto r = plan_for_objective(s, objective_options(s));
  if (!r) fail(r.error().str());
  apply_power_modes(s, r->chosen.power_modes);
  return std::move(r).value();
}

void configure_network(NetworkModel m) {
  if (m == NetworkModel::textbook) {
    // Transfer time = latency + size / bandwidth, no TCP factors, no reverse ACK flows
    // (docs/toolchain-notes.md S5).
    sg4::Engine::set_config("network/model:CM02");
    sg4::Engine::set_config("network/crosstraffic:0");
  }
}

sim::SimInput simulation_input(const Scenario& s, const CostModel& model, const Evaluation& ev, const Args& args) {
  sim::SimInput in;
  in.name = s.name;
  in.model = &model;
  in.plan = ev.plan;
  in.faults = s.faults;
  in.rounds = run_rounds(s, args.run);
  in.record_spans = args.spans;
  in.coordinator = coordinator_config(s, args.run);
  in.power = device_powers(s);
  for (const DeviceSpec& d : s.devices) in.batteries.push_back(d.battery);
  return in;
}

// The run's set-up, warnings and power models in its report (energy is computed from the power
// models and the spans in core, energy.hpp).
void complete_report(RunReport& rep, const Scenario& s, const sim::SimInput& in, const Args& args,
                     const std::optional<PlanningRecord>& planning, const Evaluation& ev) {
  const CoordinatorConfig& cc = in.coordinator;
  rep.planning = planning;
  rep.config = {{"network_model", kNetworkModels.token(args.network)},
                {"topology", to_string(s.network.topology)},
                {"recovery", to_string(cc.recovery)},
                {"replicate", cc.replicate},
                {"rounds", in.rounds},
                {"training", s.training.layers.full() ? "full" : s.training.layers.summary},
                {"heartbeat_interval_s", cc.heartbeat_interval_s},
                {"missed_heartbeats", cc.missed_heartbeats}};
  if (!s.applied_overrides.empty()) rep.config["overrides"] = s.applied_overrides;
  if (!rep.batteries.empty()) rep.config["battery_policy"] = to_string(s.faults.battery);
  rep.warnings = unreached_fault_warnings(s.faults, rep, ev.predicted_round_s());
  rep.power = device_powers(s);
}

void write_report(const RunReport& rep, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) fail(dir + ": cannot create the output directory: " + ec.message());
  write(dir + "/report.json", report_to_json(rep).dump(1) + "\n");
  write(dir + "/trace.json", report_to_chrome_trace(rep));
  write(dir + "/rounds.csv", report_to_rounds_csv(rep));
}

void print_run(const RunReport& rep, const RunSummary& summary, const Scenario& s, const sim::SimInput& in,
               const Args& args, const RunLength& length, const std::optional<PlanningRecord>& planning,
               const std::optional<ObjectiveResult>& objective, const CostModel& model, const std::string& dir) {
  std::cout << "scenario " << s.name << ": " << s.model << ", " << s.devices.size() << " devices, recovery "
            << to_string(in.coordinator.recovery) << "\n";
  // What SimGrid ran, read back from its configuration (a --cfg=network/model:X changes lv08's).
  const std::string engine_model = simgrid::config::get_value<std::string>("network/model");
  std::cout << "network model: " << kNetworkModels.token(args.network)
            << (args.network == NetworkModel::textbook ? " (latency + size / bandwidth per message; SimGrid "
                                                       : " (TCP factors and reverse ACK traffic; SimGrid ")
            << engine_model << ")\n";
  if (!s.training.layers.full()) std::cout << "training: " << s.training.layers.summary << "\n";
  if (!length.reason.empty()) std::cout << length.reason << "\n";
  for (size_t id = 0; id < rep.plans.size(); ++id) {
    std::cout << "plan " << id << ": " << plan_to_text(rep.plans[id].plan, rep.devices, layer_names(s));
    std::cout << "  predicted round latency " << rep.plans[id].predicted_schedule_latency_s
              << " s (" << (s.planner.schedule == PipelineSchedule::gpipe ? "GPipe" : "1F1B")
              << " replay; closed form " << rep.plans[id].predicted_round_latency_s << " s)\n";
  }
  if (planning && planning->lower_bound_s > 0)
    std::cout << "plan 0 " << optimality_text(planning->proven_optimal, planning->objective_s, planning->lower_bound_s)
              << ", planned in " << planning->planning_time_s << " s (" << planning->strategy << ")\n";
  if (objective) std::cout << objective_to_text(*objective, objective_options(s), model.cluster());
  std::cout << summary_to_text(summary, rep.backend);
  for (const std::string& w : rep.warnings) std::cout << "warning: " << w << "\n";
  std::cout << energy_to_text(compute_energy(rep));
  std::cout << batteries_to_text(rep.batteries);
  std::cout << "wrote " << dir << "/report.json, trace.json, rounds.csv\n";
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> command_line(argv + 1, argv + argc);  // for --recovery all's runs
  // Ours, not SimGrid's: its Engine answers --help with its own configuration and exits.
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
      std::cout << usage();
      return 0;
    }
  const std::unique_ptr<sg4::Engine> engine = start_engine(argc, argv);
  Args args = parse_args(argc, argv);
  Scenario s = load_for_sim(args);
  const std::string dir = args.output.empty() ? "out/" + s.name : args.output;
  if (args.all_recoveries) {
    const std::string refusal = sim::each_recovery_refusal(s);
    if (!refusal.empty()) fail(refusal);
    return sim::run_each_recovery(s, command_line, dir, args.table, fail);
  }
  const std::optional<ObjectiveResult> objective = plan_objective(s, args);
  configure_network(args.network);
  CostModel model = make_cost_model(s);
  std::optional<PlanningRecord> planning;
  Result<Evaluation> chosen = objective ? Result<Evaluation>(model.evaluate(objective->chosen.evaluation.plan))
                                        : backend_plan(s, model, args.run, &planning);
  if (!chosen) fail(chosen.error().str());
  const Evaluation& ev = chosen.value();
  // A scenario without training.rounds runs the default length (backend_setup.hpp), said below.
  const RunLength length = run_length(s, args.run, model, ev);
  args.run.rounds = length.rounds;
  const sim::SimInput in = simulation_input(s, model, ev, args);
  sim::Simulation simulation(in);
  sim::SimResult result = simulation.run();
  RunReport& rep = result.report;
  complete_report(rep, s, in, args, planning, ev);
  const RunSummary summary = summarize_run(rep);
  write_report(rep, dir);
  print_run(rep, summary, s, in, args, length, planning, objective, model, dir);
  return summary.completed ? 0 : 1;
}
