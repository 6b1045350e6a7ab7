// Energy of a run, modelled (never measured) from its RunReport: each device's time is split into
// compute, communication, idle and absent, and each part is charged its power mode's watts
// (power_model.hpp): E = P_compute t_compute + P_comm t_comm + P_idle t_idle. Computed in core
// from the spans alone, so every backend that writes spans (asteroid-sim today, asteroid-exec
// later) gets the same figures. docs/method.md, "Energy", says what this leaves out.
//
// A device's time: from the start of training (0), or its join, to the end of the run
// (RunReport::end_s), or its failure; spans are clipped to it. At each instant it is
//   compute        when a F, B or OPT span covers it;
//   communication  else when any other span covers it (SEND_*, RECV_*, ALLREDUCE, REPLICATE,
//                  TRANSFER): a backend's receive span includes the wait for its sender, so a
//                  bubble spent blocked in a receive counts as communication;
//   idle           else (bubbles, waiting for a round to start, an unused device that is there);
// overlapping spans count once, compute first (a background copy during a forward is compute).
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "asteroid/report/run_report.hpp"

namespace asteroid {

// F, B, OPT: compute; every other instruction token: communication.
Activity activity_of(const std::string& op);

struct ActivitySegment {
  double start = 0, end = 0;  // seconds from the start of training
  Activity activity = Activity::idle;
};

// Per device of the report, its time from 0 to the run's end as consecutive segments (adjacent
// segments of one activity merged). O(S log S) for S spans and events.
std::vector<std::vector<ActivitySegment>> device_activity(const RunReport& r);

struct RoundEnergy {
  int round = 0;
  double J = 0;  // every modelled device's energy in the round's start_s..end_s
};

struct RunEnergy {
  bool available = false;
  std::string unavailable;                                             // why not, when not available
  std::vector<DeviceEnergy> devices;                                   // in RunReport::devices order
  std::vector<RoundEnergy> rounds;                                     // in the report's round order
  double compute_J = 0, communication_J = 0, idle_J = 0, total_J = 0;  // modelled devices
  int rounds_committed = 0;
  long long samples = 0;                            // committed samples (a replayed round counts once)
  std::optional<double> J_per_round, J_per_sample;  // total_J over them (recoveries included)
  bool partial = false;  // some devices have no power model: the totals leave them out
};

// Needs r.power (one entry per device) and spans: without them, available is false and
// `unavailable` says why. O(S log S + rounds x devices).
RunEnergy compute_energy(const RunReport& r);

// The report's "energy" block (docs/formats.md): "kind": "modelled", the power files'
// provenance, totals, per device, per round.
nlohmann::json energy_to_json(const RunEnergy& e, const RunReport& r);

// A short block for the console: J per sample and per round, and each device's joules by activity.
std::string energy_to_text(const RunEnergy& e);

// What the boards measured (RunReport::measured_energy, asteroid-exec), beside the model's figure
// for the same device: a line per measured device, or one line saying that nothing was measured
// and why (an emulated run; no readable input rail). Empty for asteroid-sim's reports.
std::string measured_energy_to_text(const RunReport& r, const RunEnergy& e);

}  // namespace asteroid
