#include <catch2/catch.hpp>

#include <fstream>

#include "asteroid/scenario.hpp"

using namespace asteroid;

namespace {

const std::string kData = ASTEROID_TEST_DATA;

// A valid scenario over the two synthetic traces in tests/core/data.
nlohmann::json valid() {
  return nlohmann::json::parse(R"({
    "schema_version": 1,
    "cluster": {
      "devices": [{"name": "f0", "type": "fast"}, {"name": "s0", "type": "slow", "memory": "1GiB"}],
      "network": {"bandwidth": "100Mbps", "latency": "0.5ms"}
    },
    "model": {"name": "synthetic"},
    "training": {"batch_size": 16, "rounds": 3, "optimizer": "sgd_momentum"},
    "planner": {"strategy": "asteroid", "microbatch_sizes": [2, 4, 8]},
    "traces": {"fast": "fast.json", "slow": "slow.json"},
    "faults": {"heartbeat_interval": "1s", "missed_heartbeats": 3,
               "events": [{"at": "10s", "device": "s0", "kind": "leave"}]}
  })");
}

// Parses a modified scenario and returns the one-line error.
std::string error_of(const nlohmann::json& j) {
  auto r = parse_scenario(j, "bad.json", kData);
  REQUIRE_FALSE(r.ok());
  return r.error().str();
}

}  // namespace

TEST_CASE("scenario: a valid scenario loads with units converted and traces attached", "[scenario]") {
  auto r = parse_scenario(valid(), "ok.json", kData);
  REQUIRE(r.ok());
  const Scenario& s = r.value();
  CHECK(s.devices.size() == 2);
  CHECK(s.network.bandwidth_Bps == Approx(12.5e6));
  CHECK(s.network.latency_s == Approx(5e-4));
  CHECK(*s.devices[1].memory_bytes == Approx(1073741824.0));
  CHECK(s.profiles.at("fast").num_layers() == 4);
  CHECK(s.faults.events.size() == 1);
  CHECK(s.faults.events[0].time_s == 10);
}

TEST_CASE("scenario: bad input is refused with file, JSON path and problem", "[scenario][errors]") {
  auto j = valid();
  SECTION("unknown top-level key") {
    j["clusterr"] = 1;
    CHECK(error_of(j) ==
          "bad.json: clusterr: unknown key (allowed here: schema_version, name, "
          "description, cluster, model, training, planner, traces, power, faults)");
  }
  SECTION("unknown nested key") {
    j["cluster"]["devices"][0]["ram"] = "4GiB";
    CHECK(error_of(j).find("bad.json: cluster.devices[0].ram: unknown key") == 0);
  }
  SECTION("missing unit") {
    j["cluster"]["network"]["bandwidth"] = 100;
    CHECK(error_of(j).find("cluster.network.bandwidth: a bare number has no unit") != std::string::npos);
  }
  SECTION("string without unit") {
    j["cluster"]["devices"][1]["memory"] = "4096";
    CHECK(error_of(j).find("cluster.devices[1].memory: \"4096\" has no unit") != std::string::npos);
  }
  SECTION("unknown unit") {
    j["cluster"]["network"]["latency"] = "2 fortnights";
    CHECK(error_of(j).find("cluster.network.latency: unknown duration unit") != std::string::npos);
  }
  SECTION("unknown device type") {
    j["cluster"]["devices"][0]["type"] = "jetson_orin";
    CHECK(error_of(j).find("cluster.devices[0].type: unknown device type \"jetson_orin\"") !=
          std::string::npos);
  }
  SECTION("duplicate device") {
    j["cluster"]["devices"][1]["name"] = "f0";
    CHECK(error_of(j).find("cluster.devices[1].name: duplicate device name") != std::string::npos);
  }
  SECTION("no devices") {
    j["cluster"]["devices"] = nlohmann::json::array();
    CHECK(error_of(j).find("cluster.devices: a cluster needs at least one device") != std::string::npos);
  }
  SECTION("unknown model") {
    j["model"]["name"] = "vgg16";
    CHECK(error_of(j).find("is for model \"synthetic\", but the scenario's model is \"vgg16\"") !=
          std::string::npos);
  }
  SECTION("micro-batch that does not divide the batch") {
    j["planner"]["microbatch_sizes"] = {3};
    CHECK(error_of(j).find("planner.microbatch_sizes[0]: micro-batch size 3 does not divide") !=
          std::string::npos);
  }
  SECTION("zero batch size") {
    j["training"]["batch_size"] = 0;
    CHECK(error_of(j).find("training.batch_size: must be in [1, 1048576], found 0") != std::string::npos);
  }
  SECTION("fractional batch size") {
    j["training"]["batch_size"] = 16.5;
    CHECK(error_of(j).find("training.batch_size: expected a whole number") != std::string::npos);
  }
  SECTION("unknown strategy") {
    j["planner"]["strategy"] = "magic";
    CHECK(error_of(j).find("planner.strategy: unknown strategy \"magic\"") != std::string::npos);
  }
  SECTION("fault on an unknown device") {
    j["faults"]["events"][0]["device"] = "ghost";
    CHECK(error_of(j).find("faults.events[0].device: unknown device \"ghost\"") != std::string::npos);
  }
  SECTION("every device leaves") {
    j["faults"]["events"].push_back({{"at", "11s"}, {"device", "f0"}, {"kind", "leave"}});
    CHECK(error_of(j).find("faults.events[1]: every device has left") != std::string::npos);
  }
  SECTION("a device leaves twice, or joins while there") {
    nlohmann::json twice = j;
    twice["faults"]["events"].push_back(j["faults"]["events"][0]);
    CHECK(error_of(twice).find("faults.events[1]: s0 leaves while it is not there") != std::string::npos);
    j["faults"]["events"].push_back({{"at", "1s"}, {"device", "f0"}, {"kind", "join"}});
    j["faults"]["events"].push_back({{"at", "2s"}, {"device", "f0"}, {"kind", "leave"}});
    j["faults"]["events"].push_back({{"at", "3s"}, {"device", "f0"}, {"kind", "join"}});
    j["faults"]["events"].push_back({{"at", "4s"}, {"device", "f0"}, {"kind", "join"}});
    CHECK(error_of(j).find("faults.events[4]: f0 joins while it is there") != std::string::npos);
  }
  SECTION("leave and join in any order, a device absent at the start") {
    j["faults"]["events"] = {{{"at", "0.5s"}, {"device", "f0"}, {"kind", "join"}},
                             {{"at", "1s"}, {"device", "s0"}, {"kind", "leave"}},
                             {{"at", "9s"}, {"device", "s0"}, {"kind", "join"}}};
    auto r = parse_scenario(j, "ok.json", kData);
    REQUIRE(r.ok());
    CHECK(absent_at_start(r->devices, r->faults) == std::vector<int>{0});
    CHECK(r->faults.events[1].time_s == 1);  // sorted by time
  }
  SECTION("schema from the future") {
    j["schema_version"] = 2;
    CHECK(error_of(j).find("schema_version: this program reads schema_version 1; the file has 2") !=
          std::string::npos);
  }
  SECTION("missing trace file") {
    j["traces"]["slow"] = "nowhere.json";
    CHECK(error_of(j).find("traces.slow: trace") != std::string::npos);
    CHECK(error_of(j).find("cannot open file") != std::string::npos);
  }
  SECTION("traces that disagree on the layer list") {
    j["traces"]["slow"] = "slow_other_layers.json";
    CHECK(error_of(j).find("layer list disagrees") != std::string::npos);
  }
  SECTION("wrong type of value") {
    j["training"]["rounds"] = "three";
    CHECK(error_of(j).find("training.rounds: expected a whole number, found a string") != std::string::npos);
  }
  SECTION("link override between a device and itself") {
    j["cluster"]["network"]["overrides"] = {{{"devices", {"f0", "f0"}}, {"bandwidth", "1Gbps"}}};
    CHECK(error_of(j).find("a link joins two different devices") != std::string::npos);
  }
}

TEST_CASE("scenario: malformed JSON is reported with line and column", "[scenario][errors]") {
  std::string file = kData + "/../malformed_tmp.json";
  {
    std::ofstream out(file);
    out << "{\n  \"schema_version\": 1,\n  \"cluster\": {,\n}";
  }
  auto r = load_scenario(file);
  std::remove(file.c_str());
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().str().find("malformed JSON at line 3") != std::string::npos);
}
