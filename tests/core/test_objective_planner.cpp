// The energy objective (objective_planner.hpp): every plan within the slowdown enumerated
// (enumerate_by_replay against exhaustive enumeration), the least energy per sample among them, and
// power modes as a planning choice (against every assignment planned alone). Power-mode traces and
// the planner fields of the scenario.
#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <map>
#include <optional>
#include <string>

#include "asteroid/run/backend_setup.hpp"
#include "asteroid/input/cluster.hpp"
#include "asteroid/planning/objective_planner.hpp"
#include "asteroid/planning/plan_energy.hpp"
#include "asteroid/planning/replay_search.hpp"
#include "asteroid/input/scenario.hpp"
#include "exhaustive.hpp"

using namespace asteroid;
namespace ex = asteroid::testing;

namespace {

// Powers per synthetic device type (jetson_like_types), different enough that the least-energy
// plan is often not the fastest: the fast type draws much more while computing.
std::vector<std::optional<DevicePower>> toy_powers(const Cluster& c) {
  const std::map<std::string, std::array<double, 3>> watts = {
      {"fast", {30, 4, 3}}, {"mid", {9, 3, 2}}, {"slow", {3, 2, 1}}};  // compute, communication, idle
  std::vector<std::optional<DevicePower>> out;
  for (const Device& d : c.devices) {
    DevicePower p;
    p.device_type = d.type;
    p.power.mode = "ON";
    const auto& w = watts.at(d.type);
    p.power.compute_W = w[0], p.power.communication_W = w[1], p.power.idle_W = w[2];
    out.push_back(p);
  }
  return out;
}

CostModel instance(int seed) {
  std::mt19937 rng(seed);
  const int N = 2 + seed % 3, L = 4 + seed % 3;
  Cluster c = ex::random_cluster(rng, N, L, seed % 4 == 1, seed % 3 == 0);
  CostOptions o;
  o.batch_size = seed % 2 ? 12 : 16;
  return CostModel(c, o);
}

std::string source(const std::string& path) { return std::string(ASTEROID_SOURCE_DIR) + "/" + path; }

// A scenario of the repository's traces (scenarios/ is where it would be).
Result<Scenario> scenario(const nlohmann::json& j) {
  return parse_scenario(j, source("scenarios/test.json"), source("scenarios"));
}

nlohmann::json small_cluster() {
  return {{"schema_version", 1},
          {"cluster",
           {{"devices",
             {{{"name", "tx2"}, {"type", "jetson_tx2"}},
              {{"name", "nano0"}, {"type", "jetson_nano"}},
              {{"name", "nano1"}, {"type", "jetson_nano"}}}},
            {"network", {{"bandwidth", "100Mbps"}, {"latency", "1ms"}}}}},
          {"model", {{"name", "mobilenetv2"}}},
          {"training", {{"batch_size", 32}}},
          {"planner", {{"microbatch_sizes", {8, 16, 32}}}}};
}

}  // namespace

TEST_CASE("objective: enumeration by replay finds every plan within the ceiling, as exhaustive enumeration does",
          "[objective][replay]") {
  int compared = 0, energy_not_fastest = 0;
  for (int seed = 1; seed <= 30; ++seed) {
    CostModel m = instance(seed);
    INFO("seed " << seed << ", " << m.num_devices() << " devices, " << m.num_layers() << " layers");
    const std::vector<int> betas = microbatch_candidates(m.options().batch_size, {});
    PlannerOptions opt;
    Plan fastest;
    const double best = ex::exhaustive_best(m, betas, &fastest, opt, false, ex::Objective::replay);
    if (!std::isfinite(best)) continue;
    const auto powers = toy_powers(m.cluster());
    for (double slowdown : {0.0, 0.1, 0.5}) {
      const double ceiling = best * (1 + slowdown);
      // The reference: every plan of the space, the least energy per sample within the ceiling.
      double want = INFINITY;
      long long within = 0;
      ex::for_each_plan(m, betas, opt, false, [&](const Plan& p) {
        Evaluation e = m.evaluate(p);
        if (!e.feasible || e.schedule_latency_s > ceiling * (1 + 1e-9)) return;
        ++within;
        want = std::min(want, predict_plan_energy(m, e, powers).J_per_sample);
      });
      double got = INFINITY, longest = 0;
      long long visited = 0;
      const bool complete = enumerate_by_replay(m, opt, ceiling, [&](const Evaluation& e) {
        ++visited;
        longest = std::max(longest, e.schedule_latency_s);
        got = std::min(got, predict_plan_energy(m, e, powers).J_per_sample);
      });
      CHECK(complete);
      CHECK(visited >= 1);
      CHECK(visited <= within);  // devices of a class are taken in one order: fewer, never more
      CHECK(longest <= ceiling * (1 + 1e-9));
      CHECK(got == Approx(want).epsilon(1e-12));
      if (slowdown > 0 && want < predict_plan_energy(m, m.evaluate(fastest), powers).J_per_sample * (1 - 1e-9))
        ++energy_not_fastest;
      ++compared;
    }
  }
  CHECK(compared >= 60);
  CHECK(energy_not_fastest >= 5);  // the objective matters: it is often not the fastest plan
}

TEST_CASE("objective: power modes free pick the least energy over every assignment, each planned alone",
          "[objective][power]") {
  auto s = scenario(small_cluster());
  REQUIRE(s.ok());
  ObjectiveOptions o;
  o.objective = PlanningObjective::energy;
  o.max_slowdown = 0.15;
  o.power_modes = PowerModeChoice::free;
  auto r = plan_for_objective(*s, o);
  REQUIRE(r.ok());
  CHECK(r->proven_optimal);
  CHECK(r->mode_assignments == 3 * 3);  // tx2: 3 modes; 2 interchangeable nanos: {MAXN, 5W} multisets
  // The reference: every one of the 3 x 2 x 2 assignments, device by device, planned alone.
  const std::vector<std::string> tx2 = {"Max-N", "Max-P", "Max-Q"}, nano = {"MAXN", "5W"};
  double fastest = INFINITY;
  std::vector<std::vector<std::string>> all;
  for (const auto& a : tx2)
    for (const auto& b : nano)
      for (const auto& c : nano) all.push_back({a, b, c});
  ObjectiveOptions alone;  // the time objective with the modes fixed
  for (const auto& modes : all) {
    Scenario sa = *s;
    apply_power_modes(sa, modes);
    auto t = plan_for_objective(sa, alone);
    REQUIRE(t.ok());
    fastest = std::min(fastest, t->fastest.round_s());
  }
  CHECK(r->fastest.round_s() == Approx(fastest).epsilon(1e-12));
  const double ceiling = fastest * (1 + o.max_slowdown);
  double least = INFINITY;
  for (const auto& modes : all) {
    Scenario sa = *s;
    apply_power_modes(sa, modes);
    const CostModel m = make_cost_model(sa);
    enumerate_by_replay(m, planner_options(sa), ceiling, [&](const Evaluation& e) {
      least = std::min(least, predict_plan_energy(m, e, device_powers(sa)).J_per_sample);
    });
  }
  CHECK(r->chosen.energy.J_per_sample == Approx(least).epsilon(1e-12));
  CHECK(r->chosen.round_s() <= ceiling * (1 + 1e-9));
  CHECK(r->chosen.energy.J_per_sample <= r->fastest.energy.J_per_sample);
  // The front: no point beats another on both time and energy; the chosen plan's energy is its least.
  REQUIRE_FALSE(r->front.empty());
  for (size_t i = 1; i < r->front.size(); ++i) {
    CHECK(r->front[i].s_per_sample() >= r->front[i - 1].s_per_sample());
    CHECK(r->front[i].energy.J_per_sample < r->front[i - 1].energy.J_per_sample);
  }
  CHECK(r->front.back().energy.J_per_sample == Approx(least).epsilon(1e-12));
}

TEST_CASE("objective: a device in a mode with a trace runs at that trace's times", "[objective][power][scenario]") {
  nlohmann::json j = small_cluster();
  j["cluster"]["devices"][1]["power_mode"] = "5W";
  auto s = scenario(j);
  REQUIRE(s.ok());
  CHECK(device_profile(*s, 1).power_mode == "5W");
  CHECK(device_profile(*s, 2).power_mode.empty());  // the type's trace, the default mode's
  CHECK(s->mode_trace_files.at("jetson_nano").at("5W") == source("traces/jetson_nano/modes/5W/mobilenetv2.json"));
  const Cluster c = make_cluster(*s);
  CHECK(c.devices[1].table != c.devices[2].table);
  CHECK(c.devices[1].speed() < c.devices[2].speed());  // 5W clocks are lower
  CHECK(traced_power_modes(*s, "jetson_tx2") == std::vector<std::string>{"Max-N", "Max-P", "Max-Q"});
}

TEST_CASE("objective: the scenario's planner fields, and bad ones refused in one line", "[objective][scenario]") {
  nlohmann::json j = small_cluster();
  j["planner"]["objective"] = "energy";
  j["planner"]["max_slowdown"] = "25%";
  j["planner"]["power_modes"] = "free";
  auto s = scenario(j);
  REQUIRE(s.ok());
  CHECK(s->planner.objective == PlanningObjective::energy);
  CHECK(s->planner.max_slowdown == Approx(0.25));
  CHECK(s->planner.power_modes == PowerModeChoice::free);
  struct Case {
    const char* field;
    nlohmann::json value;
    const char* message;
  };
  for (const Case& c : {Case{"objective", "fast", "planner.objective: "},
                        Case{"max_slowdown", "10", "planner.max_slowdown: \"10\" has no unit"},
                        Case{"max_slowdown", "-5%", "planner.max_slowdown: \"-5%\" must be a finite, non-negative"},
                        Case{"max_slowdown", 0.1, "planner.max_slowdown: "},
                        Case{"power_modes", "any", "planner.power_modes: "}}) {
    INFO(c.field << " = " << c.value.dump());
    nlohmann::json bad = small_cluster();
    bad["planner"][c.field] = c.value;
    auto r = scenario(bad);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().str(), Catch::Contains(c.message));
    CHECK(r.error().str().find('\n') == std::string::npos);
  }
  nlohmann::json unknown = small_cluster();
  unknown["cluster"]["devices"][0]["power_mode"] = "Turbo";
  auto r = scenario(unknown);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error().str(), Catch::Contains("unknown power mode \"Turbo\" for jetson_tx2"));
}
