// The devices and links of a scenario, in the form the cost model reads: per device its layer-time
// table (from its type's profile), its memory; per pair of devices the bandwidth and latency.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "asteroid/layer_table.hpp"
#include "asteroid/scenario.hpp"

namespace asteroid {

struct Device {
  std::string name;
  std::string type;
  std::shared_ptr<const LayerTable> table;  // per-layer times for this device (speed factor applied)
  double memory_bytes = 0;                  // usable for training

  // Samples per second of the whole model at the table's largest profiled batch: the order the
  // planner sorts devices by, after memory.
  double speed() const { return table->whole_model_speed(); }
};

struct Cluster {
  std::vector<Device> devices;
  std::vector<std::vector<double>> bandwidth_Bps;  // [i][j], bytes per second; unused on i == j
  std::vector<std::vector<double>> latency_s;      // [i][j]

  int size() const { return int(devices.size()); }
  int index_of(const std::string& name) const;  // -1 when unknown
};

// One table per device type, shared by the devices of that type.
Cluster make_cluster(const Scenario& s);

// The device order the planner searches over: memory, largest first, then speed, fastest first,
// then name (so that the order is total and repeatable).
std::vector<int> planner_device_order(const Cluster& c);

}  // namespace asteroid
