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
// SimGrid's network/TCP-gamma default (bytes): CM02 bounds a flow's rate by gamma / (2 x latency),
// the window of a TCP connection over its round trip.
constexpr double kTcpGamma = 4194304;

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

// Max-min fair rates (progressive filling) of the flows in their transfer phase; a flow's own bound
// is its TCP window over its round trip.
void share(std::vector<Active*>& flows, const std::vector<double>& capacity) {
  if (flows.empty()) return;
  std::vector<double> cap = capacity;
  std::vector<int> users(cap.size(), 0), used;  // used: the channels some flow crosses
  for (Active* f : flows)
    for (int c : f->flow->channels)
      if (users[c]++ == 0) used.push_back(c);
  std::vector<bool> fixed(flows.size(), false);
  size_t left = flows.size();
  while (left > 0) {
    double level = kInf;
    for (int c : used)
      if (users[c] > 0) level = std::min(level, std::max(0.0, cap[c]) / users[c]);
    for (size_t i = 0; i < flows.size(); ++i)
      if (!fixed[i] && flows[i]->flow->latency_s > 0)
        level = std::min(level, kTcpGamma / (2 * flows[i]->flow->latency_s));
    for (size_t i = 0; i < flows.size(); ++i) {
      if (fixed[i]) continue;
      Active& f = *flows[i];
      bool bottleneck = f.flow->latency_s > 0 && kTcpGamma / (2 * f.flow->latency_s) <= level;
      for (int c : f.flow->channels) bottleneck |= std::max(0.0, cap[c]) / users[c] <= level;
      if (!bottleneck) continue;
      f.rate = level;
      for (int c : f.flow->channels) cap[c] -= level, --users[c];
      fixed[i] = true;
      --left;
    }
  }
}

}  // namespace

ScheduleTiming schedule_latency(const std::vector<StepCost>& steps, int M, const NetworkUse& use) {
  const int S = int(steps.size());
  assert(S % 2 == 1 && int(use.comm.size()) == S && int(use.ring.size()) == S);
  // done[dir][s][m]: step s finished micro-batch m forward (0) / backward (1).
  std::vector<std::vector<bool>> done[2] = {std::vector<std::vector<bool>>(S, std::vector<bool>(M, false)),
                                            std::vector<std::vector<bool>>(S, std::vector<bool>(M, false))};
  std::vector<std::vector<double>> b_end(S, std::vector<double>(M, 0.0));
  std::vector<std::vector<std::pair<bool, int>>> order(S);  // compute steps: (is_backward, micro-batch)
  for (int s = 0; s < S; s += 2) {
    int warmup = std::min(M, S - s);
    int f = 0, b = 0;
    for (; f < warmup; ++f) order[s].push_back({false, f});
    while (b < M) {
      order[s].push_back({true, b++});
      if (f < M) order[s].push_back({false, f++});
    }
  }
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
  std::vector<std::vector<int>> pending[2] = {std::vector<std::vector<int>>(S, std::vector<int>(M, 0)),
                                              std::vector<std::vector<int>>(S, std::vector<int>(M, 0))};
  std::vector<int> ring_step(S, 0), ring_left(S, 0);
  std::vector<double> end(S, 0.0);  // when the step's round is over (its all-reduce included)

  std::vector<Active> active;
  std::vector<size_t> next(S, 0);
  std::vector<bool> running(S, false);
  std::vector<double> run_end(S, 0.0);
  // Compute steps whose next operation may have become ready, and the running ones by end time:
  // each event touches only the steps next to what changed (deep pipelines have thousands).
  std::vector<int> check;
  for (int s = 0; s < S; s += 2) check.push_back(s);
  std::priority_queue<std::pair<double, int>, std::vector<std::pair<double, int>>, std::greater<>> ends;
  int remaining = 0;
  for (int s = 0; s < S; ++s) remaining += 2 * M + (s % 2 == 0 ? 1 : 0);
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
    // The stage's round ends with its all-reduce: ring steps on the network, or T_a.
    if (use.ring[s].steps > 0 && !use.ring[s].flows.empty()) {
      ring_step[s] = 1;
      start_ring_step(s);
    } else {
      end[s] = t + steps[s].T_a;
      --remaining;
    }
  };
  auto message_done = [&](int s, int dir, int m) {
    done[dir][s][m] = true;
    if (dir == 1) b_end[s][m] = t;
    --remaining;
    check.push_back(dir == 0 ? s + 1 : s - 1);
  };
  // A message of comm step s is sent: its flows join their senders' queues.
  auto send = [&](int s, int dir, int m) {
    const auto& flows = dir == 0 ? use.comm[s].forward : use.comm[s].backward;
    pending[dir][s][m] = int(flows.size());
    for (const NetFlow& f : flows) {
      int q = queue_of.at({s, dir, f.sender});
      queues[q].push_back({m, &f});
      wake(q);
    }
    if (flows.empty()) message_done(s, dir, m);
  };

  while (remaining > 0) {
    for (int s : check) {
      if (running[s] || next[s] >= order[s].size()) continue;
      auto [backward, m] = order[s][next[s]];
      bool ready =
          !backward ? (s == 0 || done[0][s - 1][m]) : (s == S - 1 ? done[0][s][m] : done[1][s + 1][m]);
      if (!ready) continue;
      running[s] = true;
      run_end[s] = t + (backward ? steps[s].E_b : steps[s].E_f);
      ends.push({run_end[s], s});
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
      int s = ends.top().second;
      ends.pop();
      auto [backward, m] = order[s][next[s]++];
      check.push_back(s);
      running[s] = false;
      done[backward][s][m] = true;
      --remaining;
      if (backward) b_end[s][m] = t;
      if (!backward && s + 1 < S) send(s + 1, 0, m);
      if (backward && s > 0) send(s - 1, 1, m);
      if (backward && next[s] == order[s].size()) compute_finished(s);
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
      if (--pending[a.dir][a.step][a.microbatch] == 0) message_done(a.step, a.dir, a.microbatch);
    }
    active.swap(still);
    for (int s : rings_done) {
      if (ring_step[s] < use.ring[s].steps) {
        ++ring_step[s];
        start_ring_step(s);
      } else {
        end[s] = t;
        --remaining;
      }
    }
  }
  ScheduleTiming timing;
  timing.last_backward_end_s.resize(S);
  for (int s = 0; s < S; ++s) {
    timing.last_backward_end_s[s] = *std::max_element(b_end[s].begin(), b_end[s].end());
    timing.latency_s = std::max({timing.latency_s, timing.last_backward_end_s[s], end[s]});
  }
  return timing;
}

}  // namespace asteroid
