// The energy of one round of a plan, predicted before running it (asteroid-plan): per device, the
// cost model's busy times charged at its power mode's watts (power_model.hpp), the rest of the
// predicted round idle. Modelled, like energy.hpp's figures for a run, and cruder: see
// docs/method.md, "Energy".
//
// Per device of stage p, for M micro-batches:
//   compute        its own forward and backward time for its share, M times, and its optimizer
//                  step (the Program's F, B and OPT seconds, program.hpp);
//   communication  M x (E_f + E_b) of each communication step next to its stage (receiving
//                  activations and sending gradients, sending activations and receiving
//                  gradients), and its stage's all-reduce T_a; at most the round less its compute
//                  (sends overlap computation in 1F1B);
//   idle           the rest of the predicted round (Evaluation::predicted_round_s()).
// A device the plan leaves out is idle for the whole round (it is there and on).
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "asteroid/model/cost_model.hpp"
#include "asteroid/input/power_model.hpp"

namespace asteroid {

struct PlanEnergy {
  bool available = false;
  std::string unavailable;            // why not
  double round_s = 0;                 // the predicted round the energies are for
  std::vector<DeviceEnergy> devices;  // cluster order; seconds and joules per round
  double J_per_round = 0;             // modelled devices
  double J_per_sample = 0;            // J_per_round / the batch
  bool partial = false;               // some devices have no power model: left out of the totals
};

// `power`: per cluster device, as RunReport::power (backend_setup.hpp, device_powers). The plan
// must be feasible. O(devices x M).
PlanEnergy predict_plan_energy(const CostModel& model, const Evaluation& ev,
                               const std::vector<std::optional<DevicePower>>& power);

// {"kind": "modelled", "available", "J_per_round", "J_per_sample", "round_s", "partial",
//  "devices": {name: {power_mode, compute_s, ..., total_J}}}
nlohmann::json plan_energy_to_json(const PlanEnergy& e);
// A few lines for asteroid-plan's text output.
std::string plan_energy_to_text(const PlanEnergy& e);

}  // namespace asteroid
