// GPipe as a planner choice (planner.schedule "gpipe"): all forwards, then all backwards, M
// micro-batches in flight at every stage; the schedule's facts (schedule.hpp), the replay, the
// Program, the cost model's memory and the scenario key.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "asteroid/planning/planner.hpp"
#include "asteroid/planning/replay_choice.hpp"
#include "asteroid/planning/replay_search.hpp"
#include "asteroid/run/backend_setup.hpp"
#include "asteroid/model/memory_breakdown.hpp"
#include "asteroid/model/plan_memory.hpp"
#include "asteroid/model/pipeline_schedule.hpp"
#include "asteroid/program/program.hpp"
#include "asteroid/model/schedule.hpp"
#include "exhaustive.hpp"
#include "synthetic.hpp"

using namespace asteroid;
using namespace asteroid::testing;

namespace {

// Three devices of equal speed, four layers (as test_program.cpp's), under `kind`.
CostModel small_model(PipelineSchedule kind) {
  std::mt19937 rng(7);
  auto layers = synthetic_layers(4, rng);
  Cluster c =
      synthetic_cluster(layers, {{"fast", 1.0, 7e9}, {"fast", 1.0, 7e9}, {"fast", 1.0, 7e9}}, 12.5e6, 5e-4);
  CostOptions o;
  o.batch_size = 8;
  o.schedule = kind;
  return CostModel(c, o);
}

// One stage per device: layers 0-1, 2, 3; micro-batches of 2, so M = 4.
Plan three_stages() {
  Plan p;
  p.microbatch_size = 2;
  p.microbatches = 4;
  p.stages = {{0, 1, {0}, {}}, {2, 2, {1}, {}}, {3, 3, {2}, {}}};
  return p;
}

// A device's forwards and backwards in order, as "F0 F1 B0 ...".
std::string passes(const std::vector<Instruction>& list) {
  std::string out;
  for (const Instruction& in : list) {
    if (in.op != Op::forward && in.op != Op::backward) continue;
    if (!out.empty()) out += ' ';
    out += (in.op == Op::forward ? "F" : "B") + std::to_string(in.microbatch);
  }
  return out;
}

}  // namespace

TEST_CASE("gpipe: every stage keeps all M micro-batches and runs all forwards first", "[gpipe][schedule]") {
  using namespace asteroid::schedule;
  for (int P = 1; P <= 5; ++P)
    for (int p = 0; p < P; ++p) {
      CHECK(in_flight(PipelineSchedule::gpipe, 6, P, p) == 6);
      CHECK(in_flight(PipelineSchedule::one_f_one_b, 6, P, p) == in_flight(6, P, p));
    }
  const auto order = pipeline_order(PipelineSchedule::gpipe, 3, pipeline_steps(2));
  REQUIRE(order.size() == 3);
  CHECK(order[1].empty());  // the communication step
  for (int s : {0, 2}) {
    REQUIRE(order[size_t(s)].size() == 6);
    for (int i = 0; i < 6; ++i) {
      CHECK(order[size_t(s)][size_t(i)].backward == (i >= 3));
      CHECK(order[size_t(s)][size_t(i)].microbatch == i % 3);
    }
  }
}

TEST_CASE("gpipe: the replay of a two-stage round, worked by hand", "[gpipe][replay]") {
  // Stage 0: forward 1 s, backward 1 s; the transfer 1 s each way (no latency, links of its own);
  // stage 1: forward 2 s, backward 2 s; M = 3.
  //   stage 0 forwards 0-1, 1-2, 2-3; the activations travel 1-2, 2-3, 3-4;
  //   stage 1 forwards 2-4, 4-6, 6-8, then backwards 8-10, 10-12, 12-14;
  //   the gradients travel 10-11, 12-13, 14-15; stage 0 backwards 11-12, 13-14, 15-16.
  std::vector<StepCost> steps(3);
  steps[0].E_f = 1, steps[0].E_b = 1;
  steps[1].kind = StepKind::communication, steps[1].E_f = 1, steps[1].E_b = 1;
  steps[2].E_f = 2, steps[2].E_b = 2;
  const ScheduleTiming g = schedule_latency(steps, 3, /*shared_nics=*/false, PipelineSchedule::gpipe);
  CHECK(g.latency_s == Approx(16));
  REQUIRE(g.last_backward_end_s.size() == 3);
  CHECK(g.last_backward_end_s[0] == Approx(16));
  CHECK(g.last_backward_end_s[1] == Approx(15));
  CHECK(g.last_backward_end_s[2] == Approx(14));
  // With an all-reduce and optimizer step on stage 0 (2 s), the round ends 2 s later.
  steps[0].T_a = 1.5, steps[0].T_o = 0.5;
  CHECK(schedule_latency(steps, 3, false, PipelineSchedule::gpipe).latency_s == Approx(18));
  // On the network graph, with the same times and one channel per direction of plenty: the same
  // round (each flow 1 byte at 1 B/s).
  NetworkUse use;
  use.capacity_Bps = {1, 1};
  use.comm.resize(3), use.ring.resize(3), use.members.resize(3);
  NetFlow fwd{0, 1, {0}, 1, 0}, bwd{1, 0, {1}, 1, 0};
  use.comm[1].forward = {fwd};
  use.comm[1].backward = {bwd};
  steps[0].T_a = 0, steps[0].T_o = 0;
  CHECK(schedule_latency(steps, 3, use, PipelineSchedule::gpipe).latency_s == Approx(16));
}

TEST_CASE("gpipe: the Program runs every forward before any backward, M in flight on every device",
          "[gpipe][program]") {
  CostModel m = small_model(PipelineSchedule::gpipe);
  Program p = make_program(m, three_stages());
  for (int d = 0; d < 3; ++d) {
    CHECK(passes(p.device[size_t(d)]) == "F0 F1 F2 F3 B0 B1 B2 B3");
    CHECK(peak_in_flight(p.device[size_t(d)]) == 4);
  }
  REQUIRE(validate_program(p.device).ok());
  REQUIRE(dry_run(p.device).ok());
  // Under 1F1B the same plan keeps 4, 3 and 1 (K_p = min(M, 2(P - p) - 1)).
  Program q = make_program(small_model(PipelineSchedule::one_f_one_b), three_stages());
  CHECK(passes(q.device[2]) == "F0 B0 F1 B1 F2 B2 F3 B3");
  CHECK(peak_in_flight(q.device[1]) == 3);
}

TEST_CASE("gpipe: the cost model prices M micro-batches of activations at every stage", "[gpipe][memory]") {
  const Evaluation g = small_model(PipelineSchedule::gpipe).evaluate(three_stages());
  const Evaluation f = small_model(PipelineSchedule::one_f_one_b).evaluate(three_stages());
  REQUIRE(g.feasible);
  REQUIRE(f.feasible);
  const auto gm = plan_memory(small_model(PipelineSchedule::gpipe), g);
  const auto fm = plan_memory(small_model(PipelineSchedule::one_f_one_b), f);
  REQUIRE(gm.size() == 3);
  REQUIRE(fm.size() == 3);
  for (int d = 0; d < 3; ++d) CHECK(gm[size_t(d)].in_flight == 4);
  CHECK(fm[2].in_flight == 1);
  CHECK(g.devices[2].peak_memory_bytes > f.devices[2].peak_memory_bytes);
  CHECK(g.devices[0].peak_memory_bytes == Approx(f.devices[0].peak_memory_bytes));  // K = 4 in both
}

TEST_CASE("gpipe: planner.schedule reaches the cost model; another token is refused", "[gpipe][scenario]") {
  nlohmann::json j = nlohmann::json::parse(R"({
    "schema_version": 1,
    "cluster": {
      "devices": [{"name": "f0", "type": "fast"}, {"name": "s0", "type": "slow", "memory": "1GiB"}],
      "network": {"bandwidth": "100Mbps", "latency": "0.5ms"}
    },
    "model": {"name": "synthetic"},
    "training": {"batch_size": 16},
    "planner": {"schedule": "gpipe"},
    "traces": {"fast": "fast.json", "slow": "slow.json"}
  })");
  auto r = parse_scenario(j, "ok.json", ASTEROID_TEST_DATA);
  REQUIRE(r.ok());
  CHECK(r->planner.schedule == PipelineSchedule::gpipe);
  CHECK(make_cost_model(r.value()).options().schedule == PipelineSchedule::gpipe);
  j["planner"].erase("schedule");
  auto d = parse_scenario(j, "ok.json", ASTEROID_TEST_DATA);
  REQUIRE(d.ok());
  CHECK(d->planner.schedule == PipelineSchedule::one_f_one_b);
  j["planner"]["schedule"] = "zb";
  auto bad = parse_scenario(j, "bad.json", ASTEROID_TEST_DATA);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().str().find("planner.schedule") != std::string::npos);
}

TEST_CASE("gpipe: the search by replay finds the shortest GPipe replay of the whole space, as under 1F1B",
          "[gpipe][replay]") {
  int feasible = 0;
  for (int seed = 1; seed <= 24; ++seed) {
    std::mt19937 rng(seed);
    const int N = 2 + seed % 3, L = 4 + seed % 3;  // 2..4 devices, 4..6 layers
    Cluster c = seed % 2 ? random_cluster(rng, N, L, seed % 4 == 1, seed % 3 == 0)
                         : random_cluster_uneven_steps(rng, N, L, seed % 3 == 0);
    CostOptions o;
    o.batch_size = seed % 3 == 0 ? 12 : 16;
    o.optimizer = seed % 2 ? Optimizer::sgd_momentum : Optimizer::adam;
    o.schedule = PipelineSchedule::gpipe;
    CostModel m(c, o);
    PlannerOptions opt;
    INFO("seed " << seed << ", " << N << " devices, " << L << " layers");
    Plan reference;
    const double expected =
        exhaustive_best(m, microbatch_candidates(o.batch_size, {}), &reference, opt, false, Objective::replay);
    auto optimum = plan_optimal(m, opt);
    if (!std::isfinite(expected)) {
      CHECK_FALSE(optimum.ok());
      continue;
    }
    REQUIRE(optimum.ok());
    ++feasible;
    ReplaySearchResult r = search_by_replay(m, opt, choose_by_replay(m, opt, *optimum).evaluation);
    CHECK(r.proven_optimal);
    CHECK(r.evaluation.schedule == PipelineSchedule::gpipe);
    CHECK(r.evaluation.schedule_latency_s == Approx(expected).epsilon(1e-9));
  }
  CHECK(feasible >= 12);
}
