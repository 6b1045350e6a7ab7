#include "asteroid/planning/replay_choice.hpp"

#include <algorithm>
#include <chrono>
#include <set>
#include <string>

namespace asteroid {
namespace {

// Stage caps to try: every cap up to 8, then each about 1.5x the previous, up to `most`.
std::vector<int> stage_caps(int most) {
  std::vector<int> caps;
  for (int k = 1; k <= most; k = k < 8 ? k + 1 : (k * 3 + 1) / 2) caps.push_back(k);
  if (caps.empty() || caps.back() != most) caps.push_back(most);
  return caps;
}

std::string key(const Plan& p) {
  std::string k = std::to_string(p.microbatch_size);
  for (const StagePlan& s : p.stages) {
    k += "|" + std::to_string(s.first_layer) + "-" + std::to_string(s.last_layer) + ":";
    for (int d : s.devices) k += std::to_string(d) + ",";
  }
  return k;
}

}  // namespace

ReplayChoice choose_by_replay(const CostModel& model, const PlannerOptions& options,
                              const PlannerResult& optimum) {
  ReplayChoice out;
  out.evaluation = model.evaluate(optimum.plan);
  out.optimum_replay_s = out.evaluation.schedule_latency_s;
  out.stats = optimum.stats;
  out.proven_optimal = optimum.proven_optimal;
  const Evaluation& best0 = out.evaluation;
  if (!model.options().replay_schedule || !best0.feasible ||
      best0.schedule_latency_s <= best0.round_latency_s * (1 + kReplayGap))
    return out;

  int most = std::min(model.num_devices(), model.num_layers());
  if (options.max_stages > 0) most = std::min(most, options.max_stages);
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(options.time_limit_s));
  std::set<std::string> seen = {key(optimum.plan)};
  for (int beta : microbatch_candidates(model.options().batch_size, options.microbatch_sizes))
    for (int cap : stage_caps(most)) {
      PlannerOptions o = options;
      if (options.time_limit_s > 0) {
        // What is left of the limit: none starts after it.
        const double left = std::chrono::duration<double>(deadline - Clock::now()).count();
        if (left <= 0) {
          out.proven_optimal = false;
          return out;
        }
        o.time_limit_s = left;
      }
      o.microbatch_sizes = {beta};
      o.max_stages = cap;
      auto r = plan_optimal(model, o);
      if (!r) continue;
      out.stats.stage_evaluations += r->stats.stage_evaluations;
      out.stats.labels_created += r->stats.labels_created;
      out.proven_optimal = out.proven_optimal && r->proven_optimal;
      if (!seen.insert(key(r->plan)).second) continue;
      Evaluation e = model.evaluate(r->plan);
      ++out.candidates;
      if (e.feasible && e.schedule_latency_s < out.evaluation.schedule_latency_s)
        out.evaluation = std::move(e);
    }
  return out;
}

}  // namespace asteroid
