// The replay's lower bound (replay_bound.hpp) and the search by replay (replay_search.hpp) against
// every plan of small instances.
#include <catch2/catch.hpp>

#include <cmath>

#include "asteroid/planner.hpp"
#include "asteroid/replay_bound.hpp"
#include "asteroid/replay_choice.hpp"
#include "asteroid/replay_search.hpp"
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
}
