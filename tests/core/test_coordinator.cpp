#include <catch2/catch.hpp>

#include <algorithm>
#include <limits>
#include <memory>

#include "asteroid/coordinator.hpp"
#include "asteroid/weight_ledger.hpp"
#include "synthetic.hpp"

using namespace asteroid;
using namespace asteroid::testing;

namespace {

struct Fixture {
  CostModel model;
  Plan plan;
};

// Five devices, three stages: a group {0, 1}, then two single-device stages {2} and {3}; 4 idle.
Fixture fixture() {
  std::mt19937 rng(11);
  auto layers = synthetic_layers(9, rng);
  Cluster c = synthetic_cluster(
      layers,
      {{"fast", 1.0, 7e9}, {"fast", 1.0, 7e9}, {"mid", 1.4, 7e9}, {"mid", 1.4, 7e9}, {"slow", 3.5, 3e9}},
      12.5e6, 5e-4);
  CostOptions o;
  o.batch_size = 16;
  Plan p;
  p.microbatch_size = 4;
  p.microbatches = 4;
  p.stages = {{0, 3, {0, 1}, {}}, {4, 6, {2}, {}}, {7, 8, {3}, {}}};
  return {CostModel(c, o), p};
}

CoordinatorConfig config(Recovery r) {
  CoordinatorConfig c;
  c.heartbeat_interval_s = 1.0;
  c.missed_heartbeats = 3;
  c.recovery = r;
  return c;
}

bool in_plan(const Plan& p, int d) {
  for (const auto& s : p.stages)
    if (std::count(s.devices.begin(), s.devices.end(), d)) return true;
  return false;
}

// Heartbeats from every device but `silent` each second until `until`; returns the actions.
std::vector<Action> beat(Coordinator& c, int silent, double until) {
  std::vector<Action> all;
  for (double t = 1; t <= until + 1e-9; t += 1)
    for (int d = 0; d < 5; ++d)
      if (d != silent) {
        auto a = c.heartbeat(d, t);
        all.insert(all.end(), a.begin(), a.end());
      }
  return all;
}

}  // namespace

TEST_CASE("coordinator: a silent device is declared failed exactly missed x interval after its last beat",
          "[coordinator]") {
  Fixture f = fixture();
  Coordinator c(f.model, f.plan, config(Recovery::lightweight));
  c.start(0);
  for (int d = 0; d < 5; ++d) c.heartbeat(d, 0.5);
  CHECK(c.next_deadline() == Approx(3.5));
  // Device 2 is silent after 0.5 s; the others beat every second.
  CHECK(beat(c, 2, 3).empty());
  CHECK(c.tick(3.49).empty());
  auto a = c.tick(3.5);
  REQUIRE(!a.empty());
  CHECK(a[0].kind == ActionKind::declare_failed);
  CHECK(a[0].device == 2);
  CHECK_FALSE(c.alive(2));
  // A late message alone does not condemn a device that still beats.
  Coordinator c2(f.model, f.plan, config(Recovery::lightweight));
  c2.start(0);
  CHECK(c2.message_overdue(3, 2.0).empty());
}

TEST_CASE("coordinator: single-device stages are copied to a neighbouring stage, groups are their own copy",
          "[coordinator]") {
  Fixture f = fixture();
  Evaluation ev = f.model.evaluate(f.plan);
  auto r = assign_replicas(f.model, ev);
  REQUIRE(r.size() == 2);
  CHECK(r[0].stage == 1);
  CHECK(r[0].owner == 2);
  CHECK((r[0].backup == 0 || r[0].backup == 1 || r[0].backup == 3));
  CHECK(r[1].stage == 2);
  CHECK(r[1].owner == 3);
  CHECK(r[1].backup == 2);  // the only neighbour
  Coordinator c(f.model, f.plan, config(Recovery::lightweight));
  CHECK(c.replicates_after(0));
  CoordinatorConfig every3 = config(Recovery::lightweight);
  every3.replication_interval_rounds = 3;
  Coordinator c3(f.model, f.plan, every3);
  CHECK_FALSE(c3.replicates_after(0));
  CHECK(c3.replicates_after(2));
}

TEST_CASE("coordinator: lightweight recovery moves the failed stage's layers to neighbours and replays",
          "[coordinator]") {
  Fixture f = fixture();
  Coordinator c(f.model, f.plan, config(Recovery::lightweight));
  c.start(0);
  c.round_done(0, 0.5);
  REQUIRE(c.begin_copies(0));
  CHECK_FALSE(c.begin_copies(1));  // round 0's copies are still in flight
  c.round_done(1, 0.9);
  CHECK(c.last_checkpoint() == -1);
  c.copies_landed(0);
  CHECK(c.last_checkpoint() == 0);
  REQUIRE(c.begin_copies(1));
  c.copies_landed(1);
  auto a = beat(c, 2, 4);
  REQUIRE(a.size() == 6);
  CHECK(a[0].kind == ActionKind::declare_failed);
  CHECK(a[1].kind == ActionKind::fence);
  CHECK(a[1].device == 2);
  CHECK(a[2].kind == ActionKind::rollback);
  CHECK(a[3].kind == ActionKind::replan);
  CHECK_THAT(a[3].detail, Catch::Contains("lightweight"));
  CHECK(a[4].kind == ActionKind::move_layers);
  CHECK(a[5].kind == ActionKind::transfer_state);
  const Plan& p = c.plan();
  CHECK(c.plan_id() == 1);
  CHECK(p.num_stages() == 2);
  CHECK_FALSE(in_plan(p, 2));
  CHECK(p.stages[0].devices == std::vector<int>{0, 1});  // the group is untouched
  // Only layers that a device does not hold move, and never from the failed device.
  for (const StateTransfer& t : a[5].transfers) {
    CHECK(t.from != 2);
    CHECK(t.from >= 0);
    CHECK(in_plan(p, t.to));
    CHECK(t.first_layer >= 4);
    CHECK(t.last_layer <= 6);
  }
  CHECK(c.recovering());
  auto b = c.state_transferred(5);
  REQUIRE(b.size() == 2);
  CHECK(b[0].kind == ActionKind::replay_round);
  CHECK(b[0].round == 2);
  CHECK(b[1].kind == ActionKind::resume);
  CHECK(b[1].plan_id == 1);
}

TEST_CASE("coordinator: lightweight recovery of a group member shrinks the group and keeps every other group",
          "[coordinator]") {
  Fixture f = fixture();
  Coordinator c(f.model, f.plan, config(Recovery::lightweight));
  c.start(0);
  auto a = beat(c, 0, 4);
  REQUIRE(a.size() == 6);
  CHECK_THAT(a[3].detail, Catch::Contains("group shrinks"));
  CHECK(c.plan().stages[0].devices == std::vector<int>{1});
  // Every other stage keeps its devices (the boundaries may move: the rebalance).
  REQUIRE(c.plan().num_stages() == f.plan.num_stages());
  for (int p = 1; p < f.plan.num_stages(); ++p) CHECK(c.plan().stages[p].devices == f.plan.stages[p].devices);
  // Rebalancing is a choice among candidates that include the plain shrink: never slower than it.
  Plan shrunk = f.plan;
  for (auto& st : shrunk.stages) st.shares.clear();
  shrunk.stages[0].devices = {1};
  CHECK(f.model.evaluate(c.plan()).round_latency_s <= f.model.evaluate(shrunk).round_latency_s * (1 + 1e-12));
}

TEST_CASE(
    "coordinator: replan and restart plan on the survivors; restart ships every stage from the checkpoint",
    "[coordinator]") {
  Fixture f = fixture();
  Coordinator replan(f.model, f.plan, config(Recovery::replan));
  replan.start(0);
  replan.round_done(0, 0.5);  // a checkpoint with copies: every layer is on two devices
  REQUIRE(replan.begin_copies(0));
  replan.copies_landed(0);
  auto a = beat(replan, 3, 4);
  REQUIRE(a.size() == 6);
  CHECK_THAT(a[3].detail, Catch::Contains("full re-plan on 4 survivors"));
  CHECK_FALSE(in_plan(replan.plan(), 3));
  for (const StateTransfer& t : a[5].transfers) CHECK((t.from >= 0 && t.from != 3));

  Coordinator restart(f.model, f.plan, config(Recovery::restart));
  restart.start(0);
  auto b = beat(restart, 3, 4);
  REQUIRE(b.size() == 6);
  double need = 0, sent = 0;
  for (const auto& st : restart.plan().stages)
    for (size_t i = 0; i < st.devices.size(); ++i)
      need +=
          f.model.cluster().devices[0].table->param_bytes(st.first_layer, st.last_layer) * 2;  // + momentum
  for (const StateTransfer& t : b[5].transfers) {
    CHECK(t.from == -1);
    sent += t.bytes;
  }
  CHECK(sent == Approx(need));
}

TEST_CASE("weight ledger: a checkpoint survives one failure only with two live copies", "[coordinator]") {
  WeightLedger l(3, 4);
  std::vector<bool> alive = {true, true, true};
  l.add(0, 0, 1, 1);
  l.add(1, 2, 3, 1);
  l.add(2, 2, 3, 1);  // device 2 keeps a copy of layers 2-3
  CHECK(l.min_copies(1, alive) == 1);
  alive[1] = false;
  l.clear(1);
  CHECK(l.missing(1, alive).empty());
  alive[0] = false;
  l.clear(0);
  CHECK(l.missing(1, alive) == std::vector<int>{0, 1});
  l.add(2, 0, 3, 2);
  l.rollback(1);
  CHECK(l.missing(2, alive).size() == 4);
}

TEST_CASE(
    "coordinator: adaptive recovery picks whichever of lightweight and full re-plan finishes the rounds left "
    "sooner",
    "[coordinator]") {
  Fixture f = fixture();
  // What each would do, and its cost: state transfer once, then the rounds left at its latency. The
  // failure comes after the first checkpoint (round 0 finished, its copies landed).
  auto checkpointed = [&](Recovery r, int rounds = 0) {
    CoordinatorConfig cfg = config(r);
    cfg.rounds = rounds;
    auto c = std::make_unique<Coordinator>(f.model, f.plan, cfg);
    c->start(0);
    c->round_done(0, 0.5);
    c->begin_copies(0);
    c->copies_landed(0);
    return c;
  };
  auto light_c = checkpointed(Recovery::lightweight);
  Coordinator& light = *light_c;
  auto a = beat(light, 3, 4);
  auto full_c = checkpointed(Recovery::replan);
  Coordinator& full = *full_c;
  auto b = beat(full, 3, 4);
  REQUIRE(a.size() == 6);
  REQUIRE(b.size() == 6);
  double light_move = estimate_transfer_s(f.model.cluster(), a[5].transfers);
  double full_move = estimate_transfer_s(f.model.cluster(), b[5].transfers);
  double light_round = f.model.evaluate(light.plan()).round_latency_s;
  double full_round = f.model.evaluate(full.plan()).round_latency_s;
  INFO("lightweight: " << light_move << " s + rounds x " << light_round << " s; full: " << full_move
                       << " s + rounds x " << full_round << " s");
  // The fixture is one where the choice depends on the horizon: the full re-plan trains faster but
  // moves more state.
  REQUIRE(full_round < light_round);
  REQUIRE(full_move > light_move);
  for (int rounds : {1, 2, 5, 20, 100, 1000}) {
    auto c_ptr = checkpointed(Recovery::adaptive, rounds);
    Coordinator& c = *c_ptr;
    auto acts = beat(c, 3, 4);
    REQUIRE(acts.size() == 6);
    int left = std::max(1, rounds - (c.last_checkpoint() + 1));
    bool light_sooner = light_move + left * light_round <= full_move + left * full_round;
    INFO(rounds << " rounds: " << acts[3].detail);
    CHECK_THAT(acts[3].detail, Catch::Contains("adaptive"));
    CHECK(c.plan().stages.size() == (light_sooner ? light.plan() : full.plan()).stages.size());
    CHECK(f.model.evaluate(c.plan()).round_latency_s ==
          Approx(light_sooner ? light_round : full_round).epsilon(1e-12));
  }
}

TEST_CASE("coordinator: the transfer estimate charges the busiest device", "[coordinator]") {
  Fixture f = fixture();
  const Cluster& c = f.model.cluster();  // 12.5 MB/s and 0.5 ms between every pair
  CHECK(estimate_transfer_s(c, {}) == 0);
  CHECK(estimate_transfer_s(c, {{0, 1, 0, 0, 12.5e6}}) == Approx(1.0005));
  // Two transfers into one device queue on its link; from one device to two, on the sender's.
  CHECK(estimate_transfer_s(c, {{0, 2, 0, 0, 12.5e6}, {1, 2, 0, 0, 12.5e6}}) == Approx(2.0005));
  CHECK(estimate_transfer_s(c, {{0, 1, 0, 0, 12.5e6}, {0, 2, 0, 0, 12.5e6}}) == Approx(2.0005));
  CHECK(estimate_transfer_s(c, {{0, 1, 0, 0, 12.5e6}, {2, 3, 0, 0, 12.5e6}}) == Approx(1.0005));
}

namespace {

const Action* find(const std::vector<Action>& acts, ActionKind k, int nth = 0) {
  for (const Action& a : acts)
    if (a.kind == k && nth-- == 0) return &a;
  return nullptr;
}

int count(const std::vector<Action>& acts, ActionKind k) {
  return int(std::count_if(acts.begin(), acts.end(), [&](const Action& a) { return a.kind == k; }));
}

// Heartbeats from the devices not in `silent` each second from `from` to `until`.
std::vector<Action> beat_but(Coordinator& c, std::vector<int> silent, double from, double until) {
  std::vector<Action> all;
  for (double t = from; t <= until + 1e-9; t += 1)
    for (int d = 0; d < 5; ++d)
      if (std::find(silent.begin(), silent.end(), d) == silent.end()) {
        auto a = c.heartbeat(d, t);
        all.insert(all.end(), a.begin(), a.end());
      }
  return all;
}

}  // namespace

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
  REQUIRE(c.begin_copies(0));
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
  REQUIRE(c.begin_copies(0));
  c.copies_landed(0);
  CHECK(c.last_checkpoint() == -1);
  c.round_done(0, 1.0);
  CHECK(c.last_checkpoint() == 0);
  // Round 1 finished but its copies are still in flight: the checkpoint stays at 0.
  REQUIRE(c.begin_copies(1));
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
  c.begin_copies(0);
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
  s.begin_copies(0);
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
  REQUIRE(c.begin_copies(0));
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
  REQUIRE(c.begin_copies(0));
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
