#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>

#include "asteroid/planning/planner.hpp"
#include "asteroid/planning/replay_choice.hpp"
#include "asteroid/planning/strategies.hpp"
#include "exhaustive.hpp"
#include "synthetic.hpp"

using namespace asteroid;
using namespace asteroid::testing;

namespace {

// The planner against exhaustive enumeration on one instance; true when a plan exists.
bool check_against_exhaustive(const CostModel& model, const PlannerOptions& opt = {}) {
  Plan reference;
  double expected =
      exhaustive_best(model, microbatch_candidates(model.options().batch_size, {}), &reference, opt);
  auto found = plan_optimal(model, opt);
  if (!std::isfinite(expected)) {
    CHECK_FALSE(found.ok());
    return false;
  }
  REQUIRE(found.ok());
  CHECK(found->round_latency_s == Approx(expected).epsilon(1e-9));
  // The planner's own figure is the cost model's figure for its plan.
  Evaluation e = model.evaluate(found->plan);
  REQUIRE(e.feasible);
  CHECK(e.round_latency_s == Approx(found->round_latency_s).epsilon(1e-9));
  // The same plan, to the device, whatever the number of search threads.
  for (int threads : {1, 3}) {
    PlannerOptions t = opt;
    t.threads = threads;
    auto again = plan_optimal(model, t);
    REQUIRE(again.ok());
    CHECK(again->round_latency_s == found->round_latency_s);
    CHECK(plan_to_json(again->plan, model.cluster()) == plan_to_json(found->plan, model.cluster()));
  }
  return true;
}

// A cluster from hand-written tables: times[d][l][k] is device d's forward + backward time of
// layer l at batch_sizes[k] (split 1:2), on links too fast to matter.
Cluster hand_cluster(const std::vector<std::vector<std::vector<double>>>& times,
                     const std::vector<double>& batch_sizes, const std::vector<double>& memory,
                     const std::vector<double>& param_bytes, const std::vector<double>& stored_bytes) {
  Cluster c;
  int N = int(times.size());
  for (int d = 0; d < N; ++d) {
    Profile p;
    p.device_type = "t" + std::to_string(d);
    p.memory_bytes = p.usable_memory_bytes = memory[d];
    p.batch_sizes = batch_sizes;
    for (size_t l = 0; l < times[d].size(); ++l) {
      LayerProfile lp;
      lp.name = "l" + std::to_string(l);
      lp.param_bytes = param_bytes[l];
      lp.output_activation_bytes_per_sample = 1e3;
      lp.stored_activation_bytes_per_sample = stored_bytes[l];
      for (double v : times[d][l]) {
        lp.fwd_s.push_back(v / 3);
        lp.bwd_s.push_back(2 * v / 3);
      }
      p.layers.push_back(lp);
    }
    Device dv;
    dv.name = dv.type = "d" + std::to_string(d);
    dv.table = std::make_shared<LayerTable>(p);
    dv.memory_bytes = memory[d];
    c.devices.push_back(dv);
  }
  c.bandwidth_Bps.assign(N, std::vector<double>(N, 1e12));
  c.latency_s.assign(N, std::vector<double>(N, 0.0));
  return c;
}

}  // namespace

TEST_CASE("planner: matches exhaustive search with many micro-batches and uneven steps", "[planner]") {
  auto model_kind = GENERATE(LatencyModel::pipeline, LatencyModel::paper);
  int feasible = 0;
  for (int seed = 200; seed < 240; ++seed) {
    std::mt19937 rng(seed);
    int N = 3 + seed % 4;        // 3..6 devices
    int L = 5 + (seed * 7) % 5;  // 5..9 layers
    Cluster cluster = random_cluster_uneven_steps(rng, N, L, seed % 2 == 0);
    CostOptions o;
    o.batch_size = seed % 3 == 0 ? 24 : 32;  // up to 32 micro-batches
    o.optimizer = Optimizer::adam;
    o.latency_model = model_kind;
    CostModel model(cluster, o);
    INFO(to_string(model_kind) << " latency, seed " << seed << ": " << N << " devices, " << L << " layers");
    if (check_against_exhaustive(model)) ++feasible;
  }
  CHECK(feasible >= 20);
}

TEST_CASE("planner: the options (stage cap, group cap, all devices, even shares) match exhaustive search",
          "[planner]") {
  auto model_kind = GENERATE(LatencyModel::pipeline, LatencyModel::paper);
  int feasible = 0;
  for (int seed = 300; seed < 372; ++seed) {
    std::mt19937 rng(seed);
    int N = 3 + seed % 4, L = 4 + (seed * 5) % 5;
    Cluster cluster = random_cluster_uneven_steps(rng, N, L, seed % 3 == 0);
    CostOptions o;
    o.batch_size = seed % 2 ? 8 : 12;
    o.latency_model = model_kind;
    CostModel model(cluster, o);
    PlannerOptions opt;
    switch (seed % 4) {
      case 0: opt.max_stages = 1 + seed % 3; break;
      case 1: opt.max_group_size = 1 + (seed / 4) % 2; break;
      case 2: opt.use_all_devices = true; break;
      case 3: opt.share_rule = ShareRule::even; break;
    }
    INFO(to_string(model_kind) << " latency, seed " << seed << ": max_stages " << opt.max_stages
                               << ", max_group " << opt.max_group_size << ", all devices "
                               << opt.use_all_devices << ", even " << (opt.share_rule == ShareRule::even));
    if (check_against_exhaustive(model, opt)) ++feasible;
  }
  CHECK(feasible >= 30);
}

TEST_CASE("planner: times that fall with more samples (measurement noise) do not mislead it", "[planner]") {
  // Device d1's second layer measures slower at 1 and 2 samples than at 3; d2 can hold only one
  // sample of it. The tables raise the falling points, so the cost model and the planner agree.
  Cluster c = hand_cluster({{{0.25, 0.5, 0.75, 1.0}, {20, 40, 60, 80}},
                            {{10, 20, 30, 40}, {6, 3.5, 1, 4}},
                            {{10, 20, 30, 40}, {1, 2, 2.5, 10}}},
                           {1, 2, 3, 4}, {1e9, 1e8, 1.5e6}, {1e3, 1e3}, {1e3, 1e6});
  CostOptions o;
  o.batch_size = 4;
  o.optimizer = Optimizer::adam;
  CHECK(check_against_exhaustive(CostModel(c, o)));
  // The raised points: d1's layer 1 takes 6 (its first point) at every share up to 4.
  BatchPoint b3 = c.devices[1].table->locate(3);
  CHECK(c.devices[1].table->fwd_s(1, 1, b3) + c.devices[1].table->bwd_s(1, 1, b3) == Approx(6));
}

TEST_CASE("planner: with a stage cap, a partial plan of more stages does not hide one of fewer",
          "[planner]") {
  // Each device is fast on one layer; d2 cannot hold layer 1. With at most 3 stages the best is
  // {d0}:[0], {d1}:[1], {d2,d3}:[2,3]; a 2-stage suffix [2] on d2, [3] on d3 looks better at
  // (2, 2) but leaves room for only one stage in front.
  Cluster c = hand_cluster(
      {{{1}, {10}, {10}, {10}}, {{10}, {1}, {10}, {10}}, {{10}, {10}, {1}, {10}}, {{10}, {10}, {3}, {1}}},
      {1}, {1e9, 1e9, 2e8, 1e8}, {1e6, 1e8, 1e6, 1e6}, {1e3, 1e3, 1e3, 1e3});
  CostOptions o;
  o.batch_size = 1;
  o.optimizer = Optimizer::adam;
  PlannerOptions opt;
  opt.max_stages = 3;
  CHECK(check_against_exhaustive(CostModel(c, o), opt));
}

TEST_CASE("planner: matches exhaustive search on small random clusters", "[planner]") {
  auto model_kind = GENERATE(LatencyModel::pipeline, LatencyModel::paper);
  int checked = 0, feasible = 0, other_order_better = 0;
  for (int seed = 1; seed <= 120; ++seed) {
    std::mt19937 rng(seed);
    int N = 2 + seed % 5;        // 2..6 devices
    int L = 4 + (seed * 3) % 7;  // 4..10 layers
    bool uneven = seed % 2 == 0;
    Cluster cluster = random_cluster(rng, N, L, uneven, seed % 3 == 1);
    CostOptions o;
    o.batch_size = seed % 3 == 0 ? 12 : 16;
    o.optimizer = Optimizer::sgd_momentum;
    o.latency_model = model_kind;
    CostModel model(cluster, o);
    INFO(to_string(model_kind) << " latency, seed " << seed << ": " << N << " devices, " << L
                               << " layers, uneven links " << uneven);
    ++checked;
    if (check_against_exhaustive(model)) {
      ++feasible;
      // Does another order of the device classes beat the memory-then-speed one?
      Plan ignored;
      double base = exhaustive_best(model, microbatch_candidates(o.batch_size, {}), &ignored, {}, true);
      auto found = plan_optimal(model, {});
      if (found->round_latency_s < base * (1 - 1e-9)) ++other_order_better;
    }
  }
  CHECK(checked == 120);
  CHECK(feasible >= 60);           // the instances must exercise the search, not only infeasibility
  CHECK(other_order_better >= 5);  // and the orders beyond memory-then-speed must matter
  WARN("another order of the device classes beats memory-then-speed on " << other_order_better << " of "
                                                                         << feasible << " instances");
  WARN("exhaustive comparison (" << to_string(model_kind) << " latency): " << feasible << " of " << checked
                                 << " instances feasible");
}

TEST_CASE("planner: straight pipeline and even-share options match exhaustive search", "[planner]") {
  for (int seed = 100; seed < 106; ++seed) {
    std::mt19937 rng(seed);
    Cluster cluster = random_cluster(rng, 4, 8, false);
    for (auto& d : cluster.devices) d.memory_bytes = 4e9;
    CostOptions o;
    o.batch_size = 8;
    CostModel model(cluster, o);
    PlannerOptions opt;
    opt.max_group_size = 1;
    opt.use_all_devices = true;
    auto found = plan_optimal(model, opt);
    REQUIRE(found.ok());
    CHECK(found->plan.num_stages() == 4);
    for (const auto& s : found->plan.stages) CHECK(s.devices.size() == 1);
    // Against every 4-stage straight split, in every order of the device classes.
    double best = INFINITY;
    for (const std::vector<int>& order : every_class_order(cluster))
      for (int beta : microbatch_candidates(8, {}))
        for (int a = 0; a < 8; ++a)
          for (int b = a + 1; b < 8; ++b)
            for (int c = b + 1; c < 7; ++c) {
              Plan p;
              p.microbatch_size = beta;
              p.microbatches = 8 / beta;
              int cuts[4] = {a, b, c, 7};
              int first = 0;
              for (int s = 0; s < 4; ++s) {
                p.stages.push_back({first, cuts[s], {order[s]}, {}});
                first = cuts[s] + 1;
              }
              Evaluation e = model.evaluate(p);
              if (e.feasible) best = std::min(best, e.round_latency_s);
            }
    CHECK(found->round_latency_s == Approx(best).epsilon(1e-9));
  }
}

TEST_CASE("planner: the plan does not depend on the number of search threads", "[planner]") {
  // Mixed clusters large enough to search on several threads by default, on slow and fast links;
  // ties between device orders (identical latencies) are common here and must go the same way.
  auto types = jetson_like_types();
  for (int seed = 1; seed <= 6; ++seed) {
    std::mt19937 rng(seed);
    auto layers = synthetic_layers(30 + 5 * seed, rng);
    std::vector<SyntheticDeviceType> devs;
    for (int i = 0; i < 8 + seed; ++i) devs.push_back(types[(i * seed) % 3]);
    Cluster c = synthetic_cluster(layers, devs, seed % 2 ? 1.25e8 : 1.25e9, 1e-4);
    CostOptions o;
    o.batch_size = 32;
    CostModel model(c, o);
    PlannerOptions one;
    one.threads = 1;
    auto reference = plan_optimal(model, one);
    REQUIRE(reference.ok());
    for (int threads : {0, 2, 5}) {
      INFO("seed " << seed << ", " << threads << " threads");
      PlannerOptions t;
      t.threads = threads;
      auto r = plan_optimal(model, t);
      REQUIRE(r.ok());
      CHECK(r->round_latency_s == reference->round_latency_s);
      CHECK(plan_to_json(r->plan, c) == plan_to_json(reference->plan, c));
      CHECK(r->proven_optimal);
    }
  }
}

TEST_CASE("planner: more devices never make the optimum slower when all memory is ample", "[planner]") {
  std::mt19937 rng(7);
  auto layers = synthetic_layers(12, rng);
  auto types = jetson_like_types();
  double previous = INFINITY;
  for (int n = 1; n <= 5; ++n) {
    std::vector<SyntheticDeviceType> devs(n, types[1]);
    Cluster c = synthetic_cluster(layers, devs, 1.25e8, 1e-4);
    CostOptions o;
    o.batch_size = 32;
    auto r = plan_optimal(CostModel(c, o), {});
    REQUIRE(r.ok());
    CHECK(r->round_latency_s <= previous * (1 + 1e-12));
    previous = r->round_latency_s;
  }
}

TEST_CASE("strategies: every baseline yields a plan scored by the true cost model", "[strategies]") {
  std::mt19937 rng(11);
  auto layers = synthetic_layers(10, rng);
  auto t = jetson_like_types();
  Cluster c = synthetic_cluster(layers, {t[0], t[1], t[1], t[2], t[2]}, 1.25e7, 5e-4);
  CostOptions o;
  o.batch_size = 32;
  CostModel m(c, o);
  double asteroid = 0;
  for (const auto& term : kStrategies.terms) {
    StrategyResult r = run_strategy(term.value, m, {});
    const std::string name = term.token;
    INFO(name << ": " << r.evaluation.reason);
    REQUIRE(r.evaluation.feasible);
    // Re-scoring the plan gives the same figure: nothing is taken from a distorted view.
    Evaluation again = m.evaluate(r.evaluation.plan);
    CHECK(again.round_latency_s == Approx(r.evaluation.round_latency_s).epsilon(1e-12));
    if (name == "asteroid") {
      // The closed-form optimum beats every baseline under the closed form; the plan chosen by the
      // replay (replay_choice.hpp) replays no longer than that optimum.
      auto optimum = plan_optimal(m, {});
      REQUIRE(optimum);
      asteroid = optimum->round_latency_s;
      CHECK(r.evaluation.schedule_latency_s <= m.evaluate(optimum->plan).schedule_latency_s * (1 + 1e-9));
      if (r.replay_candidates == 0) CHECK(r.evaluation.round_latency_s == Approx(asteroid).epsilon(1e-12));
    } else {
      CHECK(asteroid <= r.evaluation.round_latency_s * (1 + 1e-9));
    }
  }
  StrategyResult dp = run_strategy(Strategy::dp, m, {});
  CHECK(dp.evaluation.plan.num_stages() == 1);
  CHECK(dp.evaluation.plan.stages[0].devices.size() == 5);
  StrategyResult dev = run_strategy(Strategy::device, m, {});
  CHECK(dev.evaluation.plan.stages[0].devices.size() == 1);
  // Both pipelines: one device per stage, every device; the network-aware one is never slower.
  StrategyResult pp = run_strategy(Strategy::pp, m, {}), pp_net = run_strategy(Strategy::pp_net, m, {});
  for (const StrategyResult* r : {&pp, &pp_net}) {
    CHECK(r->evaluation.plan.num_stages() == 5);
    for (const auto& st : r->evaluation.plan.stages) CHECK(st.devices.size() == 1);
  }
  CHECK(pp_net.evaluation.round_latency_s <= pp.evaluation.round_latency_s * (1 + 1e-9));
  CHECK(c.devices[dev.evaluation.plan.stages[0].devices[0]].type == "fast");
}

TEST_CASE("strategies: a baseline that ignores memory reports out of memory", "[strategies]") {
  std::mt19937 rng(5);
  auto layers = synthetic_layers(8, rng);
  auto t = jetson_like_types();
  for (auto& x : t) x.memory_bytes = 0.12e9;
  Cluster c = synthetic_cluster(layers, {t[0], t[1], t[2]}, 1.25e7, 5e-4);
  CostOptions o;
  o.batch_size = 64;
  CostModel m(c, o);
  StrategyResult dp = run_strategy(Strategy::dp, m, {});
  CHECK_FALSE(dp.evaluation.feasible);
  CHECK(dp.evaluation.reason.find("out of memory") == 0);
  StrategyResult ast = run_strategy(Strategy::asteroid, m, {});
  if (ast.evaluation.feasible) {
    for (const auto& d : ast.evaluation.devices) CHECK(d.peak_memory_bytes <= d.memory_bytes);
  }
}

TEST_CASE("planner: a time limit ends the search with the best plan so far, marked unproven", "[planner]") {
  std::mt19937 rng(9);
  auto layers = synthetic_layers(60, rng);
  auto t = jetson_like_types();
  Cluster c = synthetic_cluster(layers, {t[0], t[1], t[1], t[2], t[2], t[2], t[0], t[1]}, 1.25e7, 5e-4);
  CostOptions o;
  o.batch_size = 64;
  CostModel m(c, o);
  PlannerOptions quick;
  quick.time_limit_s = 1e-4;
  auto cut = plan_optimal(m, quick);
  auto full = plan_optimal(m, {});
  REQUIRE(full.ok());
  CHECK(full->proven_optimal);
  if (cut.ok()) {
    CHECK_FALSE(cut->proven_optimal);
    CHECK(cut->round_latency_s >= full->round_latency_s * (1 - 1e-12));
    CHECK(m.evaluate(cut->plan).feasible);
  } else {
    CHECK(cut.error().message.find("time limit") != std::string::npos);
  }
}

TEST_CASE("planner: when nothing fits, the error names the binding constraint and its numbers", "[planner]") {
  std::mt19937 rng(3);
  auto t = jetson_like_types();
  {
    // A pipeline of every device with fewer layers than devices.
    Cluster c =
        synthetic_cluster(synthetic_layers(4, rng), {t[0], t[1], t[1], t[2], t[2], t[2]}, 1.25e7, 5e-4);
    CostOptions o;
    o.batch_size = 8;
    StrategyResult pp = run_strategy(Strategy::pp, CostModel(c, o), {});
    CHECK_FALSE(pp.evaluation.feasible);
    CHECK_THAT(pp.evaluation.reason, Catch::Contains("one layer per device: 6 devices, 4 layers"));
    PlannerOptions opt;
    opt.use_all_devices = true;
    opt.max_group_size = 2;
    opt.max_stages = 2;
    auto r = plan_optimal(CostModel(c, o), opt);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains("needs 3 stages; at most 2 are allowed"));
  }
  {
    // Memory: every device is a little short; the message names the closest refusal.
    auto small = t;
    for (auto& x : small) x.memory_bytes = 2e6;
    Cluster c = synthetic_cluster(synthetic_layers(6, rng), {small[0], small[2]}, 1.25e7, 5e-4);
    CostOptions o;
    o.batch_size = 8;
    auto r = plan_optimal(CostModel(c, o), {});
    REQUIRE_FALSE(r.ok());
    INFO(r.error().message);
    CHECK_THAT(r.error().message,
               Catch::StartsWith("no plan fits in memory; the closest: micro-batch size "));
    CHECK_THAT(r.error().message, Catch::Contains("more than its"));
  }
}

TEST_CASE("strategies: asteroid chooses by the 1F1B replay where the closed form misleads", "[strategies]") {
  // Slow links: messages take about as long as the stages compute, so the closed-form optimum's
  // replay is longer than its closed form and candidates are replayed (replay_choice.hpp).
  std::mt19937 rng(5);
  auto layers = synthetic_layers(8, rng);
  auto t = jetson_like_types();
  for (double bandwidth : {1.25e6, 2.5e6, 1.25e7}) {
    Cluster c = synthetic_cluster(layers, {t[0], t[1], t[1], t[2]}, bandwidth, 5e-4);
    CostOptions o;
    o.batch_size = 16;
    CostModel m(c, o);
    StrategyResult r = run_strategy(Strategy::asteroid, m, {});
    REQUIRE(r.evaluation.feasible);
    auto optimum = plan_optimal(m, {});
    REQUIRE(optimum);
    const double optimum_replay = m.evaluate(optimum->plan).schedule_latency_s;
    INFO("bandwidth " << bandwidth << " B/s: optimum replays " << optimum_replay << " s, closed form "
                      << optimum->round_latency_s << " s, chosen replays "
                      << r.evaluation.schedule_latency_s);
    CHECK(r.optimum_replay_s == Approx(optimum_replay).epsilon(1e-12));
    CHECK(r.evaluation.schedule_latency_s <= optimum_replay * (1 + 1e-12));
    if (optimum_replay <= optimum->round_latency_s * (1 + kReplayGap)) {
      CHECK(r.replay_candidates == 0);
      continue;
    }
    CHECK(r.replay_candidates > 0);
    // Never worse in the replay than the best single-stage plan of any micro-batch size, which is
    // among the candidates.
    for (int beta : microbatch_candidates(16, {})) {
      PlannerOptions one;
      one.microbatch_sizes = {beta};
      one.max_stages = 1;
      auto single = plan_optimal(m, one);
      if (!single) continue;
      CHECK(r.evaluation.schedule_latency_s <= m.evaluate(single->plan).schedule_latency_s * (1 + 1e-12));
    }
  }
}
