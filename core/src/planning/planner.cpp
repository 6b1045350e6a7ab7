#include "asteroid/planning/planner.hpp"

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>

#include "planning/planner_common.hpp"

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

// Threads for the exact searches: as asked, or as many as the machine has when the search is large
// enough to repay starting them (N x L of 400 and up: a few milliseconds a job).
int search_threads(const PlannerOptions& o, int devices, int layers, size_t jobs) {
  int n = o.threads;
  if (n <= 0) n = devices * layers >= 400 ? int(std::thread::hardware_concurrency()) : 1;
  return std::max(1, std::min(n, int(jobs)));
}

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
  // Quick plans in the memory-then-speed order give the first bound to prune with.
  SharedBest shared;
  const auto start = SearchState::Clock::now();
  SearchState seed(options.time_limit_s, start, &shared, -1);
  seed_with_heuristic_plans(model, options, orders[0], betas, rest_bound(model, orders[0]), seed);
  // The exact searches, one job per (order, micro-batch size): the memory-then-speed order first,
  // largest micro-batches first, as one thread runs them. Jobs share the best plan found.
  struct Job {
    int order, beta;
  };
  std::vector<Job> jobs;
  for (size_t o = 0; o < orders.size(); ++o)
    for (int beta : betas) jobs.push_back({int(o), beta});
  const bool paper = model.options().latency_model == LatencyModel::paper;
  std::vector<RestBound> rests;
  if (paper)
    for (const std::vector<int>& order : orders) rests.push_back(rest_bound(model, order));
  std::vector<SearchState> states;
  states.reserve(jobs.size());
  for (size_t j = 0; j < jobs.size(); ++j) states.emplace_back(options.time_limit_s, start, &shared, int(j));
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t j; (j = next.fetch_add(1)) < jobs.size();) {
      SearchState& st = states[j];
      if (st.checkpoint()) continue;
      const std::vector<int>& order = orders[size_t(jobs[j].order)];
      if (paper)
        search_stages_forward(model, options, order, {jobs[j].beta}, rests[size_t(jobs[j].order)], st);
      else
        search_stages_backward(model, options, order, {jobs[j].beta}, st);
    }
  };
  int threads = search_threads(options, model.num_devices(), model.num_layers(), jobs.size());
  std::vector<std::thread> helpers;
  for (int i = 1; i < threads; ++i) helpers.emplace_back(work);
  work();
  for (std::thread& t : helpers) t.join();

  // What the jobs found, merged as one thread running them in order would have it.
  SearchState state(options.time_limit_s, start);
  state.best = shared.value();
  state.best_plan = shared.plan();
  auto merge = [&](const SearchState& s) {
    state.out_of_time = state.out_of_time || s.out_of_time;
    state.stats.stage_evaluations += s.stats.stage_evaluations;
    state.stats.labels_created += s.stats.labels_created;
    if (s.closest_over_bytes < state.closest_over_bytes) {
      state.closest_over_bytes = s.closest_over_bytes;
      state.closest_refusal = s.closest_refusal;
    }
  };
  merge(seed);
  for (const SearchState& s : states) merge(s);
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

PlannerOptions planner_options(const Scenario& s) {
  PlannerOptions o;
  o.microbatch_sizes = s.planner.microbatch_sizes;
  o.max_stages = s.planner.max_stages;
  o.time_limit_s = s.planner.time_limit_s;
  return o;
}

}  // namespace asteroid
