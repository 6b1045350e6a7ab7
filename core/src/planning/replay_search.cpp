#include "asteroid/planning/replay_search.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>

#include "asteroid/planning/replay_bound.hpp"
#include "asteroid/planning/replay_choice.hpp"
#include "asteroid/model/schedule.hpp"
#include "asteroid/planning/survivors.hpp"
#include "planning/planner_common.hpp"
#include "planning/replay_floors.hpp"
#include "planning/replay_orders.hpp"

namespace asteroid {

double optimality_gap(double replay_s, double lower_bound_s) {
  if (!(lower_bound_s > 0)) return std::numeric_limits<double>::infinity();
  return std::max(0.0, (replay_s - lower_bound_s) / lower_bound_s);
}

std::string optimality_text(bool proven_optimal, double value_s, double lower_bound_s) {
  if (proven_optimal) return "proven optimal";
  const double gap = optimality_gap(value_s, lower_bound_s);
  if (!std::isfinite(gap)) return "not proven optimal (no bound known)";
  char buf[96];
  // Two significant digits below 1%: "within 0.0%" would read as optimal.
  std::snprintf(buf, sizeof buf, gap < 0.01 ? "within %.2g%% of optimal (proven)" : "within %.1f%% of optimal (proven)",
                gap * 100);
  return buf;
}

namespace {

using replay_detail::ClassOrders;
using replay_detail::DevState;
using replay_detail::NetFloors;
using replay_detail::Work;
using replay_detail::net_floors;
using replay_detail::rest_of;
using replay_detail::work_of;
using Clock = std::chrono::steady_clock;
constexpr double kInf = std::numeric_limits<double>::infinity();
// A margin for rounding: the bound adds what the replay adds in another order.
constexpr double kRounding = 1e-9;
// Priced children held at once (16 bytes each, about 64 MiB) before the search stops opening jobs.
constexpr long long kMaxStoredChildren = 4'000'000;


struct Shared {
  const CostModel& m;
  const PlannerOptions& o;
  const ClassOrders& classes;
  const NetFloors& net;
  ReplaySearchResult& out;
  Clock::time_point deadline;
  bool limited;
  long long max_partial_plans;
  bool cut = false;
  unsigned ticks = 0;
  long long stored = 0;  // priced children held by every job
  // enumerate_by_replay(_lowering): every complete plan replaying within the ceiling goes to
  // `visit`, and the cuts use the ceiling in place of the best replay (so none of those plans is
  // cut). The ceiling is read live: the caller may lower it as it finds better plans.
  const std::function<void(const Evaluation&)>* visit = nullptr;
  const double* lowering = nullptr;

  double current_ceiling() const { return *lowering; }
  double best() const {
    if (visit) return current_ceiling() * (1 + 4 * kRounding);
    return out.evaluation.feasible ? out.evaluation.schedule_latency_s : kInf;
  }
  bool out_of_time() {
    if (cut) return true;
    if (max_partial_plans > 0 && out.stats.partial_plans >= max_partial_plans) cut = true;
    if (limited && (++ticks & 15) == 0 && Clock::now() > deadline) cut = true;
    return cut;
  }
};

// One job: a micro-batch size and a stage count, searched depth first, lowest bound first, in
// steps that can stop and resume.
class Job {
 public:
  Job(Shared& sh, int beta, const Work& work, int stages) : sh_(sh), work_(work), beta_(beta), P_(stages) {
    M_ = sh.m.options().batch_size / beta;
    net_ = !sh.m.options().ignore_network;
    plan_.microbatch_size = beta;
    plan_.microbatches = M_;
    if (net_) {
      for (const Channel& ch : sh.m.cluster().network->channels()) use_.capacity_Bps.push_back(ch.capacity_Bps);
      use_.comm.resize(size_t(schedule::pipeline_steps(P_)));
      use_.ring.resize(size_t(schedule::pipeline_steps(P_)));
      use_.members.resize(size_t(schedule::pipeline_steps(P_)));
    }
    // Before anything is priced: the busiest device does at least its part of all the work M times,
    // and the busiest stage's member its own, then its tail.
    double cap = 0;
    for (double c : work_.inverse_lambda) cap += c;
    Frame root;
    root.bound = std::max({cap > 0 ? M_ * beta_ * work_.after[0] / cap : 0, work_.stages_after(0, P_),
                           work_.stages_back_after(0, P_), work_.shared_out(0, P_, cap)});
    stack_.push_back(std::move(root));
  }

  bool done() const { return stack_.empty(); }

  // No plan of this job not yet replayed replays shorter (seconds; infinity when done).
  double bound() const {
    double b = kInf;
    for (const Frame& f : stack_) {
      if (!f.expanded)
        b = std::min(b, f.bound);
      else if (f.next < f.children.size())
        b = std::min(b, f.children[f.next].bound);
    }
    return b;
  }

  // One unit of work: price a partial plan's children, or visit the next child, or leave a
  // partial plan whose children are all visited or cut.
  void step() {
    Frame& f = stack_.back();
    if (!f.expanded) {
      expand(f);
      return;
    }
    const double best = sh_.best();
    if (f.next < f.children.size() && f.children[f.next].bound * (1 - kRounding) >= best) {
      release(f);
      f.next = f.children.size();  // sorted: the rest are cut too
    }
    if (f.next == f.children.size()) {
      release(f);
      stack_.pop_back();
      if (!stack_.empty()) pop_stage();
      return;
    }
    const Child c = f.children[f.next++];
    const Group& g = f.groups[size_t(c.group)];
    const int p = f.p;
    sh_.classes.between(f.state, g.end, devices_);
    place(p, f.l0, c.l1);
    if (!cost_.feasible) {  // priced feasible before: the same call
      pop_stage();
      return;
    }
    if (p == P_ - 1) {
      replay();
      pop_stage();
      return;
    }
    Frame next;
    next.p = p + 1;
    next.l0 = c.l1 + 1;
    next.state = g.end;
    next.bound = c.bound;
    stack_.push_back(std::move(next));
  }

  void release_all() {
    for (Frame& f : stack_) release(f);
  }

 private:
  struct Group {
    DevState end;
    int size = 0;
    double cap = 0;  // sum of 1 / lambda over its devices
  };
  struct Child {
    double bound;
    int group, l1;
  };
  struct Frame {
    int p = 0, l0 = 0;
    DevState state;
    double bound = 0;  // of every plan through this partial plan
    bool expanded = false;
    std::vector<Group> groups;
    std::vector<Child> children;  // sorted by bound
    size_t next = 0;
  };

  void release(Frame& f) {
    sh_.stored -= (long long)f.children.size();
    std::vector<Child>().swap(f.children);
    std::vector<Group>().swap(f.groups);
    f.next = 0;
  }

  // Every group from `s`: the next devices, branching into each class that may follow where one
  // runs out.
  void groups_from(const DevState& s, int left_after_needed, std::vector<Group>& out) {
    Group g;
    g.end = s;
    grow(g, left_after_needed, out);
  }
  void grow(Group& g, int need_left, std::vector<Group>& out) {
    const PlannerOptions& o = sh_.o;
    if (o.max_group_size > 0 && g.size >= o.max_group_size) return;
    DevState& st = g.end;
    auto take = [&](int d) {
      ++g.size;
      g.cap += work_.inverse_lambda[size_t(d)];
      if (sh_.classes.left(st) >= need_left) out.push_back(g);
      grow(g, need_left, out);
      --g.size;
      g.cap -= work_.inverse_lambda[size_t(d)];
    };
    if (st.cur >= 0 && st.used < int(sh_.classes.members(st.cur).size())) {
      ++st.used;
      take(sh_.classes.members(st.cur)[size_t(st.used) - 1]);
      --st.used;
      return;
    }
    for (int k = 0; k < sh_.classes.size(); ++k) {
      if (!sh_.classes.may_follow(st, k)) continue;
      const DevState saved = st;
      if (st.cur >= 0) st.done.push_back(st.cur);
      st.cur = k;
      st.used = 1;
      take(sh_.classes.members(k)[0]);
      st = saved;
    }
  }

  // Prices every child of frame `f` (stage f.p on layers from f.l0 and devices from f.state).
  void expand(Frame& f) {
    const int L = sh_.m.num_layers();
    const int p = f.p, after = P_ - p - 1;
    const bool last = after == 0;
    f.groups.clear();
    groups_from(f.state, after, f.groups);
    // The partial plan's chain ends, for pricing children cheaply before costing them.
    ReplayChainEnds ends;
    if (p > 0) replay_lower_bound(steps_, M_, use_, schedule::pipeline_steps(P_), {}, &ends, sh_.m.options().schedule);
    const double fixed = ends.reach + ends.back + ends.tail0;
    const double best = sh_.best();
    std::vector<Child> kids;
    for (size_t gi = 0; gi < f.groups.size(); ++gi) {
      const Group& g = f.groups[gi];
      if (last && sh_.o.use_all_devices && !sh_.classes.all_used(g.end)) continue;
      // The devices a later stage may use: those left after the group.
      const double cap_rest = rest_capacity(g.end);
      for (int l1 = last ? L - 1 : f.l0; l1 <= L - 1 - after; ++l1) {
        if (sh_.out_of_time()) {
          // Cut while pricing: the frame keeps its own bound, which holds for every child.
          f.groups.clear();
          return;
        }
        // Cheap, before costing: this stage's busiest member and the later stages' each do their
        // part of the work M times, between the chain's ends. The stage's part only grows with
        // l1 (then every later l1 is cut too), the later stages' only shrinks.
        const double own = M_ * beta_ * (work_.after[size_t(f.l0)] - work_.after[size_t(l1) + 1]) / g.cap;
        if (own + fixed >= best * (1 - kRounding)) break;
        // The same for the later stages, and their busiest member with its tail after the
        // chain's reach (both below the child's bound, whose chain ends are no shorter).
        const double rest_step =
            last ? 0 : (cap_rest > 0 ? beta_ * work_.after[size_t(l1) + 1] / cap_rest : kInf);
        if (M_ * rest_step + fixed >= best * (1 - kRounding)) continue;
        if (!last && ends.reach + work_.stages_after(l1 + 1, after) >= best * (1 - kRounding)) continue;
        sh_.classes.between(f.state, g.end, devices_);
        place(p, f.l0, l1);
        if (cost_.feasible) {
          const ReplayRest rest = rest_of(work_, sh_.net, beta_, P_, p, l1, devices_, cost_.shares, cap_rest);
          const double b = std::max(f.bound, replay_lower_bound(steps_, M_, use_, schedule::pipeline_steps(P_), rest, nullptr, sh_.m.options().schedule));
          if (b * (1 - kRounding) < best) kids.push_back({b, int(gi), l1});
        }
        pop_stage();
      }
    }
    std::stable_sort(kids.begin(), kids.end(), [](const Child& a, const Child& b) { return a.bound < b.bound; });
    f.children = std::move(kids);
    f.next = 0;
    f.expanded = true;
    sh_.stored += (long long)f.children.size();
    sh_.out.stats.peak_children = std::max(sh_.out.stats.peak_children, sh_.stored);
  }

  double rest_capacity(const DevState& s) const {
    double cap = 0;
    for (int k = 0; k < sh_.classes.size(); ++k) {
      if (k == s.cur || std::count(s.done.begin(), s.done.end(), k)) continue;
      for (int d : sh_.classes.members(k)) cap += work_.inverse_lambda[size_t(d)];
    }
    if (s.cur >= 0) {
      const std::vector<int>& mem = sh_.classes.members(s.cur);
      for (size_t i = size_t(s.used); i < mem.size(); ++i) cap += work_.inverse_lambda[size_t(mem[i])];
    }
    return cap;
  }

  // Prices stage p on layers [l0, l1] and devices_, and appends it with its steps (whatever the
  // outcome: pop_stage undoes it).
  void place(int p, int l0, int l1) {
    ++sh_.out.stats.partial_plans;
    const int g = int(devices_.size());
    if (sh_.o.share_rule == ShareRule::even) shares_ = planner_detail::even_shares(beta_, g);
    sh_.m.stage(cost_, l0, l1, devices_.data(), g, beta_, schedule::in_flight(sh_.m.options().schedule, M_, P_, p),
                sh_.o.share_rule == ShareRule::even ? shares_.data() : nullptr);
    StagePlan sp;
    sp.first_layer = l0;
    sp.last_layer = l1;
    sp.devices = devices_;
    sp.shares = cost_.shares;
    sp.recompute = cost_.recompute;  // the replay's members run the recompute (stage_network_use)
    plan_.stages.push_back(std::move(sp));
    if (!cost_.feasible) return;
    if (p > 0)
      steps_.push_back(sh_.m.communication_step(plan_.stages[size_t(p) - 1], plan_.stages[size_t(p)], beta_, p));
    steps_.push_back(sh_.m.compute_step(cost_, p));
    if (net_) sh_.m.stage_network_use(plan_, p, use_);
  }

  void pop_stage() {
    const int p = int(plan_.stages.size()) - 1;
    // Steps are there only for a stage that was feasible: 2p+1 of them with it.
    if (int(steps_.size()) == 2 * p + 1) steps_.resize(steps_.size() - (p > 0 ? 2 : 1));
    plan_.stages.pop_back();
  }

  void replay() {
    ++sh_.out.stats.replays;
    Evaluation e = sh_.m.evaluate(plan_);
    if (sh_.visit) {
      if (e.feasible && e.schedule_latency_s <= sh_.current_ceiling() * (1 + kRounding)) (*sh_.visit)(e);
      return;
    }
    if (e.feasible && e.schedule_latency_s < sh_.best()) {
      sh_.out.evaluation = std::move(e);
      sh_.out.improved = true;
    }
  }

  Shared& sh_;
  const Work& work_;
  int beta_, P_, M_ = 0;
  bool net_ = true;
  std::vector<Frame> stack_;
  Plan plan_;
  std::vector<StepCost> steps_;
  NetworkUse use_;
  StageCost cost_;
  std::vector<int> devices_, shares_;
};

}  // namespace

namespace {

// The jobs of the space (one per micro-batch size and stage count), run best first until every one
// is done or cut at sh.best(); returns the lowest bound of the jobs left (infinity: none left).
double run_jobs(const CostModel& model, const PlannerOptions& options, const NetFloors& net, Shared& sh) {
  int most = std::min(model.num_devices(), model.num_layers());
  if (options.max_stages > 0) most = std::min(most, options.max_stages);
  // Largest micro-batches and fewest stages first among equal bounds: usually the shortest
  // replays, so the bound cuts early.
  std::vector<int> betas = microbatch_candidates(model.options().batch_size, options.microbatch_sizes);
  std::reverse(betas.begin(), betas.end());
  std::vector<Work> works;
  works.reserve(betas.size());
  for (int beta : betas) works.push_back(work_of(model, beta, net, options.max_group_size));
  std::vector<Job> jobs;
  for (size_t b = 0; b < betas.size(); ++b)
    for (int P = 1; P <= most; ++P) jobs.emplace_back(sh, betas[b], works[b], P);

  // Best first across jobs: the lowest bound runs until it passes the next lowest (or, while the
  // priced children held are over their cap, until it is done, which frees them).
  std::vector<double> bounds(jobs.size());
  for (size_t j = 0; j < jobs.size(); ++j) bounds[j] = jobs[j].bound();
  while (!sh.out_of_time()) {
    size_t pick = jobs.size();
    double second = kInf;
    for (size_t j = 0; j < jobs.size(); ++j) {
      if (jobs[j].done()) continue;
      if (pick == jobs.size() || bounds[j] < bounds[pick]) {
        if (pick < jobs.size()) second = std::min(second, bounds[pick]);
        pick = j;
      } else {
        second = std::min(second, bounds[j]);
      }
    }
    if (pick == jobs.size() || bounds[pick] * (1 - kRounding) >= sh.best()) break;  // every job done or cut
    Job& job = jobs[pick];
    // A few steps at least, so that close bounds do not switch jobs at every step.
    for (int n = 0; !job.done() && !sh.out_of_time(); ++n) {
      job.step();
      if (n >= 16 && sh.stored < kMaxStoredChildren && job.bound() > second) break;
    }
    bounds[pick] = job.done() ? kInf : job.bound();
  }
  double lower = kInf;
  for (size_t j = 0; j < jobs.size(); ++j)
    if (!jobs[j].done()) lower = std::min(lower, bounds[j]);
  for (Job& j : jobs) j.release_all();
  return lower;
}

Clock::time_point deadline_of(const PlannerOptions& options) {
  const double limit = options.time_limit_s > 0 ? options.time_limit_s : 0;
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(limit));
}

}  // namespace

ReplaySearchResult search_by_replay(const CostModel& model, const PlannerOptions& options, const Evaluation& start,
                                    long long max_partial_plans) {
  ReplaySearchResult out;
  out.evaluation = start;
  const ClassOrders classes(model.cluster(), options.max_device_orders);
  const NetFloors net = net_floors(model);
  Shared sh{model, options, classes, net, out, deadline_of(options), options.time_limit_s > 0, max_partial_plans};
  const double left = run_jobs(model, options, net, sh);
  const double lower = std::min(sh.best(), left);
  out.proven_optimal = !sh.cut && classes.every_order() && out.evaluation.feasible;
  const double proven = !sh.cut && out.evaluation.feasible ? out.evaluation.schedule_latency_s : lower;
  out.lower_bound_s = classes.every_order() && std::isfinite(proven) ? proven : 0;
  return out;
}

bool enumerate_by_replay(const CostModel& model, const PlannerOptions& options, double max_replay_s,
                         const std::function<void(const Evaluation&)>& visit, ReplaySearchStats* stats) {
  // A fixed ceiling is a lowering one that never moves.
  return enumerate_by_replay_lowering(model, options, &max_replay_s, visit, stats);
}

bool enumerate_by_replay_lowering(const CostModel& model, const PlannerOptions& options, const double* max_replay_s,
                                  const std::function<void(const Evaluation&)>& visit, ReplaySearchStats* stats) {
  ReplaySearchResult out;
  const ClassOrders classes(model.cluster(), options.max_device_orders);
  const NetFloors net = net_floors(model);
  Shared sh{model, options, classes, net, out, deadline_of(options), options.time_limit_s > 0, 0};
  sh.visit = &visit;
  sh.lowering = max_replay_s;
  run_jobs(model, options, net, sh);
  if (stats) *stats = out.stats;
  return !sh.cut && classes.every_order();
}

double replay_partial_bound(const CostModel& model, const PlannerOptions& options, const Plan& partial,
                            int total_stages) {
  const int beta = partial.microbatch_size, M = model.options().batch_size / beta, P = total_stages;
  const NetFloors net = net_floors(model);
  const Work work = work_of(model, beta, net, options.max_group_size);
  double cap = 0;
  for (double c : work.inverse_lambda) cap += c;
  double bound = std::max({cap > 0 ? M * beta * work.after[0] / cap : 0, work.stages_after(0, P),
                           work.stages_back_after(0, P), work.shared_out(0, P, cap)});
  Plan plan;
  plan.microbatch_size = beta;
  plan.microbatches = M;
  std::vector<StepCost> steps;
  NetworkUse use;
  const bool with_net = !model.options().ignore_network;
  if (with_net) {
    for (const Channel& ch : model.cluster().network->channels()) use.capacity_Bps.push_back(ch.capacity_Bps);
    use.comm.resize(size_t(schedule::pipeline_steps(P)));
    use.ring.resize(size_t(schedule::pipeline_steps(P)));
    use.members.resize(size_t(schedule::pipeline_steps(P)));
  }
  std::vector<bool> used(size_t(model.num_devices()), false);
  StageCost cost;
  for (int p = 0; p < partial.num_stages(); ++p) {
    const StagePlan& given = partial.stages[size_t(p)];
    std::vector<int> shares;
    if (options.share_rule == ShareRule::even) shares = planner_detail::even_shares(beta, int(given.devices.size()));
    model.stage(cost, given.first_layer, given.last_layer, given.devices.data(), int(given.devices.size()), beta,
                schedule::in_flight(model.options().schedule, M, P, p), shares.empty() ? nullptr : shares.data(), nullptr, given.recompute);
    if (!cost.feasible) return kInf;
    StagePlan sp = given;
    sp.shares = cost.shares;
    sp.recompute = cost.recompute;
    plan.stages.push_back(sp);
    if (p > 0) steps.push_back(model.communication_step(plan.stages[size_t(p) - 1], plan.stages[size_t(p)], beta, p));
    steps.push_back(model.compute_step(cost, p));
    if (with_net) model.stage_network_use(plan, p, use);
    for (int d : sp.devices) used[size_t(d)] = true;
    double cap_rest = 0;
    for (size_t d = 0; d < used.size(); ++d)
      if (!used[d]) cap_rest += work.inverse_lambda[d];
    const ReplayRest rest = rest_of(work, net, beta, P, p, sp.last_layer, sp.devices, sp.shares, cap_rest);
    bound = std::max(bound, replay_lower_bound(steps, M, use, schedule::pipeline_steps(P), rest, nullptr, model.options().schedule));
  }
  return bound;
}

namespace {

// The cluster of the first half (rounded up) of each device class, and its devices' indices in the
// full one; empty when no class has two devices (nothing smaller of the same kinds).
std::vector<int> smaller_cluster_dead(const Cluster& c) {
  std::vector<int> dead;
  for (const std::vector<int>& k : device_classes(c))
    for (size_t i = (k.size() + 1) / 2; i < k.size(); ++i) dead.push_back(k[i]);
  return dead;
}

// How many times the cluster halves (smaller_cluster_dead) before no class has two devices: the
// levels of smaller clusters plan_by_replay plans below this one.
int smaller_levels(const Cluster& c) {
  int most = 0;
  for (const std::vector<int>& k : device_classes(c)) most = std::max(most, int(k.size()));
  int levels = 0;
  for (; most > 1; most = (most + 1) / 2) ++levels;
  return levels;
}

double seconds_left(Clock::time_point deadline) {
  return std::chrono::duration<double>(deadline - Clock::now()).count();
}

}  // namespace

Result<PlannedByReplay> plan_by_replay(const CostModel& model, const PlannerOptions& options) {
  const double limit_s = options.time_limit_s > 0 ? options.time_limit_s : options.replay_time_limit_s;
  const bool limited = limit_s > 0;
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(limit_s));
  // What is left of the limit for the next phase (at least a millisecond: it then ends unproven).
  auto left = [&](double share = 1.0) { return limited ? std::max(1e-3, share * seconds_left(deadline)) : 0.0; };
  PlannerOptions phase = options;
  phase.time_limit_s = left();
  const bool by_replay =
      model.options().replay_schedule && model.options().latency_model == LatencyModel::pipeline;
  // The smaller cluster first: its plan is a plan of this cluster too (its devices are the first
  // of each class), and the incumbent of the search here, so this cluster never ends worse than
  // it. Every level of the chain of halvings (this cluster, its half, the half's half, down to
  // one device per class) gets an equal share of the time, what a level leaves going to the next
  // one up: the small levels, which prove their plans soonest, are not starved (a third per
  // level left the k-th level down 1/3^k of the time, and a larger cluster then lost plans its
  // smaller levels find in their own runs).
  Evaluation smaller;
  if (by_replay) {
    const std::vector<int> dead = smaller_cluster_dead(model.cluster());
    if (!dead.empty()) {
      SurvivorModel half = survivors_model(model, dead);
      PlannerOptions o = options;
      const int below = smaller_levels(model.cluster());
      o.time_limit_s = left(double(below) / (below + 1));
      auto r = plan_by_replay(half.model, o);
      if (r && r->evaluation.feasible) smaller = model.evaluate(to_full_indices(r->evaluation.plan, half.to_full));
      phase.time_limit_s = left();
    }
  }
  auto optimum = plan_optimal(model, phase);
  if (!optimum && !smaller.feasible) return optimum.error();
  PlannedByReplay out;
  if (!by_replay) {
    out.stats = optimum->stats;
    out.evaluation = model.evaluate(optimum->plan);
    out.proven_optimal = optimum->proven_optimal;
    out.lower_bound_s = out.proven_optimal ? out.evaluation.round_latency_s : 0;
    return out;
  }
  Evaluation start;
  if (optimum) {
    phase.time_limit_s = left();
    ReplayChoice choice = choose_by_replay(model, phase, *optimum);
    out.stats = choice.stats;
    out.candidates = choice.candidates;
    out.optimum_replay_s = choice.optimum_replay_s;
    start = std::move(choice.evaluation);
  }
  if (smaller.feasible) {
    out.smaller_cluster_replay_s = smaller.schedule_latency_s;
    if (!start.feasible || smaller.schedule_latency_s < start.schedule_latency_s) start = std::move(smaller);
  }
  phase.time_limit_s = left();
  ReplaySearchResult searched = search_by_replay(model, phase, start);
  if (!searched.evaluation.feasible) return Error{"", "", "no plan found within the planner's time limit"};
  out.evaluation = std::move(searched.evaluation);
  out.proven_optimal = searched.proven_optimal;
  out.lower_bound_s = searched.lower_bound_s;
  out.search = searched.stats;
  return out;
}

}  // namespace asteroid
