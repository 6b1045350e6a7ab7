// Weighted max-min fair sharing of channels by flows (progressive filling, "water-filling"), as
// SimGrid's CM02 network model solves it: the one solver of both 1F1B replays (pipeline_schedule.hpp),
// the star of full-duplex ports (pipeline_schedule.cpp) and the network graph (schedule_flows.cpp).
//
// Every flow's rate is level / penalty: a common level rises until some channel is full (the sum of
// the rates of its flows reaches its capacity) or some flow meets its own bound; the flows of that
// channel, or that flow, keep their rate, and the level rises on for the rest.
#pragma once

#include <limits>
#include <vector>

namespace asteroid {

// One flow of a sharing problem. The channels are borrowed: they must outlive the call.
struct SharedFlow {
  const int* channels = nullptr;  // indices into the capacities; a flow crosses each at most once
  int num_channels = 0;
  // CM02's sharing penalty (> 0): on a channel, rates go as 1 / penalty. 1 for equal shares.
  double penalty = 1;
  // The most rate the flow may take (same unit as the capacities); infinity for none.
  double max_rate = std::numeric_limits<double>::infinity();
};

// The max-min fair rate of each flow, into `rates` (resized to flows.size()), in the unit of
// `capacity` (one entry per channel, >= 0; bytes per second, or fractions of a link's rate). Flows
// whose bottleneck ties are fixed in the same round, in the order given, which makes the result a
// function of the flows' order only through rounding. O(rounds x (flows x channels per flow +
// channels used)); rounds <= number of flows.
void max_min_rates(const std::vector<SharedFlow>& flows, const std::vector<double>& capacity,
                   std::vector<double>& rates);

}  // namespace asteroid
