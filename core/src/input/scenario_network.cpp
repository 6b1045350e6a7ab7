#include "input/scenario_network.hpp"

#include <set>

#include "asteroid/input/limits.hpp"

namespace asteroid {
namespace {

// Names of the nodes the shorthands add; a device may not take them.
constexpr const char* kStarSwitch = "switch";
constexpr const char* kWifiMedium = "air";

void parse_overrides(const JsonReader& r, Scenario& s) {
  if (!r.has("overrides")) return;
  JsonReader ov = r.at("overrides");
  const size_t n = s.devices.size();
  for (size_t i = 0; i < ov.size_at_most(n * (n - 1) / 2); ++i) {
    JsonReader o = ov.at(i);
    o.allow_only({"devices", "bandwidth", "latency"});
    JsonReader pair = o.at("devices");
    if (pair.size() != 2) pair.fail("must name exactly two devices");
    LinkOverride lo;
    lo.a = pair.at(0).string();
    lo.b = pair.at(1).string();
    if (s.device_index(lo.a) < 0) pair.at(0).fail("unknown device \"" + lo.a + "\"");
    if (s.device_index(lo.b) < 0) pair.at(1).fail("unknown device \"" + lo.b + "\"");
    if (lo.a == lo.b) pair.fail("a link joins two different devices");
    lo.bandwidth_Bps =
        o.has("bandwidth")
            ? o.at("bandwidth").bandwidth_in(limits::kMinBandwidthBps, limits::kMaxBandwidthBps)
            : s.network.bandwidth_Bps;
    lo.latency_s =
        o.has("latency") ? o.at("latency").seconds_in(0, limits::kMaxLatencyS) : s.network.latency_s;
    s.network.overrides.push_back(lo);
  }
}

// star: one switch, each device on a full-duplex link of the scenario's bandwidth and half its
// latency (device to device: the scenario's latency); wifi: one medium, every device a station.
// Overrides are links of their own between two devices.
void shorthand_graph(const JsonReader& r, Scenario& s) {
  NetworkSpec& n = s.network;
  const char* hub = n.topology == Topology::star ? kStarSwitch : kWifiMedium;
  if (s.device_index(hub) >= 0)
    (r.has("topology") ? r.at("topology") : r)
        .fail(std::string("a device named \"") + hub + "\" clashes with the " + to_string(n.topology) +
              " topology's own node; rename the device");
  GraphSpec& g = n.graph;
  if (n.topology == Topology::star) {
    g.switches = {kStarSwitch};
    for (const DeviceSpec& d : s.devices)
      g.links.push_back({d.name, kStarSwitch, n.bandwidth_Bps, n.latency_s / 2, Duplex::full});
  } else {
    MediumSpec m{kWifiMedium, n.bandwidth_Bps, n.latency_s, {}};
    for (const DeviceSpec& d : s.devices) m.stations.push_back(d.name);
    g.media = {m};
  }
  for (const LinkOverride& o : n.overrides)
    g.links.push_back({o.a, o.b, o.bandwidth_Bps, o.latency_s, Duplex::full});
  g.coordinator = hub;
}

void parse_graph(const JsonReader& r, Scenario& s) {
  for (const char* shorthand : {"bandwidth", "latency", "overrides"})
    if (r.has(shorthand))
      r.at(shorthand).fail(
          "belongs to the star and wifi shorthands; a graph gives each link and medium its own");
  GraphSpec& g = s.network.graph;
  std::set<std::string> names;  // every node's name
  for (const DeviceSpec& d : s.devices) names.insert(d.name);
  auto new_name = [&](const JsonReader& at) {
    std::string name = at.string();
    if (name.empty()) at.fail("must not be empty");
    if (name == "coordinator") at.fail("\"coordinator\" is the coordinator's host; choose another name");
    if (!names.insert(name).second) at.fail("\"" + name + "\" already names a device, switch or medium");
    return name;
  };
  if (r.has("switches")) {
    JsonReader sw = r.at("switches");
    for (size_t i = 0; i < sw.size_at_most(limits::kMaxDevices); ++i)
      g.switches.push_back(new_name(sw.at(i)));
  }
  if (r.has("media")) {
    JsonReader media = r.at("media");
    for (size_t i = 0; i < media.size_at_most(limits::kMaxDevices); ++i) {
      JsonReader m = media.at(i);
      m.allow_only({"name", "bandwidth", "latency", "stations"});
      MediumSpec spec{new_name(m.at("name")),
                      m.at("bandwidth").bandwidth_in(limits::kMinBandwidthBps, limits::kMaxBandwidthBps),
                      m.at("latency").seconds_in(0, limits::kMaxLatencyS),
                      {}};
      JsonReader st = m.at("stations");
      std::set<std::string> seen;
      for (size_t k = 0; k < st.size(); ++k) {
        std::string d = st.at(k).string();
        if (s.device_index(d) < 0)
          st.at(k).fail("unknown device \"" + d +
                        "\" (a station is a device; join a switch to a medium by a link)");
        if (!seen.insert(d).second) st.at(k).fail("\"" + d + "\" is a station twice");
        spec.stations.push_back(d);
      }
      g.media.push_back(spec);
    }
  }
  if (r.has("links")) {
    JsonReader links = r.at("links");
    for (size_t i = 0; i < links.size_at_most(limits::kMaxLinks); ++i) {
      JsonReader l = links.at(i);
      l.allow_only({"between", "bandwidth", "latency", "duplex"});
      JsonReader ends = l.at("between");
      if (ends.size() != 2) ends.fail("must name exactly two nodes");
      LinkSpec spec;
      spec.a = ends.at(0).string();
      spec.b = ends.at(1).string();
      for (int k = 0; k < 2; ++k) {
        const std::string& end = k == 0 ? spec.a : spec.b;
        if (!names.count(end))
          ends.at(k).fail("unknown node \"" + end + "\" (not a device, switch or medium of this network)");
      }
      if (spec.a == spec.b) ends.fail("a link joins two different nodes");
      spec.bandwidth_Bps = l.at("bandwidth").bandwidth_in(limits::kMinBandwidthBps, limits::kMaxBandwidthBps);
      spec.latency_s = l.at("latency").seconds_in(0, limits::kMaxLatencyS);
      if (l.has("duplex")) {
        std::string d = l.at("duplex").string();
        if (d == "half")
          spec.duplex = Duplex::half;
        else if (d != "full")
          l.at("duplex").fail("must be \"full\" or \"half\", found \"" + d + "\"");
      }
      g.links.push_back(spec);
    }
  }
  if (g.links.empty() && g.media.empty()) r.fail("a graph needs links or media");
  if (r.has("coordinator")) {
    g.coordinator = r.at("coordinator").string();
    bool hub = false;
    for (const auto& sw : g.switches) hub |= sw == g.coordinator;
    for (const auto& m : g.media) hub |= m.name == g.coordinator;
    if (!hub) r.at("coordinator").fail("\"" + g.coordinator + "\" is not a switch or medium of this network");
  } else {
    g.coordinator = !g.switches.empty() ? g.switches.front() : g.media.front().name;
  }
}

}  // namespace

void parse_network(const JsonReader& r, Scenario& s) {
  r.allow_only(
      {"bandwidth", "latency", "topology", "overrides", "switches", "media", "links", "coordinator"});
  NetworkSpec& n = s.network;
  bool graph_keys = r.has("switches") || r.has("media") || r.has("links") || r.has("coordinator");
  if (r.has("topology")) {
    n.topology = r.at("topology").token(kTopologies);
    if (graph_keys && n.topology != Topology::graph)
      r.at("topology").fail(std::string("is \"") + to_string(n.topology) +
                            "\", but the network names switches, media or links (a graph)");
  } else if (graph_keys) {
    n.topology = Topology::graph;
  }
  if (n.topology == Topology::graph) {
    parse_graph(r, s);
  } else {
    n.bandwidth_Bps = r.at("bandwidth").bandwidth_in(limits::kMinBandwidthBps, limits::kMaxBandwidthBps);
    n.latency_s = r.at("latency").seconds_in(0, limits::kMaxLatencyS);
    parse_overrides(r, s);
    shorthand_graph(r, s);
  }
  std::vector<std::string> devices;
  for (const DeviceSpec& d : s.devices) devices.push_back(d.name);
  std::string why;
  n.network = Network::build(devices, n.graph, &why);
  if (!n.network) r.fail(why);
}

}  // namespace asteroid
