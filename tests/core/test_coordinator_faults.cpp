// The Coordinator when failures come close together, during a recovery, or with joins; a device
// seen dead at once; layers with no live copy; and the lightweight re-plan's rebalance.
#include <catch2/catch.hpp>

#include <algorithm>
#include <limits>
#include <vector>

#include "asteroid/run/coordinator.hpp"
#include "coordinator_fixture.hpp"
#include "synthetic.hpp"

using namespace asteroid;
using namespace asteroid::testing;

TEST_CASE("coordinator: devices overdue together are declared in one tick and recovery plans on the others",
          "[coordinator][faults]") {
  Fixture f = fixture();
  for (Recovery r : {Recovery::lightweight, Recovery::replan, Recovery::restart, Recovery::adaptive}) {
    INFO(to_string(r));
    Coordinator c(f.model, f.plan, config(r));
    c.start(0);
    // Devices 1 and 3 stop beating at the same moment.
    CHECK(beat_but(c, {}, 1, 1).empty());
    CHECK(beat_but(c, {1, 3}, 2, 3).empty());
    auto a = c.tick(4.0);
    REQUIRE(count(a, ActionKind::declare_failed) == 2);
    CHECK(count(a, ActionKind::fence) == 2);
    CHECK(count(a, ActionKind::rollback) == 1);
    REQUIRE(count(a, ActionKind::replan) == 1);
    CHECK(find(a, ActionKind::replan)->plan_id == 1);
    CHECK_FALSE(c.alive(1));
    CHECK_FALSE(c.alive(3));
    CHECK_FALSE(in_plan(c.plan(), 1));
    CHECK_FALSE(in_plan(c.plan(), 3));
    for (const StateTransfer& t : find(a, ActionKind::transfer_state)->transfers) {
      CHECK(t.from != 1);
      CHECK(t.from != 3);
    }
    // Their later beats (a paused device waking up) change nothing: they are fenced.
    CHECK(c.heartbeat(1, 4.5).empty());
    CHECK_FALSE(c.alive(1));
  }
}

TEST_CASE(
    "coordinator: a failure during a recovery starts it again from the running plan, on the true survivors",
    "[coordinator][faults]") {
  Fixture f = fixture();
  Coordinator c(f.model, f.plan, config(Recovery::lightweight));
  c.start(0);
  c.round_done(0, 0.5);
  c.copies_landed(0);
  REQUIRE(c.last_checkpoint() == 0);
  // Device 3 stops after the start, device 0 after 1 s: 3 is declared at 3 s while 0 still counts
  // as alive (its deadline is 4 s), so the first recovery plans on it.
  auto first = beat_but(c, {3}, 1, 1);
  auto more = beat_but(c, {0, 3}, 2, 3);
  first.insert(first.end(), more.begin(), more.end());
  REQUIRE(count(first, ActionKind::declare_failed) == 1);
  CHECK(find(first, ActionKind::declare_failed)->device == 3);
  REQUIRE(c.recovering());
  CHECK(in_plan(c.plan(), 0));  // not known yet
  // Device 0 is declared during the state transfer: the recovery starts again without both.
  auto second = c.tick(4.0);
  REQUIRE(count(second, ActionKind::declare_failed) == 1);
  CHECK(find(second, ActionKind::declare_failed)->device == 0);
  REQUIRE(find(second, ActionKind::replan));
  CHECK_THAT(find(second, ActionKind::replan)->detail, Catch::Contains("starts again"));
  CHECK(c.plan_id() == 2);
  CHECK_FALSE(in_plan(c.plan(), 0));
  CHECK_FALSE(in_plan(c.plan(), 3));
  // State comes only from live holders of the checkpoint, never from a failed device.
  for (const StateTransfer& t : find(second, ActionKind::transfer_state)->transfers) {
    CHECK(t.from != 0);
    CHECK(t.from != 3);
    if (t.from >= 0)
      for (int l = t.first_layer; l <= t.last_layer; ++l) CHECK(c.holds(t.from, l));
  }
  auto done = c.state_transferred(6.0);
  REQUIRE(find(done, ActionKind::replay_round));
  CHECK(find(done, ActionKind::replay_round)->round == 1);
  CHECK_FALSE(c.recovering());
}

TEST_CASE(
    "coordinator: a checkpoint needs the round finished everywhere and its copies landed, in either order",
    "[coordinator][faults]") {
  Fixture f = fixture();
  Coordinator c(f.model, f.plan, config(Recovery::lightweight));
  c.start(0);
  // Copies of round 0 land before the group's optimizer step finished: not a checkpoint yet.
  c.copies_landed(0);
  CHECK(c.last_checkpoint() == -1);
  c.round_done(0, 1.0);
  CHECK(c.last_checkpoint() == 0);
  // Round 1 finished but its copies are still in flight: the checkpoint stays at 0.
  c.round_done(1, 2.0);
  CHECK(c.last_checkpoint() == 0);
  // A failure now replays from round 1: no round is skipped.
  auto a = beat_but(c, {3}, 1, 3);
  auto t = c.tick(3.0);
  a.insert(a.end(), t.begin(), t.end());
  REQUIRE(find(a, ActionKind::rollback));
  CHECK(find(a, ActionKind::rollback)->round == 0);
  auto done = c.state_transferred(4.0);
  CHECK(find(done, ActionKind::replay_round)->round == 1);
  // Rounds finished out of order are not taken.
  CoordinatorConfig none = config(Recovery::lightweight);
  none.replicate = false;
  Coordinator e(f.model, f.plan, none);
  e.round_done(1, 1.0);
  CHECK(e.last_checkpoint() == -1);
  e.round_done(0, 1.0);
  CHECK(e.last_checkpoint() == 0);
}

TEST_CASE("coordinator: when no live device holds a layer's checkpoint, the run stops and names the layers",
          "[coordinator][faults]") {
  Fixture f = fixture();
  CoordinatorConfig cfg = config(Recovery::lightweight);
  cfg.replicate = false;  // no copies: a single-device stage lives on its device only
  Coordinator c(f.model, f.plan, cfg);
  c.start(0);
  c.round_done(0, 0.5);
  REQUIRE(c.last_checkpoint() == 0);
  auto a = beat_but(c, {2}, 1, 3);
  auto t = c.tick(3.0);
  a.insert(a.end(), t.begin(), t.end());
  const Action* stop = find(a, ActionKind::replan);
  REQUIRE(stop);
  CHECK(stop->plan_id == -1);
  CHECK(stop->lost_layers == std::vector<int>{4, 5, 6});
  CHECK_THAT(stop->detail, Catch::Contains("layers 4-6"));
  CHECK_FALSE(find(a, ActionKind::transfer_state));
  // Before the first checkpoint nothing is lost and nothing moves: the initial weights come from
  // the run's seed, which every live device has.
  Coordinator fresh(f.model, f.plan, cfg);
  fresh.start(0);
  auto b = beat_but(fresh, {2}, 1, 3);
  REQUIRE(find(b, ActionKind::replan));
  CHECK(find(b, ActionKind::replan)->plan_id == 1);
  CHECK(find(b, ActionKind::transfer_state)->transfers.empty());
}

TEST_CASE("coordinator: a device that joins is planned in when that finishes the rounds left sooner",
          "[coordinator][faults]") {
  Fixture f = fixture();
  // Device 0 (fast) is absent at the start: the plan runs on the others.
  Plan without = f.plan;
  without.stages[0].devices = {1};
  CoordinatorConfig many = config(Recovery::lightweight);
  many.absent = {0};
  many.rounds = 1000;
  Coordinator c(f.model, without, many);
  c.start(0);
  c.round_done(0, 1.0);
  c.copies_landed(0, 1.0);
  REQUIRE(c.last_checkpoint() == 0);
  CHECK_FALSE(c.alive(0));
  auto a = c.join(0, 1.5);
  CHECK(c.alive(0));
  const Action* r = find(a, ActionKind::replan);
  REQUIRE(r);
  INFO(r->detail);
  CHECK_THAT(r->detail, Catch::Contains("joined"));
  // With 999 rounds left the faster plan wins, the state transfer counted.
  REQUIRE(find(a, ActionKind::rollback));
  CHECK(r->plan_id == 1);
  CHECK(in_plan(c.plan(), 0));
  CHECK(f.model.evaluate(c.plan()).round_latency_s < f.model.evaluate(without).round_latency_s);
  // The newcomer holds nothing: what it runs is sent to it, from live holders.
  bool to_newcomer = false;
  for (const StateTransfer& t : find(a, ActionKind::transfer_state)->transfers) {
    to_newcomer = to_newcomer || t.to == 0;
    CHECK(t.from != 0);
  }
  CHECK(to_newcomer);
  CHECK(find(c.state_transferred(3.0), ActionKind::replay_round)->round == 1);

  // With one round left, staying is sooner: the plan stays, and says why.
  CoordinatorConfig few = many;
  few.rounds = 2;
  Coordinator s(f.model, without, few);
  s.start(0);
  s.round_done(0, 1.0);
  s.copies_landed(0, 1.0);
  auto b = s.join(0, 1.5);
  REQUIRE(find(b, ActionKind::replan));
  CHECK(find(b, ActionKind::replan)->plan_id == 0);
  CHECK_THAT(find(b, ActionKind::replan)->detail, Catch::Contains("stays"));
  CHECK_FALSE(find(b, ActionKind::rollback));
  CHECK_FALSE(s.recovering());
}

TEST_CASE("coordinator: a join during a recovery is weighed at the next checkpoint",
          "[coordinator][faults]") {
  Fixture f = fixture();
  CoordinatorConfig cfg = config(Recovery::lightweight);
  cfg.rounds = 1000;
  Coordinator c(f.model, f.plan, cfg);
  c.start(0);
  beat_but(c, {0}, 1, 3);
  REQUIRE(c.recovering());
  CHECK(c.join(0, 3.5).empty());  // device 0 comes back while the recovery runs
  c.state_transferred(4.0);
  c.round_done(0, 5.0);
  auto b = c.copies_landed(0, 5.5);
  REQUIRE(find(b, ActionKind::replan));
  CHECK_THAT(find(b, ActionKind::replan)->detail, Catch::Contains("joined"));
}

TEST_CASE("coordinator: a device seen dead is declared at once, with its reason, and recovered",
          "[coordinator][faults]") {
  Fixture f = fixture();
  Coordinator c(f.model, f.plan, config(Recovery::lightweight));
  c.start(0);
  CHECK(beat_but(c, {}, 1, 1).empty());
  // Device 2's process exits at 1.2 s, long before its heartbeats would be overdue (4 s).
  auto a = c.lost(2, "worker died (signal 9)", 1.2);
  REQUIRE(count(a, ActionKind::declare_failed) == 1);
  CHECK(find(a, ActionKind::declare_failed)->device == 2);
  CHECK_THAT(find(a, ActionKind::declare_failed)->detail, Catch::Contains("worker died (signal 9)"));
  CHECK(count(a, ActionKind::fence) == 1);
  REQUIRE(find(a, ActionKind::replan));
  CHECK(find(a, ActionKind::replan)->plan_id == 1);
  CHECK_FALSE(c.alive(2));
  CHECK_FALSE(in_plan(c.plan(), 2));
  // Seen again: nothing more to do for it.
  CHECK(c.lost(2, "worker died (signal 9)", 1.3).empty());
}

TEST_CASE("coordinator: beats taken in as a batch after a pause find no device overdue",
          "[coordinator][faults]") {
  Fixture f = fixture();
  Coordinator c(f.model, f.plan, config(Recovery::lightweight));
  c.start(0);
  // The caller was paused for 10 s (3 s is the timeout); every device's beat is waiting for it.
  for (int d = 0; d < 5; ++d) c.record_heartbeat(d, 10);
  CHECK(c.tick(10).empty());
  for (int d = 0; d < 5; ++d) CHECK(c.alive(d));
  // Beat by beat, the first one would have found the others overdue.
  Coordinator one_by_one(f.model, f.plan, config(Recovery::lightweight));
  one_by_one.start(0);
  CHECK(count(one_by_one.heartbeat(0, 10), ActionKind::declare_failed) == 4);
}

TEST_CASE("coordinator: lightweight recovery rebalances every surviving stage, pricing the state it moves",
          "[coordinator]") {
  // Four identical devices in a straight pipeline of three equal layers each. Device 0 leaves after
  // the first checkpoint; its copy is on device 1, its only neighbour. Moving its layers to the
  // neighbours alone gives device 1 six layers against three; the paper's re-plan balances four each.
  std::vector<SyntheticLayer> layers(12, SyntheticLayer{2e-4, 3e-3, 1e6, 2e5, 6e5});
  Cluster cluster = synthetic_cluster(layers, std::vector<SyntheticDeviceType>(4, {"same", 1.0, 7e9}), 125e6, 5e-4);
  CostOptions o;
  o.batch_size = 16;
  CostModel model(cluster, o);
  Plan plan;
  plan.microbatch_size = 4;
  plan.microbatches = 4;
  plan.stages = {{0, 2, {0}, {}}, {3, 5, {1}, {}}, {6, 8, {2}, {}}, {9, 11, {3}, {}}};
  CoordinatorConfig cfg = config(Recovery::lightweight);
  cfg.rounds = 100;
  Coordinator c(model, plan, cfg);
  c.start(0);
  c.round_done(0, 0.5);
  c.copies_landed(0);
  REQUIRE(c.last_checkpoint() == 0);
  std::vector<Action> a;
  for (double t = 1; t <= 4; t += 1)
    for (int d = 1; d < 4; ++d) {
      auto got = c.heartbeat(d, t);
      a.insert(a.end(), got.begin(), got.end());
    }
  const Action* replan = find(a, ActionKind::replan);
  REQUIRE(replan != nullptr);
  INFO(replan->detail);
  CHECK_THAT(replan->detail, Catch::Contains("rebalanced"));
  const Plan& next = c.plan();
  REQUIRE(next.num_stages() == 3);
  for (int s = 0; s < 3; ++s) CHECK(next.stages[s].devices == std::vector<int>{s + 1});
  // Against every way to cut the layers over the three survivors, and the neighbours-only move.
  auto round_of = [&](int cut1, int cut2) {
    Plan p = plan;
    p.stages = {{0, cut1 - 1, {1}, {}}, {cut1, cut2 - 1, {2}, {}}, {cut2, 11, {3}, {}}};
    return model.evaluate(p).predicted_round_s();
  };
  double best = std::numeric_limits<double>::infinity();
  for (int c1 = 1; c1 < 11; ++c1)
    for (int c2 = c1 + 1; c2 < 12; ++c2) best = std::min(best, round_of(c1, c2));
  const double got = model.evaluate(next).predicted_round_s();
  CHECK(got <= best * 1.02);                // the state it moves costs far less than 99 rounds' gain
  CHECK(got < round_of(6, 9) * 0.95);       // the neighbours-only move
  // Layers land on devices that lacked them, from a live device that holds them.
  const Action* transfer = find(a, ActionKind::transfer_state);
  REQUIRE(transfer != nullptr);
  for (const StateTransfer& t : transfer->transfers) {
    CHECK(t.from >= 1);
    CHECK(t.to >= 1);
    CHECK(t.from != t.to);
  }
}

TEST_CASE("coordinator: devices that stop beating a fraction of an interval apart are declared together",
          "[coordinator][faults]") {
  Fixture f = fixture();
  Coordinator c(f.model, f.plan, config(Recovery::lightweight));
  c.start(0);
  // Every device beats on its own clock; 1 and 3 die between their beats at 2.0 s and 2.1 s.
  for (double t = 1; t <= 2; t += 1)
    for (int d = 0; d < 5; ++d) CHECK(c.heartbeat(d, t + 0.1 * (d == 3)).empty());
  std::vector<Action> a;
  for (double t = 3; t <= 5.0 + 1e-9; t += 1)
    for (int d : {0, 2, 4}) {
      auto got = c.heartbeat(d, t);
      a.insert(a.end(), got.begin(), got.end());
    }
  // Device 1 is overdue at 5.0 s; device 3, whose deadline is 5.1 s, goes with it in one declaration.
  CHECK(count(a, ActionKind::declare_failed) == 2);
  CHECK(count(a, ActionKind::replan) == 1);
  CHECK_FALSE(in_plan(c.plan(), 1));
  CHECK_FALSE(in_plan(c.plan(), 3));
  // With 2 missed beats the window is 1.5 intervals, not 1: a live device between two beats
  // (silent for up to an interval, a little more when its beat is late) is not taken along.
  CoordinatorConfig two = config(Recovery::lightweight);
  two.missed_heartbeats = 2;
  Coordinator late(f.model, f.plan, two);
  late.start(0);
  for (int d = 0; d < 5; ++d) late.heartbeat(d, 1.0);
  late.heartbeat(3, 1.4);  // then 3 dies, 0.4 s after 2
  late.heartbeat(4, 1.7);  // 4 lives, its next beat due at 2.7 s is late
  late.heartbeat(0, 2.0);
  late.heartbeat(1, 2.0);
  auto b = late.tick(3.0);  // 2 is overdue (last beat 1.0 s)
  CHECK(count(b, ActionKind::declare_failed) == 2);
  CHECK_FALSE(late.alive(2));
  CHECK_FALSE(late.alive(3));  // silent 1.6 intervals
  CHECK(late.alive(4));        // silent 1.3 intervals
}
