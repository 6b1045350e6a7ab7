// The planner's search space enumerated plan by plan, for tests: the reference its searches must
// match (closed form: planner.hpp; replay: replay_search.hpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <random>
#include <vector>

#include "asteroid/model/cost_model.hpp"
#include "asteroid/planning/planner.hpp"
#include "synthetic.hpp"

namespace asteroid::testing {

// Every order of the device classes (same type, trace table and memory), each class's devices kept
// in the memory-then-speed order: written out here, not taken from the planner.
inline std::vector<std::vector<int>> every_class_order(const Cluster& c) {
  std::vector<std::vector<int>> classes;
  for (int d : planner_device_order(c)) {
    auto same = [&](const std::vector<int>& k) {
      const Device &x = c.devices[d], &y = c.devices[k[0]];
      return x.type == y.type && x.table == y.table && x.memory_bytes == y.memory_bytes;
    };
    auto it = std::find_if(classes.begin(), classes.end(), same);
    if (it == classes.end())
      classes.push_back({d});
    else
      it->push_back(d);
  }
  std::vector<int> perm(classes.size());
  std::iota(perm.begin(), perm.end(), 0);
  std::vector<std::vector<int>> orders;
  do {
    orders.emplace_back();
    for (int k : perm) orders.back().insert(orders.back().end(), classes[k].begin(), classes[k].end());
  } while (std::next_permutation(perm.begin(), perm.end()));
  return orders;
}

// What a plan is scored by: the closed form, or the 1F1B replay.
enum class Objective { closed_form, replay };

// Every plan of the planner's search space (under `opt`: stage count, group size, all devices,
// even shares), each given to `visit`. The space: every order of the device classes, groups
// contiguous in it, the last devices of the order idle.
inline void for_each_plan(const CostModel& m, const std::vector<int>& betas, const PlannerOptions& opt,
                          bool base_order_only, const std::function<void(const Plan&)>& visit) {
  int N = m.num_devices(), L = m.num_layers();
  std::vector<std::vector<int>> orders = every_class_order(m.cluster());
  if (base_order_only) orders.resize(1);  // the memory-then-speed order alone
  for (const std::vector<int>& order : orders)
    for (int beta : betas) {
      for (int used = opt.use_all_devices ? N : 1; used <= N; ++used) {
        // Device cuts: a subset of the used-1 gaps; layer cuts: a subset of the L-1 gaps, same count.
        for (int dmask = 0; dmask < (1 << (used - 1)); ++dmask) {
          std::vector<int> dcuts;
          for (int i = 0; i < used - 1; ++i)
            if (dmask >> i & 1) dcuts.push_back(i);
          int P = int(dcuts.size()) + 1;
          if (P > L || (opt.max_stages > 0 && P > opt.max_stages)) continue;
          bool groups_ok = true;
          for (int s = 0, d0 = 0; s < P; ++s) {
            int d1 = s < P - 1 ? dcuts[s] : used - 1;
            if (opt.max_group_size > 0 && d1 - d0 + 1 > opt.max_group_size) groups_ok = false;
            d0 = d1 + 1;
          }
          if (!groups_ok) continue;
          std::function<void(int, int, std::vector<int>&)> layer_cuts = [&](int from, int need,
                                                                            std::vector<int>& cuts) {
            if (need == 0) {
              Plan p;
              p.microbatch_size = beta;
              p.microbatches = m.options().batch_size / beta;
              int l0 = 0, d0 = 0;
              for (int s = 0; s < P; ++s) {
                int l1 = s < P - 1 ? cuts[s] : L - 1;
                int d1 = s < P - 1 ? dcuts[s] : used - 1;
                StagePlan sp;
                sp.first_layer = l0;
                sp.last_layer = l1;
                sp.devices.assign(order.begin() + d0, order.begin() + d1 + 1);
                if (opt.share_rule == ShareRule::even) {
                  int n = int(sp.devices.size());
                  for (int i = 0; i < n; ++i) sp.shares.push_back(beta / n + (i < beta % n ? 1 : 0));
                }
                p.stages.push_back(sp);
                l0 = l1 + 1;
                d0 = d1 + 1;
              }
              visit(p);
              return;
            }
            for (int c = from; c <= L - 2; ++c) {
              cuts.push_back(c);
              layer_cuts(c + 1, need - 1, cuts);
              cuts.pop_back();
            }
          };
          std::vector<int> cuts;
          layer_cuts(0, P - 1, cuts);
        }
      }
    }
}

// The best plan of that space under `objective`, and its value (infinity when none fits).
inline double exhaustive_best(const CostModel& model, const std::vector<int>& betas, Plan* best_plan,
                              const PlannerOptions& opt = {}, bool base_order_only = false,
                              Objective objective = Objective::closed_form) {
  CostOptions options = model.options();
  options.replay_schedule = objective == Objective::replay;  // the objective is all it needs
  CostModel m(model.cluster(), options);
  double best = INFINITY;
  for_each_plan(m, betas, opt, base_order_only, [&](const Plan& p) {
    Evaluation e = m.evaluate(p);
    const double value = objective == Objective::replay ? e.schedule_latency_s : e.round_latency_s;
    if (e.feasible && value < best) {
      best = value;
      *best_plan = e.plan;
    }
  });
  return best;
}

// Random instances for those comparisons.
inline Cluster random_cluster(std::mt19937& rng, int num_devices, int num_layers, bool uneven_links,
                       bool tight_memory = false) {
  auto layers = synthetic_layers(num_layers, rng);
  auto types = jetson_like_types();
  std::vector<SyntheticDeviceType> devices;
  std::uniform_int_distribution<int> pick(0, int(types.size()) - 1);
  std::uniform_real_distribution<double> mem(tight_memory ? 0.004e9 : 0.01e9, tight_memory ? 0.08e9 : 0.4e9);
  for (auto& t : types) t.memory_bytes = mem(rng);  // tight, so that memory shapes the plan
  for (int i = 0; i < num_devices; ++i) devices.push_back(types[pick(rng)]);
  std::uniform_real_distribution<double> bw(2e6, 1.25e8);
  Cluster c = synthetic_cluster(layers, devices, bw(rng), 5e-4);
  if (uneven_links)
    for (int i = 0; i < num_devices; ++i)
      for (int j = i + 1; j < num_devices; ++j) c.bandwidth_Bps[i][j] = c.bandwidth_Bps[j][i] = bw(rng);
  return c;
}

// Like random_cluster, but with 2 to 4 kinds of device, each with its own backward/forward ratio
// (0.5 to 3) and memory, and link latencies that differ too: the step components then move
// independently. Up to 4! orders of the kinds.
inline Cluster random_cluster_uneven_steps(std::mt19937& rng, int num_devices, int num_layers, bool tight_memory) {
  auto layers = synthetic_layers(num_layers, rng);
  auto types = jetson_like_types();
  std::uniform_int_distribution<int> pick(0, int(types.size()) - 1);
  std::uniform_real_distribution<double> mem(tight_memory ? 0.004e9 : 0.01e9, tight_memory ? 0.08e9 : 0.4e9);
  std::uniform_real_distribution<double> ratio(0.5, 3.0), bw(2e6, 1.25e8), lat(1e-4, 5e-3);
  std::vector<Device> kinds(2 + rng() % 3);
  for (size_t k = 0; k < kinds.size(); ++k) {
    auto t = types[pick(rng)];
    Profile p = synthetic_profile(layers, t.name, t.slowness, mem(rng));
    double r = ratio(rng);
    for (auto& l : p.layers)
      for (size_t b = 0; b < l.bwd_s.size(); ++b) l.bwd_s[b] = l.fwd_s[b] * r;
    kinds[k].type = t.name + "_" + std::to_string(k);
    kinds[k].table = std::make_shared<LayerTable>(p);
    kinds[k].memory_bytes = p.memory_bytes;
  }
  Cluster c;
  for (int i = 0; i < num_devices; ++i) {
    Device d = kinds[rng() % kinds.size()];
    d.name = d.type + "." + std::to_string(i);
    c.devices.push_back(d);
  }
  c.bandwidth_Bps.assign(num_devices, std::vector<double>(num_devices, bw(rng)));
  c.latency_s.assign(num_devices, std::vector<double>(num_devices, lat(rng)));
  if (rng() % 2)
    for (int i = 0; i < num_devices; ++i)
      for (int j = i + 1; j < num_devices; ++j) {
        c.bandwidth_Bps[i][j] = c.bandwidth_Bps[j][i] = bw(rng);
        c.latency_s[i][j] = c.latency_s[j][i] = lat(rng);
      }
  return c;
}

}  // namespace asteroid::testing
