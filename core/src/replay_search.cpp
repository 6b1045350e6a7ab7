#include "asteroid/replay_search.hpp"

#include <algorithm>
#include <chrono>

#include "asteroid/replay_bound.hpp"
#include "asteroid/replay_choice.hpp"
#include "asteroid/schedule.hpp"
#include "planner_common.hpp"

namespace asteroid {
namespace {

using Clock = std::chrono::steady_clock;

// One depth-first search: a device order, a micro-batch size and a stage count.
class Search {
 public:
  Search(const CostModel& m, const PlannerOptions& o, const std::vector<int>& order, int beta,
         const planner_detail::RestBound& rest, int stages, ReplaySearchResult& out, Clock::time_point deadline,
         bool limited)
      : m_(m), o_(o), order_(order), beta_(beta), P_(stages), out_(out), deadline_(deadline), limited_(limited),
        rest_(rest) {
    M_ = m.options().batch_size / beta;
    net_ = !m.options().ignore_network;
    plan_.microbatch_size = beta;
    plan_.microbatches = M_;
    if (net_) {
      for (const Channel& ch : m.cluster().network->channels()) use_.capacity_Bps.push_back(ch.capacity_Bps);
      use_.comm.resize(size_t(2 * P_ - 1));
      use_.ring.resize(size_t(2 * P_ - 1));
      use_.members.resize(size_t(2 * P_ - 1));
    }
  }

  void run() { place(0, 0, 0); }

 private:
  bool out_of_time() {
    if (!limited_ || cut_) return cut_;
    if ((++ticks_ & 63) == 0 && Clock::now() > deadline_) cut_ = true;
    if (cut_) out_.proven_optimal = false;
    return cut_;
  }

  // Places stage p on layers from l0 and devices from order position d0.
  void place(int p, int l0, int d0) {
    const int N = m_.num_devices(), L = m_.num_layers();
    const int after = P_ - p - 1;  // stages still to place after this one
    const bool last = after == 0;
    const int K = schedule::in_flight(M_, P_, p);
    for (int d1 = d0; d1 <= N - 1 - after; ++d1) {
      const int g = d1 - d0 + 1;
      if (o_.max_group_size > 0 && g > o_.max_group_size) break;
      if (last && o_.use_all_devices && d1 != N - 1) continue;
      std::vector<int> shares;
      if (o_.share_rule == ShareRule::even) shares = planner_detail::even_shares(beta_, g);
      for (int l1 = last ? L - 1 : l0; l1 <= L - 1 - after; ++l1) {
        if (out_of_time()) return;
        ++out_.stats.partial_plans;
        m_.stage(cost_, l0, l1, &order_[size_t(d0)], g, beta_, K, shares.empty() ? nullptr : shares.data());
        if (!cost_.feasible) continue;
        StagePlan sp;
        sp.first_layer = l0;
        sp.last_layer = l1;
        sp.devices.assign(order_.begin() + d0, order_.begin() + d1 + 1);
        sp.shares = cost_.shares;
        plan_.stages.push_back(std::move(sp));
        push_steps(p);
        double rest = 0;
        if (!last) rest = beta_ * rest_.work_after[size_t(l1) + 1] / rest_.cap_after[size_t(d1) + 1];
        const double bound = replay_lower_bound(steps_, M_, use_, 2 * P_ - 1, rest);
        // A margin for rounding: the bound adds what the replay adds in another order.
        if (bound * (1 - 1e-9) < best()) {
          if (last)
            replay();
          else
            place(p + 1, l1 + 1, d1 + 1);
        }
        plan_.stages.pop_back();
        steps_.resize(steps_.size() - (p > 0 ? 2 : 1));
      }
    }
  }

  // The steps of stage p (its communication step from stage p-1 first), as evaluate() has them.
  void push_steps(int p) {
    if (p > 0) steps_.push_back(m_.communication_step(plan_.stages[size_t(p) - 1], plan_.stages[size_t(p)], beta_, p));
    steps_.push_back(m_.compute_step(cost_, p));
    if (net_) m_.stage_network_use(plan_, p, use_);
  }

  double best() const { return out_.evaluation.schedule_latency_s; }

  void replay() {
    ++out_.stats.replays;
    Evaluation e = m_.evaluate(plan_);
    if (e.feasible && e.schedule_latency_s < best()) {
      out_.evaluation = std::move(e);
      out_.improved = true;
    }
  }

  const CostModel& m_;
  const PlannerOptions& o_;
  const std::vector<int>& order_;
  int beta_, P_, M_ = 0;
  bool net_ = true;
  ReplaySearchResult& out_;
  Clock::time_point deadline_;
  bool limited_;
  bool cut_ = false;
  unsigned ticks_ = 0;
  const planner_detail::RestBound& rest_;  // of the order and the micro-batch size
  Plan plan_;
  std::vector<StepCost> steps_;
  NetworkUse use_;
  StageCost cost_;
};

}  // namespace

ReplaySearchResult search_by_replay(const CostModel& model, const PlannerOptions& options, const Evaluation& start) {
  ReplaySearchResult out;
  out.evaluation = start;
  const auto begin = Clock::now();
  const bool limited = options.time_limit_s > 0;
  const auto deadline = begin + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(limited ? options.time_limit_s : 0));
  std::vector<std::vector<int>> orders = planner_device_orders(model.cluster(), options.max_device_orders);
  double all_orders = 1;
  for (size_t k = 2; k <= device_classes(model.cluster()).size(); ++k) all_orders *= double(k);
  if (double(orders.size()) < all_orders) out.proven_optimal = false;
  int most = std::min(model.num_devices(), model.num_layers());
  if (options.max_stages > 0) most = std::min(most, options.max_stages);
  // Largest micro-batches and fewest stages first: usually the shortest replays, so the bound
  // cuts early.
  std::vector<int> betas = microbatch_candidates(model.options().batch_size, options.microbatch_sizes);
  std::reverse(betas.begin(), betas.end());
  for (const std::vector<int>& order : orders)
    for (int beta : betas) {
      const planner_detail::RestBound rest = planner_detail::rest_bound(model, order, beta);
      for (int P = 1; P <= most; ++P) {
        Search s(model, options, order, beta, rest, P, out, deadline, limited);
        s.run();
        if (limited && Clock::now() > deadline) {
          out.proven_optimal = false;
          return out;
        }
      }
    }
  return out;
}

Result<PlannedByReplay> plan_by_replay(const CostModel& model, const PlannerOptions& options) {
  const auto begin = Clock::now();
  auto optimum = plan_optimal(model, options);
  if (!optimum) return optimum.error();
  PlannedByReplay out;
  out.stats = optimum->stats;
  if (!model.options().replay_schedule || model.options().latency_model != LatencyModel::pipeline) {
    out.evaluation = model.evaluate(optimum->plan);
    out.proven_optimal = optimum->proven_optimal;
    return out;
  }
  ReplayChoice choice = choose_by_replay(model, options, *optimum);
  out.stats = choice.stats;
  out.candidates = choice.candidates;
  out.optimum_replay_s = choice.optimum_replay_s;
  PlannerOptions rest = options;
  if (options.time_limit_s > 0) {
    // What is left of the time limit (at least a millisecond: the search then ends unproven).
    const double spent = std::chrono::duration<double>(Clock::now() - begin).count();
    rest.time_limit_s = std::max(1e-3, options.time_limit_s - spent);
  } else {
    rest.time_limit_s = options.replay_time_limit_s;
  }
  ReplaySearchResult searched = search_by_replay(model, rest, choice.evaluation);
  out.evaluation = std::move(searched.evaluation);
  out.proven_optimal = searched.proven_optimal;
  out.search = searched.stats;
  return out;
}

}  // namespace asteroid
