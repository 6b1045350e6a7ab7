// Whole simulated runs, what their reports and consoles say besides the rounds: warnings for
// fault events the run never reached, the default run length, and the modelled energy. Each runs
// asteroid-sim as a subprocess (sim_runs.hpp).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>

#include "sim_runs.hpp"

using namespace asteroid::sim_testing;

TEST_CASE("sim: a fault event after the run's end is a warning on the console and in the report",
          "[sim][faults]") {
  fs::path dir = temp_dir("late_event");
  json s = scenario("envC_fail");  // nx0 leaves at 30 s
  s["training"]["rounds"] = 10;    // about 15 s
  write(dir / "s.json", s);
  json r;
  REQUIRE(run_sim(dir / "s.json", dir / "short", "", &r) == 0);
  CHECK(r["summary"]["failures"].empty());
  REQUIRE(r.contains("warnings"));
  REQUIRE(r["warnings"].size() == 1);
  const std::string w = r["warnings"][0];
  CHECK_THAT(w, Catch::StartsWith("the leave of nx0 at 30.000 s did not happen: the run ended at "));
  CHECK_THAT(w, Catch::Contains("after 10 rounds; about"));
  CHECK_THAT(stdout_of(dir / "short"), Catch::Contains("warning: " + w + "\n"));
  // A run that reaches the event warns of nothing.
  REQUIRE(run_sim(dir / "s.json", dir / "long", "--rounds 40", &r) == 0);
  CHECK(r["summary"]["failures"].size() == 1);
  CHECK_FALSE(r.contains("warnings"));
  CHECK_THAT(stdout_of(dir / "long"), !Catch::Contains("warning:"));
  fs::remove_all(dir);
}

TEST_CASE("sim: a scenario without training.rounds runs past its last fault event, and says so", "[sim][faults]") {
  fs::path dir = temp_dir("default_rounds");
  json s = scenario("envC_fail");
  s["training"].erase("rounds");
  write(dir / "s.json", s);
  json r;
  REQUIRE(run_sim(dir / "s.json", dir / "fail", "", &r) == 0);
  // The default strategy says how good plan 0 is (docs/formats.md, planning).
  REQUIRE(r.contains("planning"));
  CHECK(r["planning"]["strategy"] == "asteroid");
  CHECK(r["planning"]["lower_bound_s"].get<double>() > 0);
  CHECK(r["planning"]["lower_bound_s"].get<double>() <= r["planning"]["objective_s"].get<double>() * (1 + 1e-9));
  CHECK(r["planning"]["objective_s"].get<double>() == Approx(r["plans"][0]["predicted_schedule_latency_s"].get<double>()));
  // The leave at 30 s, its detection 3 s later, at the plan's predicted round, then 10 rounds more.
  const double round_s = r["plans"][0]["predicted_schedule_latency_s"].get<double>();
  const int want = std::max(20, int(std::ceil(33.0 / round_s)) + 10);
  CHECK(r["rounds_planned"].get<int>() == want);
  CHECK(r["summary"]["completed"].get<bool>());
  CHECK(r["summary"]["failures"].size() == 1);
  CHECK_FALSE(r.contains("warnings"));
  CHECK_THAT(stdout_of(dir / "fail"),
             Catch::Contains("training.rounds is not set: " + std::to_string(want) + " rounds, to reach the last fault event"));
  // No fault events: the steady default.
  s.erase("faults");
  write(dir / "quiet.json", s);
  REQUIRE(run_sim(dir / "quiet.json", dir / "quiet", "", &r) == 0);
  CHECK(r["rounds_planned"].get<int>() == 20);
  CHECK_THAT(stdout_of(dir / "quiet"), Catch::Contains("training.rounds is not set: 20 rounds, enough for a steady"));
  // --rounds says it: nothing to explain.
  REQUIRE(run_sim(dir / "quiet.json", dir / "given", "--rounds 2", &r) == 0);
  CHECK(r["rounds_planned"].get<int>() == 2);
  CHECK_THAT(stdout_of(dir / "given"), !Catch::Contains("training.rounds is not set"));
}

TEST_CASE("sim: every run reports its modelled energy per device, per round and per sample", "[sim][energy]") {
  fs::path dir = temp_dir("energy");
  json s = scenario("envC_fail");
  write(dir / "s.json", s);
  // With spans (run_sim leaves them out): the energy is computed from them.
  const std::string cmd = std::string(ASTEROID_SIM_BIN) + " " + (dir / "s.json").string() + " -o " +
                          (dir / "out").string() + " > " + (dir / "stdout.txt").string() + " 2>&1";
  fs::create_directories(dir / "out");
  REQUIRE(std::system(cmd.c_str()) == 0);
  const json r = read(dir / "out" / "report.json");
  REQUIRE(r.contains("energy"));
  const json& e = r["energy"];
  CHECK(e["kind"] == "modelled");
  REQUIRE(e["available"].get<bool>());
  CHECK_FALSE(e["partial"].get<bool>());
  CHECK(r["power"]["nx0"]["provenance"]["kind"] == "derived");
  CHECK(r["power"]["nano0"]["power_mode"] == "MAXN");
  const double end = r["end_s"].get<double>();
  double total = 0, compute = 0;
  for (const auto& [name, d] : e["devices"].items()) {
    INFO(name);
    const double there = d["compute_s"].get<double>() + d["communication_s"].get<double>() + d["idle_s"].get<double>();
    // nx0 leaves at 30 s: it is charged until then; the others until the end of the run.
    CHECK(there == Approx(name == "nx0" ? 30.0 : end).epsilon(1e-9));
    CHECK(d["total_J"].get<double>() == Approx(d["compute_J"].get<double>() + d["communication_J"].get<double>() +
                                                d["idle_J"].get<double>()));
    total += d["total_J"].get<double>();
    compute += d["compute_J"].get<double>();
  }
  CHECK(total == Approx(e["total_J"].get<double>()));
  CHECK(compute == Approx(e["compute_J"].get<double>()));
  CHECK(e["J_per_sample"].get<double>() == Approx(total / e["samples"].get<double>()));
  double rounds = 0;
  for (const json& x : e["rounds"]) rounds += x["J"].get<double>();
  CHECK(e["rounds"].size() == r["rounds"].size());
  CHECK(rounds <= total * (1 + 1e-9));
  CHECK(rounds >= 0.9 * total);  // the rounds hold the run but for its end
  std::ifstream out(dir / "stdout.txt");
  const std::string text((std::istreambuf_iterator<char>(out)), {});
  CHECK_THAT(text, Catch::Contains("energy (modelled"));
  CHECK_THAT(text, Catch::Contains("J per sample"));
  std::ifstream trace(dir / "out" / "trace.json");
  const std::string trace_text((std::istreambuf_iterator<char>(trace)), {});
  CHECK_THAT(trace_text, Catch::Contains("\"name\":\"power nx0 (W)\""));
  fs::remove_all(dir);
}

TEST_CASE("sim: a power mode without a trace for it is refused in one line", "[sim][energy]") {
  fs::path dir = temp_dir("energy_mode");
  // The Orin Nano's power file lists 7W beside its traced 15W; no trace is derived for 7W.
  json s = scenario("envC_fail");
  s["cluster"]["devices"][3]["type"] = "jetson_orin_nano_8gb";
  s["cluster"]["devices"][3]["power_mode"] = "7W";
  s["traces"]["jetson_orin_nano_8gb"] = kScenarios + "../traces/jetson_orin_nano_8gb/resnet50.json";
  write(dir / "s.json", s);
  const std::string cmd = std::string(ASTEROID_SIM_BIN) + " " + (dir / "s.json").string() + " -o " +
                          (dir / "out").string() + " > " + (dir / "stdout.txt").string() + " 2> " +
                          (dir / "stderr.txt").string();
  const int status = std::system(cmd.c_str());
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 2));
  std::ifstream err(dir / "stderr.txt");
  const std::string text((std::istreambuf_iterator<char>(err)), {});
  CHECK(std::count(text.begin(), text.end(), '\n') == 1);
  CHECK_THAT(text, Catch::Contains("cluster.devices[3].power_mode: no trace for power mode \"7W\""));
  fs::remove_all(dir);
}
