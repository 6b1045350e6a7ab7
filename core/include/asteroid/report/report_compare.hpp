// Two RunReports side by side (docs/architecture.md, data flow): the same scenario run by two backends, or by
// one backend with two settings. Per round (matched by round number and, for replayed rounds, by
// occurrence), per instruction kind on each device (busy time summed over the run), and per event
// (matched by kind and occurrence): A's figure, B's, and B's error relative to A.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "asteroid/report/energy.hpp"
#include "asteroid/report/run_report.hpp"

namespace asteroid {

struct RoundDiff {
  int round = 0;
  double a_s = 0, b_s = 0;  // durations
  double error() const { return a_s > 0 ? (b_s - a_s) / a_s : 0; }
};

struct OpDiff {
  std::string device, op;
  int stage = -1;
  int count_a = 0, count_b = 0;
  double a_s = 0, b_s = 0;  // busy time over the whole run
  double error() const { return a_s > 0 ? (b_s - a_s) / a_s : 0; }
};

struct EventDiff {
  std::string kind;
  int occurrence = 0;
  double a_s = 0, b_s = 0;  // times
};

struct ReportComparison {
  std::string label_a, label_b;   // backend and config, for the printout
  std::vector<RoundDiff> rounds;  // rounds in both
  int rounds_only_a = 0, rounds_only_b = 0;
  std::vector<OpDiff> ops;        // by device, op, stage; in both or either
  std::vector<EventDiff> events;  // events in both
  int events_only_a = 0, events_only_b = 0;
  double length_a_s = 0, length_b_s = 0;  // end of the last round
  double mean_abs_round_error = 0, max_abs_round_error = 0;
  int worst_round = -1;
  // Rounds in both that last no time in A: B's error relative to them has no meaning (error()
  // counts it as 0), so a check of the round error cannot pass with them.
  int zero_rounds_a = 0;
  int first_zero_round_a = -1;
  // Both runs' modelled energy (energy.hpp), when both reports have it; else not compared.
  bool energy_compared = false;
  RunEnergy energy_a, energy_b;
};

ReportComparison compare_reports(const RunReport& a, const RunReport& b);

// A readable summary; tables limited to `max_rows` rows each (the largest errors first).
std::string comparison_to_text(const ReportComparison& c, int max_rows);
nlohmann::json comparison_to_json(const ReportComparison& c);

}  // namespace asteroid
