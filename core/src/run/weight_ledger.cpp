#include "asteroid/run/weight_ledger.hpp"

#include <algorithm>

namespace asteroid {

WeightLedger::WeightLedger(int devices, int layers)
    : devices_(devices), layers_(layers), held_(devices + 1, std::vector<std::set<int>>(layers)) {}

void WeightLedger::add(int holder, int first, int last, int version) {
  for (int l = first; l <= last; ++l) held_[holder][l].insert(version);
}

void WeightLedger::clear(int holder) {
  for (auto& v : held_[holder]) v.clear();
}

void WeightLedger::rollback(int version) {
  for (auto& holder : held_)
    for (auto& v : holder) v.erase(v.upper_bound(version), v.end());
}

void WeightLedger::prune(int version) {
  for (auto& holder : held_)
    for (auto& v : holder) v.erase(v.begin(), v.lower_bound(version));
}

std::vector<int> WeightLedger::missing(int version, const std::vector<bool>& alive) const {
  std::vector<int> out;
  for (int l = 0; l < layers_; ++l) {
    bool found = false;
    for (int h = 0; h <= devices_ && !found; ++h)
      found = (h == devices_ || alive[h]) && held_[h][l].count(version);
    if (!found) out.push_back(l);
  }
  return out;
}

int WeightLedger::min_copies(int version, const std::vector<bool>& alive) const {
  int fewest = devices_ + 1;
  for (int l = 0; l < layers_; ++l) {
    int n = 0;
    for (int h = 0; h <= devices_; ++h) n += (h == devices_ || alive[h]) && held_[h][l].count(version);
    fewest = std::min(fewest, n);
  }
  return fewest;
}

}  // namespace asteroid
