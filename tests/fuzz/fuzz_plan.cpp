// Fuzzes the plan reader against one real cluster (environment C, ResNet50, 1 Gbps), and the cost
// model's evaluation of every plan it accepts (Alg. 1 shares, memory, the 1F1B replay).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "asteroid/input/cluster.hpp"
#include "asteroid/model/cost_model.hpp"
#include "asteroid/input/json_reader.hpp"
#include "asteroid/model/plan.hpp"
#include "asteroid/input/scenario.hpp"

using namespace asteroid;

namespace {

std::unique_ptr<Scenario> scenario;
std::unique_ptr<CostModel> model;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  auto s = load_scenario(ASTEROID_SOURCE_DIR "/scenarios/envC_resnet50_1000mbps.json");
  if (!s) {
    std::cerr << s.error().str() << "\n";
    std::abort();
  }
  scenario = std::make_unique<Scenario>(std::move(s).value());
  CostOptions o;
  o.batch_size = scenario->training.batch_size;
  o.optimizer = scenario->training.optimizer;
  model = std::make_unique<CostModel>(make_cluster(*scenario), o);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto j = parse_json_text(std::string(reinterpret_cast<const char*>(data), size), "fuzz.json");
  if (!j) return 0;
  auto p = plan_from_json(*j, model->cluster(), model->num_layers(), scenario->training.batch_size,
                          "fuzz.json", "");
  if (!p) return 0;
  Evaluation ev = model->evaluate(*p);
  (void)plan_to_json(ev.feasible ? ev.plan : *p, model->cluster()).dump();
  return 0;
}
