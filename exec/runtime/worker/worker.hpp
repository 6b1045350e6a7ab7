// One generation of one device's worker (worker.cpp): the torch side of `asteroid-exec worker`.
// Torch-free interface.
#pragma once

#include "control_client.hpp"
#include "exec_job.hpp"

namespace asteroid::exec {

// Plays the control connection's device in `job`: builds its stage, meets its peers (Gloo, through
// the coordinator's store), loads the checkpoint when the job resumes, and trains the job's rounds,
// telling the coordinator `ready`, each `round` (times, loss, spans) and `done`. Returns after
// `done`. A transport error when the job survives peer failures: `peer_lost`, then it waits to be
// stopped (it never returns); any other error: `failed` and exit (2 for a job it cannot run).
void run_generation(const ExecJob& job, ControlClient& control);

}  // namespace asteroid::exec
