// asteroid-exec SCENARIO [--strategy S | --plan PLAN.json] [--rounds N] [--lr X (default: 0.001
//                        for Adam, 0.01 for SGD)] [--seed N] [--timeout SECONDS] [-o DIR]
// Runs the plan for real: one worker process per device of the plan on this machine, each
// executing its list of the Program with libtorch, talking over c10d/Gloo on loopback
// (worker.cpp). Writes the RunReport of the run (report.json, trace.json, rounds.csv, the same
// format as asteroid-sim's, so that asteroid-compare can hold the two side by side) and prints the
// rounds, the throughput and the loss. Bad input: one line on stderr, exit status 2; a worker that
// fails: its message, the other workers stopped, exit status 1.
// This file is torch-free; the workers are this same binary started with --worker.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "asteroid/json_reader.hpp"
#include "asteroid/run_report.hpp"
#include "asteroid/strategies.hpp"
#include "exec_job.hpp"

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

double number(const std::string& flag, const std::string& v, double lo) {
  char* end = nullptr;
  double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !(x >= lo)) fail(flag + ": expected a number >= " + std::to_string(lo) + ", found \"" + v + "\"");
  return x;
}

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    auto value = [&](const char* flag) {
      if (i + 1 >= argc) fail(std::string(flag) + " needs a value");
      return std::string(argv[++i]);
    };
    if (s == "--strategy") a.strategy = value("--strategy");
    else if (s == "--plan") a.plan = value("--plan");
    else if (s == "--rounds") a.rounds = int(number("--rounds", value("--rounds"), 1));
    else if (s == "--lr") a.lr = number("--lr", value("--lr"), 0);
    else if (s == "--seed") a.seed = (long long)number("--seed", value("--seed"), 0);
    else if (s == "--timeout") a.timeout_s = number("--timeout", value("--timeout"), 1);
    else if (s == "-o" || s == "--output") a.output = value("-o");
    else if (s == "-h" || s == "--help") { std::cout << kUsage; std::exit(0); }
    else if (!s.empty() && s[0] == '-') fail("unknown option " + s + " (see --help)");
    else if (a.scenario.empty()) a.scenario = s;
    else fail("more than one scenario given");
  }
  if (a.scenario.empty()) fail("no scenario given (see --help)");
  if (!a.strategy.empty() && !a.plan.empty()) fail("--strategy and --plan exclude each other");
  return a;
}

// A TCP port nobody listens on now (the store binds it a moment later).
int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    fail("cannot find a free TCP port on 127.0.0.1", 1);
  close(fd);
  return ntohs(addr.sin_port);
}

void write(const std::string& file, const std::string& text) {
  auto w = write_file_atomically(file, text);
  if (!w) fail(w.error().str(), 1);
}

struct Stop {
  std::string why;  // empty: every worker finished
  int status = 0;   // the exit status asteroid-exec ends with
  std::string device;
};

// Starts one worker per device; waits for all; stops the rest when one fails or time runs out.
Stop run_workers(const std::string& job_file, const std::vector<int>& devices, const Scenario& s,
                 double timeout_s) {
  std::map<pid_t, int> running;
  for (int d : devices) {
    pid_t pid = fork();
    if (pid < 0) fail("cannot start a worker", 1);
    if (pid == 0) {
      std::string dev = std::to_string(d);
      setenv("OPENBLAS_NUM_THREADS", "1", 1);
      setenv("OMP_NUM_THREADS", "1", 1);
      execl("/proc/self/exe", "asteroid-exec", "--worker", job_file.c_str(), dev.c_str(), (char*)nullptr);
      _exit(127);
    }
    running[pid] = d;
  }
  auto stop_all = [&] {
    for (auto& [pid, d] : running) kill(pid, SIGKILL);
    for (auto& [pid, d] : running) waitpid(pid, nullptr, 0);
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (!running.empty()) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        stop_all();
        return {"the run did not finish within " + std::to_string(int(timeout_s)) + " s (--timeout); workers stopped", 1, ""};
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    if (pid < 0) break;
    int d = running[pid];
    running.erase(pid);
    bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!ok) {
      stop_all();
      std::string why = WIFEXITED(status) ? "exited with status " + std::to_string(WEXITSTATUS(status))
                                          : "was killed by signal " + std::to_string(WTERMSIG(status));
      return {"worker " + s.devices[d].name + " " + why + "; the other workers were stopped",
              WIFEXITED(status) && WEXITSTATUS(status) == 2 ? 2 : 1, s.devices[d].name};
    }
  }
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--worker") return run_worker(argv[2], std::atoi(argv[3]));
  Args args = parse_args(argc, argv);
  auto loaded = load_scenario(args.scenario);
  if (!loaded) fail(loaded.error().str());
  const Scenario& s = loaded.value();
  if (!s.faults.events.empty())
    fail(s.file + ": faults.events: asteroid-exec does not inject failures yet (asteroid-sim does)");
  CostModel model = make_cost_model(s);

  Plan plan;
  if (!args.plan.empty()) {
    auto j = read_json_file(args.plan);
    if (!j) fail(j.error().str());
    auto p = plan_from_json(j.value(), model.cluster(), model.num_layers(), s.training.batch_size, args.plan, "");
    if (!p) fail(p.error().str());
    plan = p.value();
  } else {
    std::string strategy = args.strategy.empty() ? s.planner.strategy : args.strategy;
    StrategyResult r = run_strategy(strategy, model, planner_options(s));
    if (!r.evaluation.feasible) fail(s.file + ": strategy " + strategy + " finds no plan: " + r.evaluation.reason);
    plan = r.evaluation.plan;
  }
  Evaluation ev = model.evaluate(plan);
  if (!ev.feasible) fail((args.plan.empty() ? s.file : args.plan) + ": plan does not fit: " + ev.reason);

  std::string dir = args.output.empty() ? "out/" + s.name + "_exec" : args.output;
  std::string mk = "mkdir -p '" + dir + "'";
  if (std::system(mk.c_str()) != 0) fail("cannot create " + dir, 1);
  char resolved[4096];
  std::string scenario_path = realpath(args.scenario.c_str(), resolved) ? resolved : args.scenario;

  ExecJob job;
  job.scenario = scenario_path;
  job.plan = plan_to_json(ev.plan, model.cluster());
  job.rounds = args.rounds > 0 ? args.rounds : s.training.rounds;
  job.learning_rate = args.lr >= 0 ? args.lr : s.training.optimizer == Optimizer::adam ? 0.001 : 0.01;
  job.seed = uint64_t(args.seed);
  job.store_port = free_port();
  job.timeout_s = args.timeout_s;
  job.out_dir = dir;
  std::string job_file = dir + "/job.json";
  write(job_file, job_to_json(job).dump(2) + "\n");

  std::vector<int> devices;
  for (const StagePlan& sp : ev.plan.stages)
    for (int d : sp.devices) devices.push_back(d);
  std::cout << "scenario " << s.name << ": " << s.model << ", " << devices.size()
            << " worker processes on this machine (c10d/Gloo on loopback), " << job.rounds << " rounds\n";
  for (int p = 0; p < ev.plan.num_stages(); ++p) {
    const StagePlan& sp = ev.plan.stages[p];
    std::cout << "  stage " << p << ": layers " << sp.first_layer << "-" << sp.last_layer << " on";
    for (size_t i = 0; i < sp.devices.size(); ++i)
      std::cout << " " << s.devices[sp.devices[i]].name << " (" << sp.shares[i] << ")";
    std::cout << "\n";
  }
  std::cout << "  micro-batch " << ev.plan.microbatch_size << " x " << ev.plan.microbatches << "\n" << std::flush;
  Stop stop = run_workers(job_file, devices, s, args.timeout_s);
  // A worker that refused its input (status 2) ran nothing: there is nothing to report.
  if (stop.status == 2) fail(stop.why, 2);

  // Merge the workers' logs into one RunReport; after a stop, the rounds every worker finished.
  RunReport rep;
  rep.scenario = s.name;
  rep.backend = "exec";
  rep.config = {{"transport", "c10d gloo, loopback"}, {"processes", int(devices.size())},
                {"rounds", job.rounds}, {"learning_rate", job.learning_rate}, {"seed", job.seed}};
  for (const DeviceSpec& d : s.devices) rep.devices.push_back(d.name);
  rep.peak_memory_bytes.assign(rep.devices.size(), 0);
  rep.plans.push_back(plan_to_json(ev.plan, model.cluster()));
  std::vector<double> round_end(job.rounds, 0), loss(job.rounds, 0);
  int done = job.rounds;  // rounds that every worker finished
  for (int d : devices) {
    std::string file = worker_log_path(dir, s.devices[d].name);
    auto j = read_json_file(file);
    auto w = j ? worker_log_from_json(j.value(), file) : Result<WorkerLog>(j.error());
    if (!w) {
      if (stop.why.empty()) fail(w.error().str(), 1);
      done = 0;  // stopped before its first log
      continue;
    }
    rep.peak_memory_bytes[d] = w->peak_rss_bytes;
    int finished = 0;
    for (const WorkerRound& r : w->rounds) {
      if (r.round < 0 || r.round >= job.rounds) continue;
      round_end[r.round] = std::max(round_end[r.round], r.end_s);
      if (r.has_loss) loss[r.round] += r.loss;
      finished = std::max(finished, r.round + 1);
    }
    done = std::min(done, finished);
    for (Span sp : w->spans) {
      sp.device = d;
      rep.spans.push_back(sp);
    }
    std::remove(file.c_str());
  }
  std::remove(job_file.c_str());
  nlohmann::json losses = nlohmann::json::array();
  for (int r = 0; r < done; ++r) {
    rep.rounds.push_back({r, r > 0 ? round_end[r - 1] : 0.0, round_end[r], s.training.batch_size, 0});
    losses.push_back(loss[r]);
  }
  if (!stop.why.empty()) rep.events.push_back({done > 0 ? round_end[done - 1] : 0.0, "stop", stop.device, stop.why, 0});
  double total = done > 0 ? round_end[done - 1] : 0;
  double throughput = total > 0 ? double(done) * s.training.batch_size / total : 0;
  rep.summary = {{"rounds_committed", done},
                 {"completed", stop.why.empty()},
                 {"run_s", total},
                 {"throughput_samples_per_s", throughput},
                 {"predicted_round_latency_s", ev.round_latency_s},
                 {"loss_per_round", losses}};
  write(dir + "/report.json", report_to_json(rep).dump(1) + "\n");
  write(dir + "/trace.json", report_to_chrome_trace(rep));
  write(dir + "/rounds.csv", report_to_rounds_csv(rep));

  if (!stop.why.empty()) {
    std::cout << "stopped after " << done << " finished rounds; wrote what they did to " << dir
              << "/report.json, trace.json, rounds.csv\n";
    fail(stop.why, stop.status);
  }
  char line[256];
  std::snprintf(line, sizeof line,
                "rounds %d in %.3f s, throughput %.2f samples/s; round latency %.4f s measured (mean), "
                "%.4f s predicted by the cost model\n",
                done, total, throughput, total / done, ev.round_latency_s);
  std::cout << line;
  std::snprintf(line, sizeof line, "loss %.4f in round 0, %.4f in round %d\n", loss.front(), loss[done - 1],
                done - 1);
  std::cout << line << "wrote " << dir << "/report.json, trace.json, rounds.csv\n";
  return 0;
}
