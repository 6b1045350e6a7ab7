// Activation recomputation per stage (cost_model.hpp, docs/method.md §3.5): its memory and time by
// hand on one stage, the planner's choice where memory binds, the searches against exhaustive
// enumeration of the enlarged space, the Program's RECOMPUTE step and the scenario's field.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>

#include "asteroid/run/backend_setup.hpp"
#include "asteroid/model/memory_breakdown.hpp"
#include "asteroid/model/plan_memory.hpp"
#include "asteroid/planning/planner.hpp"
#include "asteroid/program/program.hpp"
#include "asteroid/planning/replay_choice.hpp"
#include "asteroid/planning/replay_search.hpp"
#include "asteroid/input/scenario.hpp"
#include "asteroid/model/schedule.hpp"
#include "asteroid/planning/strategies.hpp"
#include "exhaustive.hpp"

using namespace asteroid;
using namespace asteroid::testing;

namespace {

constexpr double kParam = 50e6;    // bytes of weights per layer
constexpr double kStored = 1e6;    // activations kept for backward, per sample and layer
constexpr double kOut = 1e3;       // each layer's output, per sample
constexpr double kRoom = 4.5e6;    // memory past one layer's weights and gradients (SGD: no state)

// Two identical devices, two layers: forward 2 ms + 1 ms per sample, backward twice that (exact at
// the profiled batch sizes). A layer's weights and gradients take 100 MB of the 104.5 MB, so the
// whole model fits no device: the plans are the two-stage pipelines, and 4.5 MB of activations is
// what binds.
CostModel two_layer_model(Recomputation r) {
  Profile p;
  p.device_type = "board";
  p.memory_bytes = p.usable_memory_bytes = 2 * kParam + kRoom;
  p.model = "hand";
  p.batch_sizes = {1, 2, 4, 8};
  for (int l = 0; l < 2; ++l) {
    LayerProfile lp;
    lp.name = "layer" + std::to_string(l);
    lp.param_bytes = kParam;
    lp.output_activation_bytes_per_sample = kOut;
    lp.stored_activation_bytes_per_sample = kStored;
    for (double b : p.batch_sizes) {
      lp.fwd_s.push_back(2e-3 + 1e-3 * b);
      lp.bwd_s.push_back(4e-3 + 2e-3 * b);
    }
    p.layers.push_back(lp);
  }
  auto table = std::make_shared<LayerTable>(p, 1.0, Optimizer::sgd);
  Cluster c;
  for (int d = 0; d < 2; ++d) {
    Device dv;
    dv.name = "board" + std::to_string(d);
    dv.type = "board";
    dv.table = table;
    dv.memory_bytes = p.memory_bytes;
    c.devices.push_back(dv);
  }
  c.bandwidth_Bps.assign(2, std::vector<double>(2, 1e9));
  c.latency_s.assign(2, std::vector<double>(2, 0.0));
  CostOptions o;
  o.batch_size = 8;
  o.optimizer = Optimizer::sgd;
  o.recomputation = r;
  return CostModel(c, o);
}

Plan pipeline(int microbatch_size) {
  Plan p;
  p.microbatch_size = microbatch_size;
  p.microbatches = 8 / microbatch_size;
  p.stages = {{0, 0, {0}, {}}, {1, 1, {1}, {}}};
  return p;
}

// Small random instances where activations bind: memory for a few layers' weights and some
// micro-batches' activations, and a fixed cost per micro-batch twenty times the synthetic layers'
// (as on accelerators), so that small micro-batches, the other way to fit, are slow.
CostModel tight_instance(int seed, Recomputation r, int* devices) {
  std::mt19937 rng(seed);
  const int N = 2 + seed % 3;        // 2..4 devices
  const int L = 4 + (seed * 3) % 3;  // 4..6 layers
  auto layers = synthetic_layers(L, rng);
  for (auto& l : layers) l.fwd_fixed_s *= 20;
  auto types = jetson_like_types();
  std::uniform_real_distribution<double> mem(0.03e9, 0.12e9), bw(2e6, 1.25e8);
  for (auto& t : types) t.memory_bytes = mem(rng);
  std::vector<SyntheticDeviceType> kinds;
  for (int i = 0; i < N; ++i) kinds.push_back(types[rng() % types.size()]);
  Cluster c = synthetic_cluster(layers, kinds, bw(rng), 5e-4);
  CostOptions o;
  o.batch_size = 16;
  o.optimizer = seed % 2 ? Optimizer::sgd_momentum : Optimizer::adam;
  o.recomputation = r;
  *devices = N;
  return CostModel(c, o);
}

int recomputing_stages(const Plan& p) {
  int n = 0;
  for (const StagePlan& s : p.stages) n += s.recompute;
  return n;
}

}  // namespace

TEST_CASE("recompute: one stage's memory and time, accounted by hand", "[recompute]") {
  // Stage 0 of pipeline(4): two micro-batches of 4, both in flight (K = min(M, 3) = 2).
  const double weights = 2 * kParam;  // weights and gradients of layer 0
  const double f = 2e-3 + 4e-3, b = 4e-3 + 8e-3;
  SECTION("off: K x share x stored activations do not fit") {
    Evaluation e = two_layer_model(Recomputation::off).evaluate(pipeline(4));
    CHECK_FALSE(e.feasible);
    CHECK(e.reason.find("stage 0") != std::string::npos);
    CHECK(e.reason.find("board0") != std::string::npos);
  }
  SECTION("auto: stage 0 keeps only its input (stage 0's is the sample: none) and one micro-batch") {
    Evaluation e = two_layer_model(Recomputation::automatic).evaluate(pipeline(4));
    REQUIRE(e.feasible);
    CHECK(e.plan.stages[0].recompute);
    CHECK_FALSE(e.plan.stages[1].recompute);  // K = 1 there: recomputing would save nothing
    CHECK(e.devices[0].peak_memory_bytes == Approx(weights + 4 * kStored));       // not 2 x 4 x 1 MB
    CHECK(e.devices[1].peak_memory_bytes == Approx(weights + 4 * kStored));
    CHECK(e.steps[0].E_f == Approx(f));
    CHECK(e.steps[0].E_b == Approx(b + f));  // the forward again before each backward
    CHECK(e.steps[2].E_b == Approx(b));
    // The memory breakdown the CLI prints says the same.
    auto mem = plan_memory(two_layer_model(Recomputation::automatic), e);
    CHECK(mem[0].recompute);
    CHECK(mem[0].memory.total_bytes() == Approx(e.devices[0].peak_memory_bytes));
  }
  SECTION("all: stage 1 recomputes too, keeping its input besides one micro-batch") {
    Evaluation e = two_layer_model(Recomputation::all).evaluate(pipeline(4));
    REQUIRE(e.feasible);
    CHECK(e.plan.stages[1].recompute);
    CHECK(e.devices[1].peak_memory_bytes == Approx(weights + 4 * (1 * kOut + kStored)));
    CHECK(e.steps[2].E_b == Approx(b + f));
  }
}

TEST_CASE("recompute: where memory binds, the planner recomputes a stage and trains faster", "[recompute]") {
  // Without recomputation only micro-batches of one sample fit (stage 0 keeps min(8, 3) of them):
  // eight micro-batches of 3 + 6 ms per stage, 18 ms for the first and 9 ms for each next: 81 ms
  // (and a few microseconds of transfers). Recomputing stage 0, micro-batches of 4 fit: stage 0
  // forwards both (0-6, 6-12 ms), stage 1 runs F0 B0 F1 B1 (6-12, 12-24, 24-30, 30-42) and stage 0
  // recomputes and backwards each as its gradient comes (24-42, 42-60): 60 ms.
  const CostModel off = two_layer_model(Recomputation::off), on = two_layer_model(Recomputation::automatic);
  StrategyResult a = run_strategy(Strategy::asteroid, off, {});
  StrategyResult b = run_strategy(Strategy::asteroid, on, {});
  REQUIRE(a.evaluation.feasible);
  REQUIRE(b.evaluation.feasible);
  CHECK(a.evaluation.plan.microbatch_size == 1);
  CHECK(recomputing_stages(a.evaluation.plan) == 0);
  CHECK(b.evaluation.plan.microbatch_size == 4);
  CHECK(b.evaluation.plan.stages[0].recompute);
  CHECK(b.evaluation.schedule_latency_s < 0.85 * a.evaluation.schedule_latency_s);
  CHECK(a.evaluation.schedule_latency_s == Approx(0.081).epsilon(0.01));
  CHECK(b.evaluation.schedule_latency_s == Approx(0.060).epsilon(0.01));
  // Forcing every stage to recompute is never faster than choosing.
  StrategyResult c = run_strategy(Strategy::asteroid, two_layer_model(Recomputation::all), {});
  REQUIRE(c.evaluation.feasible);
  CHECK(recomputing_stages(c.evaluation.plan) == 2);
  CHECK(c.evaluation.schedule_latency_s >= b.evaluation.schedule_latency_s * (1 - 1e-12));
  // The plan's JSON and console text say which stages recompute, and the JSON reads back the same.
  const Plan& p = b.evaluation.plan;
  auto j = plan_to_json(p, on.cluster());
  CHECK(j["stages"][0]["recompute"] == true);
  CHECK_FALSE(j["stages"][1].contains("recompute"));
  CHECK(plan_to_text(p, on.cluster()).find("on board0 (4), recomputes\n") != std::string::npos);
  auto back = plan_from_json(j, on.cluster(), 2, 8, "plan.json", "");
  REQUIRE(back.ok());
  CHECK(back->stages[0].recompute);
  // A plan that asks for recomputation gets it even where it would fit without.
  Plan asked = pipeline(1);
  asked.stages[1].recompute = true;
  Evaluation e = on.evaluate(asked);
  REQUIRE(e.feasible);
  CHECK(e.plan.stages[1].recompute);
  CHECK_FALSE(e.plan.stages[0].recompute);
}

TEST_CASE("recompute: a plan that fits without it is never slower under auto", "[recompute]") {
  int compared = 0, faster = 0;
  for (int seed = 1; seed <= 30; ++seed) {
    int N = 0;
    CostModel off = tight_instance(seed, Recomputation::off, &N);
    CostModel on = tight_instance(seed, Recomputation::automatic, &N);
    auto a = plan_optimal(off, {});
    auto b = plan_optimal(on, {});
    if (a.ok()) {
      REQUIRE(b.ok());
      ++compared;
      CHECK(b->round_latency_s <= a->round_latency_s * (1 + 1e-12));
      if (b->round_latency_s < a->round_latency_s * (1 - 1e-9)) ++faster;
      // Off's plan, evaluated under auto, is priced the same: nothing recomputes where it fits.
      Evaluation e = on.evaluate(a->plan);
      CHECK(e.round_latency_s == Approx(a->round_latency_s).epsilon(1e-12));
      CHECK(recomputing_stages(e.plan) == 0);
    }
  }
  CHECK(compared >= 10);
  WARN("recomputation made the optimum faster on " << faster << " of " << compared << " instances");
}

TEST_CASE("recompute: the closed-form planner matches exhaustive search of the enlarged space", "[recompute]") {
  // Both latency models: the pipeline form's backward search and Eq. 4-6's forward one.
  const LatencyModel model_kind = GENERATE(LatencyModel::pipeline, LatencyModel::paper);
  for (Recomputation r : {Recomputation::automatic, Recomputation::all}) {
    int feasible = 0, recomputing = 0;
    for (int seed = 1; seed <= 60; ++seed) {
      int N = 0;
      CostModel base = tight_instance(seed, r, &N);
      CostOptions o = base.options();
      o.latency_model = model_kind;
      CostModel m(base.cluster(), o);
      INFO(to_string(model_kind) << " latency, " << to_string(r) << ", seed " << seed << ": " << N << " devices, "
                                 << m.num_layers() << " layers");
      Plan reference;
      const double expected = exhaustive_best(m, microbatch_candidates(16, {}), &reference);
      auto found = plan_optimal(m, {});
      if (!std::isfinite(expected)) {
        CHECK_FALSE(found.ok());
        continue;
      }
      REQUIRE(found.ok());
      ++feasible;
      CHECK(found->round_latency_s == Approx(expected).epsilon(1e-9));
      if (recomputing_stages(m.evaluate(found->plan).plan) > 0) ++recomputing;
    }
    INFO(to_string(r));
    WARN(to_string(model_kind) << " latency, " << to_string(r) << ": the optimum recomputes on " << recomputing
                               << " of " << feasible << " instances");
    CHECK(feasible >= 20);
    CHECK(recomputing >= 2);  // the instances do exercise the choice
  }
}

TEST_CASE("recompute: the search by replay matches exhaustive search of the enlarged space", "[recompute]") {
  for (Recomputation r : {Recomputation::automatic, Recomputation::all}) {
    int feasible = 0, recomputing = 0;
    for (int seed = 1; seed <= 60; ++seed) {
      int N = 0;
      CostModel m = tight_instance(seed, r, &N);
      INFO(to_string(r) << ", seed " << seed << ": " << N << " devices, " << m.num_layers() << " layers");
      Plan reference;
      const double expected =
          exhaustive_best(m, microbatch_candidates(16, {}), &reference, {}, false, Objective::replay);
      auto optimum = plan_optimal(m, {});
      if (!std::isfinite(expected)) {
        CHECK_FALSE(optimum.ok());
        continue;
      }
      REQUIRE(optimum.ok());
      ++feasible;
      ReplaySearchResult s = search_by_replay(m, {}, choose_by_replay(m, {}, *optimum).evaluation);
      CHECK(s.proven_optimal);
      CHECK(s.evaluation.schedule_latency_s == Approx(expected).epsilon(1e-9));
      if (recomputing_stages(s.evaluation.plan) > 0) ++recomputing;
    }
    INFO(to_string(r));
    WARN(to_string(r) << ": the shortest replay recomputes on " << recomputing << " of " << feasible << " instances");
    CHECK(feasible >= 20);
    CHECK(recomputing >= 2);
  }
}

TEST_CASE("recompute: the Program recomputes before each backward, and the validator checks it", "[recompute][program]") {
  const CostModel m = two_layer_model(Recomputation::automatic);
  Program prog = make_program(m, pipeline(4));
  REQUIRE(validate_program(prog.device).ok());
  REQUIRE(dry_run(prog.device).ok());
  CHECK(program_to_text(prog) ==
        "0: 0F0 0SEND_F0@1 0F1 0SEND_F1@1 0RECV_B0@1 0RECOMPUTE0 0B0 0RECV_B1@1 0RECOMPUTE1 0B1 0OPT\n"
        "1: 1RECV_F0@0 1F0 1B0 1SEND_B0@0 1RECV_F1@0 1F1 1B1 1SEND_B1@0 1OPT\n");
  for (const Instruction& i : prog.device[0])
    if (i.op == Op::recompute) CHECK(i.seconds == Approx(6e-3));  // the forward's time
  auto parsed = parse_program_text(program_to_text(prog), 2);
  REQUIRE(parsed.ok());
  CHECK((*parsed)[0][5].op == Op::recompute);
  // A recompute after its backward, or a backward without its recompute, is refused.
  auto late = prog.device;
  std::swap(late[0][5], late[0][6]);
  auto bad = validate_program(late);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("recompute outside its forward..backward") != std::string::npos);
  auto missing = prog.device;
  missing[0].erase(missing[0].begin() + 8);
  bad = validate_program(missing);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("backward without its recompute") != std::string::npos);
}

TEST_CASE("recompute: training.recomputation is read, and a bad value refused in one line", "[recompute][scenario]") {
  auto j = nlohmann::json::parse(R"({
    "schema_version": 1,
    "cluster": {"devices": [{"name": "f0", "type": "fast"}], "network": {"bandwidth": "100Mbps", "latency": "0.5ms"}},
    "model": {"name": "synthetic"},
    "training": {"batch_size": 16, "rounds": 3, "optimizer": "sgd_momentum", "recomputation": "all"},
    "planner": {"strategy": "asteroid", "microbatch_sizes": [2, 4, 8]},
    "traces": {"fast": "fast.json"}
  })");
  auto s = parse_scenario(j, "ok.json", ASTEROID_TEST_DATA);
  REQUIRE(s.ok());
  CHECK(s->training.recomputation == Recomputation::all);
  CHECK(make_cost_model(*s).options().recomputation == Recomputation::all);
  j["training"].erase("recomputation");
  CHECK(parse_scenario(j, "ok.json", ASTEROID_TEST_DATA)->training.recomputation == Recomputation::automatic);
  j["training"]["recomputation"] = "sometimes";
  auto bad = parse_scenario(j, "bad.json", ASTEROID_TEST_DATA);
  REQUIRE_FALSE(bad.ok());
  const std::string e = bad.error().str();
  CHECK(e.find("bad.json: training.recomputation:") == 0);
  CHECK(e.find("sometimes") != std::string::npos);
  CHECK(e.find('\n') == std::string::npos);
}

TEST_CASE("recompute: five 300 MiB Nanos training ResNet-50 plan a faster round recomputing the first stage",
          "[recompute]") {
  // Environment A (five Jetson Nanos, derived traces) with each board's usable memory cut to 300 MiB:
  // activations bind, and recomputing the first stage lets a deeper pipeline fit.
  const std::string dir = std::string(ASTEROID_SOURCE_DIR) + "/scenarios";
  std::ifstream in(dir + "/envA_resnet50_100mbps.json");
  nlohmann::json j = nlohmann::json::parse(in);
  for (auto& d : j["cluster"]["devices"]) d["memory"] = "300MiB";
  auto plan_with = [&](const char* r) {
    j["training"]["recomputation"] = r;
    auto s = parse_scenario(j, "envA_resnet50_300MiB.json", dir);
    REQUIRE(s.ok());
    const CostModel m = make_cost_model(*s);
    StrategyResult res = run_strategy(Strategy::asteroid, m, planner_options(*s));
    REQUIRE(res.evaluation.feasible);
    return std::make_pair(m, res.evaluation);
  };
  auto [off_model, off] = plan_with("off");
  auto [m, on] = plan_with("auto");
  CHECK(recomputing_stages(off.plan) == 0);
  REQUIRE(recomputing_stages(on.plan) >= 1);
  CHECK(on.schedule_latency_s < off.schedule_latency_s * (1 - 1e-3));
  // Each recomputing stage's memory, from the layer table's figures: weights, gradients and
  // momentum, K x share x its input, and one micro-batch's stored activations.
  const int P = on.plan.num_stages();
  for (int p = 0; p < P; ++p) {
    const StagePlan& sp = on.plan.stages[size_t(p)];
    if (!sp.recompute) continue;
    const LayerTable& t = *m.cluster().devices[size_t(sp.devices[0])].table;
    const int K = schedule::in_flight(on.plan.microbatches, P, p);
    const double input = sp.first_layer > 0 ? t.output_bytes_per_sample(sp.first_layer - 1) : 0;
    for (const DeviceUse& u : on.devices) {
      if (u.stage != p) continue;
      const double by_hand = t.weight_bytes(sp.first_layer, sp.last_layer) +
                             2 * t.trainable_bytes(sp.first_layer, sp.last_layer) +
                             u.samples * (K * input + t.stored_bytes_per_sample(sp.first_layer, sp.last_layer));
      CHECK(u.peak_memory_bytes == Approx(by_hand).epsilon(1e-12));
      CHECK(u.peak_memory_bytes <= u.memory_bytes);
      // Without recomputing, the same share would not fit.
      CHECK(by_hand - u.samples * (K * input) + (K - 1) * u.samples * t.stored_bytes_per_sample(sp.first_layer, sp.last_layer) >
            u.memory_bytes);
    }
  }
}
