// The front door both backends (and asteroid-plan) go through: from a loaded Scenario and the
// options a command line may override, the cost model, the planner's options, the plan a backend
// runs, and the Coordinator's configuration. One place, so that asteroid-sim and asteroid-exec
// cannot set a run up differently.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "asteroid/coordinator.hpp"
#include "asteroid/cost_model.hpp"
#include "asteroid/planner.hpp"
#include "asteroid/scenario.hpp"
#include "asteroid/vocabulary.hpp"

namespace asteroid {

// What a backend's command line may set over the scenario.
struct RunOverrides {
  std::string plan_file;             // a plan (or what `asteroid-plan --json` writes) to run as is
  std::optional<Strategy> strategy;  // else the scenario's planner.strategy
  std::optional<Recovery> recovery;  // else the scenario's faults.recovery
  int rounds = 0;                    // 0: the scenario's training.rounds
  std::optional<bool> replicate;     // copies for recovery; default: when the scenario has faults
};

// Per scenario device (cluster order), its type's power model in its mode (scenario.hpp,
// device_power_mode), or nullopt when its type has none: RunReport::power, predict_plan_energy.
std::vector<std::optional<DevicePower>> device_powers(const Scenario& s);

// The scenario's cluster and cost options.
CostModel make_cost_model(const Scenario& s);

// The scenario's planner options (micro-batch sizes, max stages, time limit).
PlannerOptions planner_options(const Scenario& s);

// Rounds the run trains: the override, else the scenario's.
int run_rounds(const Scenario& s, const RunOverrides& o);

// The Coordinator's configuration: heartbeats, replication and recovery from the scenario's faults
// block, the command line's overrides applied.
CoordinatorConfig coordinator_config(const Scenario& s, const RunOverrides& o);

// The plan a backend runs: the one in o.plan_file if given (a plan, or an asteroid-plan --json
// output holding one under "plan"), else the strategy's, scored by the cost model. An Error names
// the file when it is bad, or says why no plan is found or why the plan does not fit.
Result<Evaluation> backend_plan(const Scenario& s, const CostModel& model, const RunOverrides& o);

}  // namespace asteroid
