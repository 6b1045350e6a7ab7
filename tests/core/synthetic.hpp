// Small synthetic profiles and clusters for tests and benchmarks: random but reproducible, with the
// shapes real traces have (a fixed cost plus a per-sample cost, layers of varied size).
#pragma once

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "asteroid/input/cluster.hpp"
#include "asteroid/model/cost_model.hpp"
#include "asteroid/input/profile.hpp"

namespace asteroid::testing {

struct SyntheticLayer {
  double fwd_fixed_s, fwd_per_sample_s, param_bytes, out_bytes, stored_bytes;
};

inline std::vector<SyntheticLayer> synthetic_layers(int num_layers, std::mt19937& rng) {
  std::uniform_real_distribution<double> u(0.2, 1.8);
  std::vector<SyntheticLayer> out;
  for (int l = 0; l < num_layers; ++l)
    out.push_back({2e-4 * u(rng), 3e-3 * u(rng), 4e6 * u(rng) * u(rng), 2e5 * u(rng), 6e5 * u(rng)});
  return out;
}

// A profile of `layers` on a device `slowness` times slower than the reference.
inline Profile synthetic_profile(const std::vector<SyntheticLayer>& layers, const std::string& type,
                                 double slowness, double memory_bytes) {
  Profile p;
  p.device_type = type;
  p.memory_bytes = memory_bytes;
  p.usable_memory_bytes = memory_bytes;
  p.model = "synthetic";
  p.provenance = {{"kind", "synthetic"}, {"method", "random layers for tests"}};
  p.batch_sizes = {1, 4, 16, 64};
  for (size_t i = 0; i < layers.size(); ++i) {
    const auto& s = layers[i];
    LayerProfile l;
    l.name = "layer" + std::to_string(i);
    l.param_bytes = s.param_bytes;
    l.output_activation_bytes_per_sample = s.out_bytes;
    l.stored_activation_bytes_per_sample = s.stored_bytes;
    for (double b : p.batch_sizes) {
      l.fwd_s.push_back(slowness * (s.fwd_fixed_s + s.fwd_per_sample_s * b));
      l.bwd_s.push_back(slowness * 2 * (s.fwd_fixed_s + s.fwd_per_sample_s * b));
    }
    // A memory-bound optimizer step (5 parameter-sized streams at 2 GB/s on the reference device),
    // so that every search and the exhaustive references charge one.
    l.optimizer_step_s["sgd_momentum"] = slowness * 5 * s.param_bytes / 2e9;
    l.optimizer_step_s["adam"] = slowness * 7 * s.param_bytes / 2e9;
    p.layers.push_back(l);
  }
  return p;
}

struct SyntheticDeviceType {
  std::string name;
  double slowness;
  double memory_bytes;
};

// The three Jetson-like types: an NX-like fast 8 GB board, a TX2-like one, a Nano-like slow 4 GB one.
inline std::vector<SyntheticDeviceType> jetson_like_types() {
  return {{"fast", 1.0, 7e9}, {"mid", 1.4, 7e9}, {"slow", 3.5, 3e9}};
}

// A cluster of devices[i] of the given types over a uniform network; `training`: what trains
// (fine_tuning.hpp; null: every layer).
inline Cluster synthetic_cluster(const std::vector<SyntheticLayer>& layers,
                                 const std::vector<SyntheticDeviceType>& devices, double bandwidth_Bps,
                                 double latency_s, const TrainingLayers* training = nullptr) {
  Cluster c;
  std::map<std::pair<std::string, double>, std::shared_ptr<const LayerTable>> tables;
  for (size_t i = 0; i < devices.size(); ++i) {
    Device d;
    d.name = devices[i].name + std::to_string(i);
    d.type = devices[i].name;
    // One table per type and speed, shared by its devices, as make_cluster does.
    auto& t = tables[{d.type, devices[i].slowness}];
    if (!t)
      t = std::make_shared<LayerTable>(
          synthetic_profile(layers, devices[i].name, devices[i].slowness, devices[i].memory_bytes), 1.0,
          Optimizer::sgd_momentum, training);
    d.table = t;
    d.memory_bytes = devices[i].memory_bytes;
    c.devices.push_back(d);
  }
  size_t n = devices.size();
  c.bandwidth_Bps.assign(n, std::vector<double>(n, bandwidth_Bps));
  c.latency_s.assign(n, std::vector<double>(n, latency_s));
  return c;
}

}  // namespace asteroid::testing
