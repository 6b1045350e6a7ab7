// Simulated runs of the schedule's variants (schedule.hpp): recomputing stages and GPipe. Each runs
// environment C's MobileNetV2 for three rounds with its spans, as the asteroid-sim binary writes them
// (one simulation per process, docs/toolchain-notes.md S3), and checks the simulated round against
// the planner's replay of the same Program and the order of its passes.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <tuple>

#include "sim_runs.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace asteroid::sim_testing;

namespace {

// Environment C's MobileNetV2 100 Mbps, 3 rounds, changed by `edit`, simulated with spans: the
// report, after checking that the run completed and that its first round is the planner's replay of
// the same Program within 2%.
json run_variant(const std::string& name, const std::function<void(json&)>& edit) {
  fs::path dir = temp_dir(name);
  json s = scenario("envC_mobilenetv2_100mbps");
  s["name"] = name;
  s["training"]["rounds"] = 3;
  edit(s);
  write(dir / "scenario.json", s);
  const std::string cmd = std::string(ASTEROID_SIM_BIN) + " " + (dir / "scenario.json").string() + " -o " +
                          (dir / "out").string() + " > " + (dir / "stdout.txt").string() + " 2>&1";
  fs::create_directories(dir / "out");
  INFO("output in " << dir.string());
  REQUIRE(std::system(cmd.c_str()) == 0);
  json r = read(dir / "out" / "report.json");
  const json& sum = r["summary"];
  CHECK(sum["completed"].get<bool>());
  CHECK(std::abs(sum["first_round_latency_s"].get<double>() / sum["predicted_round_latency_s"].get<double>() - 1) <=
        0.02);
  fs::remove_all(dir);
  return r;
}

}  // namespace

TEST_CASE("sim: recomputing stages run RECOMPUTE spans before each backward and match their 1F1B replay",
          "[sim][recompute]") {
  // Every stage recomputing (training.recomputation "all").
  const json r = run_variant("recompute_all", [](json& s) { s["training"]["recomputation"] = "all"; });
  // Every stage recomputes: one RECOMPUTE span per backward, on the same device, micro-batch and
  // round, ending no later than that backward starts.
  std::map<std::tuple<std::string, int, int>, double> recompute_end;
  int backwards = 0;
  for (const json& sp : r["spans"])
    if (sp["op"] == "RECOMPUTE")
      recompute_end[{sp["device"].get<std::string>(), sp["microbatch"].get<int>(), sp["round"].get<int>()}] =
          sp["end_s"].get<double>();
  for (const json& sp : r["spans"]) {
    if (sp["op"] != "B") continue;
    ++backwards;
    auto it = recompute_end.find({sp["device"].get<std::string>(), sp["microbatch"].get<int>(), sp["round"].get<int>()});
    REQUIRE(it != recompute_end.end());
    CHECK(it->second <= sp["start_s"].get<double>() + 1e-9);
  }
  CHECK(backwards > 0);
  CHECK(recompute_end.size() == size_t(backwards));
}

TEST_CASE("sim: a GPipe plan runs all forwards before any backward and matches its replay", "[sim][gpipe]") {
  // planner.schedule "gpipe": the Program the simulator runs orders every device's passes so, and
  // the plan is priced by the GPipe replay.
  const json r = run_variant("gpipe", [](json& s) { s["planner"]["schedule"] = "gpipe"; });
  // Per device and round: the last forward ends before the first backward starts.
  std::map<std::pair<std::string, int>, double> last_forward_end, first_backward_start;
  for (const json& sp : r["spans"]) {
    const std::pair<std::string, int> key{sp["device"].get<std::string>(), sp["round"].get<int>()};
    if (sp["op"] == "F") {
      double& e = last_forward_end[key];
      e = std::max(e, sp["end_s"].get<double>());
    } else if (sp["op"] == "B") {
      auto [it, fresh] = first_backward_start.emplace(key, sp["start_s"].get<double>());
      if (!fresh) it->second = std::min(it->second, sp["start_s"].get<double>());
    }
  }
  REQUIRE_FALSE(first_backward_start.empty());
  for (const auto& [key, start] : first_backward_start) {
    INFO(key.first << " round " << key.second);
    REQUIRE(last_forward_end.count(key) == 1);
    CHECK(last_forward_end[key] <= start + 1e-9);
  }
}
