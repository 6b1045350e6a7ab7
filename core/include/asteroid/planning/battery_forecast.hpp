// The Coordinator's battery forecast (docs/method.md, "Batteries"): from each battery device's
// charge left above its floor and its predicted energy per round under the running plan
// (plan_energy.hpp), how many rounds and seconds it has left, and whether it must leave now.
// Clock-free and pure, like the Coordinator: asteroid-sim calls it at each checkpoint with the
// charges it drains, and asteroid-exec can call it with the charges it reads.
//
// The rule (the proactive policy, faults.battery): at a checkpoint, a device leaves as planned
// (Coordinator::depart) when it cannot finish 1 + margin_rounds more rounds at the plan's
// predicted energy per round: the round after the checkpoint, and margin_rounds in hand for the
// prediction's error and the state transfer that takes it out.
#pragma once

#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "asteroid/planning/plan_energy.hpp"

namespace asteroid {

struct BatteryForecast {
  int device = -1;        // cluster index
  double usable_J = 0;    // charge left above its floor now
  double round_J = 0;     // its predicted energy per round under the plan (compute, communication, idle)
  double round_s = 0;     // the plan's predicted round
  double rounds_left = std::numeric_limits<double>::infinity();   // usable_J / round_J
  double seconds_left = std::numeric_limits<double>::infinity();  // rounds_left x round_s
  bool leave_now = false;  // rounds_left < 1 + margin_rounds
};

// `usable_J`: per cluster device, its charge above its floor now, or nullopt (on mains, or not in
// the run): those get no forecast. `energy` must be available and for the running plan
// (predict_plan_energy). A device whose type has no power model draws nothing by the model and
// never has to leave. Returns one forecast per battery device, in cluster order. O(devices).
std::vector<BatteryForecast> forecast_batteries(const PlanEnergy& energy,
                                                const std::vector<std::optional<double>>& usable_J,
                                                int margin_rounds);

// Why a device leaves now, in the figures that decided it (a planned_departure event's detail):
// "forecast at the checkpoint: 6.5 J above its floor, 5.5 J a round under plan 0: 1.18 rounds
// left, fewer than 1 + 1".
std::string forecast_reason(const BatteryForecast& f, int plan_id, int margin_rounds);

}  // namespace asteroid
