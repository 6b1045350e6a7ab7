// The 1F1B replay on the network graph: every message and every ring step of an all-reduce is a set
// of flows on the graph's channels, shared max-min fairly as SimGrid's CM02 model shares them
// (pipeline_schedule.hpp).
#include <algorithm>
#include <cassert>
#include <deque>
#include <limits>
#include <map>
#include <queue>

#include "asteroid/pipeline_schedule.hpp"

namespace asteroid {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

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

// CM02's sharing penalty of a flow: its route's latency, or 1 without one (SimGrid starts a flow of
// no latency at penalty 1 and never changes it). On a channel, rates go as 1 / penalty.
double penalty(const NetFlow& f) { return f.latency_s > 0 ? f.latency_s : 1.0; }

// Weighted max-min rates (progressive filling) of the flows in their transfer phase, as SimGrid's
// CM02 solves them: each flow's rate is level / penalty, bounded by its TCP window over its round
// trip; the level rises until a channel is full or a flow meets its bound.
void share(std::vector<Active*>& flows, const std::vector<double>& capacity) {
  if (flows.empty()) return;
  std::vector<double> cap = capacity;
  std::vector<double> weight(cap.size(), 0.0);  // per channel: sum of 1 / penalty of its unfixed flows
  std::vector<int> users(cap.size(), 0), used;  // unfixed flows per channel; the channels some flow crosses
  for (Active* f : flows)
    for (int c : f->flow->channels) {
      if (users[c]++ == 0) used.push_back(c);
      weight[c] += 1 / penalty(*f->flow);
    }
  std::vector<bool> fixed(flows.size(), false);
  size_t left = flows.size();
  while (left > 0) {
    double level = kInf;
    for (int c : used)
      if (users[c] > 0) level = std::min(level, std::max(0.0, cap[c]) / weight[c]);
    for (size_t i = 0; i < flows.size(); ++i)
      if (!fixed[i]) level = std::min(level, tcp_window_rate_Bps(*flows[i]->flow) * penalty(*flows[i]->flow));
    for (size_t i = 0; i < flows.size(); ++i) {
      if (fixed[i]) continue;
      Active& f = *flows[i];
      const double w = 1 / penalty(*f.flow);
      // Compared in the level's terms, as computed above, so that the flow that set it is fixed.
      bool bottleneck = tcp_window_rate_Bps(*f.flow) * penalty(*f.flow) <= level;
      for (int c : f.flow->channels) bottleneck |= std::max(0.0, cap[c]) / weight[c] <= level;
      if (!bottleneck) continue;
      f.rate = level * w;
      for (int c : f.flow->channels) cap[c] -= f.rate, weight[c] -= w, --users[c];
      fixed[i] = true;
      --left;
    }
  }
}

}  // namespace

ScheduleTiming schedule_latency(const std::vector<StepCost>& steps, int M, const NetworkUse& use) {
  const int S = int(steps.size());
  assert(S % 2 == 1 && int(use.comm.size()) == S && int(use.ring.size()) == S);
  // Compute units: each member of each compute step, with its own 1F1B order and times. Without
  // members (a caller that has none), a compute step is one unit with the step's times.
  struct Unit {
    int step = 0, device = -1;
    double fwd_s = 0, bwd_s = 0;
    size_t next = 0;  // index into the step's order
    bool running = false;
    std::vector<bool> fwd_done;
    std::vector<int> in_left[2];  // per micro-batch: flows still to land, forward / backward
  };
  std::vector<Unit> units;
  std::vector<std::vector<int>> units_of(S);
  std::map<int, int> unit_of_device;
  for (int s = 0; s < S; s += 2) {
    const bool has = int(use.members.size()) == S && !use.members[s].devices.empty();
    const int g = has ? int(use.members[s].devices.size()) : 1;
    for (int i = 0; i < g; ++i) {
      Unit u;
      u.step = s;
      u.device = has ? use.members[s].devices[i] : -1;
      u.fwd_s = has ? use.members[s].fwd_s[i] : steps[s].E_f;
      u.bwd_s = has ? use.members[s].bwd_s[i] : steps[s].E_b;
      u.fwd_done.assign(M, false);
      for (auto& v : u.in_left) v.assign(M, 0);
      if (u.device >= 0) unit_of_device[u.device] = int(units.size());
      units_of[s].push_back(int(units.size()));
      units.push_back(std::move(u));
    }
  }
  // The unit a flow lands on: its receiver, or the step's only unit.
  auto receiver_unit = [&](const NetFlow& f, int step) {
    auto it = unit_of_device.find(f.receiver);
    return it != unit_of_device.end() && units[it->second].step == step ? it->second : units_of[step][0];
  };
  // The flows a unit sends after a forward (dir 0) or backward (dir 1): those of its device, or all
  // when the step has a single unit.
  auto sends_from = [&](const NetFlow& f, const Unit& u) { return u.device < 0 || f.sender == u.device; };
  for (int s = 1; s < S; s += 2)
    for (int dir = 0; dir < 2; ++dir)
      for (const NetFlow& f : dir == 0 ? use.comm[s].forward : use.comm[s].backward) {
        Unit& r = units[receiver_unit(f, dir == 0 ? s + 1 : s - 1)];
        for (int m = 0; m < M; ++m) ++r.in_left[dir][m];
      }
  const std::vector<std::vector<std::pair<bool, int>>> order = one_f_one_b_order(S, M);
  // A device sends one message at a time per direction: one queue per (step, direction, sender).
  std::map<std::tuple<int, int, int>, int> queue_of;
  std::vector<std::deque<std::pair<int, const NetFlow*>>> queues;  // (micro-batch, flow)
  std::vector<std::pair<int, int>> queue_step;                     // (step, direction)
  std::vector<bool> queue_busy;
  for (int s = 1; s < S; s += 2)
    for (int dir = 0; dir < 2; ++dir)
      for (const NetFlow& f : dir == 0 ? use.comm[s].forward : use.comm[s].backward)
        if (queue_of.emplace(std::make_tuple(s, dir, f.sender), int(queues.size())).second) {
          queues.emplace_back();
          queue_step.push_back({s, dir});
          queue_busy.push_back(false);
        }
  std::vector<int> waiting;  // idle queues with a flow to start
  std::vector<bool> is_waiting(queues.size(), false);
  auto wake = [&](int q) {
    if (!queue_busy[q] && !queues[q].empty() && !is_waiting[q]) is_waiting[q] = true, waiting.push_back(q);
  };
  std::vector<double> last_backward(S, 0.0);  // per step: its last backward op or gradient message
  std::vector<int> ring_step(S, 0), ring_left(S, 0), members_left(S, 0);
  for (int s = 0; s < S; s += 2) members_left[s] = int(units_of[s].size());
  std::vector<double> end(S, 0.0);  // when the step's round is over (its all-reduce included)

  std::vector<Active> active;
  std::vector<double> run_end(units.size(), 0.0);
  // Units whose next operation may have become ready, and the running ones by end time: each event
  // touches only the units next to what changed (deep pipelines have thousands).
  std::vector<int> check(units.size());
  for (size_t u = 0; u < units.size(); ++u) check[u] = int(u);
  std::priority_queue<std::pair<double, int>, std::vector<std::pair<double, int>>, std::greater<>> ends;
  long long ops_left = (long long)units.size() * 2 * M;
  int stages_left = (S + 1) / 2;
  double t = 0;

  auto start_ring_step = [&](int s) {
    for (const NetFlow& f : use.ring[s].flows) {
      Active a;
      a.flow = &f;
      a.step = s;
      a.dir = 2;
      a.until = t + f.latency_s;
      a.remaining = f.bytes;
      active.push_back(a);
    }
    ring_left[s] = int(use.ring[s].flows.size());
  };
  auto compute_finished = [&](int s) {
    // The stage's round ends with its all-reduce, once its last member is done: ring steps on the
    // network, or T_a.
    if (--members_left[s] > 0) return;
    if (use.ring[s].steps > 0 && !use.ring[s].flows.empty()) {
      ring_step[s] = 1;
      start_ring_step(s);
    } else {
      end[s] = t + steps[s].T_a + steps[s].T_o;
      --stages_left;
    }
  };
  // A unit's operation ended: its flows of the next (forward) or previous (backward) communication
  // step join their senders' queues.
  auto send = [&](const Unit& u, int dir, int m) {
    const int s = dir == 0 ? u.step + 1 : u.step - 1;
    if (s < 0 || s >= S) return;
    for (const NetFlow& f : dir == 0 ? use.comm[s].forward : use.comm[s].backward) {
      if (!sends_from(f, u)) continue;
      int q = queue_of.at({s, dir, f.sender});
      queues[q].push_back({m, &f});
      wake(q);
    }
  };

  while (ops_left > 0 || stages_left > 0) {
    for (int ui : check) {
      Unit& u = units[ui];
      const int s = u.step;
      if (u.running || u.next >= order[s].size()) continue;
      auto [backward, m] = order[s][u.next];
      bool ready = !backward ? u.in_left[0][m] == 0 : (s == S - 1 ? u.fwd_done[m] : u.in_left[1][m] == 0);
      if (!ready) continue;
      u.running = true;
      run_end[ui] = t + (backward ? u.bwd_s : u.fwd_s);
      ends.push({run_end[ui], ui});
    }
    check.clear();
    for (int q : waiting) {
      is_waiting[q] = false;
      auto [m, f] = queues[q].front();
      queues[q].pop_front();
      Active a;
      a.flow = f;
      a.step = queue_step[q].first;
      a.dir = queue_step[q].second;
      a.microbatch = m;
      a.queue = q;
      a.until = t + f->latency_s;
      a.remaining = f->bytes;
      active.push_back(a);
      queue_busy[q] = true;
    }
    waiting.clear();
    std::vector<Active*> moving;
    for (Active& a : active)
      if (!a.in_latency) moving.push_back(&a);
    share(moving, use.capacity_Bps);

    double next_t = ends.empty() ? kInf : ends.top().first;
    for (Active& a : active) {
      a.end = a.in_latency ? kInf : a.remaining <= 0 ? t : a.rate > 0 ? t + a.remaining / a.rate : kInf;
      next_t = std::min(next_t, a.in_latency ? a.until : a.end);
    }
    assert(next_t < kInf && "the 1F1B order cannot deadlock on a chain");
    if (!(next_t < kInf)) break;
    next_t = std::max(next_t, t);
    for (Active* a : moving) a->remaining -= a->rate * (next_t - t);
    t = next_t;

    while (!ends.empty() && ends.top().first <= t) {
      int ui = ends.top().second;
      ends.pop();
      Unit& u = units[ui];
      auto [backward, m] = order[u.step][u.next++];
      check.push_back(ui);
      u.running = false;
      --ops_left;
      if (!backward) u.fwd_done[m] = true;
      if (backward) last_backward[u.step] = std::max(last_backward[u.step], t);
      send(u, backward ? 1 : 0, m);
      if (backward && u.next == order[u.step].size()) compute_finished(u.step);
    }
    std::vector<Active> still;
    std::vector<int> rings_done;
    for (Active& a : active) {
      // A transfer ends at the time computed for it (what is left then is rounding), or right
      // after its latency when it has no bytes.
      bool ended = !a.in_latency ? a.end <= t : a.until <= t && a.remaining <= 0;
      if (a.in_latency && a.until <= t) a.in_latency = false;
      if (!ended) {
        still.push_back(a);
        continue;
      }
      if (a.dir == 2) {
        if (--ring_left[a.step] == 0) rings_done.push_back(a.step);
        continue;
      }
      queue_busy[a.queue] = false;
      wake(a.queue);
      if (a.dir == 1) last_backward[a.step] = std::max(last_backward[a.step], t);
      int ri = receiver_unit(*a.flow, a.dir == 0 ? a.step + 1 : a.step - 1);
      if (--units[ri].in_left[a.dir][a.microbatch] == 0) check.push_back(ri);
    }
    active.swap(still);
    for (int s : rings_done) {
      if (ring_step[s] < use.ring[s].steps) {
        ++ring_step[s];
        start_ring_step(s);
      } else {
        end[s] = t + steps[s].T_o;  // the optimizer step after the ring
        --stages_left;
      }
    }
  }
  ScheduleTiming timing;
  timing.last_backward_end_s = last_backward;
  for (int s = 0; s < S; ++s) timing.latency_s = std::max({timing.latency_s, last_backward[s], end[s]});
  return timing;
}

}  // namespace asteroid
