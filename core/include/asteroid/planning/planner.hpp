// The HPP planner (the paper's Alg. 2; docs/method.md §4), exactly optimal over its search space
// under the cost model's closed form. (The `asteroid` strategy then minimises the 1F1B replay over
// the same space, starting from this optimum: replay_search.hpp.) The space:
// - a device order: any order of the device classes (device_classes: one type, trace table and
//   memory), each class's devices together in planner_device_order; every such order is searched
//   (up to max_device_orders), the memory-then-speed order first;
// - stages: contiguous layer ranges on device groups that are contiguous slices of the order, in
//   stage order; the last devices of the order may be left idle;
// - the micro-batch size (divisors of B) and, per stage, the shares of Alg. 1 (or even shares).
// Memory (1F1B's in-flight micro-batches per stage) is checked for every stage of every order.
//
// SUBTLE: the round latency is not a sum over stages: it depends on the dominant step and on where
// each stage's all-reduce starts, and a stage's memory on how many stages follow it. A plain prefix
// DP is therefore not exact. The searches are dynamic programs over (next layer, next device)
// whose entries hold Pareto sets of partial-plan labels from which the objective can be finished
// exactly; dominated labels are dropped, and so are labels whose lower bound cannot beat the best
// plan found (quick heuristic plans give the first one).
// - pipeline latency (default): stages are added from the last to the first, which fixes each
//   stage's K as it is placed, so one pass covers every pipeline depth (planner_backward.cpp).
// - paper latency (Eq. 4-6): stages are added from the first, one pass per depth, labels split at
//   the dominant step (planner_forward.cpp).
// Pure: no I/O, no globals (it reads a steady clock only when a time limit is set). The exact
// searches may run on several threads (PlannerOptions::threads); the result does not depend on it.
#pragma once

#include <vector>

#include "asteroid/model/cost_model.hpp"
#include "asteroid/input/error.hpp"

namespace asteroid {

enum class ShareRule {
  allocate,  // Alg. 1 with memory caps (Asteroid, HetPipe)
  even,      // equal shares, as data-parallel frameworks split a batch
};

struct PlannerOptions {
  std::vector<int> microbatch_sizes;  // empty: every divisor of the batch size
  int max_stages = 0;                 // 0: as many as devices (and layers)
  int max_group_size = 0;             // 0: no limit (1: a straight pipeline)
  bool use_all_devices = false;       // forbid leaving devices idle
  ShareRule share_rule = ShareRule::allocate;
  // Stop searching after this long (0: never) and return the best plan found so far, marked as not
  // proven optimal. The search is the same; only its end is cut.
  double time_limit_s = 0;
  // The `asteroid` strategy's whole planner (plan_by_replay, replay_search.hpp: the closed form,
  // its set-up, the starting plans and the search by replay) when time_limit_s is 0: it stops after
  // this long (0: never), with the best plan found and a proven bound on how far from optimal it
  // is. The search takes under a second on the scenarios, but grows fast with the devices; with
  // time_limit_s set, that limit bounds the whole planner instead.
  double replay_time_limit_s = 10;
  // Search at most this many orders of the device classes (0: all); fewer than all marks the plan
  // as not proven optimal. 720 = every order of up to 6 classes.
  int max_device_orders = 720;
  // Threads for the exact searches, which run as independent jobs (one per device order and
  // micro-batch size) sharing the best plan found. 0: as many as the machine has, for searches
  // large enough to repay them. The plan is the same whatever the number (ties go to the first
  // job in order), as is the latency; only the time and the search statistics differ.
  int threads = 0;
};

struct PlanSearchStats {
  long long stage_evaluations = 0;
  long long labels_created = 0;
};

struct PlannerResult {
  Plan plan;
  bool proven_optimal = true;  // false when time_limit_s cut the search
  double round_latency_s = 0;  // as the search computed it; evaluate(plan) gives the same
  PlanSearchStats stats;
};

// Finds the plan with the lowest round latency. When none exists, an Error that names the binding
// constraint with its numbers: options no plan can meet (e.g. "a pipeline of every device needs
// one layer per device: 6 devices, 4 layers"), or, when memory is what refuses, the refused stage
// that came closest to fitting (its micro-batch size, layers, device, and the bytes it lacks).
Result<PlannerResult> plan_optimal(const CostModel& model, const PlannerOptions& options);

// The device classes: devices of one type with the same trace table and memory (interchangeable
// for the compute side of the cost model), each in planner_device_order, the classes in the order
// of their first member there.
std::vector<std::vector<int>> device_classes(const Cluster& c);

// The device orders the planner searches: one per order of the device classes (the classes'
// permutations in lexicographic order, starting with the memory-then-speed order), each class's
// devices kept together in their planner_device_order. At most `max_orders` (0: all).
std::vector<std::vector<int>> planner_device_orders(const Cluster& c, int max_orders = 0);

// Micro-batch sizes to try: the given ones, or every divisor of `batch_size`.
std::vector<int> microbatch_candidates(int batch_size, const std::vector<int>& allowed);

// The scenario's planner options (micro-batch sizes, max stages, time limit).
PlannerOptions planner_options(const Scenario& s);

}  // namespace asteroid
