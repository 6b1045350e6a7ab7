// Planning for an objective other than the shortest round (docs/method.md, "Energy-aware
// planning"): the plan of least predicted energy per sample (plan_energy.hpp) among the plans of the
// `asteroid` strategy's space whose 1F1B replay is at most (1 + max_slowdown) times the shortest
// (`energy`), or the plan that trains the most samples before the first battery reaches its floor,
// or by a deadline (`lifetime`, plan_lifetime.hpp), optionally with each device's power mode as one
// more choice.
//
// Method, exact over the space (every mode assignment x every plan of replay_search.hpp's space):
// 1. per power-mode assignment (one, the scenario's, unless the modes are free), the shortest
//    replay T_a (plan_by_replay, the `asteroid` strategy's planner); T* = min over assignments;
// 2. per assignment with T_a within the ceiling (1 + max_slowdown) T*, every plan replaying within
//    it (enumerate_by_replay), each scored by the objective; the best score wins (ties: the
//    shorter round, then the first found).
// The lifetime objective has no ceiling of its own (max_slowdown applies only when given): its
// ceiling comes from an incumbent I (the best of the assignments' fastest plans, then the best so
// far) and lifetime_seconds_bound's K: a plan of round T trains at most B x K / T samples, so
// plans slower than B x K / I cannot beat I. Assignments are searched fastest first so that the
// incumbent tightens the later ceilings.
// Power-mode assignments: devices of one type, speed factor and memory are interchangeable when
// every pair of devices sees the same link (a star or a medium), so only how many of them run in
// each mode matters (multisets); otherwise every device's mode is chosen on its own. The modes a
// device can take are those with a trace (scenario.hpp, traced_power_modes).
// Each objective is one case of a switch (objective_planner.cpp, score): another objective is one
// more case there and in vocabulary.hpp's PlanningObjective.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "asteroid/input/cli_args.hpp"
#include "asteroid/input/cluster.hpp"
#include "asteroid/model/cost_model.hpp"
#include "asteroid/input/error.hpp"
#include "asteroid/planning/plan_energy.hpp"
#include "asteroid/planning/plan_lifetime.hpp"
#include "asteroid/input/scenario.hpp"

namespace asteroid {

struct ObjectiveOptions {
  PlanningObjective objective = PlanningObjective::time;
  double max_slowdown = 0.1;  // fraction of the shortest round (0.1: 10%), >= 0
  bool max_slowdown_given = false;  // lifetime: apply max_slowdown only when true (energy: always)
  double deadline_s = 0;  // lifetime: the samples by this time, seconds; 0: none
  PowerModeChoice power_modes = PowerModeChoice::fixed;
  int max_mode_assignments = 4096;  // more assignments than this: an Error (fix some devices' modes)
};

// The scenario's planner fields (objective, max_slowdown, power_modes, deadline).
ObjectiveOptions objective_options(const Scenario& s);

// One plan scored: its power modes (per device, cluster order; "" for a type without power model),
// its evaluation (with its replay) and predicted energy.
struct ScoredPlan {
  std::vector<std::string> power_modes;
  Evaluation evaluation;
  PlanEnergy energy;
  PlanLifetime lifetime;  // available when the scenario has a battery device and energy is available
  double round_s() const { return evaluation.schedule_latency_s; }
  double s_per_sample() const;  // round / samples per round
};

struct ObjectiveResult {
  ScoredPlan chosen;   // the objective's plan; chosen.evaluation.feasible false: no plan
  ScoredPlan fastest;  // the shortest round of the space (over the mode assignments)
  // The longest round the objective accepts: energy, (1 + max_slowdown) x fastest; lifetime, the
  // largest of its assignments' ceilings (the bound's, or max_slowdown's when given and lower).
  double ceiling_s = 0;
  // The plans within the ceiling that no other plan scored beats on both time and energy per
  // sample, by time (the energy objective; the time objective scores the fastest plans only).
  std::vector<ScoredPlan> front;
  // Per mode assignment searched: its fastest plan and, under the energy objective, its least
  // energy plan within the ceiling (feasible false: none within it).
  std::vector<ScoredPlan> assignment_fastest, assignment_least_energy;
  // Under the lifetime objective, per mode assignment: its plan of most samples within its ceiling
  // (feasible false: its fastest plan was above the ceiling, so none could win).
  std::vector<ScoredPlan> assignment_most_samples;
  long long plans_scored = 0;  // plans within the ceiling enumerated and scored
  int mode_assignments = 0;
  bool proven_optimal = true;  // false: a time limit cut a search (the plan is the best found)
};

// Sets each device's power_mode (cluster order; "" leaves it as it is), so that make_cost_model
// and device_powers see the modes. `modes` has one entry per device.
void apply_power_modes(Scenario& s, const std::vector<std::string>& modes);

// Plans `s` (its `asteroid` strategy's space) for `o`. Errors (named after the scenario's planner
// fields): the energy or lifetime objective under the paper's latency model (it needs the replay),
// a device type without a power model under either, the lifetime objective without a battery
// device, a deadline under another objective, a lifetime search no bound makes finite (no battery
// device draws anything and neither a deadline nor max_slowdown is given), more mode assignments
// than o.max_mode_assignments, and no plan at all (the planner's own error).
Result<ObjectiveResult> plan_for_objective(const Scenario& s, const ObjectiveOptions& o);

// A scored plan as JSON: {"round_s", "s_per_sample", "J_per_sample", "microbatch_size", "stages":
// [{"layers": [first, last], "devices": [names]}], "power_modes": {device: mode}, and with a battery
// "lifetime": {"samples", "rounds", "seconds", "first_device", "deadline_first"}} (objective_report.cpp).
nlohmann::json scored_plan_to_json(const ScoredPlan& p, const Cluster& c);
// asteroid-plan's "objective" block: the options, the fastest and chosen plans, what the choice
// saves against the fastest (energy per sample, fraction) and costs (time per sample, fraction),
// the front, the per-assignment plans, the counts and whether proven; under the lifetime objective
// the deadline and the samples gained against the fastest plan (docs/formats.md).
nlohmann::json objective_to_json(const ObjectiveResult& r, const ObjectiveOptions& o, const Cluster& c);
// A few lines for asteroid-plan's and asteroid-sim's text output.
std::string objective_to_text(const ObjectiveResult& r, const ObjectiveOptions& o, const Cluster& c);

// The planner block a command line may override (asteroid-plan, asteroid-sim): --objective,
// --max-slowdown (a fraction), --deadline (seconds), --power-modes.
struct ObjectiveFlags {
  std::optional<PlanningObjective> objective;
  std::optional<double> max_slowdown;
  std::optional<double> deadline_s;
  std::optional<PowerModeChoice> power_modes;
  bool any() const { return objective || max_slowdown || deadline_s || power_modes; }
};
// Takes the current flag of `args` into `f` when it is one of the four (true); false otherwise.
bool take_objective_flag(CliArgs& args, ObjectiveFlags& f);
// Applies them to the scenario's planner block. A deadline without the lifetime objective is an
// Error naming planner.deadline.
std::optional<Error> apply_objective_flags(Scenario& s, const ObjectiveFlags& f);
// Whether the scenario plans for an objective other than the shortest round, or its power modes
// free: plan_for_objective chooses its plan.
bool plans_for_objective(const Scenario& s);

}  // namespace asteroid
