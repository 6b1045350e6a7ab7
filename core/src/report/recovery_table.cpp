// Every recovery strategy on one scenario, side by side (recovery_table.hpp).
#include "asteroid/report/recovery_table.hpp"

#include <algorithm>
#include <cstdio>

namespace asteroid {
namespace {

// The sum of an optional figure over the failures; absent when any failure lacks it.
template <class Get>
std::optional<double> sum_all(const std::vector<FailureSummary>& fs, Get get) {
  if (fs.empty()) return std::nullopt;
  double total = 0;
  for (const FailureSummary& f : fs) {
    const std::optional<double> x = get(f);
    if (!x) return std::nullopt;
    total += *x;
  }
  return total;
}

std::string cell(const std::optional<double>& x, const char* format, int width) {
  char b[64];
  if (x)
    std::snprintf(b, sizeof b, format, width, *x);
  else
    std::snprintf(b, sizeof b, "%*s", width, "-");
  return b;
}

std::string csv_cell(const std::optional<double>& x) {
  if (!x) return "";
  char b[32];
  std::snprintf(b, sizeof b, "%.6g", *x);
  return b;
}

}  // namespace

RecoveryRow recovery_row(const std::string& recovery, const RunSummary& summary) {
  RecoveryRow r;
  r.recovery = recovery;
  r.summary = summary;
  const std::vector<FailureSummary>& fs = summary.failures;
  r.failures = int(fs.size());
  r.detection_s = sum_all(fs, [](const FailureSummary& f) { return f.detection_s; });
  r.replay_s = sum_all(fs, [](const FailureSummary& f) { return f.replay_s; });
  r.total_s = sum_all(fs, [](const FailureSummary& f) { return f.recovery_s; });
  for (const FailureSummary& f : fs) {
    r.replan_s += f.replan_s;
    r.state_transfer_s += f.state_transfer_s;
    r.state_transfer_bytes += f.state_transfer_bytes;
    if (f.replay_round >= 0 && f.replay_round <= f.interrupted_round)
      r.rounds_replayed += f.interrupted_round - f.replay_round + 1;
  }
  if (!fs.empty()) {
    r.throughput_before = fs.front().throughput_before;
    r.throughput_after = fs.back().throughput_after;
  }
  return r;
}

void sort_recovery_rows(std::vector<RecoveryRow>& rows) {
  std::stable_sort(rows.begin(), rows.end(), [](const RecoveryRow& a, const RecoveryRow& b) {
    const bool a_on = a.total_s && a.throughput_after, b_on = b.total_s && b.throughput_after;
    if (a_on != b_on) return a_on;
    if (!a_on) return false;
    if (*a.total_s != *b.total_s) return *a.total_s < *b.total_s;
    return *a.throughput_after > *b.throughput_after;
  });
}

std::string recovery_table_text(const std::vector<RecoveryRow>& rows, const std::string& backend) {
  std::string out =
      "recovery     detection  re-plan  transfer   replay    total  samples/s before  after  rounds replayed  "
      "weights\n";
  char line[512];
  for (const RecoveryRow& r : rows) {
    std::snprintf(line, sizeof line, "%-11s  %s  %s  %s  %s  %s  %16.2f  %s  %15d  %s", r.recovery.c_str(),
                  cell(r.detection_s, "%*.3f", 9).c_str(), cell(r.replan_s, "%*.4f", 7).c_str(),
                  cell(r.state_transfer_s, "%*.3f", 8).c_str(), cell(r.replay_s, "%*.3f", 7).c_str(),
                  cell(r.total_s, "%*.3f", 7).c_str(), r.throughput_before,
                  cell(r.throughput_after, "%*.2f", 5).c_str(), r.rounds_replayed,
                  r.summary.weights_lost ? "LOST" : "kept");
    out += line;
    if (!r.summary.completed)
      out += "  (stopped" + (r.summary.stop_reason.empty() ? std::string(")") : ": " + r.summary.stop_reason + ")");
    out += "\n";
  }
  const bool several = std::any_of(rows.begin(), rows.end(), [](const RecoveryRow& r) { return r.failures > 1; });
  out += std::string("seconds ") + (backend == "sim" ? "simulated" : "of wall time") +
         " (re-plan: the planner's wall time on this machine, measured); detection: failure to its detection; "
         "total: failure to the interrupted round committed again; samples/s before the failure and after the "
         "recovery; -: did not happen";
  out += several ? "; several failures: times and rounds summed, before the first and after the last\n" : "\n";
  return out;
}

nlohmann::json recovery_table_json(const std::vector<RecoveryRow>& rows) {
  nlohmann::json out = nlohmann::json::array();
  auto opt = [](const std::optional<double>& x) { return x ? nlohmann::json(*x) : nlohmann::json(nullptr); };
  for (const RecoveryRow& r : rows)
    out.push_back({{"recovery", r.recovery},
                   {"failures", r.failures},
                   {"detection_s", opt(r.detection_s)},
                   {"replan_s", r.replan_s},
                   {"state_transfer_s", r.state_transfer_s},
                   {"state_transfer_bytes", r.state_transfer_bytes},
                   {"replay_s", opt(r.replay_s)},
                   {"recovery_s", opt(r.total_s)},
                   {"throughput_before", r.throughput_before},
                   {"throughput_after", opt(r.throughput_after)},
                   {"rounds_replayed", r.rounds_replayed},
                   {"weights_lost", r.summary.weights_lost},
                   {"completed", r.summary.completed},
                   {"summary", summary_to_json(r.summary)}});
  return out;
}

std::string recovery_table_csv(const std::vector<RecoveryRow>& rows) {
  std::string out =
      "recovery,failures,detection_s,replan_s,state_transfer_s,replay_s,recovery_s,throughput_before,"
      "throughput_after,rounds_replayed,weights_lost,completed\n";
  for (const RecoveryRow& r : rows)
    out += r.recovery + "," + std::to_string(r.failures) + "," + csv_cell(r.detection_s) + "," +
           csv_cell(r.replan_s) + "," + csv_cell(r.state_transfer_s) + "," + csv_cell(r.replay_s) + "," +
           csv_cell(r.total_s) + "," + csv_cell(r.throughput_before) + "," + csv_cell(r.throughput_after) + "," +
           std::to_string(r.rounds_replayed) + "," + (r.summary.weights_lost ? "true" : "false") + "," +
           (r.summary.completed ? "true" : "false") + "\n";
  return out;
}

}  // namespace asteroid
