// asteroid-exec SCENARIO [--strategy S | --plan PLAN.json] [--rounds N] [--lr X] [--seed N]
//                        [--recovery R] [--replicate | --no-replicate] [--timeout SECONDS] [-o DIR]
//                        [--listen ADDRESS:PORT] [--token-file F] [--keep-checkpoints] [--remote-exec PATH]
//                        [--data synthetic|fashion-mnist] [--data-dir DIR] [--augment] [--eval-every N]
//                        [--eval-samples N] [--emulate [--time-dilation F]] [--accelerator A]
// asteroid-exec worker --coordinator ADDRESS:PORT --device NAME ...   (worker_main.cpp)
// Runs the plan for real: the coordinator (this process) listens, one worker per device joins it
// (started here, over ssh, or by hand on the device's host), and each worker executes its list of
// the Program with libtorch, talking to its peers over Gloo (worker.cpp). Writes the RunReport
// of the run (report.json, trace.json, rounds.csv, the same format as asteroid-sim's, so that
// asteroid-compare can hold the two side by side) and prints the rounds, the throughput and the
// loss. Bad input: one line on stderr, exit status 2; a run that fails: exit status 1, with the
// report of the rounds it finished.
// This file is torch-free; the workers are this same binary started with `worker` (main.cpp).
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "asteroid/run/backend_setup.hpp"
#include "asteroid/input/cli_args.hpp"
#include "asteroid/report/energy.hpp"
#include "asteroid/input/json_reader.hpp"
#include "asteroid/report/memory_report.hpp"
#include "asteroid/planning/objective_planner.hpp"
#include "asteroid/planning/plan_energy.hpp"
#include "asteroid/report/report_files.hpp"
#include "asteroid/report/run_report.hpp"
#include "asteroid/report/run_summary.hpp"
#include "asteroid/input/scenario_overrides.hpp"
#include "dilation_choice.hpp"
#include "fashion_mnist.hpp"
#include "launcher.hpp"
#include "token.hpp"

using namespace asteroid;
using namespace asteroid::exec;

namespace {

std::string usage() {
  return "usage: asteroid-exec SCENARIO [--strategy S | --plan PLAN.json] [--rounds N] [--lr X] [--seed N]\n"
         "                     [--recovery R] [--replicate | --no-replicate] [--timeout SECONDS] [-o DIR]\n"
         "                     [--listen ADDRESS:PORT] [--token-file FILE] [--keep-checkpoints]\n"
         "                     [--remote-exec PATH] [--data synthetic|fashion-mnist] [--data-dir DIR]\n"
         "                     [--augment] [--eval-every N] [--eval-samples N]\n"
         "                     [--emulate [--time-dilation F]] [--accelerator cpu|cuda|cuda:N]\n"
         "       asteroid-exec worker --coordinator ADDRESS:PORT --device NAME [--token-file FILE] ...\n"
         "                     (asteroid-exec worker --help)\n"
         "  --listen       where workers join (default 127.0.0.1 and a free port). Without it, this\n"
         "                 machine runs a worker per device; with it, start `asteroid-exec worker` on\n"
         "                 each device's host (or give the device a \"host\" in the scenario: ssh)\n"
         "  --token-file   the shared secret workers prove (default ~/.config/asteroid/token, made\n"
         "                 with mode 0600 when absent)\n"
         "  --data         synthetic (default: one fixed random mini-batch every round) or fashion-mnist\n"
         "                 (the Debian package dataset-fashion-mnist, for models of input cifar10_32:\n"
         "                 shuffled per epoch, evaluated on the test set, exec/README.md)\n"
         "  --data-dir     where its IDX files are (default: found from the installed package)\n"
         "  --augment      random crop (padding 4 pixels) and horizontal flip of training images\n"
         "  --eval-every   rounds between test-set evaluations (also at each epoch's end and the last "
         "round)\n"
         "  --eval-samples evaluate on the first N test images (default: all 10,000)\n"
         "  --emulate      each Forward, Backward and optimizer step takes the time the scenario's trace\n"
         "                 gives its device (the real computation runs, then the worker waits out the\n"
         "                 rest; steps that take longer are counted as over budget): this machine plays\n"
         "                 the scenario's devices (docs/emulation.md)\n"
         "  --time-dilation every budget x F, and the run's clock (heartbeats, fault times, the report)\n"
         "                 real time / F, so that slow hosts keep up (default: chosen from a short\n"
         "                 measurement of this machine against the traces, and printed). Links are not\n"
         "                 touched: shape them to the scenario's bandwidth / F (tools/netns-cluster.sh\n"
         "                 up SCENARIO --time-dilation F)\n"
         "  --accelerator  where every worker computes, instead of each device's \"accelerator\" in the\n"
         "                 scenario (default cpu); cuda needs a libtorch built with CUDA (exec/README.md)\n"
         "strategies:\n" +
         kStrategies.help(4) + "recovery strategies:\n" + kRecoveries.help(4) + overrides_help();
}

[[noreturn]] void fail(const std::string& message, int status = 2) {
  std::cerr << "asteroid-exec: " << message << "\n";
  std::exit(status);
}

struct Args {
  std::string scenario, output, listen, token_file, remote_exec = "asteroid-exec";
  RunOverrides run;
  double lr = -1, timeout_s = 600;  // lr -1: 0.001 for Adam, 0.01 for SGD
  long long seed = 1;
  bool keep_checkpoints = false;
  DataSource data = DataSource::synthetic;
  std::string data_dir;
  bool augment = false;
  int eval_every = 0, eval_samples = 0;
  bool emulate = false;
  double time_dilation = 0;  // 0: not given
  bool timeout_given = false;
  std::string accelerator;  // empty: each device's, from the scenario
  ScenarioOverrides overrides;  // --bandwidth, --add-device, ... (scenario_overrides.hpp)
};

Args parse_args(int argc, char** argv) {
  Args a;
  CliArgs args(argc, argv, [](const std::string& m) { fail(m); });
  while (args.next()) {
    const std::string& s = args.arg();
    if (take_run_override(args, a.run))
      continue;
    else if (s == "--lr")
      a.lr = args.number(0);
    else if (s == "--seed")
      a.seed = (long long)args.number(0, true);
    else if (s == "--timeout")
      a.timeout_s = args.number(1), a.timeout_given = true;
    else if (s == "--emulate")
      a.emulate = true;
    else if (s == "--accelerator") {
      a.accelerator = args.value();
      if (!is_accelerator_name(a.accelerator)) fail("--accelerator: expected cpu, cuda or cuda:N");
    }
    else if (s == "--time-dilation")
      a.time_dilation = args.number(1, false, 1000);
    else if (s == "-o" || s == "--output")
      a.output = args.value();
    else if (s == "--listen")
      a.listen = args.value();
    else if (s == "--token-file")
      a.token_file = args.value();
    else if (s == "--keep-checkpoints")
      a.keep_checkpoints = true;
    else if (s == "--remote-exec")
      a.remote_exec = args.value();
    else if (s == "--data") {
      a.data = args.token(kDataSources);
    } else if (s == "--data-dir")
      a.data_dir = args.value();
    else if (s == "--augment")
      a.augment = true;
    else if (s == "--eval-every")
      a.eval_every = int(args.number(1, true));
    else if (s == "--eval-samples")
      a.eval_samples = int(args.number(1, true));
    else if (take_override(args, a.overrides))
      continue;
    else
      args.help_or_scenario(a.scenario, usage());
  }
  if (a.scenario.empty()) fail("no scenario given (see --help)");
  if (a.run.strategy && !a.run.plan_file.empty()) fail("--strategy and --plan exclude each other");
  const bool data_options = !a.data_dir.empty() || a.augment || a.eval_every > 0 || a.eval_samples > 0;
  if (data_options && a.data != DataSource::fashion_mnist)
    fail("--data-dir, --augment, --eval-every and --eval-samples need --data fashion-mnist");
  if (a.time_dilation > 0 && !a.emulate) fail("--time-dilation needs --emulate");
  return a;  // --emulate without --time-dilation: chosen from a measurement (dilation_choice.hpp)
}

void write(const std::string& file, const std::string& text) {
  auto w = write_file_atomically(file, text);
  if (!w) fail(w.error().str(), 1);
}

// The first SIGINT or SIGTERM asks the run to stop (the report of the finished rounds is written);
// a second one ends the process at once.
volatile std::sig_atomic_t interrupted = 0;
void on_interrupt(int sig) {
  interrupted = 1;
  std::signal(sig, SIG_DFL);
}

bool loopback(const std::string& host) { return host.rfind("127.", 0) == 0 || host == "localhost"; }

// The scenario as asteroid-exec runs it: loaded with the command line's what-ifs and accelerator,
// and refused in one line (exit status 2) where it asks for what only the planner or the simulator
// does.
Scenario load_for_exec(const Args& args) {
  auto loaded = load_scenario(args.scenario, args.overrides);
  if (!loaded) fail(loaded.error().str());
  for (const std::string& line : loaded.value().applied_overrides) std::cout << "what-if: " << line << "\n";
  if (!args.accelerator.empty())
    for (DeviceSpec& d : loaded.value().devices) d.accelerator = args.accelerator;
  const Scenario& s = loaded.value();
  // The workers build the model for its input: refused here, before any worker starts.
  if (auto missing = require_model_input(s)) fail(missing->str());
  // Frozen layers, LoRA and adapters are planned and simulated (fine_tuning.hpp); the workers train
  // every weight of every layer, so a fine-tuned run here would not be the run that was planned.
  if (!s.training.layers.full())
    fail(s.file + ": training.fine_tuning: asteroid-exec trains every layer in full; this set-up (" +
         s.training.layers.summary + ") is planned and simulated only (asteroid-plan, asteroid-sim)");
  // The energy and lifetime objectives plan once, in asteroid-plan or asteroid-sim
  // (objective_planner.hpp); their plan runs here as a plan file, each device in the mode the
  // scenario gives it.
  if (plans_for_objective(s))
    fail(s.file + ": planner.objective: asteroid-exec plans for time; write the " + to_string(s.planner.objective) +
         " objective's plan with asteroid-plan " + s.file + " --json -o plan.json and run it with --plan plan.json");
  if (s.planner.deadline_s > 0)
    fail(s.file + ": planner.deadline: asteroid-exec plans for time; a deadline goes with the lifetime objective, "
         "planned with asteroid-plan " + s.file + " --objective lifetime --json -o plan.json");
  return std::move(loaded.value());
}

// The Coordinator's configuration; faults asteroid-exec cannot inject are refused.
CoordinatorConfig coordinator_for_exec(const Scenario& s, const Args& args) {
  CoordinatorConfig coordinator = coordinator_config(s, args.run);
  if (!s.faults.events.empty() && coordinator.recovery == Recovery::restart)
    fail(s.file +
         ": faults.recovery: asteroid-exec has no coordinator checkpoint store to restart from; "
         "use lightweight, replan or adaptive (asteroid-sim runs restart)");
  for (size_t i = 0; i < s.faults.events.size(); ++i) {
    const FaultEvent& e = s.faults.events[i];
    if (e.kind != FaultKind::leave && e.kind != FaultKind::join)
      fail(s.file + ": faults.events[" + std::to_string(i) +
           "].kind: asteroid-exec injects only \"leave\" and \"join\" (asteroid-sim runs " +
           to_string(e.kind) + ")");
  }
  return coordinator;
}

// The run's length (a scenario without training.rounds runs the default, backend_setup.hpp, at the
// batteries' pace where there are any), set in the arguments and the Coordinator's configuration.
RunLength choose_length(const Scenario& s, const CostModel& model, const Evaluation& ev, Args& args,
                        CoordinatorConfig& coordinator) {
  const RunLength length = run_length(s, args.run, model, ev);
  args.run.rounds = length.rounds;
  coordinator.rounds = length.rounds;
  return length;
}

// --emulate without --time-dilation: the factor chosen from a measurement (dilation_choice.hpp);
// returns why, for the console. An emulated run's default timeout stretches with it.
std::string choose_dilation(const Scenario& s, const CostModel& model, const Evaluation& ev, Args& args) {
  std::string why;
  if (args.emulate && args.time_dilation == 0) {
    try {
      const DilationChoice chosen = choose_time_dilation(s, make_program(model, ev.plan), 1);
      args.time_dilation = chosen.factor;
      why = chosen.explanation;
    } catch (const std::invalid_argument& e) {
      fail(s.file + ": model: " + e.what());
    }
  }
  if (args.emulate && !args.timeout_given) args.timeout_s *= args.time_dilation;
  return why;
}

// Where workers join, and the secret they prove: the control server, listening.
struct Control {
  std::string token_file;
  std::string token;
  std::unique_ptr<ControlServer> server;
  Endpoint bound;
};
Control open_control(const Scenario& s, const Args& args, const CoordinatorConfig& coordinator, Console& console) {
  auto at = parse_endpoint(args.listen.empty() ? "127.0.0.1:0" : args.listen, "--listen");
  if (!at) fail(at.error().str());
  for (const DeviceSpec& d : s.devices)
    if (!d.host.empty() && (args.listen.empty() || loopback(at->host) || at->host == "0.0.0.0"))
      fail(s.file + ": device " + d.name + " has host " + d.host +
           ": give --listen an address that host can reach (not loopback or 0.0.0.0)");
  Control c;
  c.token_file = args.token_file.empty() ? default_token_file() : args.token_file;
  auto token = load_or_create_token(c.token_file);
  if (!token) fail(token.error().str());
  c.token = token.value();
  ControlServer::Options so;
  for (const DeviceSpec& d : s.devices) so.devices.push_back(d.name);
  so.scenario = s.name;
  so.token = c.token;
  so.token_file = c.token_file;
  // Heartbeats are dilated like every time of an emulated run (docs/emulation.md): a beat every
  // interval of the run's clock, so that a failure is detected as late after it as on the devices.
  const double dilation = args.emulate ? args.time_dilation : 1;
  so.heartbeat_interval_s = coordinator.heartbeat_interval_s * dilation;
  so.silence_limit_s =
      std::max(10.0, 5 * coordinator.missed_heartbeats * coordinator.heartbeat_interval_s) * dilation;
  so.log = [&console](const std::string& line) { console.line(line); };
  c.server = std::make_unique<ControlServer>(so);
  auto bound = c.server->listen(at.value());
  if (!bound) fail(bound.error().str());
  c.bound = bound.value();
  return c;
}

// The output folder, created and locked for this run: two runs writing one folder would mix their
// checkpoints and reports (a lock on the directory itself, released when the process ends however
// it ends).
std::string lock_output_dir(const Scenario& s, const Args& args) {
  std::string dir = args.output.empty() ? "out/" + s.name + "_exec" : args.output;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) fail(dir + ": cannot create the output directory: " + ec.message(), 1);
  const int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) fail(dir + ": cannot open the output directory: " + std::strerror(errno), 1);
  if (flock(dir_fd, LOCK_EX | LOCK_NB) != 0)
    fail(dir + ": another asteroid-exec run writes to this folder now; give this one another (-o)", 2);
  return dir;
}

LaunchOptions launch_options(const Scenario& s, const Args& args, const CoordinatorConfig& coordinator) {
  LaunchOptions lo;
  lo.coordinator = coordinator;
  lo.rounds = run_rounds(s, args.run);
  lo.learning_rate = args.lr >= 0 ? args.lr : s.training.optimizer == Optimizer::adam ? 0.001 : 0.01;
  lo.seed = (unsigned long long)args.seed;
  lo.timeout_s = args.timeout_s;
  lo.keep_checkpoints = args.keep_checkpoints;
  lo.interrupted = &interrupted;
  lo.data = args.data;
  lo.augment = args.augment;
  lo.eval_every = args.eval_every;
  lo.eval_samples = args.eval_samples;
  lo.time_dilation = args.emulate ? args.time_dilation : 0;
  return lo;
}

// --data fashion-mnist: checked here, before any worker trains: bad files are bad input (exit
// status 2). Each worker reads its own copy (on its host) and checks that it has the same counts.
void check_data(const Scenario& s, const Args& args, LaunchOptions& lo) {
  if (args.data != DataSource::fashion_mnist) return;
  if (s.input != "cifar10_32")
    fail(s.file + ": input: --data fashion-mnist fits models of input cifar10_32 (32x32 images), not " + s.input +
         "; " + s.model + " trains on synthetic data (--data synthetic)");
  auto where = locate_fashion_mnist(args.data_dir);
  if (!where) fail(where.error().str());
  auto set = load_fashion_mnist(*where);
  if (!set) fail(set.error().str());
  auto fits = check_fits_batch(*set, s.training.batch_size);
  if (!fits) fail(fits.error().str());
  lo.data_dir = args.data_dir;
  lo.train_samples = set->train.count;
  lo.test_samples = set->test.count;
  std::cout << "data: Fashion-MNIST from " << *where << " (" << set->train.count << " training, "
            << set->test.count << " test images; " << set->train.count / s.training.batch_size
            << " rounds per epoch)\n";
}

void print_run(const Scenario& s, const CostModel& model, const Evaluation& ev, const Args& args,
               const LaunchOptions& lo, const RunLength& length, const std::string& dilation_why,
               const Control& control) {
  int in_plan = 0;
  for (const StagePlan& sp : ev.plan.stages) in_plan += int(sp.devices.size());
  std::cout << "scenario " << s.name << ": " << s.model << ", " << in_plan << " devices in the plan of "
            << s.devices.size() << ", " << lo.rounds << " rounds";
  if (!s.faults.events.empty())
    std::cout << ", " << s.faults.events.size() << " fault(s), recovery " << to_string(lo.coordinator.recovery);
  std::cout << "\n" << plan_to_text(ev.plan, model.cluster(), layer_names(s));
  if (!length.reason.empty()) std::cout << length.reason << "\n";
  if (!dilation_why.empty()) std::cout << dilation_why << "\n";
  if (args.emulate)
    std::cout << "emulated: compute steps last what the traces give their devices, x " << args.time_dilation
              << " (time dilation); times below are real / " << args.time_dilation << "\n";
  std::cout << "coordinator listening on " << control.bound.str() << " (token " << control.token_file << ")\n"
            << std::flush;
}

// The workers this coordinator starts: over ssh where the scenario names a host, here for the rest
// unless --listen says that people start them (their commands are printed). Returns the devices
// started by hand.
std::vector<std::string> start_workers(const Scenario& s, const Args& args, const std::string& dir,
                                       const Control& control, WorkerProcesses& processes, LaunchOptions& lo) {
  WorkerCommand wc;
  wc.coordinator = control.bound;
  wc.token_file = control.token_file;
  wc.token = control.token;
  wc.checkpoint_dir = std::filesystem::absolute(dir).string() + "/checkpoints";
  wc.remote_exec = args.remote_exec;
  if (const char* ssh = std::getenv("ASTEROID_SSH")) wc.ssh = ssh;
  const std::vector<int>& absent = lo.coordinator.absent;
  std::vector<std::string> by_hand;
  for (const DeviceSpec& d : s.devices) {
    std::string why;
    const int index = int(&d - s.devices.data());
    const bool later = std::count(absent.begin(), absent.end(), index) > 0;
    if (d.host.empty() && !args.listen.empty()) {
      by_hand.push_back(d.name);
      continue;
    }
    if (later) continue;  // started at its join (launcher.hpp)
    if (!processes.start(wc, d.name, d.host, &why)) fail("cannot start the worker of " + d.name + ": " + why, 1);
    if (d.host.empty()) ++lo.local_workers;
  }
  lo.links_shaped = lo.local_workers == 0;
  if (args.emulate && lo.local_workers > 0)
    std::cout << "emulated: " << lo.local_workers
              << " worker(s) here talk over loopback, which is not shaped: their messages do not take "
                 "the scenario's link times\n";
  for (const std::string& name : by_hand) {
    const bool later = std::count(absent.begin(), absent.end(), s.device_index(name)) > 0;
    std::cout << "  on the host of " << name << (later ? " (at its join)" : "")
              << ": asteroid-exec worker --coordinator " << control.bound.str() << " --device " << name
              << (args.token_file.empty() ? "" : " --token-file " + control.token_file) << "\n";
  }
  std::cout << std::flush;
  lo.start_worker = [&s, &args, &control, &processes, wc](int d, std::string* why) {
    const DeviceSpec& spec = s.devices[size_t(d)];
    if (spec.host.empty() && !args.listen.empty()) {
      *why = "on its host: asteroid-exec worker --coordinator " + control.bound.str() + " --device " + spec.name;
      return false;
    }
    return processes.start(wc, spec.name, spec.host, why);
  };
  return by_hand;
}

// The report: what the run did, how it was set up, and what the core derives from it (the summary,
// the energy, memory against the prediction), written whole and printed. Returns the exit status.
int report_run(LaunchOutcome& run, const Scenario& s, const CostModel& model, const Evaluation& ev,
               const Args& args, const LaunchOptions& lo, const Control& control,
               const std::vector<std::string>& by_hand, const std::string& dir) {
  if (run.status == 2) fail(run.stop_why, 2);  // a worker refused its input: nothing ran
  RunReport& rep = run.report;
  if (args.emulate)
    rep.emulation = EmulationRecord{args.time_dilation, run.budgeted, run.over_budget, run.worst_overrun_s};
  if (run.host_copies.copies > 0) rep.host_copies = run.host_copies;
  rep.config = {
      {"transport", by_hand.empty() && std::all_of(s.devices.begin(), s.devices.end(),
                                                   [](const DeviceSpec& d) { return d.host.empty(); })
                        ? "gloo, loopback"
                        : "gloo"},
      {"coordinator", control.bound.str()},
      {"workers_here", lo.local_workers},
      {"rounds", lo.rounds},
      {"learning_rate", lo.learning_rate},
      {"seed", lo.seed},
      {"recovery", to_string(lo.coordinator.recovery)},
      {"data", kDataSources.token(lo.data)}};
  if (args.emulate) rep.config["emulate"] = true, rep.config["time_dilation"] = args.time_dilation;
  if (lo.data == DataSource::fashion_mnist) {
    rep.config["augment"] = lo.augment;
    rep.config["eval_every"] = lo.eval_every;
    rep.config["eval_samples"] =
        lo.eval_samples > 0 ? std::min<int64_t>(lo.eval_samples, lo.test_samples) : lo.test_samples;
    rep.config["train_samples"] = lo.train_samples;
  }
  rep.warnings = unreached_fault_warnings(s.faults, rep, ev.predicted_round_s());
  if (!rep.batteries.empty()) rep.config["battery_policy"] = to_string(s.faults.battery);
  rep.power = device_powers(s);  // energy is computed from it and the spans in core (energy.hpp)
  const RunSummary summary = summarize_run(rep);
  write(dir + "/report.json", report_to_json(rep).dump(1) + "\n");
  write(dir + "/trace.json", report_to_chrome_trace(rep));
  write(dir + "/rounds.csv", report_to_rounds_csv(rep));

  for (size_t i = 1; i < rep.plans.size(); ++i)
    std::cout << "plan " << i << ": " << plan_to_text(rep.plans[i].plan, rep.devices, layer_names(s));
  std::cout << summary_to_text(summary, rep.backend);
  const RunEnergy energy = compute_energy(rep);
  std::cout << energy_to_text(energy) << measured_energy_to_text(rep, energy);
  std::cout << batteries_to_text(rep.batteries);
  std::cout << memory_against_prediction_text(rep, plan_memory(model, ev));
  for (const std::string& w : rep.warnings) std::cout << "warning: " << w << "\n";

  if (!run.stop_why.empty()) {
    std::cout << "stopped after " << summary.rounds_committed << " finished rounds; wrote what they did to "
              << dir << "/report.json, trace.json, rounds.csv\n"
              << std::flush;
    fail(run.stop_why, run.status);
  }
  std::cout << "wrote " << dir << "/report.json, trace.json, rounds.csv\n";
  return 0;
}

}  // namespace

namespace asteroid::exec {

// The coordinator's process, step by step.
int coordinator_main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  Args args = parse_args(argc, argv);
  const Scenario s = load_for_exec(args);
  CoordinatorConfig coordinator = coordinator_for_exec(s, args);
  CostModel model = make_cost_model(s);
  auto chosen = backend_plan(s, model, args.run);
  if (!chosen) fail(chosen.error().str());
  const Evaluation& ev = chosen.value();
  const RunLength length = choose_length(s, model, ev, args, coordinator);
  const std::string dilation_why = choose_dilation(s, model, ev, args);
  Console console(isatty(STDOUT_FILENO) != 0);
  Control control = open_control(s, args, coordinator, console);
  const std::string dir = lock_output_dir(s, args);
  LaunchOptions lo = launch_options(s, args, coordinator);
  check_data(s, args, lo);
  print_run(s, model, ev, args, lo, length, dilation_why, control);
  WorkerProcesses processes;
  const std::vector<std::string> by_hand = start_workers(s, args, dir, control, processes, lo);
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  LaunchOutcome run = launch(s, model, ev, lo, *control.server, processes, console);
  return report_run(run, s, model, ev, args, lo, control, by_hand, dir);
}

}  // namespace asteroid::exec
