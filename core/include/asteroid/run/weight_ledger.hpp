// Which version of which layer's weights (and optimizer state) each device holds, so that a backend
// can check that no trained weights are lost: after a failure, every layer's last checkpointed
// version must still be on a surviving device. Version v = the weights after v optimizer steps.
// Holder index `devices` (one past the last device) is the coordinator's checkpoint store.
#pragma once

#include <set>
#include <vector>

namespace asteroid {

class WeightLedger {
 public:
  WeightLedger(int devices, int layers);

  int coordinator() const { return devices_; }
  // `holder` now also holds layers [first, last] at `version`.
  void add(int holder, int first, int last, int version);
  // `holder` lost everything it held (it left).
  void clear(int holder);
  // Versions newer than `version` are discarded everywhere (an aborted round's updates).
  void rollback(int version);
  // Versions older than `version` are no longer needed anywhere (a newer checkpoint exists).
  void prune(int version);

  bool holds(int holder, int layer, int version) const { return held_[holder][layer].count(version) > 0; }

  // Layers whose `version` is held by no holder with alive[holder] (the coordinator is always
  // alive). O(holders x layers).
  std::vector<int> missing(int version, const std::vector<bool>& alive) const;
  // The fewest alive holders any layer's `version` has (copies that survive one more failure: >= 2).
  int min_copies(int version, const std::vector<bool>& alive) const;

 private:
  int devices_, layers_;
  std::vector<std::vector<std::set<int>>> held_;  // [holder][layer] -> versions
};

}  // namespace asteroid
