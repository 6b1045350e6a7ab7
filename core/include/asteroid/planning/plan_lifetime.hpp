// How many samples a plan trains on its batteries (the lifetime objective, objective_planner.hpp;
// docs/method.md, "Energy-aware planning"): from each battery device's usable charge and its
// predicted energy per round under the plan (plan_energy.hpp: compute, communication and idle,
// the idle of a device the plan leaves out included), the rounds until the first of them reaches
// its floor, and the samples trained by then or by a deadline, whichever comes first.
//
// A continuous figure, like the battery forecast it reuses (battery_forecast.hpp): rounds are not
// rounded down, so that it is a property of the plan rather than of where rounds end.
#pragma once

#include <limits>
#include <optional>
#include <vector>

#include "asteroid/planning/plan_energy.hpp"
#include "asteroid/input/power_model.hpp"

namespace asteroid {

struct PlanLifetime {
  bool available = false;  // false: the plan's energy is not available
  // Rounds until the first battery device reaches its floor (usable_J / its joules per round, the
  // least over them); infinity: no battery device draws anything by the model.
  double rounds = std::numeric_limits<double>::infinity();
  double seconds = std::numeric_limits<double>::infinity();  // rounds x the plan's predicted round, s
  int first_device = -1;  // the battery device that reaches its floor first (cluster index); -1: none
  // Samples trained before then, or by the deadline if it comes first: samples per round x
  // min(rounds, deadline / round). What the objective maximises; infinity: unbounded.
  double samples = std::numeric_limits<double>::infinity();
  bool deadline_first = false;  // the deadline came before the first battery's floor
};

// `usable_J`: per cluster device, its charge above its floor (nullopt: on mains). `deadline_s`:
// 0 for none. `energy` must be for the plan (predict_plan_energy); unavailable: so is the result.
// O(devices).
PlanLifetime predict_plan_lifetime(const PlanEnergy& energy, const std::vector<std::optional<double>>& usable_J,
                                   double samples_per_round, double deadline_s);

// The bound that makes the lifetime search finite: every battery device d draws at least
// P_min_d = min(idle, communication, compute watts of its mode) for the whole round T (its
// compute, communication and idle seconds add up to at least T), so any plan of round T trains at
// most samples_per_round x K / T samples, K = min(deadline, min_d usable_d / P_min_d), seconds.
// Returns K (infinity when no battery device draws anything and there is no deadline). `power`:
// per cluster device, as device_powers gives it (nullopt: no power model, never drained).
double lifetime_seconds_bound(const std::vector<std::optional<double>>& usable_J,
                              const std::vector<std::optional<DevicePower>>& power, double deadline_s);

// Which device plays which part. The planner takes the devices of a class (planner.hpp,
// device_classes: one type, trace table and memory) as interchangeable and visits one plan of those
// that differ only by which of them plays which part; their batteries are not interchangeable. Of
// those plans, the one whose first battery reaches its floor last: per class, the devices sorted by
// usable charge (mains first) take the parts sorted by their joules per round, the largest charge
// the hungriest part, which maximises the least usable_J / J (exchanging two devices that are not
// in that order never raises the lesser of their two ratios). Returns perm: perm[d] is the device
// that plays device d's part; the identity where nothing is to gain. O(devices log devices).
std::vector<int> battery_relabeling(const std::vector<std::vector<int>>& classes, const PlanEnergy& energy,
                                    const std::vector<std::optional<double>>& usable_J);
// The plan with every device d replaced by perm[d] (shares stay with their places).
Plan relabel_plan(const Plan& plan, const std::vector<int>& perm);
// The energies moved likewise (device perm[d] gets device d's seconds and joules; names and modes stay).
PlanEnergy relabel_energy(const PlanEnergy& energy, const std::vector<int>& perm);

}  // namespace asteroid
