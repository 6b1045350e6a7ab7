#include "asteroid/planner.hpp"

#include <algorithm>
#include <string>

#include "planner_common.hpp"

namespace asteroid {

std::vector<int> microbatch_candidates(int batch_size, const std::vector<int>& allowed) {
  std::vector<int> out;
  if (!allowed.empty()) {
    for (int b : allowed)
      if (b > 0 && batch_size % b == 0) out.push_back(b);
  } else {
    for (int b = 1; b <= batch_size; ++b)
      if (batch_size % b == 0) out.push_back(b);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

namespace {

// Options that no plan can meet whatever the memory, named with their numbers; empty when none.
std::string structural_conflict(int devices, int layers, const PlannerOptions& o) {
  if (!o.use_all_devices) return "";
  int group = o.max_group_size > 0 ? o.max_group_size : devices;
  int stages = (devices + group - 1) / group;  // the fewest that use every device
  std::string how =
      group == 1 ? "one device per stage" : "at most " + std::to_string(group) + " devices per stage";
  if (stages > layers) {
    if (group == 1)
      return "a pipeline of every device needs one layer per device: " + std::to_string(devices) +
             " devices, " + std::to_string(layers) + " layers";
    return "using all " + std::to_string(devices) + " devices with " + how + " needs " +
           std::to_string(stages) + " stages of at least one layer each; the model has " +
           std::to_string(layers) + " layers";
  }
  if (o.max_stages > 0 && stages > o.max_stages)
    return "using all " + std::to_string(devices) + " devices with " + how + " needs " +
           std::to_string(stages) + " stages; at most " + std::to_string(o.max_stages) + " are allowed";
  return "";
}

}  // namespace

std::vector<std::vector<int>> device_classes(const Cluster& c) {
  std::vector<std::vector<int>> classes;
  std::vector<int> head;  // a member of each class
  for (int d : planner_device_order(c)) {
    const Device& x = c.devices[d];
    size_t k = 0;
    for (; k < classes.size(); ++k) {
      const Device& y = c.devices[head[k]];
      if (x.type == y.type && x.table == y.table && x.memory_bytes == y.memory_bytes) break;
    }
    if (k == classes.size()) {
      classes.emplace_back();
      head.push_back(d);
    }
    classes[k].push_back(d);
  }
  return classes;
}

std::vector<std::vector<int>> planner_device_orders(const Cluster& c, int max_orders) {
  std::vector<std::vector<int>> classes = device_classes(c);
  std::vector<int> perm(classes.size());
  for (size_t k = 0; k < perm.size(); ++k) perm[k] = int(k);
  std::vector<std::vector<int>> orders;
  do {
    std::vector<int> order;
    for (int k : perm) order.insert(order.end(), classes[k].begin(), classes[k].end());
    orders.push_back(order);
  } while (std::next_permutation(perm.begin(), perm.end()) &&
           (max_orders <= 0 || int(orders.size()) < max_orders));
  return orders;
}

Result<PlannerResult> plan_optimal(const CostModel& model, const PlannerOptions& options) {
  using namespace planner_detail;
  // Largest micro-batches first: they are usually the best, so the bound prunes early.
  std::vector<int> betas = microbatch_candidates(model.options().batch_size, options.microbatch_sizes);
  std::reverse(betas.begin(), betas.end());
  if (betas.empty())
    return Error{"", "planner.microbatch_sizes", "no micro-batch size divides the batch size"};
  if (std::string conflict = structural_conflict(model.num_devices(), model.num_layers(), options);
      !conflict.empty())
    return Error{"", "planner", conflict};
  std::vector<std::vector<int>> orders = planner_device_orders(model.cluster(), options.max_device_orders);
  double all_orders = 1;  // (number of classes)!
  for (size_t k = 2; k <= device_classes(model.cluster()).size(); ++k) all_orders *= double(k);
  bool every_order = double(orders.size()) >= all_orders;
  SearchState state(options.time_limit_s);
  // Quick plans in the memory-then-speed order give the first bound to prune with; the exact
  // search of that order, searched first, gives the others a tight one.
  seed_with_heuristic_plans(model, options, orders[0], betas, rest_bound(model, orders[0]), state);
  for (const std::vector<int>& order : orders) {
    if (state.past_deadline()) break;
    if (model.options().latency_model == LatencyModel::paper)
      search_stages_forward(model, options, order, betas, rest_bound(model, order), state);
    else
      search_stages_backward(model, options, order, betas, state);
  }
  if (state.best == kInf && state.out_of_time)
    return Error{"", "", "no plan found within the planner's time limit"};
  if (state.best == kInf && state.closest_refusal.empty()) {
    // The searches' bounds refused every stage before costing one (the weights alone fit no
    // device): the closest refusal among single layers on each device at the smallest micro-batch.
    int beta = betas.back();
    for (const std::vector<int>& cls : device_classes(model.cluster()))
      for (int l = 0; l < model.num_layers(); ++l)
        state.refused(model.stage(l, l, &cls[0], 1, beta, 1), beta);
  }
  if (state.best == kInf) {
    std::string why = state.closest_refusal.empty()
                          ? "no plan satisfies the constraints"
                          : "no plan fits in memory; the closest: " + state.closest_refusal;
    return Error{"", "", why};
  }
  PlannerResult r;
  r.plan = state.best_plan;
  r.round_latency_s = state.best;
  r.stats = state.stats;
  r.proven_optimal = !state.out_of_time && every_order;
  return r;
}

}  // namespace asteroid
