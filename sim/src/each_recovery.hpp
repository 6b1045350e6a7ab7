// `asteroid-sim SCENARIO --recovery all`: the scenario simulated once per recovery strategy, each
// run in a process of its own (one SimGrid simulation per process, docs/toolchain-notes.md S3), and
// their RunSummaries side by side (core recovery_table.hpp).
#pragma once

#include <string>
#include <vector>

#include "asteroid/input/scenario.hpp"

namespace asteroid::sim {

enum class TableFormat { text, json, csv };

// Runs this program (/proc/self/exe) with `args` (the command line without the program's name),
// "--recovery all" replaced by each strategy and "-o" by DIR/<strategy>; each run's console goes to
// DIR/<strategy>/console.txt and its report, trace and rounds beside it. Then writes
// DIR/recoveries.json and DIR/recoveries.csv (each whole) and prints the table in `format`.
// Returns the exit status: 0 when every run ended (recovered or stopped with its reason, both in
// the table); a run refused as bad input or killed ends this program with its one line, status 2.
// `fail` must not return.
int run_each_recovery(const Scenario& s, const std::vector<std::string>& args, const std::string& dir,
                      TableFormat format, void (*fail)(const std::string&));

// The scenario's refusal for --recovery all, or "" when it has a leave event to recover from.
std::string each_recovery_refusal(const Scenario& s);

}  // namespace asteroid::sim
