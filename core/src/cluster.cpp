#include "asteroid/cluster.hpp"

#include <algorithm>
#include <map>
#include <numeric>

namespace asteroid {

int Cluster::index_of(const std::string& name) const {
  for (int i = 0; i < size(); ++i)
    if (devices[i].name == name) return i;
  return -1;
}

Cluster make_cluster(const Scenario& s) {
  Cluster c;
  std::map<std::pair<std::string, double>, std::shared_ptr<const LayerTable>> tables;
  for (const auto& d : s.devices) {
    const Profile& p = s.profiles.at(d.type);
    auto key = std::make_pair(d.type, d.speed_factor);
    auto& t = tables[key];
    if (!t) t = std::make_shared<LayerTable>(p, d.speed_factor);
    Device dev;
    dev.name = d.name;
    dev.type = d.type;
    dev.table = t;
    dev.memory_bytes = d.memory_bytes ? *d.memory_bytes : p.usable_memory_bytes;
    c.devices.push_back(dev);
  }
  int n = c.size();
  c.bandwidth_Bps.assign(n, std::vector<double>(n, s.network.bandwidth_Bps));
  c.latency_s.assign(n, std::vector<double>(n, s.network.latency_s));
  for (const auto& o : s.network.overrides) {
    int a = c.index_of(o.a), b = c.index_of(o.b);
    c.bandwidth_Bps[a][b] = c.bandwidth_Bps[b][a] = o.bandwidth_Bps;
    c.latency_s[a][b] = c.latency_s[b][a] = o.latency_s;
  }
  return c;
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
