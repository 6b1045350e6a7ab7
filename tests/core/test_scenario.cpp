#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "asteroid/run/backend_setup.hpp"
#include "asteroid/input/scenario.hpp"

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

namespace {

// A copy of a trace of tests/core/data with its "input" set (or removed when empty), in `dir`.
void trace_with_input(const std::string& dir, const std::string& name, const std::string& input) {
  std::ifstream in(kData + "/" + name);
  nlohmann::json t = nlohmann::json::parse(in);
  if (input.empty())
    t.erase("input");
  else
    t["input"] = input;
  std::ofstream(dir + "/" + name) << t.dump();
}

std::string temp_dir(const std::string& tag) {
  std::string d = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/asteroid_scenario_" +
                  tag + "_" + std::to_string(::getpid());
  std::filesystem::create_directories(d);
  return d;
}

}  // namespace

TEST_CASE("scenario: model.input defaults to the traces' input; another input, or traces that disagree, is refused",
          "[scenario][errors]") {
  auto j = valid();  // no model.input; its traces say "none"
  auto r = parse_scenario(j, "ok.json", kData);
  REQUIRE(r.ok());
  CHECK(r->input == "none");
  CHECK_FALSE(require_model_input(r.value()));
  j["model"]["input"] = "none";
  CHECK(parse_scenario(j, "ok.json", kData).ok());
  j["model"]["input"] = "cifar10_32";
  CHECK_THAT(error_of(j), Catch::StartsWith("bad.json: traces.fast: trace \"") &&
                              Catch::Contains("was measured on input \"none\", but the scenario's model.input is "
                                              "\"cifar10_32\""));

  const std::string dir = temp_dir("input");
  j.erase("model"), j["model"] = {{"name", "synthetic"}};
  trace_with_input(dir, "fast.json", "cifar10_32");
  trace_with_input(dir, "slow.json", "miniimagenet_224");
  auto several = parse_scenario(j, "bad.json", dir);
  REQUIRE_FALSE(several.ok());
  CHECK(several.error().str() ==
        "bad.json: model.input: missing, and the traces name several inputs (\"cifar10_32\", "
        "\"miniimagenet_224\"); add \"input\" to \"model\"");

  // Traces that name no input: the scenario loads (the planner and the simulator need none), and
  // asteroid-exec's check at load says what to add.
  trace_with_input(dir, "fast.json", "");
  trace_with_input(dir, "slow.json", "");
  auto unnamed = parse_scenario(j, "x.json", dir);
  REQUIRE(unnamed.ok());
  CHECK(unnamed->input.empty());
  auto missing = require_model_input(unnamed.value());
  REQUIRE(missing);
  CHECK_THAT(missing->str(), Catch::StartsWith("x.json: model.input: missing, and the traces name no input; add"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("scenario: without training.rounds a run is long enough for a steady throughput and the last fault event",
          "[scenario][rounds]") {
  auto j = valid();  // a leave at 10 s, detected after 3 missed heartbeats of 1 s
  auto given = parse_scenario(j, "ok.json", kData);
  REQUIRE(given.ok());
  RunLength set = run_length(given.value(), {}, 0.5);
  CHECK(set.rounds == 3);
  CHECK(set.reason.empty());
  RunOverrides cli;
  cli.rounds = 7;
  CHECK(run_length(given.value(), cli, 0.5).rounds == 7);
  CHECK(run_length(given.value(), cli, 0.5).reason.empty());

  j["training"].erase("rounds");
  auto unset = parse_scenario(j, "ok.json", kData);
  REQUIRE(unset.ok());
  CHECK(unset->training.rounds == 0);
  // 13 s to the detection at 0.5 s a round: 26 rounds, then 10 more.
  RunLength to_event = run_length(unset.value(), {}, 0.5);
  CHECK(to_event.rounds == 36);
  CHECK_THAT(to_event.reason, Catch::StartsWith("training.rounds is not set: 36 rounds, to reach the last fault "
                                                "event (at 10.000 s"));
  CHECK(run_length(unset.value(), cli, 0.5).rounds == 7);
  // Long rounds reach the event sooner than the steady default: the default wins.
  CHECK(run_length(unset.value(), {}, 10).rounds == kDefaultRounds);
  // No events: the steady default.
  j.erase("faults");
  auto quiet = parse_scenario(j, "ok.json", kData);
  REQUIRE(quiet.ok());
  RunLength steady = run_length(quiet.value(), {}, 0.5);
  CHECK(steady.rounds == kDefaultRounds);
  CHECK_THAT(steady.reason, Catch::StartsWith("training.rounds is not set: 20 rounds, enough for a steady"));
  CHECK(run_rounds(quiet.value(), {}) == kDefaultRounds);
}

TEST_CASE("scenario: a device type with no trace named takes traces/<type>/<model>.json; an unknown one lists those there",
          "[scenario][errors]") {
  // A folder with the scenario and a traces/ shelf beside it, as the repository has.
  const std::string dir = temp_dir("shelf");
  std::filesystem::create_directories(dir + "/scenarios");
  for (const char* type : {"fast", "slow"}) {
    std::filesystem::create_directories(dir + "/traces/" + type);
    std::filesystem::copy_file(kData + "/" + type + ".json", dir + "/traces/" + type + "/synthetic.json",
                               std::filesystem::copy_options::overwrite_existing);
  }
  auto j = valid();
  j.erase("traces");
  auto r = parse_scenario(j, "s.json", dir + "/scenarios");
  INFO((r.ok() ? "" : r.error().str()));
  REQUIRE(r.ok());
  CHECK(r->trace_files.at("fast") == dir + "/traces/fast/synthetic.json");
  CHECK(r->profiles.at("slow").num_layers() == 4);
  // A trace the scenario names wins over the shelf.
  j["traces"] = {{"slow", kData + "/slow.json"}};
  r = parse_scenario(j, "s.json", dir + "/scenarios");
  INFO((r.ok() ? "" : r.error().str()));
  REQUIRE(r.ok());
  CHECK(r->trace_files.at("slow") == kData + "/slow.json");
  CHECK(r->trace_files.at("fast") == dir + "/traces/fast/synthetic.json");
  j.erase("traces");
  j["cluster"]["devices"][0]["type"] = "jetson_orin";
  auto bad = parse_scenario(j, "s.json", dir + "/scenarios");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().str() == "s.json: cluster.devices[0].type: unknown device type \"jetson_orin\": no trace for it "
                             "under \"traces\", nor " + dir + "/traces/jetson_orin/synthetic.json; device types "
                             "with a trace of synthetic there: fast, slow");
  std::filesystem::remove_all(dir);
}
