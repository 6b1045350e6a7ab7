// asteroid-exec's launcher: runs a plan as generations of worker processes on this machine, one
// per live device, and drives the core Coordinator (coordinator.hpp) with wall-clock time, as
// asteroid-sim drives it with simulated time. Torch-free.
//
// Workers report on a pipe: heartbeats, each round done, ready after state moved. Faults of the
// scenario (`leave` only) are injected by killing the device's worker (SIGKILL) at the event's
// time from the start of training. The Coordinator detects the silence, re-plans and says which
// layers move where; the launcher then stops the generation's surviving workers (they may be
// blocked on the dead peer) and starts the next generation on the new plan, which loads the
// checkpoint (the last round whose copies landed: every worker keeps its stage's layers per round
// and receives its backup copies) from the survivors' files, moving layers between devices over
// Gloo, and replays the rounds after it.
#pragma once

#include <string>

#include "asteroid/coordinator.hpp"
#include "asteroid/run_report.hpp"
#include "asteroid/scenario.hpp"

namespace asteroid::exec {

struct LaunchOptions {
  std::string scenario_path;      // absolute, for the workers
  CoordinatorConfig coordinator;  // backend_setup.hpp's coordinator_config
  std::string out_dir;
  int rounds = 1;
  double learning_rate = 0.01;
  unsigned long long seed = 1;
  double timeout_s = 600;  // the whole run
};

struct LaunchOutcome {
  RunReport report;  // rounds every worker of a generation finished (with their loss), spans, events, plans
  std::string stop_why;  // empty: the run finished
  int status = 0;        // exit status for asteroid-exec: 0, 1 (stopped), 2 (a worker refused its input)
};

LaunchOutcome launch(const Scenario& s, const CostModel& model, const Evaluation& first,
                     const LaunchOptions& o);

}  // namespace asteroid::exec
