// asteroid-exec's coordinator loop: waits for every device's worker to join (control_server.hpp),
// runs the plan as generations of jobs, one worker per live device, and drives the core Coordinator
// (coordinator.hpp) with wall-clock time, as asteroid-sim drives it with simulated time. Torch-free.
//
// Workers report over their control connections: heartbeats, each round done (with its spans and
// loss), ready after state moved, done. A scenario's `leave` is injected by telling the device's
// worker to kill itself at the event's time from the start of training; a worker that dies on its
// own (or is killed) is a failure the same way. A `join` of a device that left starts its worker
// again once its departure was declared; when it has joined, the Coordinator weighs planning it
// back in (a switch is carried out like a recovery, the device receiving its layers). The Coordinator detects the
// silence (a local worker killed by a signal is declared at once, from its exit), re-plans and says
// which layers move where; the launcher then stops the generation's surviving workers (they may be
// blocked on the dead peer: each restarts its process) and starts the next generation on the new
// plan, which loads the checkpoint (the last round whose copies landed: every worker keeps its
// stage's layers per round in its own directory and receives its backup copies) from the
// survivors' own disks, moving layers between devices over Gloo, and replays the rounds after it.
#pragma once

#include <csignal>
#include <functional>
#include <string>

#include "asteroid/run/coordinator.hpp"
#include "asteroid/report/run_report.hpp"
#include "asteroid/input/scenario.hpp"
#include "console.hpp"
#include "control_server.hpp"
#include "exec_job.hpp"
#include "worker_processes.hpp"

namespace asteroid::exec {

struct LaunchOptions {
  CoordinatorConfig coordinator;  // backend_setup.hpp's coordinator_config
  int rounds = 1;
  double learning_rate = 0.01;
  unsigned long long seed = 1;
  DataSource data = DataSource::synthetic;  // the training data (exec_job.hpp), checked by the caller
  std::string data_dir;
  bool augment = false;
  int eval_every = 0, eval_samples = 0;
  int64_t train_samples = 0, test_samples = 0;
  double timeout_s = 600;         // the whole run, joins included
  bool keep_checkpoints = false;  // else every worker removes its checkpoints at the end
  int local_workers = 0;          // workers on this machine (for the prediction check)
  bool links_shaped = false;      // workers talk over real or shaped links, not loopback
  // Emulation (docs/emulation.md): 0, off; else every compute step lasts its trace time x this
  // factor, and the run's clock (the Coordinator's, the report's) is real time / this factor.
  double time_dilation = 0;
  double clock_scale() const { return time_dilation > 1 ? time_dilation : 1; }  // real s per run s
  // Starts the worker of a device that returns (a scenario's `join` after its `leave`), here or over
  // ssh as at the start; false (and why) when this coordinator does not start it (a person does).
  std::function<bool(int device, std::string* why)> start_worker;
  // Set by a signal handler (Ctrl-C): the run stops, every worker is told so, the finished rounds are
  // kept. Null: never.
  const volatile std::sig_atomic_t* interrupted = nullptr;
};

struct LaunchOutcome {
  RunReport report;  // rounds every worker of a generation finished (with their loss), spans, events, plans
  std::string stop_why;  // empty: the run finished
  int status = 0;        // exit status for asteroid-exec: 0, 1 (stopped), 2 (a worker refused its input)
  // Emulation: compute steps that had a budget, those whose real computation took longer than it
  // (dilated), and the longest such overrun in the run's (emulated) seconds.
  long long budgeted = 0, over_budget = 0;
  double worst_overrun_s = 0;
  HostCopyRecord host_copies;  // workers on an accelerator: their copies through host memory
};

// The workers join through `server` (already listening); `processes` are the ones this coordinator
// started (stopped at the end). Returns when the run is over and every worker has been told so.
LaunchOutcome launch(const Scenario& s, const CostModel& model, const Evaluation& first,
                     const LaunchOptions& o, ControlServer& server, WorkerProcesses& processes,
                     Console& console);

}  // namespace asteroid::exec
