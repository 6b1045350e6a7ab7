// The replay's lower bound (replay_bound.hpp) and the search by replay (replay_search.hpp) against
// every plan of small instances.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "asteroid/planning/planner.hpp"
#include "asteroid/planning/replay_bound.hpp"
#include "asteroid/planning/replay_choice.hpp"
#include "asteroid/planning/replay_search.hpp"
#include "exhaustive.hpp"

using namespace asteroid;
using namespace asteroid::testing;

namespace {

// Small random instances of both kinds, with and without tight memory and uneven links.
CostModel instance(int seed, int* devices = nullptr) {
  std::mt19937 rng(seed);
  int N = 2 + seed % 4;        // 2..5 devices
  int L = 4 + (seed * 3) % 4;  // 4..7 layers
  Cluster c = seed % 2 ? random_cluster(rng, N, L, seed % 4 == 1, seed % 3 == 0)
                       : random_cluster_uneven_steps(rng, N, L, seed % 3 == 0);
  CostOptions o;
  o.batch_size = seed % 3 == 0 ? 12 : 16;
  o.optimizer = seed % 2 ? Optimizer::sgd_momentum : Optimizer::adam;
  if (devices) *devices = N;
  return CostModel(c, o);
}

}  // namespace

TEST_CASE("replay bound: never above the replay, for every plan and every prefix", "[replay]") {
  long long plans = 0, tight = 0;
  for (int seed = 1; seed <= 24; ++seed) {
    CostModel m = instance(seed);
    for_each_plan(m, microbatch_candidates(m.options().batch_size, {}), {}, false, [&](const Plan& p) {
      Evaluation e = m.evaluate(p);
      if (!e.feasible) return;
      ++plans;
      INFO("seed " << seed << ", plan " << plan_to_json(e.plan, m.cluster()).dump());
      const int S = int(e.steps.size());
      const double replay = e.schedule_latency_s;
      const double bound = replay_lower_bound(e.steps, e.plan.microbatches, e.network_use, S);
      CHECK(bound <= replay * (1 + 1e-9));
      CHECK(bound > 0);
      if (bound >= replay * 0.95) ++tight;
      // Every prefix of the chain bounds the whole (the missing steps take no time in it).
      for (int k = 1; k < S; k += 2) {
        std::vector<StepCost> prefix(e.steps.begin(), e.steps.begin() + k);
        CHECK(replay_lower_bound(prefix, e.plan.microbatches, e.network_use, S) <= replay * (1 + 1e-9));
      }
    });
  }
  CHECK(plans > 2000);
  // Not a bound of no use: within 5% of the replay on a good share of the plans.
  WARN("replay bound within 5% of the replay on " << tight << " of " << plans << " plans");
  CHECK(tight * 4 >= plans);
}

TEST_CASE("replay bound: without the network, the chain's own steps", "[replay]") {
  CostModel m = instance(5);
  CostOptions o = m.options();
  o.ignore_network = true;
  CostModel blind(m.cluster(), o);
  int checked = 0;
  for_each_plan(blind, {4}, {}, false, [&](const Plan& p) {
    Evaluation e = blind.evaluate(p);
    if (!e.feasible) return;
    ++checked;
    REQUIRE(e.network_use.empty());
    CHECK(replay_lower_bound(e.steps, e.plan.microbatches, e.network_use, int(e.steps.size())) <=
          e.schedule_latency_s * (1 + 1e-9));
  });
  CHECK(checked > 20);
}

TEST_CASE("search by replay: a partial plan's bound never passes a completion's replay, at every cut", "[replay]") {
  // Every plan of the space, cut after each of its stages: the search's bound of the first stages
  // (their chain, the floors of the messages and all-reduces still to come, the next sender's
  // queue) against the shortest replay among the enumerated plans that start with them.
  long long prefixes = 0, close = 0;
  for (int seed = 1; seed <= 24; ++seed) {
    CostModel m = instance(seed);
    if (seed % 6 == 0) {  // the network ignored: no floors for messages or rings, the rest stays
      CostOptions o = m.options();
      o.ignore_network = true;
      m = CostModel(m.cluster(), o);
    }
    PlannerOptions opt;
    if (seed % 7 == 0) opt.share_rule = ShareRule::even;
    if (seed % 5 == 0) opt.max_group_size = 2;
    std::map<std::string, std::pair<Plan, int>> prefix_of;  // the first stages and the stage count
    std::map<std::string, double> least;
    for_each_plan(m, microbatch_candidates(m.options().batch_size, {}), opt, false, [&](const Plan& p) {
      Evaluation e = m.evaluate(p);
      if (!e.feasible) return;
      std::string key = std::to_string(p.microbatch_size) + "/" + std::to_string(p.num_stages());
      Plan first = p;
      first.stages.clear();
      for (int k = 0; k + 1 < p.num_stages(); ++k) {
        const StagePlan& sp = p.stages[size_t(k)];
        key += ":" + std::to_string(sp.first_layer) + "-" + std::to_string(sp.last_layer);
        for (int d : sp.devices) key += "," + std::to_string(d);
        first.stages.push_back(sp);
        auto it = least.find(key);
        if (it == least.end()) {
          least[key] = e.schedule_latency_s;
          prefix_of[key] = {first, p.num_stages()};
        } else {
          it->second = std::min(it->second, e.schedule_latency_s);
        }
      }
    });
    for (const auto& [key, best] : least) {
      const auto& [first, stages] = prefix_of[key];
      const double bound = replay_partial_bound(m, opt, first, stages);
      INFO("seed " << seed << ", cut " << key);
      CHECK(bound <= best * (1 + 1e-9));
      ++prefixes;
      if (bound >= best * 0.9) ++close;
    }
  }
  CHECK(prefixes > 1000);
  WARN("partial-plan bound within 10% of the best completion on " << close << " of " << prefixes << " cuts");
}

TEST_CASE("search by replay: the shortest replay of the whole space, from any starting plan", "[replay]") {
  int feasible = 0, improved_on_choice = 0;
  for (int seed = 1; seed <= 40; ++seed) {
    int N = 0;
    CostModel m = instance(seed, &N);
    PlannerOptions opt;
    if (seed % 5 == 0) opt.max_stages = 2;
    if (seed % 7 == 0) opt.share_rule = ShareRule::even;
    if (seed % 11 == 0) opt.use_all_devices = true;
    INFO("seed " << seed << ", " << N << " devices, " << m.num_layers() << " layers");
    Plan reference;
    const double expected =
        exhaustive_best(m, microbatch_candidates(m.options().batch_size, {}), &reference, opt, false, Objective::replay);
    auto optimum = plan_optimal(m, opt);
    if (!std::isfinite(expected)) {
      CHECK_FALSE(optimum.ok());
      continue;
    }
    REQUIRE(optimum.ok());
    ++feasible;
    // From the replay choice among the closed-form optima (what asteroid starts from).
    ReplayChoice choice = choose_by_replay(m, opt, *optimum);
    ReplaySearchResult r = search_by_replay(m, opt, choice.evaluation);
    CHECK(r.proven_optimal);
    CHECK(r.evaluation.schedule_latency_s == Approx(expected).epsilon(1e-9));
    CHECK(m.evaluate(r.evaluation.plan).schedule_latency_s == Approx(expected).epsilon(1e-12));
    if (r.evaluation.schedule_latency_s < choice.evaluation.schedule_latency_s * (1 - 1e-9)) ++improved_on_choice;
    // From a poor start: the closed-form optimum, as if it replayed three times longer.
    Evaluation poor = m.evaluate(optimum->plan);
    poor.schedule_latency_s *= 3;  // as if the start replayed three times longer
    ReplaySearchResult again = search_by_replay(m, opt, poor);
    CHECK(again.improved);
    CHECK(again.evaluation.schedule_latency_s == Approx(expected).epsilon(1e-9));
  }
  CHECK(feasible >= 25);
  WARN("the search improved on the best closed-form candidate's replay on " << improved_on_choice << " of "
                                                                             << feasible << " instances");
}

TEST_CASE("search by replay: a time limit ends it unproven, with the best plan so far", "[replay]") {
  CostModel m = instance(3);
  auto optimum = plan_optimal(m, {});
  REQUIRE(optimum.ok());
  PlannerOptions opt;
  opt.time_limit_s = 1e-9;
  Evaluation start = m.evaluate(optimum->plan);
  ReplaySearchResult r = search_by_replay(m, opt, start);
  CHECK_FALSE(r.proven_optimal);
  CHECK(r.evaluation.schedule_latency_s <= start.schedule_latency_s);
  // Still a proven bound: at most the plan's replay, and above 0 (the busiest device's work).
  CHECK(r.lower_bound_s > 0);
  CHECK(r.lower_bound_s <= r.evaluation.schedule_latency_s);
}

TEST_CASE("search by replay: a cut search's lower bound never passes the optimum, and meets it when not cut",
          "[replay]") {
  // Cut after a given number of priced stages (not a time, so that it is the same on any
  // machine), at points from the first partial plans to past the end.
  int cut = 0, bounded = 0, met = 0;
  for (int seed = 1; seed <= 24; ++seed) {
    CostModel m = instance(seed);
    PlannerOptions opt;
    if (seed % 5 == 0) opt.max_stages = 2;
    Plan reference;
    const double expected = exhaustive_best(m, microbatch_candidates(m.options().batch_size, {}), &reference, opt,
                                            false, Objective::replay);
    if (!std::isfinite(expected)) continue;
    INFO("seed " << seed);
    // From no plan at all (the bound must not lean on the start) and from a poor one.
    Evaluation none;
    ReplaySearchResult whole = search_by_replay(m, opt, none);
    REQUIRE(whole.proven_optimal);
    CHECK(whole.lower_bound_s == Approx(expected).epsilon(1e-9));
    for (long long budget : {1LL, 3LL, 10LL, 30LL, 100LL, 300LL, 1000LL}) {
      ReplaySearchResult r = search_by_replay(m, opt, none, budget);
      INFO("cut after " << budget << " priced stages");
      CHECK(r.lower_bound_s <= expected * (1 + 1e-9));
      if (r.evaluation.feasible) {
        CHECK(r.lower_bound_s <= r.evaluation.schedule_latency_s * (1 + 1e-9));
        CHECK(optimality_gap(r.evaluation.schedule_latency_s, r.lower_bound_s) >= 0);
      }
      if (!r.proven_optimal) {
        ++cut;
        if (r.lower_bound_s > 0) ++bounded;
      } else {
        ++met;
        CHECK(r.evaluation.schedule_latency_s == Approx(expected).epsilon(1e-9));
      }
    }
  }
  CHECK(cut > 50);
  CHECK(met > 10);
  CHECK(bounded == cut);  // every cut search still proves some bound (all device orders searched)
}

TEST_CASE("search by replay: identical devices are one (the orders of the classes share their partial plans)",
          "[replay]") {
  // Clusters of few classes with several identical devices each, the orders' common prefixes
  // searched once: the result is still the shortest replay of every order's plans, and relabelling
  // the devices (the classes' members swapped in the cluster) changes nothing.
  int checked = 0;
  for (int seed = 1; seed <= 12; ++seed) {
    std::mt19937 rng(seed);
    auto layers = synthetic_layers(4 + seed % 3, rng);
    auto t = jetson_like_types();
    std::vector<SyntheticDeviceType> devices;
    // 2 + 2 (+ 1) devices of two or three types: 2 or 6 orders of the classes.
    for (int i = 0; i < 2; ++i) devices.push_back(t[0]);
    for (int i = 0; i < 2; ++i) devices.push_back(t[2]);
    if (seed % 2) devices.push_back(t[1]);
    for (auto& d : devices) d.memory_bytes = seed % 3 == 0 ? 0.05e9 : 0.4e9;
    if (seed % 4 == 0) std::reverse(devices.begin(), devices.end());
    Cluster c = synthetic_cluster(layers, devices, (seed % 2 ? 12.5e6 : 125e6), 5e-4);
    CostOptions o;
    o.batch_size = 16;
    CostModel m(c, o);
    PlannerOptions opt;
    if (seed % 3 == 1) opt.use_all_devices = true;
    Plan reference;
    const double expected =
        exhaustive_best(m, microbatch_candidates(16, {}), &reference, opt, false, Objective::replay);
    if (!std::isfinite(expected)) continue;
    INFO("seed " << seed);
    ++checked;
    ReplaySearchResult r = search_by_replay(m, opt, Evaluation{});
    CHECK(r.proven_optimal);
    CHECK(r.evaluation.schedule_latency_s == Approx(expected).epsilon(1e-9));
    // Every stage the search visits uses the first devices of each class (in the class's order).
    for (const std::vector<int>& k : device_classes(m.cluster())) {
      size_t used = 0;
      for (const StagePlan& sp : r.evaluation.plan.stages) used += size_t(std::count_if(
          sp.devices.begin(), sp.devices.end(), [&](int d) { return std::count(k.begin(), k.end(), d) > 0; }));
      for (size_t i = 0; i < used; ++i) {
        bool in_plan = false;
        for (const StagePlan& sp : r.evaluation.plan.stages)
          in_plan = in_plan || std::count(sp.devices.begin(), sp.devices.end(), k[i]);
        CHECK(in_plan);
      }
    }
  }
  CHECK(checked >= 8);
}

TEST_CASE("plan by replay: a larger cluster of the same devices never plans worse than the smaller", "[replay]") {
  // The smaller: the first half of each class (what plan_by_replay itself starts from).
  int compared = 0, better = 0;
  for (int seed = 1; seed <= 10; ++seed) {
    std::mt19937 rng(seed);
    auto layers = synthetic_layers(5 + seed % 3, rng);
    auto t = jetson_like_types();
    std::vector<SyntheticDeviceType> small = {t[0], t[1], t[2]}, large;
    if (seed % 2) small.push_back(t[2]);
    for (int i = 0; i < 2; ++i) large.insert(large.end(), small.begin(), small.end());
    const double bw = seed % 2 ? 12.5e6 : 125e6;
    CostOptions o;
    o.batch_size = 16;
    CostModel ms(synthetic_cluster(layers, small, bw, 5e-4), o), ml(synthetic_cluster(layers, large, bw, 5e-4), o);
    auto rs = plan_by_replay(ms, {}), rl = plan_by_replay(ml, {});
    REQUIRE(rs.ok());
    REQUIRE(rl.ok());
    INFO("seed " << seed);
    CHECK(rs->proven_optimal);
    CHECK(rl->proven_optimal);
    CHECK(rl->lower_bound_s == Approx(rl->evaluation.schedule_latency_s));
    CHECK(rl->evaluation.schedule_latency_s <= rs->evaluation.schedule_latency_s * (1 + 1e-9));
    ++compared;
    if (rl->evaluation.schedule_latency_s < rs->evaluation.schedule_latency_s * (1 - 1e-9)) ++better;
  }
  CHECK(compared == 10);
  WARN("the larger cluster planned strictly shorter rounds on " << better << " of " << compared);
}

TEST_CASE("plan by replay: cut by its time limit, never worse than the smaller cluster's plan", "[replay]") {
  // Each class four times over (three levels of halving): whatever the limit leaves each level, the
  // plan of the smaller cluster is the search's incumbent, so the answer is never longer.
  int planned = 0;
  for (int seed = 1; seed <= 4; ++seed) {
    std::mt19937 rng(seed);
    auto layers = synthetic_layers(8, rng);
    auto t = jetson_like_types();
    std::vector<SyntheticDeviceType> devices;
    for (int i = 0; i < 4; ++i) devices.insert(devices.end(), {t[0], t[1], t[2]});
    CostOptions o;
    o.batch_size = 16;
    CostModel m(synthetic_cluster(layers, devices, seed % 2 ? 12.5e6 : 125e6, 5e-4), o);
    for (double limit : {0.02, 0.1}) {
      PlannerOptions opt;
      opt.time_limit_s = limit;
      auto r = plan_by_replay(m, opt);
      if (!r) continue;  // the limit passed before any plan was known
      INFO("seed " << seed << ", limit " << limit);
      ++planned;
      if (r->smaller_cluster_replay_s > 0)
        CHECK(r->evaluation.schedule_latency_s <= r->smaller_cluster_replay_s * (1 + 1e-12));
      CHECK(r->lower_bound_s <= r->evaluation.schedule_latency_s * (1 + 1e-9));
    }
  }
  CHECK(planned > 0);
}
