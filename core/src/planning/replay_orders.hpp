// The device orders the replay search walks (replay_search.cpp): the classes of identical devices,
// which orders of them are searched, and where a partial plan stands in its order. Internal to
// core/src.
#pragma once

#include <vector>

#include "asteroid/input/cluster.hpp"
#include "asteroid/planning/planner.hpp"
#include "planning/planner_common.hpp"

namespace asteroid::replay_detail {

// Where the device order stands: the classes used up (in order), the class being used and how
// many of its devices are. A group is the next devices from here: the rest of the current class,
// then (when it runs out) the next class of some order, and so on.
struct DevState {
  std::vector<int> done;
  int cur = -1;  // -1: no device used yet
  int used = 0;
};

// The space's device classes and which orders of them are searched.
class ClassOrders {
 public:
  ClassOrders(const Cluster& c, int max_orders) : members_(device_classes(c)) {
    double all = 1;
    for (size_t k = 2; k <= members_.size(); ++k) all *= double(k);
    orders_ = planner_device_orders_as_classes(int(members_.size()), max_orders);
    every_order_ = double(orders_.size()) >= all;
  }
  int size() const { return int(members_.size()); }
  const std::vector<int>& members(int k) const { return members_[size_t(k)]; }
  bool every_order() const { return every_order_; }

  // Whether class `next` may follow the classes of `s` (done, then cur): some searched order
  // starts so.
  bool may_follow(const DevState& s, int next) const {
    if (next == s.cur || std::count(s.done.begin(), s.done.end(), next)) return false;
    if (every_order_) return true;
    for (const std::vector<int>& o : orders_) {
      size_t i = 0;
      for (; i < s.done.size(); ++i)
        if (o[i] != s.done[i]) break;
      if (i < s.done.size()) continue;
      if (s.cur >= 0 && o[i++] != s.cur) continue;
      if (o[i] == next) return true;
    }
    return false;
  }

  // Devices left after `s` that a later stage may still use.
  int left(const DevState& s) const {
    int n = 0;
    for (int k = 0; k < size(); ++k)
      if (k != s.cur && !std::count(s.done.begin(), s.done.end(), k)) n += int(members_[size_t(k)].size());
    if (s.cur >= 0) n += int(members_[size_t(s.cur)].size()) - s.used;
    return n;
  }

  // Every device used up (what use_all_devices asks of a plan's end).
  bool all_used(const DevState& s) const {
    return s.cur >= 0 && int(s.done.size()) + 1 == size() && s.used == int(members_[size_t(s.cur)].size());
  }

  // The devices from `a` to `b` (b reached from a by taking devices).
  void between(const DevState& a, const DevState& b, std::vector<int>& out) const {
    out.clear();
    if (b.cur == a.cur) {
      for (int i = a.used; i < b.used; ++i) out.push_back(members_[size_t(a.cur)][size_t(i)]);
      return;
    }
    if (a.cur >= 0)
      for (size_t i = size_t(a.used); i < members_[size_t(a.cur)].size(); ++i) out.push_back(members_[size_t(a.cur)][i]);
    // b.done extends a.done by a.cur (if any) then the classes used up in between.
    for (size_t j = a.done.size() + (a.cur >= 0 ? 1 : 0); j < b.done.size(); ++j)
      for (int d : members_[size_t(b.done[j])]) out.push_back(d);
    for (int i = 0; i < b.used; ++i) out.push_back(members_[size_t(b.cur)][size_t(i)]);
  }

 private:
  // The class permutations planner_device_orders searches, in its order.
  static std::vector<std::vector<int>> planner_device_orders_as_classes(int k, int max_orders) {
    std::vector<int> perm(size_t(k), 0);
    for (int i = 0; i < k; ++i) perm[size_t(i)] = i;
    std::vector<std::vector<int>> out;
    do out.push_back(perm);
    while (std::next_permutation(perm.begin(), perm.end()) && (max_orders <= 0 || int(out.size()) < max_orders));
    return out;
  }

  std::vector<std::vector<int>> members_;
  std::vector<std::vector<int>> orders_;
  bool every_order_ = true;
};

}  // namespace asteroid::replay_detail
