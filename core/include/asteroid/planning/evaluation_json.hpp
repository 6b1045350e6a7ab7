// JSON and text renderings of a cost-model evaluation, shared by asteroid-plan and the backends.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "asteroid/model/cost_model.hpp"

namespace asteroid {

// {"feasible", "reason"?, "round_latency_s", "throughput_samples_per_s" (the predicted round, in
//  seconds, and samples per second: the 1F1B replay's where the plan was replayed, else the closed
//  form's), "schedule_latency_s" (the replay; 0: not replayed), "closed_form_round_latency_s",
//  "closed_form_throughput_samples_per_s", "latency_model", "plan", "steps", "dominant_step", "devices"}
nlohmann::json evaluation_to_json(const Evaluation& e, const Cluster& c);

// A human-readable report: stages (each one's first and last layer named when `layer_names` are
// given, layer_names[l] naming layer l), shares, the predicted round and the time per 1000
// samples, the steps with a legend of their columns, the dominant step, memory.
std::string evaluation_to_text(const Evaluation& e, const Cluster& c,
                               const std::vector<std::string>& layer_names = {});

}  // namespace asteroid
