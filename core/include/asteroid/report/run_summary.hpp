// The figures a run is judged by, computed once from a RunReport's rounds and events, for both
// backends alike: throughput over the run, and per failure its detection, re-plan, state transfer,
// replay and recovery times with the throughput before and after it. One set of JSON keys (the
// report's "summary", docs/formats.md) and one text rendering, which asteroid-sim and asteroid-exec
// both print.
//
// Windows: a failure's "throughput before" counts the committed rounds from the end of the
// previous failure's recovery (the start of the run for the first) to the failure; its "throughput
// after" the rounds from its recovery's end to the next failure (the end of the run for the last),
// so that one failure's figures never include another's outage.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "asteroid/report/run_report.hpp"

namespace asteroid {

struct FailureSummary {
  std::string device;
  EventKind kind = EventKind::failure;     // failure (a leave, a dead worker) or energy_departure
  double failure_s = 0;                    // when it happened, from the start of training
  std::optional<double> detection_s;       // failure to its detection
  double replan_s = 0;                     // how long choosing the new plan took
  double state_transfer_s = 0;             // moving state to the new owners (exec: with the workers' restart)
  double state_transfer_bytes = 0;         // weights and optimizer state moved
  std::optional<double> resume_at_s;       // when training went on
  int replay_round = -1;                   // the first round run again (the checkpoint's next)
  int interrupted_round = -1;              // the round in progress at the failure
  std::optional<double> replay_s;          // resume to the interrupted round committed again
  // Rounds between checkpoints before the failure (the median gap; absent with fewer than two):
  // above 1, copies took longer than a round and the next round's were skipped (docs/method.md
  // §6.2), which is why more than the interrupted round is replayed.
  std::optional<int> checkpoint_every_rounds;
  std::optional<double> recovery_s;        // failure to the interrupted round committed again
  double throughput_before = 0;            // samples/s, window above
  std::optional<double> throughput_after;  // samples/s, window above; absent when training did not go on
  std::vector<int> lost_layers;            // layers whose checkpoint had no live copy
};

// A device that joined or returned, and what the Coordinator made of it.
struct JoinSummary {
  std::string device;
  double join_s = 0;
  bool replanned = false;               // the plan changed to include it
  std::string decision;                 // the replan event's detail: the two finishing times
  double state_transfer_s = 0;          // when replanned
  double state_transfer_bytes = 0;
  std::optional<double> resume_at_s;    // when training went on, on the new plan
  std::optional<double> throughput_after;  // samples/s from the resume to the next failure or join
};

struct RunSummary {
  bool completed = false;  // every planned round committed and nothing stopped the run
  int rounds_committed = 0;
  int rounds_planned = 0;
  double run_s = 0;                     // from the start of training to the end of the run
  double throughput_samples_per_s = 0;  // over the committed rounds
  std::optional<double> first_round_latency_s;
  // Steady rounds: the median of rounds 1.. (round 0 warms up: allocations, first calls) that end
  // before the first failure; absent with fewer than two rounds there. What a prediction compares to.
  std::optional<double> steady_round_latency_s;
  int steady_rounds = 0;  // how many rounds the median is over
  double predicted_round_latency_s = 0;  // the cost model's, for the first plan
  int min_checkpoint_copies =
      -1;                     // fewest live copies of a layer's checkpoint at any commit; -1: not tracked
  bool weights_lost = false;  // some failure found a layer with no live copy
  std::vector<FailureSummary> failures;
  std::vector<JoinSummary> joins;
  // Devices that left as planned (battery_forecast.hpp): their planned_departure events.
  std::vector<RunEvent> planned_departures;
  std::optional<double> first_loss, last_loss;  // training loss of the first and last committed rounds
  std::optional<double> clock_offset_bound_s;   // the largest of the report's per-device bounds (exec)
  std::string stop_reason;                      // the stop or abort event's detail, when there is one
  std::optional<TestEvaluation> last_evaluation;  // the last test-set evaluation, when there is one
  std::optional<EmulationRecord> emulation;       // the report's, for an emulated run
  std::optional<HostCopyRecord> host_copies;      // the report's, for workers on an accelerator
};

// O(rounds x failures + failures^2 + events).
RunSummary summarize_run(const RunReport& r);

nlohmann::json summary_to_json(const RunSummary& s);

// One line per battery (RunReport::batteries) for the console: its charge at the start and at the
// end or when it left, and how it left.
std::string batteries_to_text(const std::vector<BatteryRecord>& batteries);

// A few lines: rounds, time ("simulated" or "wall" per `backend`), throughput, each failure's phases,
// the weights check.
std::string summary_to_text(const RunSummary& s, const std::string& backend);

}  // namespace asteroid
