// An HPP plan: the micro-batch size and count, and per stage its layer range, its device group and
// (optionally) each device's share of every micro-batch. The JSON form is what `asteroid-plan`
// writes and what `--evaluate` and the backends read:
//   {"microbatch_size": 8, "microbatches": 4,
//    "stages": [{"layers": [0, 11], "devices": ["nx0", "tx2_0"], "shares": [5, 3]}, ...]}
// Layer ranges are inclusive and 0-based; "shares" may be omitted (Alg. 1 fills them in);
// "recompute": true (written only when true) makes the stage recompute its activations
// (cost_model.hpp; absent: the cost model decides under training.recomputation).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "asteroid/input/cluster.hpp"
#include "asteroid/input/error.hpp"

namespace asteroid {

struct StagePlan {
  int first_layer = 0;
  int last_layer = 0;
  std::vector<int> devices;  // indices into Cluster::devices
  std::vector<int> shares;   // samples per micro-batch, one per device; empty: allocate (Alg. 1)
  // Recomputes its activations before each backward (cost_model.hpp); false: as the cost model's
  // options decide (evaluate() fills in what they decided).
  bool recompute = false;
};

struct Plan {
  int microbatch_size = 1;
  int microbatches = 1;
  std::vector<StagePlan> stages;

  int num_stages() const { return int(stages.size()); }
};

// The JSON form above; devices by name (device_names[i] names device index i).
nlohmann::json plan_to_json(const Plan& p, const std::vector<std::string>& device_names);
nlohmann::json plan_to_json(const Plan& p, const Cluster& c);

// The plan as people read it, one line for the micro-batching and one per stage:
//   micro-batch 8 x 4 micro-batches, 2 stages
//     stage 0: layers 0-11 on nx0 (5), tx2_0 (3)
//     stage 1: layers 12-30 on nano0 (8), recomputes
// (a share shows only when known; ", recomputes" on a stage that recomputes its activations). Given the model's layer names (layer_names[l] names layer l,
// from its traces), each stage's first and last layer are named too: "layers 0-11 (conv1 ..
// layer1.2) on ...".
std::string plan_to_text(const Plan& p, const std::vector<std::string>& device_names,
                         const std::vector<std::string>& layer_names = {});
std::string plan_to_text(const Plan& p, const Cluster& c, const std::vector<std::string>& layer_names = {});

// The names of the cluster's devices, by index.
std::vector<std::string> device_names(const Cluster& c);

// Reads a plan and checks it against the cluster and the model: known devices, each used once,
// contiguous layer ranges covering the model, microbatch_size x microbatches = batch_size, shares
// adding up to the micro-batch. `where` names the plan in messages (file, and "[i]" in an array).
Result<Plan> plan_from_json(const nlohmann::json& j, const Cluster& c, int num_layers, int batch_size,
                            const std::string& file, const std::string& path);

}  // namespace asteroid
