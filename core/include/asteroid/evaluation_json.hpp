// JSON and text renderings of a cost-model evaluation, shared by asteroid-plan and the backends.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "asteroid/cost_model.hpp"

namespace asteroid {

// {"feasible", "reason"?, "round_latency_s", "throughput_samples_per_s", "plan", "steps",
//  "dominant_step", "devices"}
nlohmann::json evaluation_to_json(const Evaluation& e, const Cluster& c);

// A human-readable report: stages, shares, memory, steps, dominant step.
std::string evaluation_to_text(const Evaluation& e, const Cluster& c);

}  // namespace asteroid
