#include <sys/wait.h>

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "blas_core.hpp"
#include "models.hpp"

using asteroid::exec::make_model;
using asteroid::exec::ModelOptions;
using asteroid::exec::PlannerModel;
using torch::Tensor;

namespace {

int64_t count(const std::vector<Tensor>& params) {
  int64_t n = 0;
  for (const Tensor& p : params) n += p.numel();
  return n;
}

// Runs the model whole, then as stages cut before the given layer indices (detached activations
// forward, gradients backward), and checks that outputs and parameter gradients agree.
void check_stages(const PlannerModel& m, int64_t batch, const std::vector<size_t>& cuts) {
  torch::manual_seed(7);
  m.train(true);  // batch statistics: identical for the same batch in both runs
  Tensor x = m.make_input(batch);
  auto params = m.parameters();
  auto clear = [&] {
    for (const Tensor& p : params) p.mutable_grad() = Tensor();
  };

  clear();
  Tensor whole = m.forward(x);
  Tensor g_out = torch::randn_like(whole);
  whole.backward(g_out);
  std::vector<Tensor> grads_whole;
  for (const Tensor& p : params) grads_whole.push_back(p.grad().clone());

  clear();
  std::vector<size_t> bounds = {0};
  bounds.insert(bounds.end(), cuts.begin(), cuts.end());
  bounds.push_back(m.size());
  const size_t stages = bounds.size() - 1;
  std::vector<Tensor> ins(stages), outs(stages);
  for (size_t s = 0; s < stages; s++) {
    ins[s] = s == 0 ? x : outs[s - 1].detach().requires_grad_(true);  // "send" the activation
    outs[s] = m.forward_range(ins[s], bounds[s], bounds[s + 1]);
  }
  Tensor g = g_out;
  for (size_t s = stages; s-- > 0;) {
    outs[s].backward(g);
    if (s > 0) g = ins[s].grad().clone();  // "send" the gradient back
  }

  CHECK(torch::allclose(outs.back(), whole, 1e-4, 1e-5));
  REQUIRE(params.size() == grads_whole.size());
  size_t mismatches = 0;
  for (size_t i = 0; i < params.size(); i++) {
    REQUIRE(params[i].grad().defined());
    if (!torch::allclose(params[i].grad(), grads_whole[i], 1e-3, 1e-5)) mismatches++;
  }
  CHECK(mismatches == 0);
}

}  // namespace

TEST_CASE("parameter counts match the published models", "[exec][models]") {
  CHECK(make_model("resnet50").parameter_count() == 23712932);    // 23.5 M + fc 2048x100
  CHECK(make_model("mobilenetv2").parameter_count() == 2236682);  // 2.22 M + fc 1280x10
  int64_t eff = make_model("efficientnet_b1").parameter_count();  // 6.51 M + fc 1280x10
  CHECK(eff > 6450000);
  CHECK(eff < 6600000);
  PlannerModel bert = make_model("bert_small");
  for (size_t i = 1; i <= 4; i++) CHECK(count(bert.layer_parameters(i)) == 3152384);
  // the stem option does not change the parameters
  ModelOptions imagenet;
  imagenet.stem = "imagenet";
  CHECK(make_model("mobilenetv2", imagenet).parameter_count() == 2236682);
}

TEST_CASE("layer lists have the planner granularity", "[exec][models]") {
  CHECK(make_model("mobilenetv2").size() == 20);
  CHECK(make_model("efficientnet_b1").size() == 26);
  CHECK(make_model("resnet50").size() == 18);
  PlannerModel bert = make_model("bert_small");
  CHECK(bert.size() == 6);
  CHECK(bert.layer_names.front() == "embeddings");
  CHECK(bert.input == "synthetic_seq128");
  for (const auto& name : asteroid::exec::model_names()) {
    PlannerModel m = make_model(name);
    CHECK(m.layer_names.size() == m.size());
    CHECK(std::set<std::string>(m.layer_names.begin(), m.layer_names.end()).size() == m.size());
  }
}

TEST_CASE("bad model options are refused", "[exec][models]") {
  CHECK_THROWS_AS(make_model("vgg16"), std::invalid_argument);
  ModelOptions o;
  o.stem = "cifar";
  CHECK_THROWS_AS(make_model("resnet50", o), std::invalid_argument);
  CHECK_THROWS_AS(make_model("bert_small", o), std::invalid_argument);
  o = {};
  o.seq_len = 513;
  CHECK_THROWS_AS(make_model("bert_small", o), std::invalid_argument);
}

TEST_CASE("mobilenetv2 as stages equals the whole model", "[exec][stages]") {
  check_stages(make_model("mobilenetv2"), 2, {1, 7, 18});
  ModelOptions o;
  o.stem = "imagenet";
  check_stages(make_model("mobilenetv2", o), 2, {10});
}

TEST_CASE("efficientnet_b1 as stages equals the whole model", "[exec][stages]") {
  check_stages(make_model("efficientnet_b1"), 2, {3, 12, 25});
}

TEST_CASE("resnet50 as stages equals the whole model", "[exec][stages]") {
  check_stages(make_model("resnet50"), 1, {1, 8, 17});
}

TEST_CASE("lenet5: the small test model without batch norm, as stages equals the whole model",
          "[exec][stages]") {
  PlannerModel m = make_model("lenet5");
  CHECK(m.size() == 5);
  CHECK(m.parameter_count() == 62006);  // 456 + 2416 + 48120 + 10164 + 850
  CHECK((m.forward(m.make_input(3)).sizes() == std::vector<int64_t>{3, 10}));
  check_stages(m, 4, {1, 2, 4});
  ModelOptions o;
  o.stem = "cifar";
  CHECK_THROWS_AS(make_model("lenet5", o), std::invalid_argument);
}

TEST_CASE("bert_small as stages equals the whole model", "[exec][stages]") {
  ModelOptions o;
  o.seq_len = 16;
  PlannerModel m = make_model("bert_small", o);
  REQUIRE(m.make_input(2).scalar_type() == torch::kLong);
  check_stages(m, 2, {1, 3, 5});
}

TEST_CASE("descriptions are computed from the modules", "[exec][describe]") {
  using asteroid::exec::describe_model;
  auto mb = describe_model("mobilenetv2", {});
  REQUIRE(mb.layers.size() == 20);
  CHECK(mb.input == "cifar10_32");
  CHECK(mb.layers[0].output_activation_bytes_per_sample == 32 * 32 * 32 * 4);
  CHECK(mb.layers[0].param_bytes == (3 * 9 * 32 + 2 * 32) * 4);
  CHECK(mb.layers[0].kernels == 3);  // conv, batch norm, relu6
  // depthwise-separable blocks report both classes
  CHECK(mb.layers[2].flops_by_class.count("dwconv") == 1);
  CHECK(mb.layers[2].flops_by_class.count("conv") == 1);
  CHECK(mb.layers.back().output_activation_bytes_per_sample == 10 * 4);

  auto rn = describe_model("resnet50", {});
  double fwd = 0;
  for (const auto& l : rn.layers) {
    fwd += l.fwd_flops_per_sample;
    CHECK(l.bwd_flops_per_sample > l.fwd_flops_per_sample);
    CHECK(l.stored_activation_bytes_per_sample > 0);
    CHECK(l.bytes_moved_per_sample > 0);
  }
  CHECK(fwd > 8.0e9);  // about 4.1 G multiply-adds at 224x224
  CHECK(fwd < 8.6e9);
  CHECK(rn.layers[1].layer_class == "conv");

  ModelOptions o;
  o.seq_len = 128;
  auto bert = describe_model("bert_small", o);
  CHECK(bert.layers[0].layer_class == "embedding");
  CHECK(bert.layers[1].fwd_flops_per_sample > 0.83e9);  // 2 x 128 x 3.15 M + attention
  CHECK(bert.layers[1].fwd_flops_per_sample < 0.90e9);
  CHECK(bert.layers[1].output_activation_bytes_per_sample == 128 * 512 * 4);
  CHECK(bert.layers[5].output_activation_bytes_per_sample == 2 * 4);
}

TEST_CASE("asteroid-profile --describe lists one entry per module", "[exec][cli]") {
  for (const std::string name : {"mobilenetv2", "bert_small"}) {
    std::string out = "test_describe_" + name + ".json";
    std::string cmd = std::string(ASTEROID_PROFILE_BIN) + " --model " + name + " --describe -o " + out;
    int rc = std::system(cmd.c_str());
    REQUIRE(WIFEXITED(rc));
    REQUIRE(WEXITSTATUS(rc) == 0);
    std::ifstream f(out);
    nlohmann::json j = nlohmann::json::parse(f);
    CHECK(j.at("schema_version") == 1);
    CHECK(j.at("model") == name);
    CHECK(j.at("layers").size() == make_model(name).size());
    std::remove(out.c_str());
  }
}

TEST_CASE("asteroid-profile refuses bad arguments with status 2", "[exec][cli]") {
  for (const char* args : {"--model nosuch -o x.json", "--model mobilenetv2 --batch-sizes 4,2",
                           "--model mobilenetv2 --batch-sizes 1,x", "--model resnet50 --seq-len 64",
                           "--bogus", "--dispatch --model mobilenetv2", "--dispatch --repeats 0"}) {
    std::string cmd = std::string(ASTEROID_PROFILE_BIN) + " " + args + " 2>/dev/null";
    int rc = std::system(cmd.c_str());
    REQUIRE(WIFEXITED(rc));
    CHECK(WEXITSTATUS(rc) == 2);
  }
}

TEST_CASE("asteroid-profile --dispatch measures a positive cost per op in its JSON form", "[exec][profile]") {
  asteroid::exec::DispatchOptions o;
  o.ops = 200;
  o.repeats = 3;
  o.warmup = 1;
  auto r = asteroid::exec::measure_dispatch(o);
  CHECK(r.forward_no_grad_s > 0);
  CHECK(r.forward_autograd_s > 0);
  CHECK(r.backward_s > 0);
  nlohmann::json j = asteroid::exec::dispatch_json(r);
  CHECK(j["kind"] == "measured");
  CHECK(j["training_s_per_op"].get<double>() > 0);
  CHECK(j["ops_per_chain"] == 200);
  o.ops = 3;
  CHECK_THROWS_AS(asteroid::exec::measure_dispatch(o), std::invalid_argument);
}

TEST_CASE("asteroid-profile measures with OpenBLAS's best kernels for this CPU, and says which", "[exec][profile]") {
  // Without OPENBLAS_CORETYPE, OpenBLAS may fall back to its generic kernels on a VM that hides the
  // CPU's model (docs/toolchain-notes.md T7); asteroid-profile then starts over with better ones.
  const std::string out = (std::filesystem::temp_directory_path() / "asteroid_blas_core.json").string();
  std::string cmd = "env -u OPENBLAS_CORETYPE OPENBLAS_NUM_THREADS=1 " + std::string(ASTEROID_PROFILE_BIN) +
                    " --model lenet5 --batch-sizes 1 --repeats 1 --warmup 0 -o " + out + " 2>/dev/null";
  int rc = std::system(cmd.c_str());
  REQUIRE(WIFEXITED(rc));
  REQUIRE(WEXITSTATUS(rc) == 0);
  std::ifstream f(out);
  const std::string core = nlohmann::json::parse(f)["provenance"]["conditions"]["openblas_core"];
  std::filesystem::remove(out);
  INFO("OpenBLAS computed with " << core);
  CHECK_FALSE(core.empty());  // tools/install-deps.sh installs OpenBLAS as the BLAS
  const std::string better = asteroid::exec::better_openblas_core();  // this process: as OpenBLAS chose
  if (!better.empty()) CHECK(core == better);
  if (std::getenv("OPENBLAS_CORETYPE") == nullptr && better.empty())
    CHECK(core == asteroid::exec::openblas_core());  // nothing better: OpenBLAS's own choice
}

TEST_CASE("a measured trace has the format of docs/formats.md", "[exec][profile]") {
  asteroid::exec::ProfileOptions p;
  p.batch_sizes = {1, 2};
  p.repeats = 1;
  p.warmup = 0;
  auto r = asteroid::exec::profile_model("mobilenetv2", {}, p);
  nlohmann::json j = asteroid::exec::measured_trace_json(r, {});
  std::set<std::string> top;
  for (auto it = j.begin(); it != j.end(); ++it) top.insert(it.key());
  const std::set<std::string> expected_top = {"schema_version", "device_type", "device",      "model",
                                              "input",          "provenance",  "batch_sizes", "layers"};
  CHECK(top == expected_top);
  CHECK(j["device_type"] == "local_cpu");
  CHECK(j["provenance"]["kind"] == "measured");
  CHECK(j["device"]["usable_memory_bytes"].get<int64_t>() <= j["device"]["memory_bytes"].get<int64_t>());
  CHECK(j["device"]["usable_memory_bytes"].get<int64_t>() > 0);
  const std::set<std::string> allowed = {"name",
                                         "class",
                                         "fwd_flops_per_sample",
                                         "bwd_flops_per_sample",
                                         "param_bytes",
                                         "output_activation_bytes_per_sample",
                                         "stored_activation_bytes_per_sample",
                                         "fwd_s",
                                         "bwd_s",
                                         "flops_by_class",
                                         "bytes_by_class",
                                         "bytes_moved_per_sample",
                                         "kernels",
                                         "optimizer_step_s"};
  REQUIRE(j["layers"].size() == 20);
  for (const auto& l : j["layers"]) {
    for (auto it = l.begin(); it != l.end(); ++it) CHECK(allowed.count(it.key()) == 1);
    REQUIRE(l["fwd_s"].size() == 2);
    REQUIRE(l["bwd_s"].size() == 2);
    CHECK(l["fwd_s"][0].get<double>() > 0);
    CHECK(l["bwd_s"][1].get<double>() > 0);
    // The optimizer step of every optimizer the workers run; Adam does the most work per weight.
    REQUIRE(l["optimizer_step_s"].size() == 3);
    CHECK(l["optimizer_step_s"]["adam"].get<double>() > 0);
  }
  CHECK(j["provenance"]["conditions"]["online_cpus"].get<int>() >= 1);
  CHECK(r.peak_rss_bytes[1] > 0);
}
