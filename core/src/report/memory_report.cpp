#include "asteroid/report/memory_report.hpp"

#include <algorithm>
#include <cstdio>

#include "asteroid/input/units.hpp"

namespace asteroid {

std::string memory_against_prediction_text(const RunReport& r, const std::vector<DeviceMemory>& predicted) {
  std::string t;
  for (const DeviceMemory& m : predicted) {
    const size_t d = size_t(m.device);
    const double held = d < r.peak_allocated_bytes.size() ? r.peak_allocated_bytes[d] : 0;
    if (held <= 0 || d >= r.devices.size()) continue;
    const double want = m.memory.total_bytes();
    char buf[240];
    std::snprintf(buf, sizeof buf, "  %-10s predicted %10s   allocated %10s (%.2fx)   resident %10s\n",
                  r.devices[d].c_str(), units::format_bytes(want).c_str(), units::format_bytes(held).c_str(),
                  want > 0 ? held / want : 0.0,
                  units::format_bytes(d < r.peak_memory_bytes.size() ? r.peak_memory_bytes[d] : 0).c_str());
    t += buf;
  }
  if (t.empty()) return t;
  return "memory per device: the cost model's peak for plan 0 (weights, gradients, optimizer state, "
         "activations in flight), the most libtorch's allocator held in a training round (tensors alone), the "
         "process's resident peak" +
         std::string(r.plans.size() > 1 ? "; the measured peaks span every plan of the run" : "") + ":\n" + t;
}

}  // namespace asteroid
