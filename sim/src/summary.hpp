// The figures a run is judged by, from its result: as JSON (RunReport.summary) and as the short
// text asteroid-sim prints.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "simulation.hpp"

namespace asteroid::sim {

nlohmann::json summarize(const SimResult& r, const Cluster& c);
std::string summary_text(const nlohmann::json& summary);

// One line per stage: "stage 0: layers 0-7 on tx2_0 (32), tx2_1 (32)".
std::string plan_text(const Plan& p, const Cluster& c);

}  // namespace asteroid::sim
