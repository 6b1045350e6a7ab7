// What trains, per layer: the scenario's training.fine_tuning (docs/formats.md) resolved against the
// model's layer list, and the laws by which it changes each layer's bytes and times
// (docs/method.md §3.5, "Fine-tuning"). Without a fine_tuning block every layer trains and
// backward crosses every layer, as before.
//
// - Frozen layers keep their weights (held, never updated): no gradients, no optimizer state, no
//   all-reduce, no replica copies of them.
// - LoRA (rank r on the named linear maps) and bottleneck adapters (width w after the named maps)
//   freeze every layer's own weights and add small trainable maps; their sizes come from the
//   trace's per-layer `linear_maps` (traces carry no other per-map shape).
// - Backward crosses only the layers from the first one that trains to the last: the layers before
//   it (the frozen prefix) store no activations and take no backward time, and the gradient
//   crossing a stage boundary inside it carries no bytes.
// - A frozen layer that backward crosses still computes its input's gradient but no weight
//   gradient. Traces do not split backward time, so we assume the input gradient costs what the
//   forward costs (the same products with the weights transposed): min(bwd, fwd) at each profiled
//   batch size. Added maps take time in proportion to their parameters (a layer's time per
//   parameter byte, forward and backward), and the optimizer steps over trainable bytes only (the
//   layer's step time per parameter byte).
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "asteroid/input/error.hpp"
#include "asteroid/input/profile.hpp"

namespace asteroid {

// training.fine_tuning as written in the scenario; resolve_fine_tuning checks it against the layers.
struct FineTuningSpec {
  bool given = false;
  int frozen_prefix = 0;             // "frozen_prefix": the first N layers are frozen
  std::vector<std::string> frozen;   // "frozen": layer names, indices ("7") or index ranges ("3-9")
  int lora_rank = 0;                 // "lora": {"rank", "maps"}; 0: no LoRA
  std::vector<std::string> lora_maps;
  int adapter_width = 0;             // "adapters": {"width", "after"}; 0: no adapters
  std::vector<std::string> adapter_after;
};

// One layer under the training set-up.
struct LayerTraining {
  bool frozen = false;                       // its own (traced) weights do not train
  double added_param_bytes = 0;              // LoRA and adapter parameters on it (they train)
  double added_stored_bytes_per_sample = 0;  // what those keep for backward, per sample
};

// The resolved set-up. Empty `layers`: full training, backward through every layer.
struct TrainingLayers {
  std::vector<LayerTraining> layers;
  int first_backward = 0;  // backward crosses layers first_backward .. L-1 only
  std::string summary;     // e.g. "LoRA rank 32 on query, value; layers 0-5 frozen"
  bool full() const { return layers.empty(); }
};

// What one layer costs under a training set-up; times are factors on the trace's.
struct LayerLaw {
  double weight_bytes = 0;      // held: the trace's parameters plus the added ones
  double trainable_bytes = 0;   // gradients, optimizer state, all-reduce, replicas
  double stored_bytes_per_sample = 0;  // 0 where backward does not cross the layer
  bool backward = true;         // backward crosses it
  bool weight_gradient = true;  // its own weights' gradients are computed (it trains)
  double added_time_factor = 0; // added maps' time, as a fraction of the layer's (added / parameter bytes)
  double optimizer_factor = 1;  // optimizer step time as a fraction of the trace's (trainable / parameter bytes)

  // Forward and backward seconds from the trace's fwd and bwd at one batch size.
  double fwd_s(double fwd) const { return fwd * (1 + added_time_factor); }
  double bwd_s(double fwd, double bwd) const {
    if (!backward) return 0;
    return (weight_gradient ? bwd : std::min(bwd, fwd)) + bwd * added_time_factor;
  }
};

// Layer `l` of `p` under `t` (full training when t is null or full).
LayerLaw layer_law(const Profile& p, const TrainingLayers* t, int l);

// The gradient bytes per sample sent back across the boundary after layer `l` (0 inside the
// frozen prefix, where no backward needs it).
double gradient_bytes_per_sample(const Profile& p, const TrainingLayers* t, int l);

// Resolves `spec` against the layer list of `p`. Errors name the field (paths under
// "training.fine_tuning") and the problem: an unknown layer or map, an index out of range, a LoRA
// rank larger than a map, adapters or LoRA on maps no layer has, nothing left to train.
Result<TrainingLayers> resolve_fine_tuning(const FineTuningSpec& spec, const Profile& p);

}  // namespace asteroid
