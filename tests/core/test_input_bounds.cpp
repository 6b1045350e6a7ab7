// Every number in range: the loaders refuse, in one Error naming the field, what the backends cannot
// take (limits.hpp), and nothing wraps, truncates or throws past them.
#include <catch2/catch.hpp>

#include <functional>
#include <stdexcept>

#include "asteroid/input/cli_args.hpp"
#include "asteroid/input/json_reader.hpp"
#include "asteroid/input/limits.hpp"
#include "asteroid/model/plan.hpp"
#include "asteroid/input/profile.hpp"
#include "asteroid/report/report_files.hpp"
#include "asteroid/report/run_report.hpp"
#include "asteroid/input/scenario.hpp"
#include "asteroid/input/units.hpp"

using namespace asteroid;
using nlohmann::json;

namespace {

const std::string kData = ASTEROID_TEST_DATA;

json scenario() {
  return json::parse(R"({
    "schema_version": 1,
    "cluster": {
      "devices": [{"name": "f0", "type": "fast"}, {"name": "s0", "type": "slow", "memory": "1GiB"}],
      "network": {"bandwidth": "100Mbps", "latency": "0.5ms"}
    },
    "model": {"name": "synthetic"},
    "training": {"batch_size": 16, "rounds": 3},
    "traces": {"fast": "fast.json", "slow": "slow.json"}
  })");
}

std::string scenario_error(const json& j) {
  auto r = parse_scenario(j, "bad.json", kData);
  REQUIRE_FALSE(r.ok());
  return r.error().str();
}

}  // namespace

TEST_CASE("bounds: JSON text that cannot be held is an error, not an abort", "[bounds]") {
  auto huge = parse_json_text(R"({"x": 1e400})", "f.json");
  REQUIRE_FALSE(huge.ok());
  CHECK_THAT(huge.error().str(), Catch::StartsWith("f.json: malformed JSON: number overflow"));
  std::string deep = std::string(200000, '[') + std::string(200000, ']');
  auto d = parse_json_text(deep, "deep.json");
  REQUIRE_FALSE(d.ok());
  CHECK(d.error().str() == "deep.json: JSON nested deeper than 64 levels");
  std::string ok = std::string(limits::kMaxJsonDepth, '[') + std::string(limits::kMaxJsonDepth, ']');
  CHECK(parse_json_text(ok, "ok.json").ok());
  CHECK_FALSE(parse_json_text("{\"a\": \"\xff\"}", "utf.json").ok());
  CHECK_THAT(parse_json_text("[1,", "cut.json").error().str(), Catch::Contains("line 1, column 4"));
}

TEST_CASE("bounds: whole numbers are read as what they are, never truncated", "[bounds]") {
  json j = json::parse(R"({"a": 18446744073709551615, "b": 4294967297, "c": -3})");
  JsonReader r(j, "");
  CHECK_THROWS_AS(r.at("a").integer(), InputError);  // beyond a 64-bit signed
  CHECK(r.at("b").integer() == 4294967297LL);
  CHECK_THROWS_AS(r.at("b").integer_in(1, limits::kMaxRounds), InputError);
  try {
    r.at("c").integer_in(0, 10);
  } catch (const InputError& e) {
    CHECK(e.path == "c");
    CHECK(e.message == "must be in [0, 10], found -3");
  }
}

TEST_CASE("bounds: units that overflow a double after scaling are refused", "[bounds]") {
  std::string why;
  CHECK_FALSE(units::parse_bandwidth("1e308GBps", &why));
  CHECK(why == "\"1e308GBps\" is too large");
  CHECK_FALSE(units::parse_bytes("1e307TiB", &why));
  CHECK_FALSE(units::parse_seconds("infs", &why));
  CHECK(units::parse_seconds("1e308s", &why));  // finite; the scenario's bounds refuse it
}

TEST_CASE("bounds: every scenario field is bounded to what the backends take", "[bounds][scenario]") {
  struct Case {
    const char* what;
    std::function<void(json&)> edit;
    const char* error;
  };
  const Case cases[] = {
      {"rounds beyond int", [](json& j) { j["training"]["rounds"] = 4294967297LL; }, "training.rounds: must be in"},
      {"batch", [](json& j) { j["training"]["batch_size"] = 1 << 21; }, "training.batch_size: must be in"},
      {"bandwidth", [](json& j) { j["cluster"]["network"]["bandwidth"] = "1e300Gbps"; },
       "cluster.network.bandwidth: must be in"},
      {"slow bandwidth", [](json& j) { j["cluster"]["network"]["bandwidth"] = "1bps"; },
       "cluster.network.bandwidth: must be in"},
      {"latency", [](json& j) { j["cluster"]["network"]["latency"] = "1h"; }, "cluster.network.latency: must be in"},
      {"memory", [](json& j) { j["cluster"]["devices"][0]["memory"] = "1e30GiB"; },
       "cluster.devices[0].memory: must be in"},
      {"speed", [](json& j) { j["cluster"]["devices"][0]["speed_factor"] = 1e9; },
       "cluster.devices[0].speed_factor: must be in"},
      {"accelerator", [](json& j) { j["cluster"]["devices"][0]["accelerator"] = "cuda:x"; },
       "cluster.devices[0].accelerator: expected \"cpu\", \"cuda\" or \"cuda:N\""},
      {"heartbeat", [](json& j) { j["faults"] = {{"heartbeat_interval", "1ns"}}; },
       "faults.heartbeat_interval: must be in"},
      {"missed", [](json& j) { j["faults"] = {{"missed_heartbeats", 1e6}}; }, "faults.missed_heartbeats: expected"},
      {"missed int", [](json& j) { j["faults"] = {{"missed_heartbeats", 2147483648LL}}; },
       "faults.missed_heartbeats: must be in"},
      {"event time", [](json& j) { j["faults"] = {{"events", {{{"at", "1e308s"}, {"device", "f0"}, {"kind", "leave"}}}}}; },
       "faults.events[0].at: must be in"},
      {"slowdowns multiply",
       [](json& j) {
         json e = {{"at", "1s"}, {"device", "f0"}, {"kind", "slowdown"}, {"factor", 1e-4}};
         j["faults"] = {{"events", {e, e}}};
       },
       "faults.events[1]: the slowdowns of f0 multiply to"},
      {"time limit", [](json& j) { j["planner"] = {{"time_limit", "1e9s"}}; }, "planner.time_limit: must be in"},
      {"name", [](json& j) { j["name"] = "../out"; }, "name: \"../out\" must be"},
      {"hidden name", [](json& j) { j["name"] = ".x"; }, "name: \".x\" must be"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    json j = scenario();
    c.edit(j);
    CHECK_THAT(scenario_error(j), Catch::Contains(c.error));
  }
}

TEST_CASE("bounds: a scenario's name from its file never leaves out/", "[bounds][scenario]") {
  auto r = parse_scenario(scenario(), "../x/..weird name!.json", kData);
  REQUIRE(r.ok());
  CHECK(r->name == "_..weird_name_");
}

TEST_CASE("bounds: a plan whose micro-batch product would wrap is refused", "[bounds]") {
  Cluster c;
  c.devices.resize(2);
  c.devices[0].name = "a";
  c.devices[1].name = "b";
  // 65536 x 65537 wraps a 32-bit int to 65536: it must not pass as a batch of 65536.
  json p = {{"microbatch_size", 65536},
            {"microbatches", 65537},
            {"stages", {{{"layers", {0, 3}}, {"devices", {"a"}}}}}};
  auto r = plan_from_json(p, c, 4, 65536, "p.json", "");
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error().str(), Catch::Contains("microbatch_size x microbatches = 4295032832"));
  p["microbatch_size"] = 4096;
  p["microbatches"] = 16;
  REQUIRE(plan_from_json(p, c, 4, 65536, "p.json", "").ok());
  p["stages"][0]["layers"] = {0, 4294967299LL};
  r = plan_from_json(p, c, 4, 65536, "p.json", "");
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error().str(), Catch::Contains("stages[0].layers[1]: must be in [0, 3]"));
  p["stages"][0]["layers"] = {0, 3};
  p["stages"][0]["shares"] = {2147483647};
  r = plan_from_json(p, c, 4, 65536, "p.json", "");
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error().str(), Catch::Contains("shares[0]: must be in [0, 4096]"));
}

TEST_CASE("bounds: trace numbers beyond what the cost model takes are refused", "[bounds]") {
  auto j = read_json_file(kData + "/fast.json");
  REQUIRE(j.ok());
  json t = *j;
  t["layers"][0]["fwd_s"][0] = 1e300;
  auto r = parse_profile(t, "t.json");
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error().str(), Catch::Contains("layers[0].fwd_s[0]: must be in"));
  t = *j;
  t["batch_sizes"][0] = 9223372036854775807LL;
  CHECK_THAT(parse_profile(t, "t.json").error().str(), Catch::Contains("batch_sizes[0]: must be in"));
  // Optimizer steps: known optimizers, bounded times; read back as written.
  t = *j;
  t["layers"][0]["optimizer_step_s"] = {{"sgd_momentum", 0.001}, {"adam", 0.002}};
  auto ok = parse_profile(t, "t.json");
  REQUIRE(ok.ok());
  CHECK(ok->layers[0].optimizer_step_s.at("adam") == 0.002);
  CHECK(profile_to_json(*ok)["layers"][0]["optimizer_step_s"]["sgd_momentum"] == 0.001);
  t["layers"][0]["optimizer_step_s"]["lamb"] = 0.001;
  CHECK_THAT(parse_profile(t, "t.json").error().str(), Catch::Contains("layers[0].optimizer_step_s.lamb"));
  t["layers"][0]["optimizer_step_s"] = {{"adam", -1}};
  CHECK_THAT(parse_profile(t, "t.json").error().str(), Catch::Contains("optimizer_step_s.adam: must be in"));
}

TEST_CASE("bounds: report fields are bounded and their ints never truncated", "[bounds]") {
  json rep = {{"scenario", "x"},
              {"backend", "sim"},
              {"rounds", {{{"round", 0}, {"start_s", 0}, {"end_s", 1}, {"samples", 8}}}},
              {"events", {{{"time_s", 1}, {"kind", "failure"}, {"lost_layers", {4294967296LL}}}}}};
  auto r = report_from_json(rep, "r.json");
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error().str(), Catch::Contains("events[0].lost_layers[0]: must be in"));
  rep["events"][0]["lost_layers"] = {3};
  rep["rounds"][0]["samples"] = -1;
  CHECK_THAT(report_from_json(rep, "r.json").error().str(), Catch::Contains("rounds[0].samples: must be in"));
}

namespace {
[[noreturn]] void throw_fail(const std::string& m) { throw std::runtime_error(m); }
std::string cli_error(std::vector<std::string> argv, double lo, bool whole, double hi = -1) {
  std::vector<char*> p;
  for (auto& a : argv) p.push_back(a.data());
  CliArgs args(int(p.size()), p.data(), throw_fail);
  args.next();
  try {
    args.number(lo, whole, hi);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("bounds: command-line numbers are bounded, whole ones to what an int holds", "[bounds]") {
  CHECK(cli_error({"prog", "--rounds", "3"}, 1, true).empty());
  CHECK_THAT(cli_error({"prog", "--rounds", "1e300"}, 1, true), Catch::Contains("in [1, 2147483647]"));
  CHECK_THAT(cli_error({"prog", "--rounds", "4294967297"}, 1, true), Catch::Contains("--rounds"));
  CHECK_THAT(cli_error({"prog", "--rounds", "2000000"}, 1, true, limits::kMaxRounds),
             Catch::Contains("in [1, 1000000]"));
  CHECK_THAT(cli_error({"prog", "--x", "nan"}, 0, false), Catch::Contains("expected a number"));
  CHECK_THAT(cli_error({"prog", "--x", "inf"}, 0, false), Catch::Contains("expected a number"));
  CHECK_THAT(cli_error({"prog", "--x", "1e999"}, 0, false), Catch::Contains("expected a number"));
  CHECK_THAT(cli_error({"prog", "--x", "2.5"}, 0, true), Catch::Contains("a whole number"));
}
