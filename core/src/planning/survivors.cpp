#include "asteroid/planning/survivors.hpp"

#include <algorithm>

namespace asteroid {

SurvivorModel survivors_model(const CostModel& full, const std::vector<int>& dead) {
  const Cluster& c = full.cluster();
  std::vector<int> keep;
  for (int d = 0; d < c.size(); ++d)
    if (std::find(dead.begin(), dead.end(), d) == dead.end()) keep.push_back(d);
  Cluster s;
  s.network = c.network;
  for (int d : keep) {
    s.devices.push_back(c.devices[d]);
    s.network_host.push_back(c.network_host[d]);
  }
  s.bandwidth_Bps.assign(keep.size(), std::vector<double>(keep.size(), 0));
  s.latency_s.assign(keep.size(), std::vector<double>(keep.size(), 0));
  for (size_t i = 0; i < keep.size(); ++i)
    for (size_t j = 0; j < keep.size(); ++j) {
      s.bandwidth_Bps[i][j] = c.bandwidth_Bps[keep[i]][keep[j]];
      s.latency_s[i][j] = c.latency_s[keep[i]][keep[j]];
    }
  return {CostModel(std::move(s), full.options()), keep};
}

Plan to_full_indices(const Plan& p, const std::vector<int>& to_full) {
  Plan out = p;
  for (auto& st : out.stages)
    for (int& d : st.devices) d = to_full[d];
  return out;
}

}  // namespace asteroid
