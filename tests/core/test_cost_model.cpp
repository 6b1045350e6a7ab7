#include <catch2/catch.hpp>

#include "asteroid/model/cost_model.hpp"
#include "asteroid/model/pipeline_schedule.hpp"
#include "asteroid/program/program.hpp"
#include "model/share_allocation.hpp"
#include "synthetic.hpp"

using namespace asteroid;
using namespace asteroid::testing;

namespace {

// Two layers, times exactly proportional to samples: numbers that can be checked by hand.
Profile hand_profile() {
  Profile p;
  p.device_type = "t";
  p.memory_bytes = p.usable_memory_bytes = 1e12;
  p.model = "m";
  p.batch_sizes = {1, 8};
  for (int l = 0; l < 2; ++l) {
    LayerProfile L;
    L.name = "l" + std::to_string(l);
    L.param_bytes = 1e6;  // 1 MB of weights per layer
    L.output_activation_bytes_per_sample = 1e5;
    L.stored_activation_bytes_per_sample = 1e6;
    L.fwd_s = {0.01, 0.08};  // 10 ms per sample
    L.bwd_s = {0.02, 0.16};  // 20 ms per sample
    p.layers.push_back(L);
  }
  return p;
}

// Two devices of hand_profile(), b half as fast as a, over a 10 MB/s link with 1 ms of latency.
Cluster hand_cluster(double mem0, double mem1, const Profile& p = hand_profile(),
                     Optimizer optimizer = Optimizer::sgd_momentum) {
  Cluster c;
  auto table = std::make_shared<LayerTable>(p, 1.0, optimizer);
  auto slow = std::make_shared<LayerTable>(p, 0.5, optimizer);  // half as fast
  c.devices = {{"a", "t", table, mem0}, {"b", "t", slow, mem1}};
  c.bandwidth_Bps = {{0, 1e7}, {1e7, 0}};
  c.latency_s = {{0, 1e-3}, {1e-3, 0}};
  return c;
}

}  // namespace

TEST_CASE("cost model: a two-stage pipeline's steps and latency match the hand-computed Eq. 4-8", "[cost]") {
  CostOptions o;
  o.batch_size = 8;
  o.optimizer = Optimizer::sgd;
  o.latency_model = LatencyModel::paper;
  CostModel m(hand_cluster(1e12, 1e12), o);
  Plan p;
  p.microbatch_size = 4;
  p.microbatches = 2;
  p.stages = {{0, 0, {0}, {}}, {1, 1, {1}, {}}};
  Evaluation e = m.evaluate(p);
  REQUIRE(e.feasible);
  REQUIRE(e.steps.size() == 3);
  // stage 0 on a: 4 samples x 10 ms = 40 ms forward, 80 ms backward.
  CHECK(e.steps[0].E_f == Approx(0.04));
  CHECK(e.steps[0].E_b == Approx(0.08));
  // communication: 1 ms + 4 x 1e5 B / 1e7 B/s = 41 ms each way.
  CHECK(e.steps[1].E_f == Approx(0.041));
  // stage 1 on b (half speed): 80 ms, 160 ms: the dominant step.
  CHECK(e.steps[2].E_f == Approx(0.08));
  CHECK(e.dominant_step == 2);
  // latency = max_s T_w + T_e + T_a; s = 0: 2 x 0.24 + (0.12 + 0.082) = 0.682.
  CHECK(e.round_latency_s == Approx(0.682));
  CHECK(e.throughput_samples_per_s == Approx(8 / 0.682));
  // memory, K = min(M, 3) = 2 for stage 0 (a round has two micro-batches): 2 x 1 MB (weights and
  // gradients) + 2 x 4 x 1 MB.
  CHECK(e.devices[0].peak_memory_bytes == Approx(2e6 + 8e6));
  CHECK(e.devices[1].peak_memory_bytes == Approx(2e6 + 4e6));
  // With four micro-batches of 2, stage 0 keeps K = 3 of them.
  p.microbatch_size = 2;
  p.microbatches = 4;
  Evaluation e4 = m.evaluate(p);
  REQUIRE(e4.feasible);
  CHECK(e4.devices[0].peak_memory_bytes == Approx(2e6 + 3 * 2e6));
  CHECK(e4.devices[1].peak_memory_bytes == Approx(2e6 + 2e6));
}

TEST_CASE("cost model: the optimizer step follows each stage's all-reduce, in the closed form, the replay and the Program",
          "[cost]") {
  // hand_cluster with an optimizer step of 5 ms per layer for SGD with momentum (10 ms on the
  // half-speed device b), none for Adam.
  Profile p = hand_profile();
  for (LayerProfile& L : p.layers) L.optimizer_step_s["sgd_momentum"] = 0.005;
  auto cluster = [&](Optimizer opt) {
    Cluster c = hand_cluster(1e12, 1e12, p, opt);
    attach_network_from_matrices(c);
    return c;
  };
  CostOptions o;
  o.batch_size = 8;
  o.optimizer = Optimizer::sgd_momentum;
  Plan two;  // both layers on a group of a and b: the all-reduce, then the slower device's step
  two.microbatch_size = 8;
  two.microbatches = 1;
  two.stages = {{0, 1, {0, 1}, {}}};
  CostModel with(cluster(Optimizer::sgd_momentum), o), without(cluster(Optimizer::adam), o);
  Evaluation e = with.evaluate(two), e0 = without.evaluate(two);
  REQUIRE(e.feasible);
  REQUIRE(e0.feasible);
  CHECK(e.steps[0].T_o == Approx(0.02));  // b: 2 layers x 5 ms / 0.5
  CHECK(e0.steps[0].T_o == 0);
  CHECK(e.round_latency_s - e0.round_latency_s == Approx(0.02));
  CHECK(e.schedule_latency_s - e0.schedule_latency_s == Approx(0.02));
  Program prog = make_program(with, e.plan);
  CHECK(prog.device[0].back().op == Op::optimizer_step);
  CHECK(prog.device[0].back().seconds == Approx(0.01));
  CHECK(prog.device[1].back().seconds == Approx(0.02));
}

TEST_CASE("cost model: Alg. 1 gives the faster device more samples and respects memory caps", "[cost]") {
  CostOptions o;
  o.batch_size = 12;
  o.optimizer = Optimizer::sgd;
  Plan p;
  p.microbatch_size = 12;
  p.microbatches = 1;
  p.stages = {{0, 1, {0, 1}, {}}};
  Evaluation free = CostModel(hand_cluster(1e12, 1e12), o).evaluate(p);
  REQUIRE(free.feasible);
  CHECK(free.plan.stages[0].shares == std::vector<int>{8, 4});
  // a can hold 4e6 + 5 x 2e6 bytes: 5 samples. The rest goes to b.
  Evaluation capped = CostModel(hand_cluster(4e6 + 5 * 2e6 + 1, 1e12), o).evaluate(p);
  REQUIRE(capped.feasible);
  CHECK(capped.plan.stages[0].shares == std::vector<int>{5, 7});
  // all-reduce of 2 MB over 2 devices: 2 x (2e6 / (2 x 1e7) + 1 ms).
  CHECK(capped.steps[0].T_a == Approx(2 * (0.1 + 0.001)));
}

TEST_CASE("cost model: infeasibility names the device and the bytes over", "[cost]") {
  CostOptions o;
  o.batch_size = 8;
  Plan p;
  p.microbatch_size = 8;
  p.microbatches = 1;
  p.stages = {{0, 1, {0}, {}}};
  Evaluation e = CostModel(hand_cluster(3e6, 1e12), o).evaluate(p);
  CHECK_FALSE(e.feasible);
  CHECK(e.reason.find("out of memory") == 0);
  CHECK(e.reason.find("device a") != std::string::npos);
  CHECK(e.reason.find("more than") != std::string::npos);
  Plan fixed = p;
  fixed.stages = {{0, 1, {0, 1}, {6, 2}}};
  Evaluation f = CostModel(hand_cluster(12e6, 1e12), o).evaluate(fixed);
  CHECK_FALSE(f.feasible);
  CHECK(f.reason.find("6 samples") != std::string::npos);
}

namespace {

std::vector<StepCost> chain(const std::vector<std::pair<double, double>>& fb) {
  std::vector<StepCost> steps;
  for (size_t i = 0; i < fb.size(); ++i) {
    StepCost s;
    s.kind = i % 2 ? StepKind::communication : StepKind::compute;
    s.E_f = fb[i].first;
    s.E_b = fb[i].second;
    steps.push_back(s);
  }
  return steps;
}

}  // namespace

TEST_CASE("cost model: the pipeline latency equals the replayed 1F1B schedule for equal steps",
          "[cost][schedule]") {
  for (int M : {1, 2, 3, 8}) {
    auto steps = chain({{1, 2}, {1, 2}, {1, 2}, {1, 2}, {1, 2}});
    double replay = schedule_latency(steps, M, /*shared_nics=*/false).latency_s;
    double pipeline = round_latency(steps, M, LatencyModel::pipeline, nullptr);
    CHECK(replay == Approx((M + 5 - 1) * 3.0));
    CHECK(pipeline == Approx(replay));
  }
}

TEST_CASE("cost model: the pipeline latency is exact for a dominant last step and never below the replay",
          "[cost][schedule]") {
  auto last = chain({{0.5, 0.5}, {0.2, 0.2}, {1, 1}});
  CHECK(round_latency(last, 4, LatencyModel::pipeline, nullptr) ==
        Approx(schedule_latency(last, 4).latency_s));
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> u(0.1, 2.0);
  for (int trial = 0; trial < 200; ++trial) {
    int S = 1 + 2 * (trial % 4);
    std::vector<std::pair<double, double>> fb;
    for (int i = 0; i < S; ++i) {
      double f = u(rng);
      fb.push_back({f, i % 2 ? f : 2 * f});
    }
    auto steps = chain(fb);
    int M = 1 + trial % 6;
    // The bound holds for communication steps with channels of their own; ports shared between
    // a stage's activations and gradients can make the round longer (next test).
    double replay = schedule_latency(steps, M, /*shared_nics=*/false).latency_s;
    CHECK(round_latency(steps, M, LatencyModel::pipeline, nullptr) >= replay * (1 - 1e-12));
    CHECK(schedule_latency(steps, M).latency_s >= replay * (1 - 1e-12));
  }
}

TEST_CASE("cost model: the 1F1B replay shares a middle stage's port between its activations and gradients",
          "[cost][schedule]") {
  // With one micro-batch one message is in flight at a time; with several, a middle device's uplink
  // carries an activation downstream while a gradient goes upstream, each at a share of the rate.
  auto steps = chain({{1, 2}, {1, 2}, {1, 2}, {1, 2}, {1, 2}});
  for (int M : {1, 2, 3, 8}) {
    double own = schedule_latency(steps, M, false).latency_s;
    double shared = schedule_latency(steps, M, true).latency_s;
    INFO("M = " << M << ": own channels " << own << " s, shared ports " << shared << " s");
    CHECK(shared >= own * (1 - 1e-12));
    if (M == 1) CHECK(shared == Approx(own));
    if (M == 8) CHECK(shared > own + 1);
  }
  // Latency is not shared: two messages of pure latency overlap fully.
  auto lat = chain({{1, 1}, {1, 1}, {1, 1}, {1, 1}, {1, 1}});
  for (auto& st : lat)
    if (st.kind == StepKind::communication) st.L = st.E_f;
  for (int M : {1, 3, 8})
    CHECK(schedule_latency(lat, M, true).latency_s == Approx(schedule_latency(lat, M, false).latency_s));
}

TEST_CASE("cost model: Eq. 4-6 ignores the pipeline fill when there is one micro-batch", "[cost][schedule]") {
  // Three equal steps, one micro-batch: the round is the trip through all three, 3 x 3 s, but the
  // paper's form counts the dominant step alone. The default latency model does not.
  auto steps = chain({{1, 2}, {1, 2}, {1, 2}});
  CHECK(round_latency(steps, 1, LatencyModel::paper, nullptr) == Approx(3.0));
  CHECK(round_latency(steps, 1, LatencyModel::pipeline, nullptr) == Approx(9.0));
  CHECK(schedule_latency(steps, 1).latency_s == Approx(9.0));
}

TEST_CASE("cost model: Alg. 1 by water-filling gives the shares of handing out one sample at a time",
          "[cost_model]") {
  // Random tables with plateaus (equal times at consecutive batch sizes), identical devices, memory
  // caps and groups of up to 12; the reference is the one-at-a-time rule.
  std::mt19937 rng(17);
  int compared = 0, with_ties = 0;
  for (int trial = 0; trial < 400; ++trial) {
    int L = 3, kinds = 1 + int(rng() % 4), n = 1 + int(rng() % 12);
    std::vector<std::shared_ptr<LayerTable>> kind_tables;
    for (int k = 0; k < kinds; ++k) {
      Profile p;
      p.device_type = "k" + std::to_string(k);
      p.batch_sizes = trial % 3 == 0 ? std::vector<double>{4} : std::vector<double>{1, 2, 4, 8, 16};
      for (int l = 0; l < L; ++l) {
        LayerProfile lp;
        lp.name = "l" + std::to_string(l);
        double f = 0;
        for (size_t i = 0; i < p.batch_sizes.size(); ++i) {
          // Plateaus on purpose: a third of the steps add nothing.
          if (rng() % 3) f += (1 + int(rng() % 4)) * 0.25;
          lp.fwd_s.push_back(f);
          lp.bwd_s.push_back(2 * f);
        }
        p.layers.push_back(lp);
      }
      kind_tables.push_back(std::make_shared<LayerTable>(p));
    }
    std::vector<const LayerTable*> tables(n);
    std::vector<long long> caps(n);
    long long room = 0;
    for (int i = 0; i < n; ++i) {
      int k = int(rng() % kinds);
      tables[i] = kind_tables[k].get();
      caps[i] = rng() % 4 == 0 ? (long long)(rng() % 6) : 1000;
      room += caps[i];
    }
    int beta = 1 + int(rng() % 40);
    if (room < beta) continue;
    int first = int(rng() % L), last = first + int(rng() % (L - first));
    std::vector<int> fast(n), slow(n);
    detail::allocate_shares(tables.data(), caps.data(), n, first, last, beta, fast.data());
    detail::allocate_shares_one_by_one(tables.data(), caps.data(), n, first, last, beta, slow.data());
    INFO("trial " << trial << ": " << n << " devices, " << kinds << " kinds, beta " << beta);
    CHECK(fast == slow);
    ++compared;
    for (int i = 1; i < n; ++i)
      if (tables[i] == tables[0] && slow[i] != slow[0]) ++with_ties;
  }
  CHECK(compared >= 300);
  CHECK(with_ties > 0);  // identical devices with unequal shares: the tie rule was exercised
}
