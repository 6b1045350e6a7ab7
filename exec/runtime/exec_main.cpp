// asteroid-exec SCENARIO [--strategy S | --plan PLAN.json] [--rounds N] [--lr X (default: 0.001
//                        for Adam, 0.01 for SGD)] [--seed N] [--timeout SECONDS] [-o DIR]
// Runs the plan for real: one worker process per device of the plan on this machine, each
// executing its list of the Program with libtorch, talking over c10d/Gloo on loopback
// (worker.cpp). Writes the RunReport of the run (report.json, trace.json, rounds.csv, the same
// format as asteroid-sim's, so that asteroid-compare can hold the two side by side) and prints the
// rounds, the throughput and the loss. Bad input: one line on stderr, exit status 2; a worker that
// fails: its message, the other workers stopped, exit status 1.
// This file is torch-free; the workers are this same binary started with --worker.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "asteroid/backend_setup.hpp"
#include "asteroid/cli_args.hpp"
#include "asteroid/json_reader.hpp"
#include "asteroid/run_report.hpp"
#include "asteroid/run_summary.hpp"
#include "exec_job.hpp"
#include "launcher.hpp"

namespace asteroid::exec {
int run_worker(const std::string& job_file, int device);
}

using namespace asteroid;
using namespace asteroid::exec;

namespace {

std::string usage() {
  return "usage: asteroid-exec SCENARIO [--strategy S | --plan PLAN.json] [--rounds N] [--lr X] [--seed N]\n"
         "                     [--timeout SECONDS] [-o DIR]\n"
         "strategies:\n" +
         kStrategies.help(4);
}

[[noreturn]] void fail(const std::string& message, int status = 2) {
  std::cerr << "asteroid-exec: " << message << "\n";
  std::exit(status);
}

struct Args {
  std::string scenario, output;
  RunOverrides run;
  double lr = -1, timeout_s = 600;  // lr -1: 0.001 for Adam, 0.01 for SGD
  long long seed = 1;
};

Args parse_args(int argc, char** argv) {
  Args a;
  CliArgs args(argc, argv, [](const std::string& m) { fail(m); });
  while (args.next()) {
    const std::string& s = args.arg();
    if (s == "--strategy")
      a.run.strategy = args.token(kStrategies);
    else if (s == "--plan")
      a.run.plan_file = args.value();
    else if (s == "--rounds")
      a.run.rounds = int(args.number(1, true));
    else if (s == "--lr")
      a.lr = args.number(0);
    else if (s == "--seed")
      a.seed = (long long)args.number(0, true);
    else if (s == "--timeout")
      a.timeout_s = args.number(1);
    else if (s == "-o" || s == "--output")
      a.output = args.value();
    else if (s == "-h" || s == "--help") {
      std::cout << usage();
      std::exit(0);
    } else if (args.is_option())
      fail("unknown option " + s + " (see --help)");
    else if (a.scenario.empty())
      a.scenario = s;
    else
      fail("more than one scenario given");
  }
  if (a.scenario.empty()) fail("no scenario given (see --help)");
  if (a.run.strategy && !a.run.plan_file.empty()) fail("--strategy and --plan exclude each other");
  return a;
}

void write(const std::string& file, const std::string& text) {
  auto w = write_file_atomically(file, text);
  if (!w) fail(w.error().str(), 1);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--worker") return run_worker(argv[2], std::atoi(argv[3]));
  Args args = parse_args(argc, argv);
  auto loaded = load_scenario(args.scenario);
  if (!loaded) fail(loaded.error().str());
  const Scenario& s = loaded.value();
  if (!s.faults.events.empty() && s.faults.recovery == Recovery::restart)
    fail(s.file +
         ": faults.recovery: asteroid-exec has no coordinator checkpoint store to restart from; "
         "use lightweight, replan or adaptive (asteroid-sim runs restart)");
  for (size_t i = 0; i < s.faults.events.size(); ++i)
    if (s.faults.events[i].kind != FaultKind::leave)
      fail(s.file + ": faults.events[" + std::to_string(i) +
           "].kind: asteroid-exec injects only \"leave\" (asteroid-sim runs " +
           to_string(s.faults.events[i].kind) + ")");
  CostModel model = make_cost_model(s);

  auto chosen = backend_plan(s, model, args.run);
  if (!chosen) fail(chosen.error().str());
  const Evaluation& ev = chosen.value();

  std::string dir = args.output.empty() ? "out/" + s.name + "_exec" : args.output;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) fail(dir + ": cannot create the output directory: " + ec.message(), 1);
  LaunchOptions lo;
  lo.scenario_path = std::filesystem::absolute(args.scenario).string();
  lo.out_dir = std::filesystem::absolute(dir).string();
  lo.coordinator = coordinator_config(s, args.run);
  lo.rounds = run_rounds(s, args.run);
  lo.learning_rate = args.lr >= 0 ? args.lr : s.training.optimizer == Optimizer::adam ? 0.001 : 0.01;
  lo.seed = (unsigned long long)args.seed;
  lo.timeout_s = args.timeout_s;

  int workers = 0;
  for (const StagePlan& sp : ev.plan.stages) workers += int(sp.devices.size());
  std::cout << "scenario " << s.name << ": " << s.model << ", " << workers
            << " worker processes on this machine (c10d/Gloo on loopback), " << lo.rounds << " rounds";
  if (!s.faults.events.empty())
    std::cout << ", " << s.faults.events.size() << " fault(s), recovery " << to_string(s.faults.recovery);
  std::cout << "\n" << plan_to_text(ev.plan, model.cluster()) << std::flush;

  LaunchOutcome run = launch(s, model, ev, lo);
  if (run.status == 2) fail(run.stop_why, 2);  // a worker refused its input: nothing ran
  RunReport& rep = run.report;
  rep.config = {{"transport", "c10d gloo, loopback"},
                {"processes", workers},
                {"rounds", lo.rounds},
                {"learning_rate", lo.learning_rate},
                {"seed", lo.seed},
                {"recovery", to_string(lo.coordinator.recovery)}};
  const RunSummary summary = summarize_run(rep);
  write(dir + "/report.json", report_to_json(rep).dump(1) + "\n");
  write(dir + "/trace.json", report_to_chrome_trace(rep));
  write(dir + "/rounds.csv", report_to_rounds_csv(rep));

  for (size_t i = 1; i < rep.plans.size(); ++i)
    std::cout << "plan " << i << ": " << plan_to_text(rep.plans[i].plan, rep.devices);
  for (const RunEvent& e : rep.events)
    if (e.kind != EventKind::stop) {
      char line[160];
      std::snprintf(line, sizeof line, "  %8.3f s  %-14s ", e.time, to_string(e.kind));
      std::cout << line << (e.device.empty() ? "" : e.device + ": ") << e.detail << "\n";
    }
  std::cout << summary_to_text(summary, rep.backend);
  if (!run.stop_why.empty()) {
    std::cout << "stopped after " << summary.rounds_committed << " finished rounds; wrote what they did to "
              << dir << "/report.json, trace.json, rounds.csv\n";
    fail(run.stop_why, run.status);
  }
  std::cout << "wrote " << dir << "/report.json, trace.json, rounds.csv\n";
  return 0;
}
