// What trains, per layer (fine_tuning.hpp): the scenario's training.fine_tuning read and checked,
// and its accounting in the cost model, the Program and the memory breakdown, against numbers
// worked out by hand from tests/core/data/tiny_lm.json. That trace's four layers (embed, block0,
// block1, head) each hold 1 MB of weights, keep 1 MB per sample for backward, send 100 kB per
// sample, and take 10 ms per sample forward and 20 ms backward; an optimizer step takes 1, 2 or
// 4 ms per layer (sgd, sgd_momentum, adam). The blocks have linear maps query and value
// (100 -> 200), attention_output (200 -> 100) and ffn_output (400 -> 100), FP32, over 10 rows
// (tokens) per sample.
#include <catch2/catch.hpp>

#include <fstream>

#include "asteroid/run/backend_setup.hpp"
#include "asteroid/model/cost_model.hpp"
#include "asteroid/model/memory_breakdown.hpp"
#include "asteroid/model/plan_memory.hpp"
#include "asteroid/planning/planner.hpp"
#include "asteroid/program/program.hpp"
#include "asteroid/planning/replay_choice.hpp"
#include "asteroid/planning/replay_search.hpp"
#include "asteroid/input/scenario.hpp"
#include "coordinator_fixture.hpp"
#include "exhaustive.hpp"

using namespace asteroid;

namespace {

const std::string kData = ASTEROID_TEST_DATA;

// Two tiny_lm boards a and b on an 80 Mbps star (1e7 B/s), 1 ms device to device.
nlohmann::json tiny(const nlohmann::json& fine_tuning, const std::string& optimizer = "adam") {
  nlohmann::json j = nlohmann::json::parse(R"({
    "schema_version": 1,
    "cluster": {"devices": [{"name": "a", "type": "lm"}, {"name": "b", "type": "lm"}],
                "network": {"bandwidth": "80Mbps", "latency": "1ms"}},
    "model": {"name": "tiny_lm"},
    "training": {"batch_size": 8},
    "traces": {"lm": "tiny_lm.json"}
  })");
  j["training"]["optimizer"] = optimizer;
  if (!fine_tuning.is_null()) j["training"]["fine_tuning"] = fine_tuning;
  return j;
}

Scenario load(const nlohmann::json& j) {
  auto r = parse_scenario(j, "ft.json", kData);
  if (!r) FAIL(r.error().str());
  return std::move(r).value();
}

std::string error_of(const nlohmann::json& j) {
  auto r = parse_scenario(j, "ft.json", kData);
  REQUIRE_FALSE(r.ok());
  return r.error().str();
}

// Stage 0 = layers [0, cut] on a, stage 1 = the rest on b; two micro-batches of 4.
Plan two_stages(int cut) {
  Plan p;
  p.microbatch_size = 4;
  p.microbatches = 2;
  p.stages = {{0, cut, {0}, {}}, {cut + 1, 3, {1}, {}}};
  return p;
}

}  // namespace

TEST_CASE("fine-tuning: a frozen prefix stores nothing, runs no backward and needs no gradient back",
          "[fine_tuning][cost]") {
  Scenario s = load(tiny({{"frozen_prefix", 2}}));
  CHECK(s.training.layers.first_backward == 2);
  CostModel m = make_cost_model(s);
  Evaluation e = m.evaluate(two_stages(1));
  REQUIRE(e.feasible);
  REQUIRE(e.steps.size() == 3);
  // Stage 0 (embed, block0, frozen): 2 x 4 x 10 ms forward, no backward, no optimizer step.
  CHECK(e.steps[0].E_f == Approx(0.08));
  CHECK(e.steps[0].E_b == 0);
  CHECK(e.steps[0].T_o == 0);
  // Activations forward: 1 ms + 4 x 100 kB / 1e7 B/s; no gradient back, so its latency alone.
  CHECK(e.steps[1].E_f == Approx(0.041));
  CHECK(e.steps[1].E_b == Approx(0.001));
  CHECK(e.steps[1].period() == Approx(0.041));
  // Stage 1 trains: 2 x 4 x 20 ms backward, two Adam steps of 4 ms.
  CHECK(e.steps[2].E_b == Approx(0.16));
  CHECK(e.steps[2].T_o == Approx(0.008));
  // Memory: stage 0 holds its 2 MB of weights only (K = 2, but nothing stored); stage 1 holds
  // 2 MB of weights, 2 MB of gradients, 4 MB of Adam state and K = 1 x 4 samples x 2 MB.
  CHECK(e.devices[0].peak_memory_bytes == Approx(2e6));
  CHECK(e.devices[1].peak_memory_bytes == Approx(2e6 + 2e6 + 4e6 + 8e6));
  // The Program: stage 1's gradient messages carry no bytes, its activations 4 x 100 kB.
  Program prog = make_program(m, e.plan, {});
  bool saw_gradient = false, saw_activation = false;
  for (const Instruction& in : prog.device[1]) {
    if (in.op == Op::send_gradient) {
      saw_gradient = true;
      CHECK(in.bytes == 0);
    }
    if (in.op == Op::recv_activation) {
      saw_activation = true;
      CHECK(in.bytes == Approx(4e5));
    }
  }
  CHECK(saw_gradient);
  CHECK(saw_activation);

  // Full training of the same plan, for contrast: everything as the trace says.
  CostModel full = make_cost_model(load(tiny(nullptr)));
  Evaluation f = full.evaluate(two_stages(1));
  REQUIRE(f.feasible);
  CHECK(f.steps[0].E_b == Approx(0.16));
  CHECK(f.steps[1].E_b == Approx(0.041));
  CHECK(f.devices[0].peak_memory_bytes == Approx(2e6 * 4 + 2 * 4 * 2e6));
}

TEST_CASE("fine-tuning: a frozen layer that backward crosses keeps its activations and computes only its input's gradient",
          "[fine_tuning][cost]") {
  // block0 and layer 3 (head) frozen; embed and block1 train, so backward crosses everything.
  Scenario s = load(tiny({{"frozen", {"block0", 3}}}, "sgd_momentum"));
  CHECK(s.training.layers.first_backward == 0);
  LayerTable t(s.profiles.at("lm"), 1.0, s.training.optimizer, &s.training.layers);
  BatchPoint eight = t.locate(8);
  // Backward per sample: 20 + min(20, 10) + 20 + min(20, 10) ms; forward as traced.
  CHECK(t.bwd_s(0, 3, eight) == Approx(8 * 0.060));
  CHECK(t.fwd_s(0, 3, eight) == Approx(8 * 0.040));
  CHECK(t.weight_bytes(0, 3) == Approx(4e6));
  CHECK(t.trainable_bytes(0, 3) == Approx(2e6));
  CHECK(t.stored_bytes_per_sample(0, 3) == Approx(4e6));
  CHECK(t.optimizer_s(0, 3) == Approx(2 * 0.002));
  // The whole model on one device, 8 samples at once: 4 MB weights, 2 MB gradients, 2 MB of
  // momentum, 8 x 4 MB of activations.
  MemoryBreakdown mb = memory_breakdown(t, s.training.optimizer, 0, 3, 8, 1);
  CHECK(mb.weights_bytes == Approx(4e6));
  CHECK(mb.gradients_bytes == Approx(2e6));
  CHECK(mb.optimizer_states_bytes == Approx(2e6));
  CHECK(mb.activations_bytes == Approx(32e6));
  CHECK(mb.total_bytes() == Approx(40e6));
  // A two-device data-parallel stage all-reduces the trainable 2 MB only: 2 ring steps of 1 MB
  // at 1e7 B/s plus 1 ms each.
  CostModel m = make_cost_model(s);
  Plan dp;
  dp.microbatch_size = 8;
  dp.microbatches = 1;
  dp.stages = {{0, 3, {0, 1}, {}}};
  Evaluation e = m.evaluate(dp);
  REQUIRE(e.feasible);
  CHECK(e.steps[0].T_a == Approx(2 * (1e6 / 1e7 + 0.001)));
  Program prog = make_program(m, e.plan, {});
  for (const Instruction& in : prog.device[0])
    if (in.op == Op::all_reduce) CHECK(in.bytes == Approx(2e6));
}

TEST_CASE("fine-tuning: LoRA adds rank x (in + out) per map, freezes the rest, and backward starts at its first layer",
          "[fine_tuning][cost]") {
  Scenario s = load(tiny({{"lora", {{"rank", 8}, {"maps", {"query", "value"}}}}}));
  const TrainingLayers& tl = s.training.layers;
  CHECK(tl.first_backward == 1);  // embed has no LoRA map
  // Per block: 2 maps x 8 x (100 + 200) x 4 B = 19,200 B; keeps 2 x 10 rows x 8 x 4 B = 640 B per sample.
  CHECK(tl.layers[1].added_param_bytes == Approx(19200));
  CHECK(tl.layers[1].added_stored_bytes_per_sample == Approx(640));
  CHECK(tl.layers[0].added_param_bytes == 0);
  LayerTable t(s.profiles.at("lm"), 1.0, s.training.optimizer, &tl);
  CHECK(t.weight_bytes(0, 3) == Approx(4e6 + 2 * 19200));
  CHECK(t.trainable_bytes(0, 3) == Approx(2 * 19200));
  // embed stores nothing; the blocks 1 MB + 640 B; head (frozen, crossed) 1 MB.
  CHECK(t.stored_bytes_per_sample(0, 0) == 0);
  CHECK(t.stored_bytes_per_sample(0, 3) == Approx(3e6 + 2 * 640));
  // Per sample: forward 10 + 2 x 10 x (1 + 0.0192) + 10 ms; backward 0 (embed) + 2 x (min(20, 10)
  // + 20 x 0.0192) + 10 (head: input gradient only).
  BatchPoint one = t.locate(1);
  CHECK(t.fwd_s(0, 3, one) == Approx(0.040384));
  CHECK(t.bwd_s(0, 3, one) == Approx(0.030768));
  // Adam over the LoRA bytes only: 4 ms x 19,200 / 1e6 per block.
  CHECK(t.optimizer_s(0, 3) == Approx(2 * 0.004 * 0.0192));
  // No gradient crosses the boundary after embed; after block0 it is the activations' size.
  CHECK(t.gradient_bytes_per_sample(0) == 0);
  CHECK(t.gradient_bytes_per_sample(1) == Approx(1e5));
  CHECK(tl.summary == "LoRA rank 8 on query, value; no backward through layer 0");
}

TEST_CASE("fine-tuning: adapters add a bottleneck after each named map; a frozen layer gets none", "[fine_tuning]") {
  Scenario s = load(tiny({{"adapters", {{"width", 16}, {"after", {"attention_output", "ffn_output"}}}},
                          {"frozen", {"block0"}}}));
  const TrainingLayers& tl = s.training.layers;
  // Each adapter: (2 x 100 x 16 + 16 + 100) x 4 B = 13,264 B, keeps 10 x (100 + 2 x 16) x 4 B.
  CHECK(tl.layers[1].added_param_bytes == 0);
  CHECK(tl.layers[2].added_param_bytes == Approx(2 * 13264));
  CHECK(tl.layers[2].added_stored_bytes_per_sample == Approx(2 * 5280));
  CHECK(tl.first_backward == 2);
}

TEST_CASE("fine-tuning: bad set-ups are refused, each in one line naming the field", "[fine_tuning][errors]") {
  auto lora = [](nlohmann::json rank, nlohmann::json maps) {
    return nlohmann::json{{"lora", {{"rank", rank}, {"maps", maps}}}};
  };
  CHECK(error_of(tiny(lora(101, {"query"}))) ==
        "ft.json: training.fine_tuning.lora.rank: rank 101 is larger than the map \"query\" of layer \"block0\" "
        "(100 x 200)");
  CHECK(error_of(tiny(lora(8, {"key"}))).find("training.fine_tuning.lora.maps[0]: no trainable layer of tiny_lm "
                                              "has a linear map \"key\"") != std::string::npos);
  CHECK(error_of(tiny(lora("8", {"query"}))).find("training.fine_tuning.lora.rank:") != std::string::npos);
  CHECK(error_of(tiny({{"adapters", {{"width", 101}, {"after", {"ffn_output"}}}}}))
            .find("training.fine_tuning.adapters.width: width 101 is wider than the output (100)") !=
        std::string::npos);
  CHECK(error_of(tiny({{"frozen_prefix", 4}})) ==
        "ft.json: training.fine_tuning: nothing trains: every layer with parameters is frozen and no LoRA or "
        "adapter is added");
  CHECK(error_of(tiny({{"frozen_prefix", 5}})).find("frozen_prefix: 5 layers, but the model has 4") !=
        std::string::npos);
  CHECK(error_of(tiny({{"frozen", {"block9"}}})).find("frozen[0]: \"block9\" is neither a layer") !=
        std::string::npos);
  CHECK(error_of(tiny({{"frozen", {"2-7"}}})).find("frozen[0]: layer index 7 is out of range") != std::string::npos);
  CHECK(error_of(tiny({{"frozen", {"3-1"}}})).find("frozen[0]: range \"3-1\" runs backwards") != std::string::npos);
  CHECK(error_of(tiny({{"lora", {{"rank", 8}, {"maps", {"query"}}, {"alpha", 16}}}}))
            .find("training.fine_tuning.lora.alpha: unknown key") != std::string::npos);
  CHECK(error_of(tiny({{"prefix", 2}})).find("training.fine_tuning.prefix: unknown key") != std::string::npos);
  CHECK(error_of(tiny(nlohmann::json::object())).find("training.fine_tuning: says nothing") != std::string::npos);
  // Every layer with LoRA maps frozen: nothing left to put LoRA on.
  nlohmann::json both = lora(8, {"query"});
  both["frozen"] = {"1-2"};
  CHECK(error_of(tiny(both)).find("lora.maps[0]: no trainable layer") != std::string::npos);
}

TEST_CASE("fine-tuning: each device's memory breakdown adds up to the peak the cost model checks",
          "[fine_tuning][cost]") {
  for (const char* opt : {"sgd", "sgd_momentum", "adam"}) {
    CostModel m = make_cost_model(load(tiny({{"lora", {{"rank", 8}, {"maps", {"query", "value"}}}}}, opt)));
    for (int cut = 0; cut < 3; ++cut) {
      Evaluation e = m.evaluate(two_stages(cut));
      REQUIRE(e.feasible);
      std::vector<DeviceMemory> per = plan_memory(m, e);
      REQUIRE(per.size() == e.devices.size());
      for (size_t i = 0; i < per.size(); ++i) CHECK(per[i].memory.total_bytes() == Approx(e.devices[i].peak_memory_bytes));
    }
  }
}

// ---- The planners stay exact under fine-tuning: a frozen prefix makes the gradient back across
// a boundary smaller than the activations forward (zero), frozen layers' backward shorter, and
// the all-reduce and the optimizer step smaller than the weights held.

namespace {

// A random cluster as exhaustive.hpp draws them, every table under one random training set-up:
// a frozen prefix, frozen layers after it, and added trainable bytes on some layers.
Cluster fine_tuned_cluster(std::mt19937& rng, int N, int L, Optimizer opt) {
  auto layers = testing::synthetic_layers(L, rng);
  TrainingLayers tl;
  tl.layers.resize(size_t(L));
  std::uniform_int_distribution<int> prefix(0, L / 2);
  tl.first_backward = prefix(rng);
  std::uniform_real_distribution<double> u(0, 1);
  for (int l = 0; l < L; ++l) {
    LayerTraining& lt = tl.layers[size_t(l)];
    lt.frozen = l < tl.first_backward || u(rng) < 0.5;
    if (l >= tl.first_backward && u(rng) < 0.5) {
      lt.added_param_bytes = layers[size_t(l)].param_bytes * 0.05 * u(rng);
      lt.added_stored_bytes_per_sample = layers[size_t(l)].stored_bytes * 0.05 * u(rng);
    }
  }
  // The first layer backward crosses trains (resolve_fine_tuning defines it so).
  tl.layers[size_t(tl.first_backward)].frozen = false;
  auto types = testing::jetson_like_types();
  std::uniform_real_distribution<double> mem(0.01e9, 0.3e9), bw(2e6, 1.25e8);
  std::vector<std::shared_ptr<const LayerTable>> tables;
  for (auto& t : types) {
    t.memory_bytes = mem(rng);
    tables.push_back(std::make_shared<LayerTable>(testing::synthetic_profile(layers, t.name, t.slowness, t.memory_bytes),
                                                  1.0, opt, &tl));
  }
  Cluster c;
  for (int i = 0; i < N; ++i) {
    size_t k = rng() % types.size();
    c.devices.push_back({types[k].name + std::to_string(i), types[k].name, tables[k], types[k].memory_bytes});
  }
  c.bandwidth_Bps.assign(size_t(N), std::vector<double>(size_t(N), bw(rng)));
  c.latency_s.assign(size_t(N), std::vector<double>(size_t(N), 5e-4));
  if (rng() % 2)
    for (int i = 0; i < N; ++i)
      for (int j = i + 1; j < N; ++j) c.bandwidth_Bps[size_t(i)][size_t(j)] = c.bandwidth_Bps[size_t(j)][size_t(i)] = bw(rng);
  return c;
}

}  // namespace

TEST_CASE("fine-tuning: the planner matches exhaustive search under random training set-ups", "[fine_tuning][planner]") {
  auto model_kind = GENERATE(LatencyModel::pipeline, LatencyModel::paper);
  int feasible = 0;
  for (int seed = 1; seed <= 40; ++seed) {
    std::mt19937 rng(seed);
    const int N = 2 + seed % 4, L = 4 + (seed * 3) % 6;
    CostOptions o;
    o.batch_size = seed % 3 == 0 ? 12 : 16;
    o.optimizer = seed % 2 ? Optimizer::adam : Optimizer::sgd_momentum;
    o.latency_model = model_kind;
    CostModel model(fine_tuned_cluster(rng, N, L, o.optimizer), o);
    INFO(to_string(model_kind) << " latency, seed " << seed << ": " << N << " devices, " << L << " layers");
    Plan reference;
    const double expected = testing::exhaustive_best(model, microbatch_candidates(o.batch_size, {}), &reference);
    auto found = plan_optimal(model, {});
    if (!std::isfinite(expected)) {
      CHECK_FALSE(found.ok());
      continue;
    }
    ++feasible;
    REQUIRE(found.ok());
    CHECK(found->round_latency_s == Approx(expected).epsilon(1e-9));
    CHECK(model.evaluate(found->plan).round_latency_s == Approx(found->round_latency_s).epsilon(1e-9));
    if (model_kind == LatencyModel::pipeline && seed % 2 == 0) {
      // And the search by replay finds the shortest replay of the space.
      const double replayed = testing::exhaustive_best(model, microbatch_candidates(o.batch_size, {}), &reference, {},
                                                       false, testing::Objective::replay);
      ReplayChoice choice = choose_by_replay(model, {}, *found);
      ReplaySearchResult r = search_by_replay(model, {}, choice.evaluation);
      CHECK(r.proven_optimal);
      CHECK(r.evaluation.schedule_latency_s == Approx(replayed).epsilon(1e-9));
    }
  }
  CHECK(feasible >= 20);
}

TEST_CASE("fine-tuning: recovery ships trainable state, and frozen weights to devices that did not run the layer",
          "[fine_tuning][coordinator]") {
  // Every layer's own weights frozen, 2% of them added as trainable maps (LoRA-like); 9 layers.
  TrainingLayers tl;
  std::mt19937 rng(11);  // the fixture's layers
  auto layers = testing::synthetic_layers(9, rng);
  for (const auto& l : layers) tl.layers.push_back({true, 0.02 * l.param_bytes, 0});
  tl.first_backward = 0;
  testing::Fixture f = testing::fixture(&tl);
  const LayerTable& t = *f.model.cluster().devices[0].table;
  auto frozen = [&](int a, int b) { return t.weight_bytes(a, b) - t.trainable_bytes(a, b); };
  REQUIRE(frozen(0, 8) == Approx(t.weight_bytes(0, 8) / 1.02));

  SECTION("restart: everything from the store, weights whole and the trainable part's momentum") {
    Coordinator c(f.model, f.plan, testing::config(Recovery::restart));
    c.start(0);
    auto a = testing::beat(c, 3, 4);
    const Action* move = testing::find(a, ActionKind::transfer_state);
    REQUIRE(move);
    double need = 0, sent = 0;
    for (const auto& st : c.plan().stages)
      need += double(st.devices.size()) *
              (t.weight_bytes(st.first_layer, st.last_layer) + t.trainable_bytes(st.first_layer, st.last_layer));
    for (const StateTransfer& x : move->transfers) {
      CHECK(x.from == -1);
      sent += x.bytes;
    }
    CHECK(sent == Approx(need));
  }
  SECTION("replan: a device taking layers it did not run gets their frozen weights, and at most their state too") {
    Coordinator c(f.model, f.plan, testing::config(Recovery::replan));
    c.start(0);
    c.round_done(0, 0.5);
    c.copies_landed(0);
    auto a = testing::beat(c, 3, 4);
    const Action* move = testing::find(a, ActionKind::transfer_state);
    REQUIRE(move);
    std::vector<double> got(5, 0.0);
    for (const StateTransfer& x : move->transfers) {
      CHECK(x.from != 3);  // never from the failed device
      got[size_t(x.to)] += x.bytes;
    }
    int fetched = 0;
    for (const auto& st : c.plan().stages)
      for (int d : st.devices) {
        double low = 0, high = 0;
        for (int l = st.first_layer; l <= st.last_layer; ++l) {
          bool ran = false;
          for (const auto& old : f.plan.stages)
            if (l >= old.first_layer && l <= old.last_layer)
              ran = std::count(old.devices.begin(), old.devices.end(), d) > 0;
          if (ran) continue;
          low += frozen(l, l);
          high += frozen(l, l) + 2 * t.trainable_bytes(l, l);  // + momentum
        }
        INFO("device " << d);
        CHECK(got[size_t(d)] >= low * (1 - 1e-12));
        CHECK(got[size_t(d)] <= high * (1 + 1e-12));
        if (low > 0) ++fetched;
      }
    CHECK(fetched > 0);  // the failure moved some layer to a device that had not run it
  }
}

TEST_CASE("fine-tuning: a trace's linear_maps are read, checked against the layer and written back", "[fine_tuning][profile]") {
  auto trace = [] {
    std::ifstream in(kData + "/tiny_lm.json");
    return nlohmann::json::parse(in);
  };
  auto error_in = [](const nlohmann::json& j) {
    auto r = parse_profile(j, "t.json");
    REQUIRE_FALSE(r.ok());
    return r.error().str();
  };
  auto p = parse_profile(trace(), "t.json");
  REQUIRE(p.ok());
  const LinearMap* q = p->layers[1].map("query");
  REQUIRE(q);
  CHECK(q->in_features == 100);
  CHECK(q->out_features == 200);
  CHECK(q->rows_per_sample == 10);
  CHECK(q->bytes_per_element() == Approx(4));
  CHECK(p->layers[0].linear_maps.empty());
  // Written back and read again: the same maps.
  auto again = parse_profile(profile_to_json(*p), "t.json");
  REQUIRE(again.ok());
  CHECK(layer_list_mismatch(*p, *again).empty());

  nlohmann::json j = trace();
  j["layers"][1]["linear_maps"]["query"]["weight_bytes"] = 19999;  // under a byte per element of 100 x 200
  CHECK(error_in(j).find("layers[1].linear_maps.query.weight_bytes: less than one byte per element") !=
        std::string::npos);
  j = trace();
  j["layers"][1]["linear_maps"]["ffn_output"]["weight_bytes"] = 900000;  // the maps outweigh the layer
  CHECK(error_in(j).find("layers[1].linear_maps: the maps' weight_bytes add up to 1140000, more than the layer's "
                         "param_bytes 1000000") != std::string::npos);
  j = trace();
  j["layers"][1]["linear_maps"]["query"]["in_features"] = 0;
  CHECK(error_in(j).find("layers[1].linear_maps.query.in_features:") != std::string::npos);
  j = trace();
  j["layers"][1]["linear_maps"]["query"]["heads"] = 4;
  CHECK(error_in(j).find("layers[1].linear_maps.query.heads: unknown key") != std::string::npos);
  // Two traces of one model must carry the same maps.
  j = trace();
  j["layers"][2]["linear_maps"]["value"]["rows_per_sample"] = 20;
  auto other = parse_profile(j, "t.json");
  REQUIRE(other.ok());
  CHECK(layer_list_mismatch(*p, *other) == "layer 2 (block1) has a different linear map \"value\"");
}
