// The front door both backends (and asteroid-plan) go through: from a loaded Scenario and the
// options a command line may override, the cost model, the planner's options, the plan a backend
// runs, and the Coordinator's configuration. One place, so that asteroid-sim and asteroid-exec
// cannot set a run up differently.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "asteroid/input/cli_args.hpp"
#include "asteroid/run/coordinator.hpp"
#include "asteroid/model/cost_model.hpp"
#include "asteroid/planning/planner.hpp"
#include "asteroid/report/run_report.hpp"
#include "asteroid/input/scenario.hpp"
#include "asteroid/input/vocabulary.hpp"

namespace asteroid {

// What a backend's command line may set over the scenario.
struct RunOverrides {
  std::string plan_file;             // a plan (or what `asteroid-plan --json` writes) to run as is
  std::optional<Strategy> strategy;  // else the scenario's planner.strategy
  std::optional<Recovery> recovery;  // else the scenario's faults.recovery
  int rounds = 0;                    // 0: the scenario's training.rounds (run_length)
  std::optional<bool> replicate;     // copies for recovery; default: when the scenario has faults
};

// Takes the current flag of `args` into `o` when it is one of the run's (--strategy, --plan,
// --rounds, --recovery, --replicate, --no-replicate: asteroid-sim and asteroid-exec alike); false
// otherwise.
bool take_run_override(CliArgs& args, RunOverrides& o);

// This process's peak resident memory so far, in bytes (getrusage's maxrss), for the planning
// lines of asteroid-plan and bench_planner; 0 where the system does not say.
double process_peak_memory_bytes();

// The error when training.recomputation is "all" and the planner finds no plan: it names that
// field, and `reason` (the planner's: the refused stage, its device and the bytes it lacks).
Error recomputation_refused(const Scenario& s, const std::string& reason);

// A scenario that sets no training.rounds (and no --rounds) runs at least kDefaultRounds rounds:
// past the first rounds, which a real run spends warming up (asteroid-exec's first round is the
// longest), to a steady throughput. With fault events it runs on to the last event, its detection
// (the missed heartbeats) and kRoundsAfterLastEvent rounds more, so that the throughput after the
// recovery is seen.
constexpr int kDefaultRounds = 20;
constexpr int kRoundsAfterLastEvent = 10;

// How long a run trains, and why when neither the command line nor the scenario says.
struct RunLength {
  int rounds = 0;
  std::string reason;  // empty when --rounds or training.rounds set it; else one line on the default
};

// The run's length: o.rounds, else training.rounds, else the default above, with the last fault
// event reached at `round_s` seconds per round (the plan's predicted round; 0: unknown, the events
// are not counted). Both backends call it once their plan is known and put the rounds into `o`.
// `joules_per_round` (per scenario device, the first plan's predicted energy per round,
// plan_energy.hpp; empty: not known): the run also reaches the last battery's floor as that plan
// drains it (the departures' re-plans change the pace: an estimate, said so).
RunLength run_length(const Scenario& s, const RunOverrides& o, double round_s,
                     const std::vector<double>& joules_per_round = {});
// The same for the plan a backend runs: its predicted round, and its predicted energy per round
// per device (predict_plan_energy, the scenario's power modes) for the batteries' pace.
RunLength run_length(const Scenario& s, const RunOverrides& o, const CostModel& model, const Evaluation& ev);

// Rounds the run trains: the override, else the scenario's, else kDefaultRounds (run_length, which
// counts the fault events, is what the backends settle it with first).
int run_rounds(const Scenario& s, const RunOverrides& o);

// One warning per fault event the run did not reach (at or after r.end_s: the run ended first, and
// the event never happened), saying when the run ended and about how many rounds a run would need
// to reach it, from the run's mean round (end_s over the rounds committed), else `round_s`.
std::vector<std::string> unreached_fault_warnings(const FaultSpec& f, const RunReport& r, double round_s);

// The Coordinator's configuration: heartbeats, replication and recovery from the scenario's faults
// block, the command line's overrides applied.
CoordinatorConfig coordinator_config(const Scenario& s, const RunOverrides& o);

// The plan a backend runs: the one in o.plan_file if given (a plan, or an asteroid-plan --json
// output holding one under "plan"), else the strategy's, scored by the cost model. An Error names
// the file when it is bad, or says why no plan is found or why the plan does not fit.
// `planning`, when given, receives how the strategy found it (left empty for a plan file).
Result<Evaluation> backend_plan(const Scenario& s, const CostModel& model, const RunOverrides& o,
                                std::optional<PlanningRecord>* planning = nullptr);

}  // namespace asteroid
