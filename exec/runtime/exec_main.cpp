// asteroid-exec SCENARIO [--strategy S | --plan PLAN.json] [--rounds N] [--lr X (default: 0.001
//                        for Adam, 0.01 for SGD)] [--seed N] [--timeout SECONDS] [-o DIR]
// Runs the plan for real: one worker process per device of the plan on this machine, each
// executing its list of the Program with libtorch, talking over c10d/Gloo on loopback
// (worker.cpp). Writes the RunReport of the run (report.json, trace.json, rounds.csv, the same
// format as asteroid-sim's, so that asteroid-compare can hold the two side by side) and prints the
// rounds, the throughput and the loss. Bad input: one line on stderr, exit status 2; a worker that
// fails: its message, the other workers stopped, exit status 1.
// This file is torch-free; the workers are this same binary started with --worker.
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "asteroid/cli_args.hpp"
#include "asteroid/json_reader.hpp"
#include "asteroid/run_report.hpp"
#include "asteroid/strategies.hpp"
#include "exec_job.hpp"
#include "launcher.hpp"

namespace asteroid::exec {
int run_worker(const std::string& job_file, int device);
}

using namespace asteroid;
using namespace asteroid::exec;

namespace {

const char* kUsage =
    "usage: asteroid-exec SCENARIO [--strategy S | --plan PLAN.json] [--rounds N] [--lr X] [--seed N]\n"
    "                     [--timeout SECONDS] [-o DIR]\n";

[[noreturn]] void fail(const std::string& message, int status = 2) {
  std::cerr << "asteroid-exec: " << message << "\n";
  std::exit(status);
}

struct Args {
  std::string scenario, strategy, plan, output;
  int rounds = 0;
  double lr = -1, timeout_s = 600;  // lr -1: 0.001 for Adam, 0.01 for SGD
  long long seed = 1;
};

Args parse_args(int argc, char** argv) {
  Args a;
  CliArgs args(argc, argv, [](const std::string& m) { fail(m); });
  while (args.next()) {
    const std::string& s = args.arg();
    if (s == "--strategy")
      a.strategy = args.value();
    else if (s == "--plan")
      a.plan = args.value();
    else if (s == "--rounds")
      a.rounds = int(args.number(1, true));
    else if (s == "--lr")
      a.lr = args.number(0);
    else if (s == "--seed")
      a.seed = (long long)args.number(0, true);
    else if (s == "--timeout")
      a.timeout_s = args.number(1);
    else if (s == "-o" || s == "--output")
      a.output = args.value();
    else if (s == "-h" || s == "--help") {
      std::cout << kUsage;
      std::exit(0);
    } else if (args.is_option())
      fail("unknown option " + s + " (see --help)");
    else if (a.scenario.empty())
      a.scenario = s;
    else
      fail("more than one scenario given");
  }
  if (a.scenario.empty()) fail("no scenario given (see --help)");
  if (!a.strategy.empty() && !a.plan.empty()) fail("--strategy and --plan exclude each other");
  return a;
}

void write(const std::string& file, const std::string& text) {
  auto w = write_file_atomically(file, text);
  if (!w) fail(w.error().str(), 1);
}

std::string plan_text(const Plan& p, const Scenario& s) {
  std::string t;
  for (int i = 0; i < p.num_stages(); ++i) {
    const StagePlan& sp = p.stages[i];
    t += "  stage " + std::to_string(i) + ": layers " + std::to_string(sp.first_layer) + "-" +
         std::to_string(sp.last_layer) + " on";
    for (size_t k = 0; k < sp.devices.size(); ++k)
      t += " " + s.devices[sp.devices[k]].name +
           (k < sp.shares.size() ? " (" + std::to_string(sp.shares[k]) + ")" : "");
    t += "\n";
  }
  return t + "  micro-batch " + std::to_string(p.microbatch_size) + " x " + std::to_string(p.microbatches) +
         "\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--worker") return run_worker(argv[2], std::atoi(argv[3]));
  Args args = parse_args(argc, argv);
  auto loaded = load_scenario(args.scenario);
  if (!loaded) fail(loaded.error().str());
  const Scenario& s = loaded.value();
  if (!s.faults.events.empty() && s.faults.recovery == "restart")
    fail(s.file +
         ": faults.recovery: asteroid-exec has no coordinator checkpoint store to restart from; "
         "use lightweight, replan or adaptive (asteroid-sim runs restart)");
  for (size_t i = 0; i < s.faults.events.size(); ++i)
    if (s.faults.events[i].kind != FaultKind::leave)
      fail(s.file + ": faults.events[" + std::to_string(i) +
           "].kind: asteroid-exec injects only \"leave\" (asteroid-sim runs " +
           to_string(s.faults.events[i].kind) + ")");
  CostModel model = make_cost_model(s);

  auto chosen = backend_plan(s, model, args.plan, args.strategy);
  if (!chosen) fail(chosen.error().str());
  const Evaluation& ev = chosen.value();

  std::string dir = args.output.empty() ? "out/" + s.name + "_exec" : args.output;
  std::string mk = "mkdir -p '" + dir + "'";
  if (std::system(mk.c_str()) != 0) fail("cannot create " + dir, 1);
  char resolved[4096];
  LaunchOptions lo;
  lo.scenario_path = realpath(args.scenario.c_str(), resolved) ? resolved : args.scenario;
  lo.out_dir = realpath(dir.c_str(), resolved) ? resolved : dir;
  lo.rounds = args.rounds > 0 ? args.rounds : s.training.rounds;
  lo.learning_rate = args.lr >= 0 ? args.lr : s.training.optimizer == Optimizer::adam ? 0.001 : 0.01;
  lo.seed = (unsigned long long)args.seed;
  lo.timeout_s = args.timeout_s;

  int workers = 0;
  for (const StagePlan& sp : ev.plan.stages) workers += int(sp.devices.size());
  std::cout << "scenario " << s.name << ": " << s.model << ", " << workers
            << " worker processes on this machine (c10d/Gloo on loopback), " << lo.rounds << " rounds";
  if (!s.faults.events.empty())
    std::cout << ", " << s.faults.events.size() << " fault(s), recovery " << s.faults.recovery;
  std::cout << "\n" << plan_text(ev.plan, s) << std::flush;

  LaunchOutcome run = launch(s, model, ev, lo);
  if (run.status == 2) fail(run.stop_why, 2);  // a worker refused its input: nothing ran
  RunReport& rep = run.report;
  rep.config = {
      {"transport", "c10d gloo, loopback"}, {"processes", workers}, {"rounds", lo.rounds},
      {"learning_rate", lo.learning_rate},  {"seed", lo.seed},      {"recovery", s.faults.recovery}};
  int done = int(rep.rounds.size());
  double total = done > 0 ? rep.rounds.back().end : 0;
  double throughput = total > 0 ? double(done) * s.training.batch_size / total : 0;
  if (!run.stop_why.empty()) rep.events.push_back({total, "stop", "", run.stop_why, 0});
  // Each failure's recovery, as asteroid-sim reports it: from the failure to the end of the round
  // it interrupted (replayed on the new plan), and the throughput before and after.
  auto rate = [&](double from, double to) {
    double samples = 0, first = -1, last = 0;
    for (const RoundRecord& x : rep.rounds)
      if (x.start >= from - 1e-9 && x.end <= to + 1e-9) {
        if (first < 0) first = x.start;
        last = x.end;
        samples += x.samples;
      }
    return first >= 0 && last > first ? samples / (last - first) : 0.0;
  };
  for (nlohmann::json& f : run.failures) {
    double at = f["failure_s"].get<double>(), resumed = -1;
    for (const RunEvent& e : rep.events)
      if (e.kind == "resume" && e.time >= at && resumed < 0) resumed = e.time;
    const RoundRecord* cut = nullptr;
    for (const RoundRecord& x : rep.rounds)
      if (x.end > at && !cut) cut = &x;
    f["throughput_before"] = rate(0, at);
    if (cut && resumed >= 0) {
      f["interrupted_round"] = cut->round;
      f["replay_s"] = cut->end - resumed;
      f["recovery_s"] = cut->end - at;
      f["throughput_after"] = rate(cut->end, 1e300);
    }
  }
  rep.summary = {{"rounds_committed", done},
                 {"completed", run.stop_why.empty()},
                 {"run_s", total},
                 {"throughput_samples_per_s", throughput},
                 {"predicted_round_latency_s", ev.round_latency_s},
                 {"loss_per_round", run.loss_per_round},
                 {"failures", run.failures}};
  write(dir + "/report.json", report_to_json(rep).dump(1) + "\n");
  write(dir + "/trace.json", report_to_chrome_trace(rep));
  write(dir + "/rounds.csv", report_to_rounds_csv(rep));

  for (size_t i = 1; i < rep.plans.size(); ++i) {
    auto p = plan_from_json(rep.plans[i], model.cluster(), model.num_layers(), s.training.batch_size, "", "");
    if (p) std::cout << "plan " << i << ":\n" << plan_text(p.value(), s);
  }
  for (const RunEvent& e : rep.events)
    if (e.kind != "stop") {
      char line[160];
      std::snprintf(line, sizeof line, "  %8.3f s  %-14s ", e.time, e.kind.c_str());
      std::cout << line << (e.device.empty() ? "" : e.device + ": ") << e.detail << "\n";
    }
  if (!run.stop_why.empty()) {
    std::cout << "stopped after " << done << " finished rounds; wrote what they did to " << dir
              << "/report.json, trace.json, rounds.csv\n";
    fail(run.stop_why, run.status);
  }
  char line[256];
  std::snprintf(line, sizeof line,
                "rounds %d in %.3f s, throughput %.2f samples/s; round latency %.4f s measured (mean), "
                "%.4f s predicted by the cost model\n",
                done, total, throughput, total / done, ev.round_latency_s);
  std::cout << line;
  std::snprintf(line, sizeof line, "loss %.4f in round 0, %.4f in round %d\n", run.loss_per_round.front(),
                run.loss_per_round.back(), done - 1);
  std::cout << line << "wrote " << dir << "/report.json, trace.json, rounds.csv\n";
  return 0;
}
