// The time dilation of an emulated run, chosen from a short measurement when the user gives none
// (docs/emulation.md, "Choosing F"). Runs in the coordinator before any worker starts.
#pragma once

#include <string>

#include "asteroid/program/program.hpp"
#include "asteroid/input/scenario.hpp"

namespace asteroid::exec {

struct DilationChoice {
  double factor = 1;        // F, an integer >= 1
  std::string explanation;  // one console line: the measured ratio, the sharing of cores, the margin
};

// For each device whose worker runs on this machine (no `host` in the scenario), times on this machine
// the Forward and Backward of its stage's layers at its micro-batch share (asteroid-profile's timing,
// exec/README.md, 3 repeats after 1 warm-up, `threads` threads per worker), and divides by its budget
// (the Program's seconds for those steps, from the scenario's traces). F = the largest ratio x the
// cores' sharing (max(1, local workers x threads / cores)) x 1.25 (copies and messages share the
// cores too; the emulation's budgets do not cover them), rounded up to an integer.
// `program`: the plan's Program (make_program). Devices elsewhere cannot be timed here: they are
// named in the explanation. Throws std::invalid_argument when the model cannot be built here.
DilationChoice choose_time_dilation(const Scenario& s, const Program& program, int threads);

}  // namespace asteroid::exec
