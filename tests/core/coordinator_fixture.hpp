// What the Coordinator's tests share (test_coordinator.cpp, test_coordinator_faults.cpp): a small
// synthetic cluster and plan, the configuration, and heartbeats driven by hand.
#pragma once

#include <algorithm>
#include <random>
#include <vector>

#include "asteroid/run/coordinator.hpp"
#include "synthetic.hpp"

namespace asteroid::testing {

struct Fixture {
  CostModel model;
  Plan plan;
};

// Five devices, three stages: a group {0, 1}, then two single-device stages {2} and {3}; 4 idle.
// `training`: what trains (null: every layer).
inline Fixture fixture(const TrainingLayers* training = nullptr) {
  std::mt19937 rng(11);
  auto layers = synthetic_layers(9, rng);
  Cluster c = synthetic_cluster(
      layers,
      {{"fast", 1.0, 7e9}, {"fast", 1.0, 7e9}, {"mid", 1.4, 7e9}, {"mid", 1.4, 7e9}, {"slow", 3.5, 3e9}},
      12.5e6, 5e-4, training);
  CostOptions o;
  o.batch_size = 16;
  Plan p;
  p.microbatch_size = 4;
  p.microbatches = 4;
  p.stages = {{0, 3, {0, 1}, {}}, {4, 6, {2}, {}}, {7, 8, {3}, {}}};
  return {CostModel(c, o), p};
}

inline CoordinatorConfig config(Recovery r) {
  CoordinatorConfig c;
  c.heartbeat_interval_s = 1.0;
  c.missed_heartbeats = 3;
  c.recovery = r;
  return c;
}

inline bool in_plan(const Plan& p, int d) {
  for (const auto& s : p.stages)
    if (std::count(s.devices.begin(), s.devices.end(), d)) return true;
  return false;
}

// Heartbeats from every device but `silent` each second until `until`; returns the actions.
inline std::vector<Action> beat(Coordinator& c, int silent, double until) {
  std::vector<Action> all;
  for (double t = 1; t <= until + 1e-9; t += 1)
    for (int d = 0; d < 5; ++d)
      if (d != silent) {
        auto a = c.heartbeat(d, t);
        all.insert(all.end(), a.begin(), a.end());
      }
  return all;
}


inline const Action* find(const std::vector<Action>& acts, ActionKind k, int nth = 0) {
  for (const Action& a : acts)
    if (a.kind == k && nth-- == 0) return &a;
  return nullptr;
}

inline int count(const std::vector<Action>& acts, ActionKind k) {
  return int(std::count_if(acts.begin(), acts.end(), [&](const Action& a) { return a.kind == k; }));
}

// Heartbeats from the devices not in `silent` each second from `from` to `until`.
inline std::vector<Action> beat_but(Coordinator& c, std::vector<int> silent, double from, double until) {
  std::vector<Action> all;
  for (double t = from; t <= until + 1e-9; t += 1)
    for (int d = 0; d < 5; ++d)
      if (std::find(silent.begin(), silent.end(), d) == silent.end()) {
        auto a = c.heartbeat(d, t);
        all.insert(all.end(), a.begin(), a.end());
      }
  return all;
}


}  // namespace asteroid::testing
