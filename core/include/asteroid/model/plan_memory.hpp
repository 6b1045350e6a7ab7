// A plan's training memory per device (memory_breakdown.hpp's parts for each device's layers,
// share and micro-batches in flight): what `asteroid-plan --memory` prints and what a run's
// allocator peaks are compared with (memory_report.hpp).
#pragma once

#include <vector>

#include "asteroid/model/cost_model.hpp"
#include "asteroid/model/memory_breakdown.hpp"

namespace asteroid {

struct DeviceMemory {
  int device = 0;
  int stage = 0;
  int samples = 0;    // per micro-batch
  int in_flight = 0;  // micro-batches whose activations it keeps (1F1B's K_p)
  bool recompute = false;  // keeps only their inputs, and recomputes (cost_model.hpp)
  MemoryBreakdown memory;
  double usable_bytes = 0;
};

// Per device of a feasible evaluated plan (its shares filled in), in the plan's order; each
// total equals the Evaluation's peak_memory_bytes for that device.
std::vector<DeviceMemory> plan_memory(const CostModel& model, const Evaluation& ev);

}  // namespace asteroid
