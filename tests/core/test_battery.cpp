// Batteries (battery.hpp, battery_forecast.hpp) and the Coordinator's planned departure: the
// scenario's battery block and its errors, the forecast against a hand computation, and a planned
// departure that copies the leaver's state out with nothing run again.
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "asteroid/planning/battery_forecast.hpp"
#include "asteroid/input/scenario.hpp"
#include "coordinator_fixture.hpp"

using namespace asteroid;

namespace {

const std::string kData = ASTEROID_TEST_DATA;

// A power model for the synthetic "fast" type, written to a temporary file (the test data's
// traces have none: a battery there is refused, which the last test of the errors checks).
std::string fast_power_file() {
  const std::string path = (std::filesystem::temp_directory_path() / "asteroid_test_fast_power.json").string();
  std::ofstream(path) << R"({"schema_version": 1, "device_type": "fast", "default_mode": "ON",
    "provenance": {"kind": "derived", "method": "a test's round figures"},
    "modes": {"ON": {"idle": "2W", "compute": "10W", "communication": "4W"}}})";
  return path;
}

nlohmann::json with_battery(const nlohmann::json& battery) {
  auto j = nlohmann::json::parse(R"({
    "schema_version": 1,
    "cluster": {
      "devices": [{"name": "f0", "type": "fast"}, {"name": "s0", "type": "slow", "memory": "1GiB"}],
      "network": {"bandwidth": "100Mbps", "latency": "0.5ms"}
    },
    "model": {"name": "synthetic"},
    "training": {"batch_size": 16, "rounds": 3},
    "traces": {"fast": "fast.json", "slow": "slow.json"}
  })");
  j["power"] = {{"fast", fast_power_file()}};
  j["cluster"]["devices"][0]["battery"] = battery;
  return j;
}

std::string error_of(const nlohmann::json& j) {
  auto r = parse_scenario(j, "bad.json", kData);
  REQUIRE_FALSE(r.ok());
  return r.error().str();
}

}  // namespace

TEST_CASE("battery: capacity, charge and floor load in joules, percentages of the capacity", "[battery][scenario]") {
  auto r = parse_scenario(with_battery({{"capacity", "20Wh"}, {"charge", "75%"}, {"floor", "1Wh"}}), "ok.json", kData);
  REQUIRE(r.ok());
  const auto& b = r->devices[0].battery;
  REQUIRE(b);
  CHECK(b->capacity_J == Approx(72000));
  CHECK(b->charge_J == Approx(54000));
  CHECK(b->floor_J == Approx(3600));
  CHECK(b->usable_J() == Approx(50400));
  CHECK_FALSE(r->devices[1].battery);  // on mains
  CHECK(r->faults.battery == BatteryPolicy::react);

  // Defaults: full, no floor; the policy and margin from the faults block.
  auto j = with_battery({{"capacity", "500J"}});
  j["faults"] = {{"battery", "proactive"}, {"battery_margin_rounds", 2}};
  auto full = parse_scenario(j, "ok.json", kData);
  REQUIRE(full.ok());
  CHECK(full->devices[0].battery->charge_J == Approx(500));
  CHECK(full->devices[0].battery->floor_J == 0);
  CHECK(full->faults.battery == BatteryPolicy::proactive);
  CHECK(full->faults.battery_margin_rounds == 2);
}

TEST_CASE("battery: bad batteries are refused in one line naming the field", "[battery][scenario][errors]") {
  const std::string at = "bad.json: cluster.devices[0].battery";
  SECTION("a negative charge") {
    auto e = error_of(with_battery({{"capacity", "20Wh"}, {"charge", "-5Wh"}}));
    CHECK(e.find(at + ".charge") != std::string::npos);
    CHECK(e.find("non-negative") != std::string::npos);
  }
  SECTION("a capacity without a unit") {
    auto e = error_of(with_battery({{"capacity", "20"}}));
    CHECK(e.find(at + ".capacity") != std::string::npos);
  }
  SECTION("a capacity as a bare number") { CHECK(error_of(with_battery({{"capacity", 20}})).find(at + ".capacity") != std::string::npos); }
  SECTION("a capacity given as a percentage") {
    CHECK(error_of(with_battery({{"capacity", "50%"}})).find(at + ".capacity") != std::string::npos);
  }
  SECTION("a zero capacity") { CHECK(error_of(with_battery({{"capacity", "0Wh"}})).find("above 0 J") != std::string::npos); }
  SECTION("a charge above the capacity") {
    auto e = error_of(with_battery({{"capacity", "20Wh"}, {"charge", "25Wh"}}));
    CHECK(e.find(at + ".charge") != std::string::npos);
    CHECK(e.find("above the capacity") != std::string::npos);
  }
  SECTION("a percentage above 100%") {
    CHECK(error_of(with_battery({{"capacity", "20Wh"}, {"charge", "120%"}})).find(at + ".charge") != std::string::npos);
  }
  SECTION("a floor above the charge") {
    auto e = error_of(with_battery({{"capacity", "20Wh"}, {"charge", "10%"}, {"floor", "3Wh"}}));
    CHECK(e.find(at + ".floor") != std::string::npos);
    CHECK(e.find("above the charge") != std::string::npos);
  }
  SECTION("an unknown key") {
    CHECK(error_of(with_battery({{"capacity", "20Wh"}, {"voltage", "5V"}})).find(at + ".voltage") != std::string::npos);
  }
  SECTION("an unknown policy") {
    auto j = with_battery({{"capacity", "20Wh"}});
    j["faults"] = {{"battery", "hope"}};
    CHECK(error_of(j).find("bad.json: faults.battery") != std::string::npos);
  }
  SECTION("a battery on a type without a power model") {
    auto j = with_battery({{"capacity", "20Wh"}});
    j["cluster"]["devices"][1]["battery"] = {{"capacity", "20Wh"}};
    auto e = error_of(j);
    CHECK(e.find("bad.json: cluster.devices[1].battery") != std::string::npos);
    CHECK(e.find("no power model") != std::string::npos);
  }
}

TEST_CASE("battery: the forecast divides the charge left by the plan's energy per round", "[battery]") {
  PlanEnergy e;
  e.available = true;
  e.round_s = 2.0;
  e.devices.resize(3);
  e.devices[0].modelled = true, e.devices[0].compute_J = 6, e.devices[0].communication_J = 2, e.devices[0].idle_J = 2;
  e.devices[1].modelled = true, e.devices[1].idle_J = 4;
  e.devices[2].modelled = false;
  // Device 0: 25 J left at 10 J a round: 2.5 rounds, 5 s. Device 1 on mains. Device 2: no model.
  const std::vector<std::optional<double>> usable = {25.0, std::nullopt, 7.0};
  auto f = forecast_batteries(e, usable, 1);
  REQUIRE(f.size() == 2);
  CHECK(f[0].device == 0);
  CHECK(f[0].round_J == Approx(10));
  CHECK(f[0].rounds_left == Approx(2.5));
  CHECK(f[0].seconds_left == Approx(5.0));
  CHECK_FALSE(f[0].leave_now);  // 2.5 rounds >= the next one + 1 in hand
  CHECK(f[1].device == 2);
  CHECK_FALSE(f[1].leave_now);  // nothing drains it by the model
  CHECK(forecast_batteries(e, usable, 2)[0].leave_now);  // 2.5 < 1 + 2
  CHECK(forecast_batteries(e, {9.9}, 0)[0].leave_now);   // not even the next round
}

TEST_CASE("coordinator: a planned departure copies the leaver's state out and runs nothing again",
          "[battery][coordinator]") {
  using namespace asteroid::testing;
  auto f = fixture();
  // Without copies, the leaver is the only holder of its stage's checkpoint: what it holds must
  // come from it.
  CoordinatorConfig cfg = config(Recovery::lightweight);
  cfg.replicate = false;
  Coordinator c(f.model, f.plan, cfg);
  c.start(0);
  beat(c, -1, 2);
  c.round_done(0, 2.0);
  REQUIRE(c.last_checkpoint() == 0);

  // Device 3 holds the last stage alone: it leaves as planned.
  auto a = c.depart({3}, 2.2);
  REQUIRE_FALSE(a.empty());
  CHECK(a[0].kind == ActionKind::rollback);
  CHECK(a[0].round == 0);
  bool replanned = false;
  std::vector<StateTransfer> moves;
  for (const Action& x : a) {
    CHECK(x.kind != ActionKind::declare_failed);
    if (x.kind == ActionKind::replan) {
      replanned = true;
      CHECK(x.plan_id == 1);
      CHECK(x.detail.find("planned departure") != std::string::npos);
    }
    if (x.kind == ActionKind::transfer_state) moves = x.transfers;
  }
  CHECK(replanned);
  CHECK_FALSE(in_plan(c.plan(), 3));
  CHECK(c.leaving(3));
  CHECK(c.holds(3, 8));  // it still serves its state
  REQUIRE_FALSE(moves.empty());
  bool from_leaver = false;
  for (const StateTransfer& t : moves) {
    CHECK(t.to != 3);
    if (t.last_layer < 7) continue;
    CHECK(t.from == 3);  // layers 7-8 are on device 3 alone
    from_leaver = true;
  }
  CHECK(from_leaver);
  // Its silence is no failure: it is out of the plan, not watched.
  CHECK(beat(c, 3, 10).empty());
  auto done = c.state_transferred(10.5);
  REQUIRE(done.size() == 1);
  CHECK(done[0].kind == ActionKind::resume);  // no replay_round
  CHECK_FALSE(c.leaving(3));
  CHECK_FALSE(c.holds(3, 8));
  for (int l = 0; l < f.model.num_layers(); ++l) {
    bool held = false;
    for (int d = 0; d < 5; ++d) held = held || c.holds(d, l);
    CHECK(held);
  }
}

TEST_CASE("coordinator: no planned departure while a round after the checkpoint is finished",
          "[battery][coordinator]") {
  using namespace asteroid::testing;
  auto f = fixture();
  Coordinator c(f.model, f.plan, config(Recovery::lightweight));
  c.start(0);
  c.round_done(0, 1.0);
  c.round_done(1, 2.0);  // the copies of round 0 are not in: round 1 is past the checkpoint
  CHECK(c.depart({3}, 2.1).empty());
  CHECK(c.alive(3));
}
