// A run's memory against the cost model's prediction (memory_breakdown.hpp): what the report of a
// run says beside what its plan predicted.
#pragma once

#include <string>
#include <vector>

#include "asteroid/model/plan_memory.hpp"
#include "asteroid/report/run_report.hpp"

namespace asteroid {

// The predicted peaks of a run's first plan (plan_memory) beside what its devices' allocators held
// at most in a training round (RunReport::peak_allocated_bytes, asteroid-exec) and their processes'
// resident peaks: a line per device of the plan, or "" when nothing was metered. A run that changed
// plans says that the measured peaks span every plan.
std::string memory_against_prediction_text(const RunReport& r, const std::vector<DeviceMemory>& predicted);

}  // namespace asteroid
