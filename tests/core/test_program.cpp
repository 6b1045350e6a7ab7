#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include "asteroid/model/pipeline_schedule.hpp"
#include "asteroid/program/program.hpp"
#include "asteroid/model/schedule.hpp"
#include "synthetic.hpp"

using namespace asteroid;
using namespace asteroid::testing;

namespace {

// Three devices of equal speed, four layers: small enough to read the Program by eye.
CostModel small_model() {
  std::mt19937 rng(7);
  auto layers = synthetic_layers(4, rng);
  Cluster c =
      synthetic_cluster(layers, {{"fast", 1.0, 7e9}, {"fast", 1.0, 7e9}, {"fast", 1.0, 7e9}}, 12.5e6, 5e-4);
  CostOptions o;
  o.batch_size = 8;
  return CostModel(c, o);
}

Plan two_stage(int mb_size, int mbs, std::vector<int> shares0) {
  Plan p;
  p.microbatch_size = mb_size;
  p.microbatches = mbs;
  p.stages = {{0, 1, {0, 1}, shares0}, {2, 3, {2}, {}}};
  return p;
}

}  // namespace

TEST_CASE("program: golden 1F1B of a two-stage plan with a group of two", "[program]") {
  CostModel m = small_model();
  Program p = make_program(m, two_stage(4, 2, {3, 1}));
  // Stage 0 (K = 3, capped by M = 2) forwards both micro-batches first; stage 1 (K = 1) alternates.
  // Device 0 holds samples 0-2 and device 1 sample 3 of every micro-batch; device 2 takes all four.
  CHECK(program_to_text(p) ==
        "0: 0F0 0SEND_F0@2 0F1 0SEND_F1@2 0RECV_B0@2 0B0 0RECV_B1@2 0B1 0ALLREDUCE 0OPT\n"
        "1: 0F0 0SEND_F0@2 0F1 0SEND_F1@2 0RECV_B0@2 0B0 0RECV_B1@2 0B1 0ALLREDUCE 0OPT\n"
        "2: 1RECV_F0@0 1RECV_F0@1 1F0 1B0 1SEND_B0@0 1SEND_B0@1 1RECV_F1@0 1RECV_F1@1 1F1 "
        "1B1 1SEND_B1@0 1SEND_B1@1 1OPT\n");
}

TEST_CASE("program: a replica goes out after the optimizer step and is validated", "[program]") {
  CostModel m = small_model();
  Program p = make_program(m, two_stage(4, 2, {2, 2}), {{1, 2, 0}});
  REQUIRE(p.device[2].back().op == Op::replicate);
  REQUIRE(p.device[0].back().op == Op::recv_replica);
  CHECK(p.device[2].back().bytes == Approx(p.device[0].back().bytes));
  REQUIRE(validate_program(p.device).ok());
  REQUIRE(dry_run(p.device).ok());
}

TEST_CASE("program: text form parses back to the same instructions", "[program]") {
  CostModel m = small_model();
  Program p = make_program(m, two_stage(2, 4, {1, 1}));
  std::string text = program_to_text(p);
  auto back = parse_program_text(text, 3);
  REQUIRE(back.ok());
  for (int d = 0; d < 3; ++d) {
    REQUIRE(back.value()[d].size() == p.device[d].size());
    for (size_t i = 0; i < p.device[d].size(); ++i)
      CHECK(to_string(back.value()[d][i]) == to_string(p.device[d][i]));
  }
  CHECK_FALSE(parse_instruction("1XYZ0").ok());
  CHECK_FALSE(parse_instruction("1SEND_F0").ok());  // no peer
  CHECK(to_string(parse_instruction("12SEND_B3@7").value()) == "12SEND_B3@7");
}

TEST_CASE("program: messages carry the overlapping slice of contiguous sample ranges", "[program]") {
  CostModel m = small_model();
  Plan p;
  p.microbatch_size = 8;
  p.microbatches = 1;
  p.stages = {{0, 1, {0, 1}, {5, 3}}, {2, 3, {2}, {}}};
  Program prog = make_program(m, p);
  double per_sample = m.cluster().devices[0].table->output_bytes_per_sample(1);
  CHECK(prog.device[0][1].samples == 5);
  CHECK(prog.device[0][1].bytes == Approx(5 * per_sample));
  CHECK(prog.device[1][1].samples == 3);
  CHECK(sample_ranges({5, 3}) == std::vector<std::pair<int, int>>{{0, 5}, {5, 8}});
}

TEST_CASE("program: the validator shows a grid and points at a receive without its send", "[program]") {
  CostModel m = small_model();
  Program p = make_program(m, two_stage(4, 2, {2, 2}));
  auto lists = p.device;
  lists[0].erase(lists[0].begin() + 1);  // drop 0SEND_F0@2
  auto r = validate_program(lists);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error().message, Catch::Contains("<-- ERROR HERE"));
  CHECK_THAT(r.error().message, Catch::Contains("receive without a matching send"));
  CHECK_THAT(r.error().message, Catch::Contains("[1RECV_F0@0]"));

  auto order = p.device;
  std::swap(order[2][2], order[2][0]);  // forward before its activation arrived
  auto o = validate_program(order);
  REQUIRE_FALSE(o.ok());
  CHECK_THAT(o.error().message, Catch::Contains("activation received after its forward"));
}

TEST_CASE("program: the dry run finds a deadlock", "[program]") {
  CostModel m = small_model();
  Program p = make_program(m, two_stage(4, 2, {2, 2}));
  REQUIRE(dry_run(p.device).ok());
  // Device 2 waits for the gradient it has to produce itself: receive F1 moved before B0's send.
  // Stage 0 waits for gradient 1 before it sends activation 1, which gradient 1 needs.
  auto lists = p.device;
  auto& d0 = lists[0];
  std::rotate(d0.begin() + 2, d0.begin() + 4, d0.begin() + 7);  // 0RECV_B0 0B0 0RECV_B1 before 0F1
  auto r = dry_run(lists);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error().message, Catch::Contains("deadlock"));
  CHECK_THAT(r.error().message, Catch::Contains("device 0 waits"));
}

TEST_CASE("program: peak in-flight micro-batches equal the cost model's K = 2(P-p)-1, capped by M",
          "[program]") {
  std::mt19937 rng(3);
  auto layers = synthetic_layers(12, rng);
  std::vector<SyntheticDeviceType> types(6, {"fast", 1.0, 1e12});
  Cluster c = synthetic_cluster(layers, types, 12.5e6, 5e-4);
  CostOptions o;
  o.batch_size = 64;
  CostModel m(c, o);
  for (int M : {1, 2, 3, 8, 16}) {
    for (int P : {1, 2, 3, 4, 6}) {
      Plan p;
      p.microbatch_size = 64 / M;
      p.microbatches = M;
      for (int s = 0; s < P; ++s) p.stages.push_back({2 * s, s == P - 1 ? 11 : 2 * s + 1, {s}, {}});
      Program prog = make_program(m, p);
      REQUIRE(validate_program(prog.device).ok());
      REQUIRE(dry_run(prog.device).ok());
      for (int s = 0; s < P; ++s) CHECK(peak_in_flight(prog.device[s]) == std::min(M, 2 * (P - s) - 1));
    }
  }
}

TEST_CASE("schedule: 1F1B's warm-up, in-flight count and order, as the Program and the replay use them",
          "[program][schedule]") {
  using namespace asteroid::schedule;
  CHECK(pipeline_steps(1) == 1);
  CHECK(pipeline_steps(4) == 7);
  // Stage p of P keeps min(M, 2(P - p) - 1) micro-batches in flight.
  CHECK(in_flight(8, 4, 0) == 7);
  CHECK(in_flight(8, 4, 3) == 1);
  CHECK(in_flight(3, 4, 0) == 3);  // capped by M
  CHECK(warmup(8, 7, 1) == 6);     // a transfer step
  // Two warm-up forwards of four micro-batches: F0 F1 B0 F2 B1 F3 B2 B3.
  std::vector<Pass> o = stage_order(4, 2);
  std::string text;
  for (const Pass& x : o) text += (x.backward ? "B" : "F") + std::to_string(x.microbatch);
  CHECK(text == "F0F1B0F2B1F3B2B3");
  // Every order: each micro-batch once each way, its forward first, never more than the warm-up in flight.
  for (int M = 1; M <= 9; ++M)
    for (int w = 1; w <= M; ++w) {
      std::vector<int> fwd(M, -1), bwd(M, -1);
      int held = 0, most = 0;
      auto order = stage_order(M, w);
      REQUIRE(order.size() == size_t(2 * M));
      for (size_t i = 0; i < order.size(); ++i) {
        (order[i].backward ? bwd : fwd)[order[i].microbatch] = int(i);
        held += order[i].backward ? -1 : 1;
        most = std::max(most, held);
      }
      CHECK(most == w);
      for (int mb = 0; mb < M; ++mb) CHECK((fwd[mb] >= 0 && fwd[mb] < bwd[mb]));
    }
  // The replay's order of each compute step is the Program's stage order.
  for (int P = 1; P <= 4; ++P)
    for (int M = 1; M <= 6; ++M) {
      auto steps = one_f_one_b_order(pipeline_steps(P), M);
      for (int p = 0; p < P; ++p) {
        auto mine = stage_order(M, in_flight(M, P, p));
        REQUIRE(steps[size_t(2 * p)].size() == mine.size());
        for (size_t i = 0; i < mine.size(); ++i) {
          CHECK(steps[size_t(2 * p)][i].first == mine[i].backward);
          CHECK(steps[size_t(2 * p)][i].second == mine[i].microbatch);
        }
      }
    }
}
