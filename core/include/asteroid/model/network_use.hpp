// What a plan's round sends over the network, flow by flow, for the 1F1B replay
// (pipeline_schedule.hpp) to share the channels of the network graph (network.hpp) as the
// simulator does: the slices of each communication step and the ring steps of each all-reduce.
#pragma once

#include <limits>
#include <vector>

namespace asteroid {

// One transfer between two devices: it waits its route's latency, then moves its bytes at the
// rate it gets on the channels it crosses.
struct NetFlow {
  int sender = 0;    // device index: a device sends one message at a time per direction
  int receiver = 0;  // device index: it computes on this flow's samples once they landed
  std::vector<int> channels;
  double bytes = 0;
  double latency_s = 0;
};

// SimGrid's network/TCP-gamma default (bytes): CM02 bounds a flow's rate by gamma / (2 x latency),
// the window of a TCP connection over its round trip. The bound in bytes per second; none (infinity)
// for a flow of no latency.
constexpr double kTcpGammaBytes = 4194304;
inline double tcp_window_rate_Bps(const NetFlow& f) {
  return f.latency_s > 0 ? kTcpGammaBytes / (2 * f.latency_s) : std::numeric_limits<double>::infinity();
}

// The flows of one micro-batch's message through a communication step: one per pair of devices
// whose sample slices overlap, in the order their senders send them.
struct StepFlows {
  std::vector<NetFlow> forward;   // activations, downstream
  std::vector<NetFlow> backward;  // gradients, upstream
};

// A ring all-reduce: `steps` ring steps (2(g-1)), each the flows of `flows` at once.
struct RingFlows {
  int steps = 0;
  std::vector<NetFlow> flows;
};

// The devices of a compute step and each one's forward / backward time (seconds) per micro-batch
// for its share: a data-parallel group's members run the 1F1B order each on its own, as the
// Program's devices do, each waiting only for the slices it computes on.
struct StageMembers {
  std::vector<int> devices;
  std::vector<double> fwd_s, bwd_s;
};

struct NetworkUse {
  std::vector<double> capacity_Bps;   // per channel of the network
  std::vector<StageMembers> members;  // per step; empty for a communication step
  std::vector<StepFlows> comm;        // per step of the pipeline; empty for a compute step
  std::vector<RingFlows> ring;        // per step; steps == 0 without an all-reduce
  bool empty() const { return comm.empty(); }
};

}  // namespace asteroid
