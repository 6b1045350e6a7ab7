#include "asteroid/planning/replay_bound.hpp"

#include <algorithm>
#include <limits>
#include <map>

#include "asteroid/model/schedule.hpp"

namespace asteroid {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// A flow's time alone on the network: its latency, then its bytes at the lower of its slowest
// channel and its TCP window over the round trip.
double alone_s(const NetFlow& f, const std::vector<double>& capacity) {
  double rate = tcp_window_rate_Bps(f);
  for (int c : f.channels) rate = std::min(rate, capacity[size_t(c)]);
  return f.latency_s + (f.bytes > 0 ? f.bytes / rate : 0.0);
}

}  // namespace

double replay_lower_bound(const std::vector<StepCost>& steps, int M, const NetworkUse& use, int total_steps,
                          const ReplayRest& rest, ReplayChainEnds* ends, PipelineSchedule kind) {
  const int S = int(steps.size());
  if (ends) *ends = ReplayChainEnds{};
  if (S == 0 || M <= 0) return 0;
  const bool net = !use.empty();
  // Per step: the least forward and backward time of one micro-batch (over the step's members or
  // flows), and the longest a member or a sender's queue is busy per micro-batch.
  std::vector<double> fmin(S, 0), bmin(S, 0), tail(S, 0);
  struct Unit {
    double f, b;
  };
  std::vector<std::vector<Unit>> units(S);
  std::vector<double> qf(S, 0), qb(S, 0);  // busiest sender per micro-batch, forward / backward
  for (int s = 0; s < S; ++s) {
    const StepCost& st = steps[size_t(s)];
    if (s % 2 == 0) {
      const bool members = net && int(use.members.size()) > s && !use.members[size_t(s)].devices.empty();
      if (members) {
        const StageMembers& m = use.members[size_t(s)];
        // Every member, an idle one (no share, times 0) too: the bound stays one, if looser.
        for (size_t i = 0; i < m.devices.size(); ++i) units[size_t(s)].push_back({m.fwd_s[i], m.bwd_s[i]});
      }
      if (units[size_t(s)].empty()) units[size_t(s)].push_back({st.E_f, st.E_b});
      fmin[size_t(s)] = bmin[size_t(s)] = kInf;
      for (const Unit& u : units[size_t(s)]) {
        fmin[size_t(s)] = std::min(fmin[size_t(s)], u.f);
        bmin[size_t(s)] = std::min(bmin[size_t(s)], u.b);
      }
      const RingFlows* ring = net && int(use.ring.size()) > s ? &use.ring[size_t(s)] : nullptr;
      if (ring && ring->steps > 0 && !ring->flows.empty()) {
        double slowest = 0;
        for (const NetFlow& f : ring->flows) slowest = std::max(slowest, alone_s(f, use.capacity_Bps));
        tail[size_t(s)] = st.T_o + ring->steps * slowest;
      } else {
        tail[size_t(s)] = st.T_a + st.T_o;
      }
      continue;
    }
    if (!net) {
      fmin[size_t(s)] = qf[size_t(s)] = st.E_f;
      bmin[size_t(s)] = qb[size_t(s)] = st.E_b;
      continue;
    }
    for (int dir = 0; dir < 2; ++dir) {
      const std::vector<NetFlow>& flows = dir == 0 ? use.comm[size_t(s)].forward : use.comm[size_t(s)].backward;
      std::map<int, double> per_sender;
      double least = flows.empty() ? 0 : kInf;
      for (const NetFlow& f : flows) {
        double t = alone_s(f, use.capacity_Bps);
        least = std::min(least, t);
        per_sender[f.sender] += t;
      }
      double busiest = 0;
      for (const auto& [sender, t] : per_sender) busiest = std::max(busiest, t);
      (dir == 0 ? fmin : bmin)[size_t(s)] = least;
      (dir == 0 ? qf : qb)[size_t(s)] = busiest;
    }
  }
  // A: micro-batch 0's earliest arrival at each step; D: from a step's last backward to stage 0's;
  // U: micro-batch 0's round trip through the later steps (those given).
  const bool partial = S < total_steps;
  std::vector<double> A(S, 0), D(S, 0), U(S, 0);
  if (partial) U[size_t(S) - 1] = rest.round_trip_s;
  for (int s = 1; s < S; ++s) {
    A[size_t(s)] = A[size_t(s) - 1] + fmin[size_t(s) - 1];
    D[size_t(s)] = D[size_t(s) - 1] + bmin[size_t(s) - 1];
  }
  for (int s = S - 2; s >= 0; --s) U[size_t(s)] = U[size_t(s) + 1] + fmin[size_t(s) + 1] + bmin[size_t(s) + 1];
  const double back_to_0 = tail[0];
  if (ends) *ends = {A[size_t(S) - 1] + fmin[size_t(S) - 1], D[size_t(S) - 1] + bmin[size_t(S) - 1], back_to_0};
  double bound = 0;
  for (int s = 0; s < S; ++s) {
    const double after = D[size_t(s)] + back_to_0;  // from this step's last backward to the round's end
    if (s % 2 == 0) {
      const double warmup = schedule::warmup(kind, M, total_steps, s);  // forwards before the first backward
      for (const Unit& u : units[size_t(s)]) {
        const double end_of_work = std::max(after, tail[size_t(s)]);
        bound = std::max(bound, A[size_t(s)] + M * (u.f + u.b) + end_of_work);
        bound = std::max(bound, A[size_t(s)] + u.f + U[size_t(s)] + M * u.b + std::max(0.0, M - warmup) * u.f +
                                    end_of_work);
      }
      continue;
    }
    bound = std::max(bound, A[size_t(s)] + M * qf[size_t(s)] + U[size_t(s)] + bmin[size_t(s)] + after);
    bound = std::max(bound, A[size_t(s)] + fmin[size_t(s)] + U[size_t(s)] + M * qb[size_t(s)] + after);
  }
  if (partial) {
    // The missing stages' members: after every given step forward and the next communication
    // step, before it and every given step backward.
    const double reach = A[size_t(S) - 1] + fmin[size_t(S) - 1] + rest.next_fwd_s;
    const double back = D[size_t(S) - 1] + bmin[size_t(S) - 1] + rest.next_bwd_s;
    bound = std::max(bound, reach + M * rest.step_s + back + back_to_0);
    bound = std::max(bound, reach + rest.stages_s);
    bound = std::max(bound, reach + rest.stages_back_s + back + back_to_0);
    // The next step's busiest sender: its M messages after micro-batch 0's forward on the last
    // given stage, then the last one's gradient back.
    bound = std::max(bound, reach - rest.next_fwd_s + M * rest.next_queue_s + back + back_to_0);
  }
  if (net) {
    // Each channel's bytes over the round at its capacity.
    std::vector<double> bytes(use.capacity_Bps.size(), 0.0);
    for (int s = 0; s < S; ++s) {
      if (s % 2 == 1) {
        for (const NetFlow& f : use.comm[size_t(s)].forward)
          for (int c : f.channels) bytes[size_t(c)] += M * f.bytes;
        for (const NetFlow& f : use.comm[size_t(s)].backward)
          for (int c : f.channels) bytes[size_t(c)] += M * f.bytes;
      } else if (int(use.ring.size()) > s) {
        for (const NetFlow& f : use.ring[size_t(s)].flows)
          for (int c : f.channels) bytes[size_t(c)] += use.ring[size_t(s)].steps * f.bytes;
      }
    }
    for (size_t c = 0; c < bytes.size(); ++c)
      if (bytes[c] > 0 && use.capacity_Bps[c] > 0) bound = std::max(bound, bytes[c] / use.capacity_Bps[c]);
  }
  return bound;
}

}  // namespace asteroid
