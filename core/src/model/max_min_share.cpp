#include "model/max_min_share.hpp"

#include <algorithm>

namespace asteroid {

void max_min_rates(const std::vector<SharedFlow>& flows, const std::vector<double>& capacity,
                   std::vector<double>& rates) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  rates.assign(flows.size(), 0.0);
  if (flows.empty()) return;
  std::vector<double> cap = capacity;
  std::vector<double> weight(cap.size(), 0.0);  // per channel: sum of 1 / penalty of its unfixed flows
  std::vector<int> users(cap.size(), 0), used;  // unfixed flows per channel; the channels some flow crosses
  for (const SharedFlow& f : flows)
    for (int k = 0; k < f.num_channels; ++k) {
      const int c = f.channels[k];
      if (users[c]++ == 0) used.push_back(c);
      weight[c] += 1 / f.penalty;
    }
  std::vector<bool> fixed(flows.size(), false);
  size_t left = flows.size();
  while (left > 0) {
    double level = kInf;
    for (int c : used)
      if (users[c] > 0) level = std::min(level, std::max(0.0, cap[c]) / weight[c]);
    for (size_t i = 0; i < flows.size(); ++i)
      if (!fixed[i]) level = std::min(level, flows[i].max_rate * flows[i].penalty);
    for (size_t i = 0; i < flows.size(); ++i) {
      if (fixed[i]) continue;
      const SharedFlow& f = flows[i];
      const double w = 1 / f.penalty;
      // Compared in the level's terms, as computed above, so that the flow that set it is fixed. A
      // channel drained by a flow fixed earlier in this round counts too: its share is the level.
      bool bottleneck = f.max_rate * f.penalty <= level;
      for (int k = 0; k < f.num_channels; ++k) bottleneck |= std::max(0.0, cap[f.channels[k]]) / weight[f.channels[k]] <= level;
      if (!bottleneck) continue;
      rates[i] = level * w;
      for (int k = 0; k < f.num_channels; ++k) {
        const int c = f.channels[k];
        cap[c] -= rates[i], weight[c] -= w, --users[c];
      }
      fixed[i] = true;
      --left;
    }
  }
}

}  // namespace asteroid
