// The 1F1B replay on the network graph: every message and every ring step of an all-reduce is a set
// of flows on the graph's channels, shared max-min fairly as SimGrid's CM02 model shares them
// (pipeline_schedule.hpp, max_min_share.hpp).
//
// A fluid event simulation, one event per turn of FlowReplay::run's loop: start what became ready,
// share the channels, move the clock to the next end, and finish what ended there.
#include <algorithm>
#include <cassert>
#include <deque>
#include <limits>
#include <map>
#include <queue>
#include <tuple>

#include "asteroid/model/pipeline_schedule.hpp"
#include "asteroid/model/schedule.hpp"
#include "model/max_min_share.hpp"

namespace asteroid {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// CM02's sharing penalty of a flow: its route's latency, or 1 without one (SimGrid starts a flow of
// no latency at penalty 1 and never changes it). On a channel, rates go as 1 / penalty.
double penalty(const NetFlow& f) { return f.latency_s > 0 ? f.latency_s : 1.0; }

// One transfer under way: a message's flow (dir 0 forward, 1 backward) or a ring step's (dir 2).
struct Active {
  const NetFlow* flow = nullptr;
  int step = 0, dir = 0, microbatch = 0;  // dir 2: a ring step of `step`'s all-reduce
  int queue = -1;                         // the sender queue it came from, -1 for a ring flow
  bool in_latency = true;
  double until = 0;
  double remaining = 0;  // bytes
  double rate = 0;       // bytes per second
  double end = 0;        // when the transfer ends at this rate
};

// A compute unit: one member of a compute step, with its own 1F1B order and times. Without members
// (a caller that has none), a compute step is one unit with the step's times.
struct Unit {
  int step = 0, device = -1;
  double fwd_s = 0, bwd_s = 0;
  size_t next = 0;  // index into the step's order
  bool running = false;
  std::vector<bool> fwd_done;
  std::vector<int> in_left[2];  // per micro-batch: flows still to land, forward / backward
};

class FlowReplay {
 public:
  FlowReplay(const std::vector<StepCost>& steps, int M, const NetworkUse& use, PipelineSchedule kind)
      : steps_(steps), use_(use), S_(int(steps.size())), M_(M), order_(schedule::pipeline_order(kind, M, S_)) {
    make_units();
    make_queues();
  }

  ScheduleTiming run() {
    while (ops_left_ > 0 || stages_left_ > 0) {
      start_ready_operations();
      start_waiting_messages();
      const double next_t = share_and_next_event();
      assert(next_t < kInf && "the 1F1B order cannot deadlock on a chain");
      if (!(next_t < kInf)) break;
      advance_to(next_t);
      finish_operations();
      finish_transfers();
    }
    ScheduleTiming timing;
    timing.last_backward_end_s = last_backward_;
    for (int s = 0; s < S_; ++s) timing.latency_s = std::max({timing.latency_s, last_backward_[s], end_[s]});
    return timing;
  }

 private:
  // The units of every compute step, and how many flows each waits for per micro-batch.
  void make_units() {
    units_of_.resize(size_t(S_));
    for (int s = 0; s < S_; s += 2) {
      const bool has = int(use_.members.size()) == S_ && !use_.members[s].devices.empty();
      const int g = has ? int(use_.members[s].devices.size()) : 1;
      for (int i = 0; i < g; ++i) {
        Unit u;
        u.step = s;
        u.device = has ? use_.members[s].devices[i] : -1;
        u.fwd_s = has ? use_.members[s].fwd_s[i] : steps_[s].E_f;
        u.bwd_s = has ? use_.members[s].bwd_s[i] : steps_[s].E_b;
        u.fwd_done.assign(M_, false);
        for (auto& v : u.in_left) v.assign(M_, 0);
        if (u.device >= 0) unit_of_device_[u.device] = int(units_.size());
        units_of_[s].push_back(int(units_.size()));
        units_.push_back(std::move(u));
      }
    }
    for (int s = 1; s < S_; s += 2)
      for (int dir = 0; dir < 2; ++dir)
        for (const NetFlow& f : flows(s, dir)) {
          Unit& r = units_[receiver_unit(f, dir == 0 ? s + 1 : s - 1)];
          for (int m = 0; m < M_; ++m) ++r.in_left[dir][m];
        }
    run_end_.assign(units_.size(), 0.0);
    check_.resize(units_.size());
    for (size_t u = 0; u < units_.size(); ++u) check_[u] = int(u);
    ops_left_ = (long long)units_.size() * 2 * M_;
    stages_left_ = (S_ + 1) / 2;
    last_backward_.assign(size_t(S_), 0.0);
    ring_step_.assign(size_t(S_), 0);
    ring_left_.assign(size_t(S_), 0);
    members_left_.assign(size_t(S_), 0);
    for (int s = 0; s < S_; s += 2) members_left_[s] = int(units_of_[s].size());
    end_.assign(size_t(S_), 0.0);
  }

  // A device sends one message at a time per direction: one queue per (step, direction, sender).
  void make_queues() {
    for (int s = 1; s < S_; s += 2)
      for (int dir = 0; dir < 2; ++dir)
        for (const NetFlow& f : flows(s, dir))
          if (queue_of_.emplace(std::make_tuple(s, dir, f.sender), int(queues_.size())).second) {
            queues_.emplace_back();
            queue_step_.push_back({s, dir});
            queue_busy_.push_back(false);
          }
    is_waiting_.assign(queues_.size(), false);
  }

  const std::vector<NetFlow>& flows(int s, int dir) const {
    return dir == 0 ? use_.comm[s].forward : use_.comm[s].backward;
  }

  // The unit a flow lands on: its receiver, or the step's only unit.
  int receiver_unit(const NetFlow& f, int step) const {
    auto it = unit_of_device_.find(f.receiver);
    return it != unit_of_device_.end() && units_[it->second].step == step ? it->second : units_of_[step][0];
  }

  // The flows a unit sends after a forward (dir 0) or backward (dir 1): those of its device, or all
  // when the step has a single unit.
  static bool sends_from(const NetFlow& f, const Unit& u) { return u.device < 0 || f.sender == u.device; }

  void wake(int q) {
    if (!queue_busy_[q] && !queues_[q].empty() && !is_waiting_[q]) is_waiting_[q] = true, waiting_.push_back(q);
  }

  // Each unit that may have become ready starts its next operation if its inputs have landed.
  void start_ready_operations() {
    for (int ui : check_) {
      Unit& u = units_[ui];
      const int s = u.step;
      if (u.running || u.next >= order_[s].size()) continue;
      auto [backward, m] = order_[s][u.next];
      bool ready = !backward ? u.in_left[0][m] == 0 : (s == S_ - 1 ? u.fwd_done[m] : u.in_left[1][m] == 0);
      if (!ready) continue;
      u.running = true;
      run_end_[ui] = t_ + (backward ? u.bwd_s : u.fwd_s);
      ends_.push({run_end_[ui], ui});
    }
    check_.clear();
  }

  // Each idle sender queue with a message starts its first flow: its latency phase.
  void start_waiting_messages() {
    for (int q : waiting_) {
      is_waiting_[q] = false;
      auto [m, f] = queues_[q].front();
      queues_[q].pop_front();
      Active a;
      a.flow = f;
      a.step = queue_step_[q].first;
      a.dir = queue_step_[q].second;
      a.microbatch = m;
      a.queue = q;
      a.until = t_ + f->latency_s;
      a.remaining = f->bytes;
      active_.push_back(a);
      queue_busy_[q] = true;
    }
    waiting_.clear();
  }

  // The flows past their latency share the channels; returns when the next operation or transfer
  // ends at these rates.
  double share_and_next_event() {
    moving_.clear();
    for (Active& a : active_)
      if (!a.in_latency) moving_.push_back(&a);
    if (!moving_.empty()) {
      shared_.resize(moving_.size());
      for (size_t i = 0; i < moving_.size(); ++i) {
        const NetFlow& f = *moving_[i]->flow;
        shared_[i] = {f.channels.data(), int(f.channels.size()), penalty(f), tcp_window_rate_Bps(f)};
      }
      max_min_rates(shared_, use_.capacity_Bps, rates_);
      for (size_t i = 0; i < moving_.size(); ++i) moving_[i]->rate = rates_[i];
    }
    double next_t = ends_.empty() ? kInf : ends_.top().first;
    for (Active& a : active_) {
      a.end = a.in_latency ? kInf : a.remaining <= 0 ? t_ : a.rate > 0 ? t_ + a.remaining / a.rate : kInf;
      next_t = std::min(next_t, a.in_latency ? a.until : a.end);
    }
    return next_t;
  }

  void advance_to(double next_t) {
    next_t = std::max(next_t, t_);
    for (Active* a : moving_) a->remaining -= a->rate * (next_t - t_);
    t_ = next_t;
  }

  // Operations that end now: their unit moves on, and their messages join their senders' queues.
  void finish_operations() {
    while (!ends_.empty() && ends_.top().first <= t_) {
      int ui = ends_.top().second;
      ends_.pop();
      Unit& u = units_[ui];
      auto [backward, m] = order_[u.step][u.next++];
      check_.push_back(ui);
      u.running = false;
      --ops_left_;
      if (!backward) u.fwd_done[m] = true;
      if (backward) last_backward_[u.step] = std::max(last_backward_[u.step], t_);
      send(u, backward ? 1 : 0, m);
      if (backward && u.next == order_[u.step].size()) compute_finished(u.step);
    }
  }

  // A unit's operation ended: its flows of the next (forward) or previous (backward) communication
  // step join their senders' queues.
  void send(const Unit& u, int dir, int m) {
    const int s = dir == 0 ? u.step + 1 : u.step - 1;
    if (s < 0 || s >= S_) return;
    for (const NetFlow& f : flows(s, dir)) {
      if (!sends_from(f, u)) continue;
      int q = queue_of_.at({s, dir, f.sender});
      queues_[q].push_back({m, &f});
      wake(q);
    }
  }

  // The stage's round ends with its all-reduce, once its last member is done: ring steps on the
  // network, or T_a.
  void compute_finished(int s) {
    if (--members_left_[s] > 0) return;
    if (use_.ring[s].steps > 0 && !use_.ring[s].flows.empty()) {
      ring_step_[s] = 1;
      start_ring_step(s);
    } else {
      end_[s] = t_ + steps_[s].T_a + steps_[s].T_o;
      --stages_left_;
    }
  }

  void start_ring_step(int s) {
    for (const NetFlow& f : use_.ring[s].flows) {
      Active a;
      a.flow = &f;
      a.step = s;
      a.dir = 2;
      a.until = t_ + f.latency_s;
      a.remaining = f.bytes;
      active_.push_back(a);
    }
    ring_left_[s] = int(use_.ring[s].flows.size());
  }

  // Transfers that end now: a message's flow frees its queue and counts down its receiver's inputs;
  // the last flow of a ring step starts the next ring step, or the optimizer step after the last.
  void finish_transfers() {
    std::vector<Active> still;
    std::vector<int> rings_done;
    for (Active& a : active_) {
      // A transfer ends at the time computed for it (what is left then is rounding), or right
      // after its latency when it has no bytes.
      bool ended = !a.in_latency ? a.end <= t_ : a.until <= t_ && a.remaining <= 0;
      if (a.in_latency && a.until <= t_) a.in_latency = false;
      if (!ended) {
        still.push_back(a);
        continue;
      }
      if (a.dir == 2) {
        if (--ring_left_[a.step] == 0) rings_done.push_back(a.step);
        continue;
      }
      queue_busy_[a.queue] = false;
      wake(a.queue);
      if (a.dir == 1) last_backward_[a.step] = std::max(last_backward_[a.step], t_);
      int ri = receiver_unit(*a.flow, a.dir == 0 ? a.step + 1 : a.step - 1);
      if (--units_[ri].in_left[a.dir][a.microbatch] == 0) check_.push_back(ri);
    }
    active_.swap(still);
    for (int s : rings_done) {
      if (ring_step_[s] < use_.ring[s].steps) {
        ++ring_step_[s];
        start_ring_step(s);
      } else {
        end_[s] = t_ + steps_[s].T_o;  // the optimizer step after the ring
        --stages_left_;
      }
    }
  }

  const std::vector<StepCost>& steps_;
  const NetworkUse& use_;
  const int S_, M_;
  const std::vector<std::vector<schedule::Pass>> order_;  // per step (schedule.hpp)

  std::vector<Unit> units_;
  std::vector<std::vector<int>> units_of_;  // per compute step
  std::map<int, int> unit_of_device_;
  std::vector<double> run_end_;
  // Units whose next operation may have become ready, and the running ones by end time: each event
  // touches only the units next to what changed (deep pipelines have thousands).
  std::vector<int> check_;
  std::priority_queue<std::pair<double, int>, std::vector<std::pair<double, int>>, std::greater<>> ends_;

  std::map<std::tuple<int, int, int>, int> queue_of_;
  std::vector<std::deque<std::pair<int, const NetFlow*>>> queues_;  // (micro-batch, flow)
  std::vector<std::pair<int, int>> queue_step_;                     // (step, direction)
  std::vector<bool> queue_busy_;
  std::vector<int> waiting_;  // idle queues with a flow to start
  std::vector<bool> is_waiting_;

  std::vector<Active> active_;
  std::vector<Active*> moving_;  // the active flows past their latency, sharing the channels
  std::vector<SharedFlow> shared_;
  std::vector<double> rates_;

  std::vector<double> last_backward_;  // per step: its last backward op or gradient message
  std::vector<int> ring_step_, ring_left_, members_left_;
  std::vector<double> end_;  // per step: when the step's round is over (its all-reduce included)
  long long ops_left_ = 0;
  int stages_left_ = 0;
  double t_ = 0;
};

}  // namespace

ScheduleTiming schedule_latency(const std::vector<StepCost>& steps, int M, const NetworkUse& use,
                                PipelineSchedule kind) {
  assert(steps.size() % 2 == 1 && use.comm.size() == steps.size() && use.ring.size() == steps.size());
  return FlowReplay(steps, M, use, kind).run();
}

}  // namespace asteroid
