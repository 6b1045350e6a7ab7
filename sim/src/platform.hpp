// The SimGrid platform of a cluster, built from its network graph (core network.hpp): one host
// per device (its memory as a host property), one more host for the coordinator, and a SimGrid link
// per link of the graph: split-duplex (each direction its own capacity) when full duplex, shared
// when half duplex; a medium is one shared link that every transfer crossing it shares, whichever
// way. A star (every host on one switch or medium, as the `star` and `wifi` shorthands are) is a
// star zone; any other graph is a full zone with every pair's route, as the graph routes it.
#pragma once

#include <simgrid/s4u.hpp>

#include <vector>

#include "asteroid/input/cluster.hpp"
#include "asteroid/input/scenario.hpp"

namespace asteroid::sim {

struct Platform {
  std::vector<simgrid::s4u::Host*> hosts;  // per cluster device
  simgrid::s4u::Host* coordinator = nullptr;
  std::vector<simgrid::s4u::Link*> links;  // per device: its own link, or its medium (link_slowdown)
};

// Host speed: 1 Gflop/s, so that an execution of `s x 1e9` flops takes s seconds (the profile's
// time); slowdowns from the fault script become speed profiles (fraction of that peak).
constexpr double kHostSpeed = 1e9;

Platform build_platform(const Cluster& c, const FaultSpec& faults);

}  // namespace asteroid::sim
