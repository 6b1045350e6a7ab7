// Alg. 1 (intra-stage allocation; docs/method.md section 3.2) solved exactly by water-filling.
//
// Each device d of a stage's group has a step time T_d(y) (forward + backward of the stage's layers
// for y samples, piecewise linear between the trace's batch sizes and non-decreasing, layer_table.hpp)
// and a memory cap. Handing out beta samples one at a time to the device that would finish soonest
// with one more (ties to the earlier device of the group) minimises the slowest device; it takes
// exactly the beta smallest of the items (T_d(y), d, y), y = 1..cap_d, in that order. This finds
// the same items without visiting them one by one:
// - devices with the same table and cap form a class (identical devices are the common case), so
//   the work is per class, not per device;
// - the continuous water level tau at which the classes' real-valued shares add up to beta is
//   found over the breakpoints of the piecewise-linear T (the trace's batch sizes);
// - every item strictly below a level just under tau is taken (counted exactly with the same
//   floating-point T as the one-at-a-time rule), and the few items left are taken level by level
//   in (T, device) order, the last level's ties by position in the group.
// O(C (K log(C K) + C)) for C classes and K trace batch sizes, plus the tie levels; identical shares
// to the one-at-a-time rule, which tests/core/test_cost_model.cpp keeps as the reference.
#pragma once

#include <vector>

#include "asteroid/input/layer_table.hpp"

namespace asteroid::detail {

// Forward + backward time of layers [first, last] for y samples on a device with table t: the one
// expression every allocation compares, so that ties are decided on identical values.
inline double step_time(const LayerTable& t, int first, int last, int y) {
  BatchPoint b = t.locate(y);
  return t.fwd_s(first, last, b) + t.bwd_s(first, last, b);
}

// Shares of beta samples over n devices (tables[i], caps[i] samples at most; sum of caps >= beta),
// written to shares[0..n).
void allocate_shares(const LayerTable* const* tables, const long long* caps, int n, int first, int last,
                     int beta, int* shares);

// The reference: one sample at a time through a priority queue (O(beta log n)).
void allocate_shares_one_by_one(const LayerTable* const* tables, const long long* caps, int n, int first,
                                int last, int beta, int* shares);

}  // namespace asteroid::detail
