// Every recovery strategy on one scenario, side by side (`asteroid-sim SCENARIO --recovery all`):
// one run per strategy, each judged by its RunSummary (run_summary.hpp), the figures the per-run
// console and report.json give, here one row each. Rows are sorted by total recovery time, then by
// throughput after the failure; runs that did not go on come last.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "asteroid/report/run_summary.hpp"

namespace asteroid {

// One run's recovery, over all of its failures (the sums; the throughput before the first failure
// and after the last). Times in seconds, throughputs in samples per second.
struct RecoveryRow {
  std::string recovery;  // the strategy's token (vocabulary.hpp, kRecoveries)
  RunSummary summary;    // the run's own figures, as its report.json gives them
  int failures = 0;      // failures summed below
  std::optional<double> detection_s, replay_s, total_s;  // absent when some failure lacks it
  double replan_s = 0, state_transfer_s = 0, state_transfer_bytes = 0;
  double throughput_before = 0;
  std::optional<double> throughput_after;
  int rounds_replayed = 0;  // per failure: interrupted round - first replayed round + 1
};

// The row of one run. O(failures).
RecoveryRow recovery_row(const std::string& recovery, const RunSummary& summary);

// Sorted as above (stable: ties keep the order given).
void sort_recovery_rows(std::vector<RecoveryRow>& rows);

// A table for people, with a legend; `backend` says whose seconds ("simulated").
std::string recovery_table_text(const std::vector<RecoveryRow>& rows, const std::string& backend);
// An array of rows; each carries its run's whole "summary" (docs/formats.md, "RunReport").
nlohmann::json recovery_table_json(const std::vector<RecoveryRow>& rows);
// One line per row; empty cells where a figure is absent.
std::string recovery_table_csv(const std::vector<RecoveryRow>& rows);

}  // namespace asteroid
