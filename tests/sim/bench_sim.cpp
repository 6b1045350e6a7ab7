// Wall time of simulations, printed beside its target (not a test: timings vary by machine).
//   100 rounds of each environment A-D (MobileNetV2, 100 Mbps)  target < 1 s each
//   envC_fail.json whole                                        (no target)
//   one round of a synthetic cluster of 64, 256, 1024 devices   target < 10 s for 1024
//   one round of 1024 devices in every shape of plan: one data-parallel group, a pipeline of 1024
//   single-device stages, and groups in between                target < 10 s each
// `bench_sim DEVICES STAGES` runs one synthetic round only (for profiling).
// Scenario runs go through the asteroid-sim binary (one SimGrid simulation per process); the
// synthetic clusters run in a child process each, with a hand-made plan (no planner time).
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <xbt/log.h>

#include "asteroid/report/run_summary.hpp"
#include "simulation.hpp"
#include "synthetic.hpp"

using namespace asteroid;
using Clock = std::chrono::steady_clock;

namespace {

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double run_binary(const std::string& args) {
  auto t0 = Clock::now();
  std::string cmd =
      std::string(ASTEROID_SIM_BIN) + " " + args + " -o /tmp/asteroid_bench_sim --no-spans > /dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) std::printf("  (%s failed)\n", args.c_str());
  return since(t0);
}

// One round of n devices in P stages of n/P devices each, max(32, P) layers, M = 8 micro-batches
// of n/P samples (one per device), memory ignored (the shapes, not the fit, are measured); in a
// child process.
double run_synthetic(int n, int P) {
  auto t0 = Clock::now();
  std::fflush(stdout);  // the child must not print the parent's buffer again
  pid_t pid = fork();
  if (pid == 0) {
    int argc = 1;
    char name[] = "bench_sim";
    char* argv[] = {name, nullptr};
    simgrid::s4u::Engine engine(&argc, argv);
    xbt_log_control_set("root.thresh:warning");
    simgrid::s4u::Engine::set_config("network/model:CM02");
    std::mt19937 rng(1);
    const int L = std::max(32, P), g = n / P, M = 8;
    auto layers = testing::synthetic_layers(L, rng);
    std::vector<testing::SyntheticDeviceType> types;
    for (int i = 0; i < n; ++i) types.push_back(testing::jetson_like_types()[i % 3]);
    CostOptions o;
    o.batch_size = M * g;
    o.ignore_memory = true;
    CostModel model(testing::synthetic_cluster(layers, types, 125e6, 5e-4), o);
    Plan p;
    p.microbatch_size = g;
    p.microbatches = M;
    for (int s = 0; s < P; ++s) {
      StagePlan st{L * s / P, L * (s + 1) / P - 1, {}, {}};
      for (int k = 0; k < g; ++k) st.devices.push_back(s * g + k);
      p.stages.push_back(st);
    }
    sim::SimInput in;
    in.name = "synthetic";
    in.model = &model;
    in.plan = p;
    in.rounds = 1;
    in.record_spans = false;
    in.coordinator.replicate = false;
    sim::Simulation s(in);
    auto r = s.run();
    std::_Exit(summarize_run(r.report).completed ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) std::printf("  (synthetic %d failed)\n", n);
  return since(t0);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3) {  // bench_sim DEVICES STAGES: one synthetic round only
    std::printf("1 round, %s devices, %s stages: %.3f s\n", argv[1], argv[2],
                run_synthetic(std::atoi(argv[1]), std::atoi(argv[2])));
    return 0;
  }
  const std::string sc = std::string(ASTEROID_SOURCE_DIR) + "/scenarios/";
  std::printf("%-40s %10s %12s\n", "simulation", "wall s", "target");
  for (std::string env : {"A", "B", "C", "D"}) {
    std::string f = "env" + env + "_mobilenetv2_100mbps.json";
    std::printf("%-40s %10.3f %12s\n", ("100 rounds " + f).c_str(), run_binary(sc + f + " --rounds 100"),
                "< 1 s");
  }
  std::printf("%-40s %10.3f %12s\n", "envC_fail.json (its rounds, a failure)",
              run_binary(sc + "envC_fail.json"), "-");
  double prev = 0;
  for (int n : {64, 256, 1024}) {
    double t = run_synthetic(n, 8);
    std::printf("%-40s %10.3f %12s", ("1 round, " + std::to_string(n) + " devices, 8 stages").c_str(), t,
                n == 1024 ? "< 10 s" : "-");
    if (prev > 0) std::printf("   x%.1f for x4 devices", t / prev);
    std::printf("\n");
    prev = t;
  }
  for (int P : {1, 32, 512, 1024}) {
    std::string shape = P == 1      ? "one group of 1024"
                        : P == 1024 ? "1024 stages of 1"
                                    : std::to_string(P) + " stages of " + std::to_string(1024 / P);
    std::printf("%-40s %10.3f %12s\n", ("1 round, " + shape).c_str(), run_synthetic(1024, P), "< 10 s");
  }
}
