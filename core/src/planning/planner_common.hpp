// What the planner's searches share (planner.hpp describes the method): lower bounds on the time
// layers need, link summaries of device ranges, the deadline, and the best plan found so far.
#pragma once

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <mutex>
#include <string>
#include <vector>

#include "asteroid/planning/planner.hpp"

namespace asteroid::planner_detail {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Lower bounds on compute time. Let rho(d, l) be the least forward + backward time per sample of
// layer l on device d at any batch size up to B (times are piecewise linear in the samples, so
// t(y)/y is smallest at a profiled batch size, at 1, or at B), rho_min(l) the least over devices, and
// lambda_d = min_l rho(d, l) / rho_min(l) >= 1 how much slower d is at best. A device of a stage with
// step time C processes at most C / (lambda_d rho_min(stage)) samples, and the stage's devices must
// process beta; summed over stages, layers W on devices of capacity sum 1 / lambda_d need a step of
//   C >= beta x W / capacity.
// With `max_samples` = beta (a device of a stage never computes more than beta samples), the
// bounds are those of that micro-batch size; 0 means the batch size B.
struct RestBound {
  std::vector<double> work_after;   // [l]: sum of rho_min over layers >= l
  std::vector<double> work_before;  // [l]: over layers < l
  std::vector<double> cap_after;    // [n]: sum of 1 / lambda over devices order[n..]
  std::vector<double> cap_before;   // [n]: over order[..n)
  std::vector<double> lambda;       // [n]: lambda of order[n]
};
RestBound rest_bound(const CostModel& m, const std::vector<int>& order, int max_samples = 0);

// Every pair of distinct devices has the same bandwidth and latency.
bool uniform_network(const Cluster& c);

std::vector<int> even_shares(int beta, int n);

// The slowest link and largest latency within each range order[n..h], built in O(N^2).
class RangeLinks {
 public:
  RangeLinks(const CostModel& m, const std::vector<int>& order);
  const LinkSummary& get(int n, int h) const { return table_[size_t(n) * n_ + h]; }

 private:
  int n_ = 0;
  std::vector<LinkSummary> table_;
};

// The best plan found by any job of a search, shared by the jobs that run on several threads.
// Ties between jobs go to the lower job index, so the plan chosen does not depend on how the jobs
// were scheduled: it is the plan one thread running the jobs in index order would choose.
class SharedBest {
 public:
  // Offers a job's plan; kept when it is better, or as good and from an earlier job.
  void offer(double value, int job, const Plan& plan) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (value > value_ || (value == value_ && job >= job_)) return;
    value_ = value, job_ = job, plan_ = plan;
    fast_value_.store(value, std::memory_order_relaxed);
  }
  // The pruning bound for `job` (prune what is >= it): a plan of an earlier job cuts ties, a plan
  // of a later one does not. No lower than `current`'s tightening would need: when nothing better
  // than `current` is known, returns `current`.
  double bound_for(int job, double current) {
    if (fast_value_.load(std::memory_order_relaxed) >= current) return current;
    std::lock_guard<std::mutex> lock(mutex_);
    double b = job_ < job ? value_ : std::nextafter(value_, kInf);
    return std::min(b, current);
  }
  double value() const { return value_; }  // after the jobs
  const Plan& plan() const { return plan_; }

 private:
  std::mutex mutex_;
  std::atomic<double> fast_value_{kInf};
  double value_ = kInf;
  int job_ = std::numeric_limits<int>::max();
  Plan plan_;
};

// One job's view of the search: the bound it prunes with, its own best plan, and how it went.
// Each job starts from what the previous left (one thread) or from the shared best (several).
struct SearchState {
  using Clock = std::chrono::steady_clock;
  explicit SearchState(double time_limit_s, Clock::time_point start = Clock::now(), SharedBest* shared = nullptr,
                       int job = -1)
      : shared(shared), job(job), time_limit_s(time_limit_s), start(start) {}

  double best = kInf;  // prune whatever cannot finish below this
  Plan best_plan;      // without a shared best: the plan of latency `best`
  SharedBest* shared;
  int job;
  bool out_of_time = false;
  PlanSearchStats stats;
  // The refused stage that came closest to fitting (fewest bytes over), for the error message.
  std::string closest_refusal;
  double closest_over_bytes = kInf;
  void refused(const StageCost& sc, int beta) {
    if (sc.reason.empty() || sc.over_bytes >= closest_over_bytes) return;
    closest_over_bytes = sc.over_bytes;
    closest_refusal = "micro-batch size " + std::to_string(beta) + ", " + sc.reason;
  }

  // A plan better than `best` was found.
  void record(double value, const Plan& plan) {
    best = value;
    if (shared)
      shared->offer(value, job, plan);
    else
      best_plan = plan;
  }

  // Takes in what the other jobs found, and says whether the time limit has passed.
  bool checkpoint() {
    if (shared) best = shared->bound_for(job, best);
    return past_deadline();
  }

  bool past_deadline() {
    if (time_limit_s <= 0) return false;
    if (!out_of_time) out_of_time = Clock::now() - start > std::chrono::duration<double>(time_limit_s);
    return out_of_time;
  }

 private:
  double time_limit_s;
  Clock::time_point start;
};

// Quick plans (even device groups, layers split by capacity, then by a bisected step time) to give
// the exact searches a bound to prune with from the start. Updates state.best when one is better.
void seed_with_heuristic_plans(const CostModel& m, const PlannerOptions& opt, const std::vector<int>& order,
                               const std::vector<int>& betas, const RestBound& rb, SearchState& state);

// The exact searches, one per latency model; each improves state.best over all of `betas`.
void search_stages_backward(const CostModel& m, const PlannerOptions& opt, const std::vector<int>& order,
                            const std::vector<int>& betas, SearchState& state);
void search_stages_forward(const CostModel& m, const PlannerOptions& opt, const std::vector<int>& order,
                           const std::vector<int>& betas, const RestBound& rb, SearchState& state);

}  // namespace asteroid::planner_detail
