// Floors of the replay search (replay_search.cpp): what the stages not yet placed take at least,
// from the network (NetFloors) and from the layers' least work on the devices (Work), and what a
// partial plan proves of its missing stages (rest_of, replay_bound.hpp's ReplayRest). Each is a
// chain of operations the replay must run one after another, timed as if alone: never above the
// optimum (checked against exhaustive enumeration at every cut, tests/core/test_replay_search.cpp).
// Internal to core/src.
#pragma once

#include <vector>

#include "asteroid/model/cost_model.hpp"
#include "asteroid/planning/replay_bound.hpp"

namespace asteroid::replay_detail {

// What any flow between two devices takes at least (replay_bound.cpp's "alone" time): its
// route's latency, then its bytes at the lower of its slowest channel and its TCP window.
// From each device to the one it reaches soonest, and over every pair; with the least bytes per
// sample any layer's output takes (over the device classes' tables, as stage_network_use reads
// them from the receiving stage's). Only with the network modelled; with more than
// kMaxFloorDevices devices the pairs are not scanned and the floors are 0 (still floors).
constexpr int kMaxFloorDevices = 1024;
struct NetFloors {
  bool known = false;
  std::vector<double> lat_from, inv_rate_from;  // [device]: the least over every other device
  double lat = 0, inv_rate = 0;                 // the least over every pair
  std::vector<double> out_bytes;                // [l]: per sample, the least over the tables
  std::vector<double> out_after;                // [l]: the least of out_bytes over l..L-2
  double one(double bytes) const { return known ? lat + bytes * inv_rate : 0.0; }
};

// Builds the floors (empty, `known` false, when the network is ignored or too large to scan).
NetFloors net_floors(const CostModel& m);

// Per micro-batch size: the least work of the layers and the capacity of the devices (the bound of
// planner_common.hpp's RestBound), by device; and what the stages still to place take at least.
struct Work {
  std::vector<double> after;      // [l]: per sample, layers l.. at their least time
  std::vector<double> inverse_lambda;  // [device]
  // [l][k]: over every split of layers l.. into k stages, each on any group of devices, the least
  // of the longest chain through a stage's busiest member: micro-batch 0 through the stages
  // before it (each at least its layers' least forward time of one sample, then a flow of one
  // sample's output), then its M forwards and backwards, then its tail. A stage of layers W on g
  // devices has a member busy at least M beta W / (the g largest 1 / lambda), then its optimizer
  // step and, for g > 1, the ring's 2(g-1) steps, each at least a flow of the 1/g of its
  // parameters alone on the network. The device count is not shared out among the stages (each
  // may take the best g), so this holds for any devices left.
  int columns = 0;
  std::vector<double> stages;
  double stages_after(int l, int k) const { return stages[size_t(l) * size_t(columns) + size_t(k)]; }
  // The same chain without the tail, but with micro-batch M-1's way back (each earlier stage's
  // least backward time of one sample, and a flow), which replay_bound.cpp follows with the given
  // stages' way back and stage 0's tail.
  std::vector<double> stages_back;
  double stages_back_after(int l, int k) const { return stages_back[size_t(l) * size_t(columns) + size_t(k)]; }
  // The same chain with the devices shared out: the stages' groups are disjoint, so their
  // capacities (sum of 1 / lambda) add up to at most the devices left's. For a chain of T, stage
  // q (after its stages' way through, d_q) needs a capacity of at least M beta W_q / (T - d_q);
  // need[l][k][g] is the least sum of those over every split of layers l.. into k stages, for T =
  // grid[g] (each later T rounded up to the grid: need only falls with T, so it stays a floor).
  // Where it exceeds the capacity left, every plan's chain is longer than grid[g].
  std::vector<double> grid;  // increasing; empty when not built (too large a table)
  std::vector<double> need;
  // Seconds, no longer than that chain (0 when nothing is known).
  double shared_out(int l, int k, double capacity) const {
    if (grid.empty()) return 0;
    const size_t base = (size_t(l) * size_t(columns) + size_t(k)) * grid.size();
    // need falls as g grows: the last g whose need exceeds the capacity.
    size_t lo = 0, hi = grid.size();
    while (lo < hi) {
      const size_t mid = (lo + hi) / 2;
      if (need[base + mid] > capacity) lo = mid + 1;
      else hi = mid;
    }
    return lo == 0 ? 0.0 : grid[lo - 1];
  }
};

// The tables for micro-batch size `beta`, groups of at most `max_group` devices (0: any).
Work work_of(const CostModel& m, int beta, const NetFloors& net, int max_group);

// What a partial plan proves of its missing stages (replay_bound.hpp's ReplayRest), once its last
// stage p (layers ..l1 on `devices` with `shares`) is placed in a plan of P stages; `cap_rest`:
// the devices left's sum of 1 / lambda.
ReplayRest rest_of(const Work& w, const NetFloors& net, int beta, int P, int p, int l1,
                   const std::vector<int>& devices, const std::vector<int>& shares, double cap_rest);

}  // namespace asteroid::replay_detail
