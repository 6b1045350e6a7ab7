// The energy model (energy.hpp, power_model.hpp): hand-computed runs, and the power file's checks.
#include <catch2/catch.hpp>

#include "asteroid/report/energy.hpp"
#include "asteroid/input/power_model.hpp"
#include "asteroid/report/report_files.hpp"
#include "asteroid/report/run_report.hpp"

using namespace asteroid;

namespace {

// Powers chosen so that every product below is exact in binary floating point.
DevicePower power(double compute_W, double communication_W, double idle_W) {
  DevicePower p;
  p.device_type = "toy";
  p.source = "toy_power.json";
  p.power.mode = "ON";
  p.power.compute_W = compute_W, p.power.communication_W = communication_W, p.power.idle_W = idle_W;
  p.provenance = {{"kind", "derived"}};
  return p;
}

RoundRecord round_record(int round, double start, double end, int samples) {
  RoundRecord x;
  x.round = round, x.start = start, x.end = end, x.samples = samples;
  return x;
}

}  // namespace

TEST_CASE("energy: one device is charged P_compute t_compute + P_comm t_comm + P_idle t_idle", "[energy]") {
  RunReport r;
  r.devices = {"a"};
  r.power = {power(10, 3, 1.5)};
  r.end_s = 6;
  r.rounds = {round_record(0, 0, 6, 8)};
  // F 0-2, a receive 2-3, B 3-5, then nothing to 6. A background copy 4-5.5 overlaps the backward
  // (4-5 is compute) and outlasts it (5-5.5 is communication).
  r.spans = {{0, "F", 0, 0, 0, 0, 2},
             {0, "RECV_B", 0, 0, 0, 2, 3},
             {0, "B", 0, 0, 0, 3, 5},
             {0, "REPLICATE", 0, -1, 0, 4, 5.5}};
  const RunEnergy e = compute_energy(r);
  REQUIRE(e.available);
  REQUIRE(e.devices.size() == 1);
  const DeviceEnergy& d = e.devices[0];
  CHECK(d.compute_s == 4.0);
  CHECK(d.communication_s == 1.5);
  CHECK(d.idle_s == 0.5);
  const double expected = 10 * 4.0 + 3 * 1.5 + 1.5 * 0.5;  // 45.25 J
  CHECK(d.total_J() == expected);
  CHECK(e.total_J == expected);
  CHECK(e.compute_J == 40.0);
  CHECK(e.communication_J == 4.5);
  CHECK(e.idle_J == 0.75);
  REQUIRE(e.J_per_sample);
  CHECK(*e.J_per_sample == expected / 8);
  REQUIRE(e.rounds.size() == 1);
  CHECK(e.rounds[0].J == expected);
  CHECK_FALSE(e.partial);
}

TEST_CASE("energy: a two-stage pipeline pays idle power for its bubbles", "[energy]") {
  // Stage 0 on a, stage 1 on b, two micro-batches, F 1 s and B 2 s on both (1F1B):
  //   a: F0 0-1, F1 1-2, (waits for B0's gradient) B0 4-6, (waits) B1 7-9
  //   b: (waits for F0) F0 1-2, B0 2-4, F1 4-5, B1 5-7, then nothing to the end at 9
  // By hand: each device computes 6 s and idles 3 s (a: 2-4 and 6-7; b: 0-1 and 7-9).
  RunReport r;
  r.devices = {"a", "b"};
  r.power = {power(10, 4, 2), power(8, 4, 1)};
  r.end_s = 9;
  r.rounds = {round_record(0, 0, 4.5, 4), round_record(1, 4.5, 9, 4)};
  r.spans = {{0, "F", 0, 0, 0, 0, 1}, {0, "F", 0, 1, 0, 1, 2}, {0, "B", 0, 0, 0, 4, 6},
             {0, "B", 0, 1, 0, 7, 9}, {1, "F", 1, 0, 0, 1, 2}, {1, "B", 1, 0, 0, 2, 4},
             {1, "F", 1, 1, 0, 4, 5}, {1, "B", 1, 1, 0, 5, 7}};
  const RunEnergy e = compute_energy(r);
  REQUIRE(e.available);
  CHECK(e.devices[0].compute_s == 6.0);
  CHECK(e.devices[0].idle_s == 3.0);
  CHECK(e.devices[1].compute_s == 6.0);
  CHECK(e.devices[1].idle_s == 3.0);
  CHECK(e.devices[0].total_J() == 10 * 6.0 + 2 * 3.0);  // 66 J
  CHECK(e.devices[1].total_J() == 8 * 6.0 + 1 * 3.0);   // 51 J
  CHECK(e.total_J == 117.0);
  CHECK(*e.J_per_sample == 117.0 / 8);
  CHECK(*e.J_per_round == 117.0 / 2);
  // Per round, by hand: 0-4.5: a computes 2.5 s and idles 2 s (29 J); b idles 1 s and computes
  // 3.5 s (29 J). 4.5-9: a computes 3.5 s and idles 1 s (37 J); b computes 2.5 s and idles 2 s (22 J).
  REQUIRE(e.rounds.size() == 2);
  CHECK(e.rounds[0].J == 58.0);
  CHECK(e.rounds[1].J == 59.0);
}

TEST_CASE("energy: a device is charged only while it is there; one without a power model is left out",
          "[energy]") {
  RunReport r;
  r.devices = {"a", "b", "c"};
  r.power = {power(10, 4, 2), power(10, 4, 2), std::nullopt};
  r.end_s = 10;
  r.rounds = {round_record(0, 0, 10, 16)};
  r.spans = {{0, "F", 0, 0, 0, 0, 4}, {1, "F", 0, 0, 0, 0, 1}, {2, "F", 0, 0, 0, 0, 10}};
  r.add_event(6, EventKind::failure, "a", "left");  // a: there 0-6
  r.add_event(8, EventKind::join, "b", "joined");   // b: first a join, so there only 8-10
  const RunEnergy e = compute_energy(r);
  REQUIRE(e.available);
  CHECK(e.partial);
  CHECK(e.devices[0].compute_s == 4.0);
  CHECK(e.devices[0].idle_s == 2.0);
  CHECK(e.devices[0].total_J() == 44.0);
  CHECK(e.devices[1].compute_s == 0.0);  // its span falls before it is there
  CHECK(e.devices[1].idle_s == 2.0);
  CHECK(e.devices[1].total_J() == 4.0);
  CHECK_FALSE(e.devices[2].modelled);
  CHECK(e.total_J == 48.0);
}

TEST_CASE("energy: unavailable without a power model or without spans, and said why", "[energy]") {
  RunReport r;
  r.devices = {"a"};
  r.end_s = 1;
  r.rounds = {round_record(0, 0, 1, 1)};
  r.spans = {{0, "F", 0, 0, 0, 0, 1}};
  RunEnergy e = compute_energy(r);
  CHECK_FALSE(e.available);
  CHECK_THAT(energy_to_text(e), Catch::Contains("not available"));
  r.power = {power(1, 1, 1)};
  r.spans.clear();
  e = compute_energy(r);
  CHECK_FALSE(e.available);
  CHECK_THAT(e.unavailable, Catch::Contains("no spans"));
}

TEST_CASE("energy: the report writes power and energy, and reads the power back", "[energy][report]") {
  RunReport r;
  r.scenario = "toy";
  r.backend = "sim";
  r.devices = {"a"};
  r.power = {power(10, 3, 1.5)};
  r.end_s = 6;
  r.rounds = {round_record(0, 0, 6, 8)};
  r.spans = {{0, "F", 0, 0, 0, 0, 2}};
  const nlohmann::json j = report_to_json(r);
  REQUIRE(j.contains("energy"));
  CHECK(j["energy"]["kind"] == "modelled");
  CHECK(j["energy"]["total_J"].get<double>() == 10 * 2.0 + 1.5 * 4.0);
  CHECK(j["energy"]["power_models"]["toy_power.json"]["provenance"]["kind"] == "derived");
  auto back = report_from_json(j, "r.json");
  REQUIRE(back.ok());
  REQUIRE(back->power.size() == 1);
  REQUIRE(back->power[0]);
  CHECK(back->power[0]->power.compute_W == 10);
  CHECK(compute_energy(back.value()).total_J == j["energy"]["total_J"].get<double>());
  // The trace gets a power counter track.
  CHECK_THAT(report_to_chrome_trace(r), Catch::Contains("\"name\":\"power a (W)\""));
}

TEST_CASE("power model: powers need units, no negative values, none above the budget, a known default",
          "[energy][power]") {
  auto good = [] {
    return nlohmann::json{
        {"schema_version", 1},
        {"device_type", "toy"},
        {"default_mode", "10W"},
        {"provenance", {{"kind", "derived"}}},
        {"modes",
         {{"10W", {{"budget", "10W"}, {"idle", "1.5W"}, {"compute", "10W"}, {"communication", "2500mW"}}},
          {"MAXN", {{"idle", "2W"}, {"compute", "17.5W"}, {"communication", "3W"}}}}}};
  };
  auto m = parse_power_model(good(), "p.json");
  REQUIRE(m.ok());
  CHECK(m->mode("")->compute_W == 10);
  CHECK(m->mode("10W")->communication_W == 2.5);
  CHECK(m->mode("MAXN")->budget_W == 0);
  CHECK(m->mode("5W") == nullptr);

  struct Case {
    const char* what;
    nlohmann::json::json_pointer where;
    nlohmann::json value;
    const char* message;
  } cases[] = {
      {"unitless", nlohmann::json::json_pointer("/modes/10W/idle"), 1.5,
       "p.json: modes.10W.idle: a bare number has no unit"},
      {"unitless string", nlohmann::json::json_pointer("/modes/10W/idle"), "1.5",
       "p.json: modes.10W.idle: \"1.5\" has no unit"},
      {"negative", nlohmann::json::json_pointer("/modes/MAXN/compute"), "-3W",
       "p.json: modes.MAXN.compute: \"-3W\" must be a finite, non-negative power"},
      {"above the budget", nlohmann::json::json_pointer("/modes/10W/compute"), "12W",
       "p.json: modes.10W.compute: is above the mode's budget"},
      {"unknown default", nlohmann::json::json_pointer("/default_mode"), "7W",
       "p.json: default_mode: unknown power mode \"7W\""},
      {"not derived or measured", nlohmann::json::json_pointer("/provenance/kind"), "guessed",
       "p.json: provenance.kind: must be \"measured\" or \"derived\""},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    nlohmann::json j = good();
    j[c.where] = c.value;
    auto bad = parse_power_model(j, "p.json");
    REQUIRE_FALSE(bad.ok());
    CHECK_THAT(bad.error().str(), Catch::StartsWith(c.message));
  }
}

TEST_CASE("power model: the Jetson power files load, and their default modes are the traces' modes",
          "[energy][power]") {
  for (auto [type, mode] : {std::pair{"jetson_nano", "MAXN"}, std::pair{"jetson_tx2", "Max-N"},
                            std::pair{"jetson_xavier_nx", "15W"}}) {
    INFO(type);
    auto m = load_power_model(std::string(ASTEROID_SOURCE_DIR) + "/traces/" + type + "/power.json");
    REQUIRE(m.ok());
    CHECK(m->device_type == type);
    CHECK(m->default_mode == mode);
    CHECK(m->provenance["kind"] == "derived");
  }
}

TEST_CASE("power model: the datasheet devices' power files load, with sources and their traces' modes as default",
          "[energy][power]") {
  for (auto [type, mode] : {std::pair{"jetson_orin_nano_8gb", "15W"}, std::pair{"jetson_agx_orin_32gb", "40W"},
                            std::pair{"raspberry_pi_5", "stock"}, std::pair{"laptop_rtx4050", "115W"}}) {
    INFO(type);
    auto m = load_power_model(std::string(ASTEROID_SOURCE_DIR) + "/traces/" + type + "/power.json");
    REQUIRE(m.ok());
    CHECK(m->device_type == type);
    CHECK(m->default_mode == mode);
    CHECK(m->provenance["kind"] == "derived");
    CHECK_FALSE(m->provenance["sources"].empty());
    const ModePower* d = m->mode(mode);
    REQUIRE(d);
    CHECK(d->idle_W < d->communication_W);
    CHECK(d->communication_W < d->compute_W);
  }
}
