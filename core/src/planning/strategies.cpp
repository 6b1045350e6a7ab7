#include "asteroid/planning/strategies.hpp"

#include "asteroid/input/json_reader.hpp"
#include "asteroid/planning/replay_search.hpp"

#include <algorithm>
#include <cassert>

namespace asteroid {
namespace {

Evaluation infeasible(const std::string& reason) {
  Evaluation e;
  e.feasible = false;
  e.reason = reason;
  return e;
}

// A baseline that assumes identical devices plans as if every device were `reference`; with
// `reference_memory` false it also takes each device's memory as the reference's.
Cluster homogeneous_view(const Cluster& c, int reference, bool keep_own_memory) {
  Cluster v = c;
  for (auto& d : v.devices) {
    d.table = c.devices[reference].table;
    d.type = c.devices[reference].type;
    if (!keep_own_memory) d.memory_bytes = c.devices[reference].memory_bytes;
  }
  return v;
}

// Plans with the optimal planner on a (possibly distorted) view of the cluster, then scores the plan
// on the true cluster with the shares (and recomputing stages) the view chose.
// `baseline`: a published system's planner, which does not recompute activations: planned and
// scored without.
StrategyResult plan_in_view(const std::string& name, const CostModel& truth, const Cluster& view,
                            CostOptions view_options, PlannerOptions opt, bool baseline = true) {
  StrategyResult r;
  r.strategy = name;
  CostOptions truth_options = truth.options();
  if (baseline) view_options.recomputation = truth_options.recomputation = Recomputation::off;
  const CostModel truth_off(truth.cluster(), truth_options);
  CostModel view_model(view, view_options);
  auto planned = plan_optimal(view_model, opt);
  if (!planned) {
    r.evaluation = infeasible(planned.error().message);
    return r;
  }
  r.stats = planned->stats;
  r.proven_optimal = planned->proven_optimal;
  Evaluation in_view = view_model.evaluate(planned->plan);
  assert(in_view.feasible && "the planner's plan must be feasible in its own view");
  r.evaluation = truth_off.evaluate(in_view.plan);
  return r;
}

// What plan_by_replay minimises: the replay, or the closed form where there is none.
double model_objective(const CostModel& m, const Evaluation& e) {
  return m.options().replay_schedule && m.options().latency_model == LatencyModel::pipeline ? e.schedule_latency_s
                                                                                            : e.round_latency_s;
}

// Asteroid: heterogeneity-, memory- and communication-aware HPP (docs/method.md §1-4). Under the
// pipeline latency model the plan with the shortest 1F1B replay (replay_search.hpp); under the
// paper's, the closed-form optimum.
StrategyResult asteroid_strategy(const CostModel& m, const PlannerOptions& base) {
  if (m.options().latency_model != LatencyModel::pipeline) {
    StrategyResult r = plan_in_view("asteroid", m, m.cluster(), m.options(), base, false);
    r.objective_s = r.evaluation.round_latency_s;
    if (r.proven_optimal && r.evaluation.feasible) r.lower_bound_s = r.objective_s;
    return r;
  }
  StrategyResult r;
  r.strategy = "asteroid";
  auto planned = plan_by_replay(m, base);
  if (!planned) {
    r.evaluation = infeasible(planned.error().message);
    return r;
  }
  r.evaluation = std::move(planned->evaluation);
  r.stats = planned->stats;
  r.proven_optimal = planned->proven_optimal;
  r.lower_bound_s = planned->lower_bound_s;
  r.objective_s = model_objective(m, r.evaluation);
  r.replay_candidates = planned->candidates;
  r.optimum_replay_s = planned->optimum_replay_s;
  r.replay_search = planned->search;
  return r;
}

// On-device training: the whole model on the single fastest device that can hold it, with gradient
// accumulation (several micro-batches per round) when a whole mini-batch does not fit.
StrategyResult device_strategy(const CostModel& m, const PlannerOptions& base) {
  StrategyResult r;
  r.strategy = "device";
  std::vector<int> order(m.num_devices());
  for (int i = 0; i < m.num_devices(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return m.cluster().devices[a].speed() > m.cluster().devices[b].speed();
  });
  std::vector<int> betas = microbatch_candidates(m.options().batch_size, base.microbatch_sizes);
  std::string reason;
  for (int d : order) {
    for (auto it = betas.rbegin(); it != betas.rend(); ++it) {
      Plan p;
      p.microbatch_size = *it;
      p.microbatches = m.options().batch_size / *it;
      p.stages.push_back({0, m.num_layers() - 1, {d}, {*it}});
      Evaluation e = m.evaluate(p);
      if (e.feasible) {
        r.evaluation = e;
        return r;
      }
      if (reason.empty()) reason = e.reason;
    }
  }
  r.evaluation = infeasible(reason);
  return r;
}

// Data parallelism as PyTorch DDP runs it: every device holds the whole model and takes an equal
// share of each mini-batch (no micro-batches), then a ring all-reduce of all gradients.
StrategyResult dp_strategy(const CostModel& m) {
  StrategyResult r;
  r.strategy = "dp";
  Plan p;
  p.microbatch_size = m.options().batch_size;
  p.microbatches = 1;
  StagePlan sp{0, m.num_layers() - 1, {}, {}};
  int n = m.num_devices();
  for (int i = 0; i < n; ++i) sp.devices.push_back(i);
  sp.shares.assign(n, p.microbatch_size / n);
  for (int i = 0; i < p.microbatch_size % n; ++i) ++sp.shares[i];
  p.stages.push_back(sp);
  r.evaluation = m.evaluate(p);
  return r;
}

// Plain pipeline parallelism, as the paper's "PP" baseline: one device per stage, every device
// used, layers split to balance each device's computation (and to fit its memory); the network is
// not considered while planning (links taken as free), so the split and the micro-batch size are
// those of a compute-balanced GPipe/1F1B pipeline. Scored on the true cluster, links included.
StrategyResult pp_strategy(const CostModel& m, PlannerOptions opt) {
  CostOptions o = m.options();
  o.ignore_network = true;
  opt.max_group_size = 1;
  opt.use_all_devices = true;
  return plan_in_view("pp", m, m.cluster(), o, opt);
}

// Network-aware pipeline parallelism: one device per stage, every device used, the best split and
// micro-batch size under the full cost model (links included). A much stronger baseline than the
// paper's PP: the best pure pipeline there is.
StrategyResult pp_net_strategy(const CostModel& m, PlannerOptions opt) {
  opt.max_group_size = 1;
  opt.use_all_devices = true;
  return plan_in_view("pp_net", m, m.cluster(), m.options(), opt);
}

// The reference device of baselines that assume identical devices: the one they would profile on,
// taken as the device the planner order puts first (largest memory, then fastest).
int reference_device(const Cluster& c) { return planner_device_order(c).front(); }

// PipeDream (Narayanan et al., "PipeDream: Generalized Pipeline Parallelism for DNN Training",
// SOSP 2019). Its optimizer profiles the model on one worker type and assumes identical workers; it
// replicates stages with an even split of the inputs and partitions layers by dynamic programming.
// It does not bound memory (weight stashing only adds to it), and, as the Asteroid comparison table
// classifies it, its partitioning does not model the network: here links are taken as infinitely
// fast while planning.
StrategyResult pipedream_strategy(const CostModel& m, PlannerOptions opt) {
  CostOptions o = m.options();
  o.ignore_memory = true;
  o.ignore_network = true;
  opt.share_rule = ShareRule::even;
  return plan_in_view("pipedream", m, homogeneous_view(m.cluster(), reference_device(m.cluster()), true), o,
                      opt);
}

// DAPPLE (Fan et al., "DAPPLE: A Pipelined Data Parallel Approach for Training Large Models",
// PPoPP 2021). Synchronous 1F1B pipelines with replicated stages; its planner models the
// communication of activations and of gradient all-reduce over the real links, but assumes identical
// devices (one profile, even split) and does not bound memory.
StrategyResult dapple_strategy(const CostModel& m, PlannerOptions opt) {
  CostOptions o = m.options();
  o.ignore_memory = true;
  opt.share_rule = ShareRule::even;
  return plan_in_view("dapple", m, homogeneous_view(m.cluster(), reference_device(m.cluster()), true), o,
                      opt);
}

// Alpa (Zheng et al., "Alpa: Automating Inter- and Intra-Operator Parallelism for Distributed Deep
// Learning", OSDI 2022). Its inter-operator pass slices layers and a homogeneous device mesh into
// stages by dynamic programming over the bottleneck stage time, rejecting stages whose profiled
// memory does not fit a device; it assumes identical devices (here: the reference device's speed and
// memory for all) and leaves cross-stage communication out of the stage costs.
StrategyResult alpa_strategy(const CostModel& m, PlannerOptions opt) {
  CostOptions o = m.options();
  o.ignore_network = true;
  opt.share_rule = ShareRule::even;
  return plan_in_view("alpa", m, homogeneous_view(m.cluster(), reference_device(m.cluster()), false), o, opt);
}

// HetPipe (Park et al., "HetPipe: Enabling Large DNN Training on (Whimpy) Heterogeneous GPU
// Clusters through Integration of Pipelined Model Parallelism and Data Parallelism", USENIX ATC
// 2020). Heterogeneity-aware: it partitions with each device's own speed and balances work by speed,
// but its partitioning does not bound memory per in-flight micro-batch and does not model the links.
StrategyResult hetpipe_strategy(const CostModel& m, PlannerOptions opt) {
  CostOptions o = m.options();
  o.ignore_memory = true;
  o.ignore_network = true;
  opt.share_rule = ShareRule::allocate;
  return plan_in_view("hetpipe", m, m.cluster(), o, opt);
}

}  // namespace

StrategyResult run_strategy(Strategy strategy, const CostModel& model, const PlannerOptions& base) {
  switch (strategy) {
    case Strategy::asteroid: return asteroid_strategy(model, base);
    case Strategy::device: return device_strategy(model, base);
    case Strategy::dp: return dp_strategy(model);
    case Strategy::pp: return pp_strategy(model, base);
    case Strategy::pp_net: return pp_net_strategy(model, base);
    case Strategy::pipedream: return pipedream_strategy(model, base);
    case Strategy::dapple: return dapple_strategy(model, base);
    case Strategy::alpa: return alpa_strategy(model, base);
    case Strategy::hetpipe: return hetpipe_strategy(model, base);
  }
  assert(false && "every Strategy has a policy");
  return {};
}

}  // namespace asteroid
