// The devices and links of a scenario, in the form the cost model reads: per device its layer-time
// table (from its type's profile), its memory; the network graph (network.hpp), and per pair of
// devices its route's bottleneck bandwidth and latency (what one transfer alone gets).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "asteroid/input/layer_table.hpp"
#include "asteroid/input/network.hpp"
#include "asteroid/input/scenario.hpp"

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
  // The graph the routes come from, and each device's host index in it. A cluster built by hand
  // may leave it out: the CostModel then reads the matrices as a star (uniform) or as a link of
  // its own per pair (network_from_matrices).
  std::shared_ptr<const Network> network;
  std::vector<int> network_host;

  int size() const { return int(devices.size()); }
  int index_of(const std::string& name) const;  // -1 when unknown
  // The channels the route from device a to device b crosses, appended to `out`.
  void route_channels(int a, int b, std::vector<int>* out) const {
    network->route_channels(network_host[a], network_host[b], out);
  }
};

// A network for the matrices of a cluster built by hand: a star of full-duplex links when every
// pair has the same bandwidth and latency (each link half the latency), else a full-duplex link
// per pair. Fills c.network and c.network_host.
void attach_network_from_matrices(Cluster& c);

// One table per device type, shared by the devices of that type.
Cluster make_cluster(const Scenario& s);

// The device order the planner searches over: memory, largest first, then speed, fastest first,
// then name (so that the order is total and repeatable).
std::vector<int> planner_device_order(const Cluster& c);

}  // namespace asteroid
