// Batteries in whole simulated runs (docs/method.md §7.2): an energy departure at the
// hand-computed time, one recovered like a leave, and the proactive policy's planned departure
// against the reactive one on a cluster that runs until every battery is at its floor.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>

#include "sim_runs.hpp"

using namespace asteroid::sim_testing;

namespace {

// Environment C's resnet50 scenario with no scripted events.
json envC(int rounds) {
  json s = scenario("envC_fail");
  s["training"]["rounds"] = rounds;
  s["faults"].erase("events");
  return s;
}

const json* battery_of(const json& report, const std::string& device) {
  for (const json& b : report["batteries"])
    if (b["device"] == device) return &b;
  return nullptr;
}

// run_sim with the per-instruction spans, which the report's energy block is computed from.
int run_sim_with_spans(const fs::path& scenario_file, const fs::path& out, json* report) {
  fs::create_directories(out);
  // A bound on the wall time, so that a hang fails the test instead of stalling the suite.
  const std::string cmd = "timeout 120 " + std::string(ASTEROID_SIM_BIN) + " " + scenario_file.string() + " -o " + out.string() +
                          " > " + (out / "stdout.txt").string() + " 2>&1";
  const int status = std::system(cmd.c_str());
  if (fs::exists(out / "report.json")) *report = read(out / "report.json");
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int count_events(const json& report, const std::string& kind, double before = 1e300) {
  int n = 0;
  for (const json& e : report["events"])
    if (e["kind"] == kind && e["time_s"].get<double>() < before) ++n;
  return n;
}

}  // namespace

TEST_CASE("sim: a lone device leaves when its battery reaches the floor, at the hand-computed time, and the report "
          "is written",
          "[sim][battery]") {
  fs::path dir = temp_dir("battery_one");
  json s = envC(100000);
  s["name"] = "battery_one";
  s["cluster"]["devices"] = {{{"name", "nano0"}, {"type", "jetson_nano"}}};
  // 300 J, floor 100 J: 200 J to draw. Alone, the Nano computes all the time (one stage, no
  // communication, rounds back to back) at MAXN's 10 W (traces/jetson_nano/power.json): 20 s.
  s["cluster"]["devices"][0]["battery"] = {{"capacity", "1Wh"}, {"charge", "300J"}, {"floor", "100J"}};
  write(dir / "s.json", s);
  json r;
  const int code = run_sim(dir / "s.json", dir / "out", "", &r);
  INFO("output in " << (dir / "out").string());
  CHECK(code == 1);  // it stopped before its last round
  REQUIRE(r.contains("batteries"));
  const json* b = battery_of(r, "nano0");
  REQUIRE(b);
  CHECK((*b)["how"] == "energy_departure");
  CHECK((*b)["left_s"].get<double>() == Approx(20.0).epsilon(1e-4));
  CHECK((*b)["start_J"].get<double>() == Approx(300));
  CHECK((*b)["end_J"].get<double>() == Approx(100).margin(0.01));
  REQUIRE(count_events(r, "energy_departure") == 1);
  const json& sum = r["summary"];
  CHECK_FALSE(sum["completed"].get<bool>());
  CHECK_FALSE(sum["stop_reason"].get<std::string>().empty());
  CHECK(sum["rounds_committed"].get<int>() > 0);
  const std::string out = stdout_of(dir / "out");
  CHECK(out.find("energy departure of nano0") != std::string::npos);
  CHECK(out.find("battery of nano0") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("sim: an energy departure in a pipeline is recovered like a leave; the battery drew what energy.hpp counts",
          "[sim][battery]") {
  fs::path dir = temp_dir("battery_react");
  json s = envC(40);
  s["name"] = "battery_react";
  s["cluster"]["devices"][1]["battery"] = {{"capacity", "1Wh"}, {"charge", "150J"}, {"floor", "50J"}};
  write(dir / "s.json", s);
  json r;
  const int code = run_sim_with_spans(dir / "s.json", dir / "out", &r);
  INFO("output in " << (dir / "out").string());
  REQUIRE(code == 0);
  const json& sum = r["summary"];
  CHECK(sum["completed"].get<bool>());
  CHECK_FALSE(sum["weights_lost"].get<bool>());
  REQUIRE(sum["failures"].size() == 1);
  const json& f = sum["failures"][0];
  CHECK(f["kind"] == "energy_departure");
  CHECK(f["device"] == "tx2_0");
  CHECK(f["lost_layers"].empty());
  CHECK(f["detection_s"].get<double>() <= 3.0 + 0.01);
  CHECK(count_events(r, "failure") == 0);  // not a scripted leave
  const json* b = battery_of(r, "tx2_0");
  REQUIRE(b);
  CHECK((*b)["left_s"].get<double>() == Approx(f["failure_s"].get<double>()));
  // The spans' energy (energy.hpp, after the run) for tx2_0 is what its battery gave, 100 J, to
  // within what a rollback cuts short (an instruction cut by the failure leaves no span).
  const double spans_J = r["energy"]["devices"]["tx2_0"]["total_J"].get<double>();
  CHECK(spans_J == Approx(100).epsilon(0.05));
  CHECK(spans_J <= 100 + 1e-6);
  fs::remove_all(dir);
}

TEST_CASE("sim: proactive departures leave before the floor with nothing replayed or lost, and train more samples "
          "than reacting",
          "[sim][battery]") {
  fs::path dir = temp_dir("battery_policy");
  // Every device on a battery, so that the run trains until none can go on; detection slow (8 missed
  // 1 s beats), which a reactive departure pays with every survivor's idle draw and a replay.
  json s = envC(100000);
  s["name"] = "battery_policy";
  s["faults"]["missed_heartbeats"] = 8;
  const char* charges[] = {"1200J", "900J", "1000J", "250J", "300J", "350J"};
  for (size_t i = 0; i < s["cluster"]["devices"].size(); ++i)
    s["cluster"]["devices"][i]["battery"] = {{"capacity", "1Wh"}, {"charge", charges[i]}, {"floor", "20J"}};
  json reports[2];
  const char* policies[] = {"react", "proactive"};
  for (int k = 0; k < 2; ++k) {
    s["faults"]["battery"] = policies[k];
    write(dir / (std::string(policies[k]) + ".json"), s);
    const int code = run_sim(dir / (std::string(policies[k]) + ".json"), dir / policies[k], "", &reports[k]);
    INFO("policy " << policies[k] << ", output in " << (dir / policies[k]).string());
    CHECK(code == 1);  // the run stops before its last round, its report written
    REQUIRE(reports[k].contains("summary"));
  }
  const json& react = reports[0];
  const json& pro = reports[1];
  // Reacting may lose weights here (a single-device stage whose device leaves before its copy is
  // placed); leaving as planned copies the state out first, and the last device stops the run.
  CHECK_FALSE(pro["summary"]["weights_lost"].get<bool>());
  CHECK(pro["summary"]["stop_reason"].get<std::string>().find("no device can go on") != std::string::npos);
  CHECK(count_events(react, "planned_departure") == 0);
  REQUIRE(count_events(pro, "planned_departure") >= 1);
  // Each planned departure: before its floor, no detection of it, nothing replayed because of it.
  double first_unplanned = 1e300;
  for (const json& e : pro["events"])
    if (e["kind"] == "energy_departure") first_unplanned = std::min(first_unplanned, e["time_s"].get<double>());
  CHECK(count_events(pro, "replay", first_unplanned) == 0);
  for (const json& e : pro["events"]) {
    if (e["kind"] != "planned_departure") continue;
    const std::string dev = e["device"];
    const json* b = battery_of(pro, dev);
    REQUIRE(b);
    CHECK((*b)["how"] == "planned_departure");
    CHECK((*b)["end_J"].get<double>() > (*b)["floor_J"].get<double>());
    for (const json& x : pro["events"])
      if (x["device"] == dev) CHECK(x["kind"] != "detection");
  }
  const int samples_react = react["summary"]["rounds_committed"].get<int>();
  const int samples_pro = pro["summary"]["rounds_committed"].get<int>();
  std::printf("battery policy: react %d rounds (%.1f s), proactive %d rounds (%.1f s), planned departures %d\n",
              samples_react, react["end_s"].get<double>(), samples_pro, pro["end_s"].get<double>(),
              count_events(pro, "planned_departure"));
  CHECK(samples_pro > samples_react);
  fs::remove_all(dir);
}

TEST_CASE("sim: devices draining one after another early in the run end it with its reason, never a hang",
          "[sim][battery]") {
  // The second departure comes just before a checkpoint whose ledger check finds a layer with no
  // live copy: the worker that committed the round stops the run, and every other actor must go.
  fs::path dir = temp_dir("battery_early");
  json s = envC(1000000);
  s["name"] = "battery_early";
  const char* charges[] = {"900J", "390J", "300J", "150J", "195J", "240J"};
  for (size_t i = 0; i < s["cluster"]["devices"].size(); ++i)
    s["cluster"]["devices"][i]["battery"] = {{"capacity", "0.75Wh"}, {"charge", charges[i]}, {"floor", "5%"}};
  write(dir / "s.json", s);
  json r;
  const int code = run_sim_with_spans(dir / "s.json", dir / "out", &r);
  INFO("output in " << (dir / "out").string());
  REQUIRE(code == 1);  // not 124: the run ended on its own
  CHECK_FALSE(r["summary"]["stop_reason"].get<std::string>().empty());
  CHECK(count_events(r, "energy_departure") >= 2);
  fs::remove_all(dir);
}

TEST_CASE("sim: a bad battery is one line naming the field and exit status 2", "[sim][battery]") {
  fs::path dir = temp_dir("battery_bad");
  const json bad[] = {{{"capacity", "20Wh"}, {"charge", "25Wh"}},  // above the capacity
                      {{"capacity", "20"}},                        // no unit
                      {{"capacity", "20Wh"}, {"floor", "-1Wh"}},   // negative
                      {{"capacity", "20Wh"}, {"charge", "1Wh"}, {"floor", "2Wh"}}};  // floor above charge
  const char* field[] = {"battery.charge", "battery.capacity", "battery.floor", "battery.floor"};
  for (int i = 0; i < 4; ++i) {
    json s = envC(4);
    s["cluster"]["devices"][3]["battery"] = bad[i];
    write(dir / "bad.json", s);
    INFO(bad[i].dump());
    CHECK(run_sim(dir / "bad.json", dir / "out", "", nullptr) == 2);
    const std::string text = stdout_of(dir / "out");
    CHECK(std::count(text.begin(), text.end(), '\n') == 1);
    CHECK(text.find("cluster.devices[3]." + std::string(field[i])) != std::string::npos);
  }
  fs::remove_all(dir);
}

TEST_CASE("sim: without training.rounds, a run with batteries goes on until the last battery's floor, and says so",
          "[sim][battery]") {
  fs::path dir = temp_dir("battery_length");
  json s = envC(1);
  s["name"] = "battery_length";
  s["training"].erase("rounds");
  s["cluster"]["devices"] = {{{"name", "nano0"}, {"type", "jetson_nano"}}};
  // 2900 J to draw at 10 W: 290 s, about 43 rounds of ResNet50 alone on it, beyond the default 20.
  s["cluster"]["devices"][0]["battery"] = {{"capacity", "1Wh"}, {"charge", "3000J"}, {"floor", "100J"}};
  write(dir / "s.json", s);
  json r;
  run_sim(dir / "s.json", dir / "out", "", &r);
  INFO("output in " << (dir / "out").string());
  const std::string out = stdout_of(dir / "out");
  CHECK(out.find("to reach the last battery's floor (nano0's") != std::string::npos);
  CHECK(r["rounds_planned"].get<int>() > 20);
  REQUIRE(count_events(r, "energy_departure") == 1);  // reached, not cut off by the run's end
  fs::remove_all(dir);
}
