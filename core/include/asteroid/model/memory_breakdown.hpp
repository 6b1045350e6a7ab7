// Training memory, broken down: weights (frozen ones included), gradients and optimizer state of
// what trains, and the activations kept for backward (docs/method.md §3.5). For the whole model on
// one device and per device of a plan; `asteroid-plan --memory` prints both.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "asteroid/input/layer_table.hpp"
#include "asteroid/input/profile.hpp"
#include "asteroid/input/scenario.hpp"

namespace asteroid {

// Bytes of each part; total() is what the cost model checks against a device's memory.
struct MemoryBreakdown {
  double weights_bytes = 0;
  double gradients_bytes = 0;
  double optimizer_states_bytes = 0;
  double activations_bytes = 0;
  double total_bytes() const { return weights_bytes + gradients_bytes + optimizer_states_bytes + activations_bytes; }
};

// Activation bytes per sample a device running layers [first, last] keeps with `in_flight`
// micro-batches in flight (0: none): in_flight x the stored activations, or, when the stage
// recomputes (cost_model.hpp), in_flight x its input (the output of layer first-1; stage 0's
// input, the sample, is not counted) + one micro-batch's stored activations. What the cost
// model's memory check charges.
double activation_bytes_per_sample(const LayerTable& t, int first, int last, int in_flight, bool recompute);

// Layers [first, last] of `t` with `samples` samples per micro-batch and `in_flight` micro-batches
// kept (the whole model on one device: every layer, the batch at once, one in flight), recomputing
// or not.
MemoryBreakdown memory_breakdown(const LayerTable& t, Optimizer optimizer, int first, int last, int samples,
                                 int in_flight, bool recompute = false);

// Inference alone on one device, `samples` at once: the trace's weights (nothing added, nothing
// trains) and the activations live at once, at most one layer's input and output: the largest
// (output of layer l-1 + output of layer l) over the layers (layer 0's input, the sample itself,
// is not counted, as in training).
MemoryBreakdown inference_memory(const Profile& p, int samples);

nlohmann::json memory_breakdown_to_json(const MemoryBreakdown& m);

}  // namespace asteroid
