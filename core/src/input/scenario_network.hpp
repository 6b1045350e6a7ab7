// Reading a scenario's `cluster.network`: the `star` and `wifi` shorthands and the graph form
// (switches, media, links), each written out as a graph and built into a Network (network.hpp).
#pragma once

#include "asteroid/input/json_reader.hpp"
#include "asteroid/input/scenario.hpp"

namespace asteroid {

// Needs s.devices read first. Throws InputError naming the JSON path of the problem.
void parse_network(const JsonReader& r, Scenario& s);

}  // namespace asteroid
