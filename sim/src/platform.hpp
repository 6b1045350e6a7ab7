// The SimGrid platform of a cluster: one host per device (its memory as a host property), one more
// host for the coordinator, and the network.
//   star (default): every host hangs off one switch by its own full-duplex (split-duplex) link with
//        the scenario's bandwidth and half its latency, so a message between two devices crosses
//        the sender's uplink and the receiver's downlink: the scenario's latency end to end, and
//        a NIC shared by all the flows that leave (or enter) that device.
//   wifi: every message crosses one shared half-duplex medium of the scenario's bandwidth (all
//        flows, both directions, share it), with the scenario's latency.
//   star with pairwise overrides: as the star, except that an overridden pair talks over a link of
//        its own with the override's bandwidth and latency (not through the switch).
//   wifi: pairwise overrides are not modelled (a note is printed).
#pragma once

#include <simgrid/s4u.hpp>

#include <vector>

#include "asteroid/cluster.hpp"
#include "asteroid/scenario.hpp"

namespace asteroid::sim {

struct Platform {
  std::vector<simgrid::s4u::Host*> hosts;  // per cluster device
  simgrid::s4u::Host* coordinator = nullptr;
  std::vector<simgrid::s4u::Link*> links;  // per device: its link to the switch (star) or the medium
};

// Host speed: 1 Gflop/s, so that an execution of `s x 1e9` flops takes s seconds (the profile's
// time); slowdowns from the fault script become speed profiles (fraction of that peak).
constexpr double kHostSpeed = 1e9;

Platform build_platform(const Cluster& c, const NetworkSpec& net, const FaultSpec& faults);

}  // namespace asteroid::sim
