// The wait before a run: every device's worker joins the listening coordinator (control_server.hpp)
// before training starts, the early ones beaten to meanwhile. Torch-free.
#pragma once

#include <string>

#include "console.hpp"
#include "control_server.hpp"
#include "launcher.hpp"
#include "worker_processes.hpp"

namespace asteroid::exec {

// Waits until every device of `s` joined `server`, or `o.timeout_s` (seconds since `origin_s`,
// now_s()'s clock) passed, a worker process this coordinator started exited, or the run was
// interrupted (o.interrupted). Empty when all joined, else why not (one line). `next_beat_s`: when
// the next beat to the joined is due (now_s()'s clock), read and updated.
std::string wait_for_joins(const Scenario& s, const LaunchOptions& o, ControlServer& server,
                           WorkerProcesses& processes, Console& console, double origin_s,
                           double* next_beat_s);

}  // namespace asteroid::exec
