#include "asteroid/input/cluster.hpp"

#include <algorithm>
#include <map>
#include <numeric>
#include <tuple>

namespace asteroid {

int Cluster::index_of(const std::string& name) const {
  for (int i = 0; i < size(); ++i)
    if (devices[i].name == name) return i;
  return -1;
}

Cluster make_cluster(const Scenario& s) {
  Cluster c;
  // One table per type, power mode and speed factor (one optimizer per scenario).
  std::map<std::tuple<std::string, std::string, double>, std::shared_ptr<const LayerTable>> tables;
  for (size_t i = 0; i < s.devices.size(); ++i) {
    const DeviceSpec& d = s.devices[i];
    const Profile& p = device_profile(s, int(i));
    auto key = std::make_tuple(d.type, device_power_mode(s, int(i)), d.speed_factor);
    auto& t = tables[key];
    if (!t) t = std::make_shared<LayerTable>(p, d.speed_factor, s.training.optimizer, &s.training.layers);
    Device dev;
    dev.name = d.name;
    dev.type = d.type;
    dev.table = t;
    dev.memory_bytes = d.memory_bytes ? *d.memory_bytes : p.usable_memory_bytes;
    c.devices.push_back(dev);
  }
  int n = c.size();
  c.network = s.network.network;
  c.network_host.resize(n);
  std::iota(c.network_host.begin(), c.network_host.end(), 0);
  c.bandwidth_Bps.assign(n, std::vector<double>(n, 0));
  c.latency_s.assign(n, std::vector<double>(n, 0));
  for (int a = 0; a < n; ++a)
    for (int b = 0; b < n; ++b)
      if (a != b) {
        c.bandwidth_Bps[a][b] = c.network->route_bandwidth_Bps(a, b);
        c.latency_s[a][b] = c.network->route_latency_s(a, b);
      }
  return c;
}

void attach_network_from_matrices(Cluster& c) {
  const int n = c.size();
  bool uniform = true;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      if (i != j && (c.bandwidth_Bps[i][j] != c.bandwidth_Bps[0][1] || c.latency_s[i][j] != c.latency_s[0][1]))
        uniform = false;
  std::vector<std::string> names;
  for (const Device& d : c.devices) names.push_back(d.name);
  GraphSpec g;
  if (uniform && n > 1) {
    g.switches = {"switch"};
    for (const std::string& d : names)
      g.links.push_back({d, "switch", c.bandwidth_Bps[0][1], c.latency_s[0][1] / 2, Duplex::full});
    g.coordinator = "switch";
  } else if (n == 1) {
    g.switches = {"switch"};
    g.links.push_back({names[0], "switch", 1e12, 0, Duplex::full});
    g.coordinator = "switch";
  } else {
    for (int i = 0; i < n; ++i)
      for (int j = i + 1; j < n; ++j)
        g.links.push_back({names[i], names[j], std::min(c.bandwidth_Bps[i][j], c.bandwidth_Bps[j][i]),
                           std::max(c.latency_s[i][j], c.latency_s[j][i]), Duplex::full});
  }
  std::string why;
  c.network = Network::build(names, g, &why);
  c.network_host.resize(n);
  std::iota(c.network_host.begin(), c.network_host.end(), 0);
}

std::vector<int> planner_device_order(const Cluster& c) {
  std::vector<int> order(c.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    const Device& x = c.devices[a];
    const Device& y = c.devices[b];
    if (x.memory_bytes != y.memory_bytes) return x.memory_bytes > y.memory_bytes;
    if (x.speed() != y.speed()) return x.speed() > y.speed();
    return x.name < y.name;
  });
  return order;
}

}  // namespace asteroid
