// The network as a graph: the topology format, routes and channels, errors for bad topologies,
// and the cost model's pricing on them (full duplex, shared media, rings, the replay).
#include <catch2/catch.hpp>

#include "asteroid/run/coordinator.hpp"
#include "asteroid/model/cost_model.hpp"
#include "asteroid/model/pipeline_schedule.hpp"
#include "asteroid/input/scenario.hpp"

using namespace asteroid;
using nlohmann::json;

namespace {

const std::string kData = ASTEROID_TEST_DATA;

// Four devices over the synthetic traces of tests/core/data, with the given network.
json scenario_with(const json& network) {
  json j = json::parse(R"({
    "schema_version": 1,
    "cluster": {"devices": [{"name": "a0", "type": "fast"}, {"name": "a1", "type": "fast"},
                            {"name": "b0", "type": "slow"}, {"name": "b1", "type": "slow"}]},
    "model": {"name": "synthetic"},
    "training": {"batch_size": 16},
    "traces": {"fast": "fast.json", "slow": "slow.json"}
  })");
  j["cluster"]["network"] = network;
  return j;
}

Scenario load(const json& network) {
  auto r = parse_scenario(scenario_with(network), "net.json", kData);
  INFO((r.ok() ? std::string() : r.error().str()));
  REQUIRE(r.ok());
  return r.value();
}

std::string error_of(const json& network) {
  auto r = parse_scenario(scenario_with(network), "net.json", kData);
  REQUIRE_FALSE(r.ok());
  return r.error().str();
}

// Two rooms: a0, a1 on switch "lab", b0, b1 on switch "office", one uplink between them.
json two_rooms(const std::string& uplink_duplex = "full") {
  return json::parse(R"({"switches": ["lab", "office"], "links": [
      {"between": ["a0", "lab"], "bandwidth": "1Gbps", "latency": "0.1ms"},
      {"between": ["a1", "lab"], "bandwidth": "1Gbps", "latency": "0.1ms"},
      {"between": ["b0", "office"], "bandwidth": "1Gbps", "latency": "0.1ms"},
      {"between": ["b1", "office"], "bandwidth": "1Gbps", "latency": "0.1ms"},
      {"between": ["lab", "office"], "bandwidth": "100Mbps", "latency": "0.3ms", "duplex": ")" +
                     uplink_duplex + R"("}]})");
}

CostModel model_of(const Scenario& s) {
  CostOptions o;
  o.batch_size = s.training.batch_size;
  return CostModel(make_cluster(s), o);
}

}  // namespace

TEST_CASE("network: the star shorthand is a switch with a full-duplex link per device", "[network]") {
  Scenario s = load(json::parse(R"({"bandwidth": "100Mbps", "latency": "0.5ms"})"));
  const Network& n = *s.network.network;
  CHECK(n.star_center() >= 0);
  CHECK_FALSE(n.has_shared_channels());
  CHECK(n.route_latency_s(0, 3) == Approx(5e-4));
  CHECK(n.route_bandwidth_Bps(0, 3) == Approx(12.5e6));
  std::vector<int> there, back;
  n.route_channels(0, 3, &there);
  n.route_channels(3, 0, &back);
  CHECK(there.size() == 2);  // a0's uplink, b1's downlink
  for (int c : there) CHECK(std::find(back.begin(), back.end(), c) == back.end());
}

TEST_CASE("network: two rooms route across the uplink, and the ring all-reduce shares it", "[network]") {
  for (std::string duplex : {"full", "half"}) {
    INFO("uplink " << duplex << " duplex");
    Scenario s = load(two_rooms(duplex));
    const Network& n = *s.network.network;
    CHECK(n.star_center() == -1);
    CHECK(n.route_latency_s(0, 1) == Approx(2e-4));  // inside the lab
    CHECK(n.route_latency_s(0, 2) == Approx(5e-4));  // across the uplink
    CHECK(n.route_bandwidth_Bps(0, 2) == Approx(12.5e6));
    CostModel m = model_of(s);
    // A ring over both rooms, a0 a1 b0 b1: a1 -> b0 and b1 -> a0 cross the uplink, one each way.
    int ring[] = {0, 1, 2, 3};
    LinkSummary l = m.group_links(ring, 4);
    CHECK(l.bandwidth_Bps == Approx(duplex == "full" ? 12.5e6 : 6.25e6));
    CHECK(l.latency_s == Approx(5e-4));
    // Inside one room the uplink is not crossed.
    int lab[] = {0, 1};
    CHECK(m.group_links(lab, 2).bandwidth_Bps == Approx(125e6));
    int a[] = {0}, b[] = {2};
    CHECK(m.directions_share_channel(a, 1, b, 1) == (duplex == "half"));
  }
}

TEST_CASE("network: on a medium every transfer shares one channel", "[network]") {
  Scenario s = load(json::parse(R"({"topology": "wifi", "bandwidth": "1Gbps", "latency": "0.5ms"})"));
  CostModel m = model_of(s);
  CHECK(s.network.network->has_shared_channels());
  int three[] = {0, 1, 2};
  // A ring of three: all three flows on the medium, a third of it each.
  LinkSummary l = m.group_links(three, 3);
  CHECK(l.bandwidth_Bps == Approx(125e6 / 3));
  CHECK(l.latency_s == Approx(5e-4));
  // 4 MB over three devices on a 1 Gbps medium: 4 ring steps of 4/3 MB, each taking 4 MB / 125 MB/s.
  double w = 4e6, ring = 2.0 * (3 - 1) * (w / (3 * l.bandwidth_Bps) + l.latency_s);
  CHECK(ring == Approx(4 * (w / 125e6 + 5e-4)));
  int a[] = {0}, b[] = {1};
  CHECK(m.directions_share_channel(a, 1, b, 1));
}

TEST_CASE("network: Wi-Fi stations bridged to a wired switch", "[network]") {
  Scenario s = load(json::parse(R"({"switches": ["lab"],
      "media": [{"name": "wlan", "bandwidth": "300Mbps", "latency": "1ms", "stations": ["b0", "b1"]}],
      "links": [{"between": ["a0", "lab"], "bandwidth": "1Gbps", "latency": "0.1ms"},
                {"between": ["a1", "lab"], "bandwidth": "1Gbps", "latency": "0.1ms"},
                {"between": ["wlan", "lab"], "bandwidth": "1Gbps", "latency": "0.1ms", "duplex": "full"}]})"));
  const Network& n = *s.network.network;
  CHECK(n.route_latency_s(2, 3) == Approx(1e-3));  // station to station: the medium once
  CHECK(n.route_latency_s(0, 2) == Approx(1.2e-3));
  CHECK(n.route_bandwidth_Bps(0, 2) == Approx(37.5e6));
  CHECK(n.host_medium(2) >= 0);
  CHECK(n.host_link(2) == -1);
}

TEST_CASE("network: bad topologies are one line naming the file, the field and the problem",
          "[network][errors]") {
  json g = two_rooms();
  SECTION("a device not connected") {
    g["links"].erase(g["links"].begin() + 3);
    CHECK(error_of(g) ==
          "net.json: cluster.network: device \"b1\" is not connected: no link or medium names it");
  }
  SECTION("a link to an unknown node") {
    g["links"][2]["between"][1] = "kitchen";
    CHECK(error_of(g) ==
          "net.json: cluster.network.links[2].between[1]: unknown node \"kitchen\" (not a device, switch or "
          "medium of this network)");
  }
  SECTION("a loop that makes a route ambiguous") {
    // A second uplink: every route between the rooms has a twin.
    g["links"].push_back({{"between", {"office", "lab"}}, {"bandwidth", "1Gbps"}, {"latency", "0.1ms"}});
    CHECK(error_of(g) ==
          "net.json: cluster.network: devices \"a0\" and \"b0\" are joined by two routes of 3 hops: a loop "
          "makes the route ambiguous");
  }
  SECTION("islands") {
    g["links"].erase(g["links"].begin() + 4);
    CHECK(error_of(g) == "net.json: cluster.network: no route joins devices \"a0\" and \"b0\"");
  }
  SECTION("a zero bandwidth") {
    g["links"][4]["bandwidth"] = "0Mbps";
    CHECK_THAT(error_of(g), Catch::StartsWith("net.json: cluster.network.links[4].bandwidth: ") &&
                                Catch::Contains("positive"));
  }
  SECTION("a missing bandwidth") {
    g["links"][1].erase("bandwidth");
    CHECK(error_of(g) == "net.json: cluster.network.links[1].bandwidth: missing (required)");
  }
  SECTION("a medium without bandwidth") {
    g["media"] = json::parse(R"([{"name": "wlan", "latency": "1ms", "stations": ["a0"]}])");
    CHECK(error_of(g) == "net.json: cluster.network.media[0].bandwidth: missing (required)");
  }
  SECTION("a station that is not a device") {
    g["media"] =
        json::parse(R"([{"name": "wlan", "bandwidth": "1Gbps", "latency": "1ms", "stations": ["lab"]}])");
    CHECK_THAT(error_of(g),
               Catch::StartsWith("net.json: cluster.network.media[0].stations[0]: unknown device"));
  }
  SECTION("shorthand keys in a graph") {
    g["bandwidth"] = "1Gbps";
    CHECK_THAT(error_of(g), Catch::StartsWith("net.json: cluster.network.bandwidth: belongs to the star"));
  }
  SECTION("a duplicate node name") {
    g["switches"].push_back("a0");
    CHECK_THAT(error_of(g), Catch::Contains("switches[2]: \"a0\" already names"));
  }
  SECTION("a bad duplex") {
    g["links"][4]["duplex"] = "simplex";
    CHECK(error_of(g) ==
          "net.json: cluster.network.links[4].duplex: must be \"full\" or \"half\", found \"simplex\"");
  }
}

TEST_CASE("cost model: a communication step on full-duplex links holds each direction once per micro-batch",
          "[network][cost]") {
  Plan p;
  p.microbatch_size = 4;
  p.microbatches = 4;
  p.stages = {{0, 1, {0}, {}}, {2, 3, {2}, {}}};
  for (bool wifi : {false, true}) {
    INFO((wifi ? "wifi" : "star"));
    Scenario s = load(wifi ? json::parse(R"({"topology": "wifi", "bandwidth": "10Mbps", "latency": "1ms"})")
                           : json::parse(R"({"bandwidth": "10Mbps", "latency": "1ms"})"));
    Evaluation ev = model_of(s).evaluate(p);
    REQUIRE(ev.feasible);
    const StepCost& comm = ev.steps[1];
    REQUIRE(comm.kind == StepKind::communication);
    // Full duplex: activations and gradients go at once; on a medium they queue.
    CHECK(comm.period() == Approx(wifi ? comm.E_f + comm.E_b : comm.E_f));
    // The replay of the flows: never faster than the closed form's first micro-batch, and on a
    // two-stage star (ports not shared by two steps) equal to the star replay of the steps.
    if (!wifi) CHECK(ev.schedule_latency_s == Approx(schedule_latency(ev.steps, p.microbatches).latency_s));
    CHECK(ev.network_use.comm[1].forward.size() == 1);
  }
}

TEST_CASE("cost model: the replay on a medium shares it between both directions and the all-reduce",
          "[network][cost]") {
  Scenario s = load(json::parse(R"({"topology": "wifi", "bandwidth": "10Mbps", "latency": "1ms"})"));
  CostModel m = model_of(s);
  Plan p;
  p.microbatch_size = 8;
  p.microbatches = 2;
  p.stages = {{0, 1, {0, 1}, {}}, {2, 3, {2}, {}}};
  Evaluation ev = m.evaluate(p);
  REQUIRE(ev.feasible);
  // Stage 0's ring is two flows on the medium, each at half its rate.
  const RingFlows& ring = ev.network_use.ring[0];
  CHECK(ring.steps == 2);
  REQUIRE(ring.flows.size() == 2);
  CHECK(ev.steps[0].T_a == Approx(2 * (ring.flows[0].bytes * 2 / 1.25e6 + 1e-3)).epsilon(1e-6));
  // The round is at least every byte on the medium one after another.
  double bytes = 0;
  for (const StepFlows& f : ev.network_use.comm)
    for (const auto* dir : {&f.forward, &f.backward})
      for (const NetFlow& x : *dir) bytes += x.bytes;
  bytes *= p.microbatches;
  for (const NetFlow& x : ring.flows) bytes += ring.steps * x.bytes;
  CHECK(ev.schedule_latency_s >= bytes / 1.25e6);
}

TEST_CASE("replication: a single-device stage's backup is the neighbour its copy reaches soonest",
          "[network][coordinator]") {
  // Two rooms joined by a 100 Mbps uplink: a0's stage is copied into the next stage, whose devices
  // are a1 (same room) and b0 (across the uplink, with far more free memory).
  json j = scenario_with(two_rooms());
  j["cluster"]["devices"][2]["memory"] = "64GiB";
  auto r = parse_scenario(j, "net.json", kData);
  REQUIRE(r.ok());
  CostModel m = model_of(r.value());
  Plan p;
  p.microbatch_size = 4;
  p.microbatches = 4;
  p.stages = {{0, 1, {0}, {}}, {2, 3, {1, 2}, {}}};
  Evaluation ev = m.evaluate(p);
  REQUIRE(ev.feasible);
  auto replicas = assign_replicas(m, ev);
  REQUIRE(replicas.size() == 1);
  CHECK(replicas[0].owner == 0);
  CHECK(replicas[0].backup == 1);
  // On one switch, the paths are alike and the most free memory decides.
  json js = scenario_with(json::parse(R"({"bandwidth": "1Gbps", "latency": "0.5ms"})"));
  js["cluster"]["devices"][2]["memory"] = "64GiB";
  auto s2 = parse_scenario(js, "net.json", kData);
  REQUIRE(s2.ok());
  CostModel m2 = model_of(s2.value());
  auto replicas2 = assign_replicas(m2, m2.evaluate(p));
  REQUIRE(replicas2.size() == 1);
  CHECK(replicas2[0].backup == 2);
}
