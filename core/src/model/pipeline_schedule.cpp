#include "asteroid/model/pipeline_schedule.hpp"

#include <algorithm>
#include <cassert>
#include <limits>

#include "asteroid/model/schedule.hpp"
#include "model/max_min_share.hpp"

namespace asteroid {
namespace {

struct Flow {
  int step = 0;  // communication step
  bool backward = false;
  int microbatch = 0;
  bool in_latency = true;
  double until = 0;      // end of the latency phase
  double remaining = 0;  // seconds of transfer at the link's full rate
  double rate = 0;       // fraction of the link's rate it gets now
  int link[2] = {0, 0};  // the sender's uplink and the receiver's downlink
};

// The rates of the flows in their transfer phase, each crossing two links of capacity 1 (its
// sender's uplink and its receiver's downlink): the bandwidth sharing of SimGrid's CM02 model on a
// star, solved as on any network (max_min_share.hpp).
void share_links(std::vector<Flow*>& flows, int num_links) {
  std::vector<SharedFlow> shared(flows.size());
  for (size_t i = 0; i < flows.size(); ++i) shared[i].channels = flows[i]->link, shared[i].num_channels = 2;
  std::vector<double> rates;
  max_min_rates(shared, std::vector<double>(size_t(num_links), 1.0), rates);
  for (size_t i = 0; i < flows.size(); ++i) flows[i]->rate = rates[i];
}

}  // namespace

std::vector<std::vector<std::pair<bool, int>>> one_f_one_b_order(int S, int M) {
  std::vector<std::vector<std::pair<bool, int>>> order(S);
  const std::vector<std::vector<schedule::Pass>> passes = schedule::pipeline_order(PipelineSchedule::one_f_one_b, M, S);
  for (int s = 0; s < S; ++s)
    for (const schedule::Pass& pass : passes[size_t(s)]) order[s].push_back({pass.backward, pass.microbatch});
  return order;
}

ScheduleTiming schedule_latency(const std::vector<StepCost>& steps, int M, bool shared_nics, PipelineSchedule kind) {
  const int S = int(steps.size());
  assert(S % 2 == 1 && "steps alternate compute and communication, starting and ending with compute");
  // f_end[s][m], b_end[s][m]: when step s finishes micro-batch m forward / backward.
  std::vector<std::vector<double>> f_end(S, std::vector<double>(M, 0.0)), b_end = f_end;
  std::vector<std::vector<bool>> f_done(S, std::vector<bool>(M, false)), b_done = f_done;
  const std::vector<std::vector<schedule::Pass>> order = schedule::pipeline_order(kind, M, S);
  // Links: compute step s has uplink s and downlink S + s (its devices' NICs, both directions of
  // a full-duplex port). Without shared NICs every flow gets links of its own.
  const int nic_links = 2 * S;
  auto uplink = [&](int compute, int comm, bool bwd) {
    return shared_nics ? compute : 2 * S + 4 * comm + 2 * bwd;
  };
  auto downlink = [&](int compute, int comm, bool bwd) {
    return shared_nics ? S + compute : 2 * S + 4 * comm + 2 * bwd + 1;
  };
  const int num_links = shared_nics ? nic_links : 2 * S + 4 * S;

  std::vector<size_t> next(S, 0);
  std::vector<bool> running(S, false);
  std::vector<double> run_end(S, 0.0);
  std::vector<int> sent[2] = {std::vector<int>(S, 0), std::vector<int>(S, 0)};
  std::vector<Flow> channel[2] = {std::vector<Flow>(S), std::vector<Flow>(S)};
  std::vector<bool> busy[2] = {std::vector<bool>(S, false), std::vector<bool>(S, false)};
  int remaining = S * M * 2;
  double t = 0;
  while (remaining > 0) {
    // Start everything whose inputs are ready at t.
    for (int s = 0; s < S; s += 2) {
      if (running[s] || next[s] >= order[s].size()) continue;
      const auto [backward, m] = order[s][next[s]];
      bool ready = !backward ? (s == 0 || f_done[s - 1][m]) : (s == S - 1 ? f_done[s][m] : b_done[s + 1][m]);
      if (!ready) continue;
      running[s] = true;
      run_end[s] = t + (backward ? steps[s].E_b : steps[s].E_f);
    }
    for (int s = 1; s < S; s += 2)
      for (int dir = 0; dir < 2; ++dir) {
        int m = sent[dir][s];
        if (busy[dir][s] || m >= M) continue;
        if (dir == 0 ? !f_done[s - 1][m] : !b_done[s + 1][m]) continue;
        Flow& f = channel[dir][s];
        f.step = s;
        f.backward = dir == 1;
        f.microbatch = m;
        double total = dir == 0 ? steps[s].E_f : steps[s].E_b;
        double lat = std::min(steps[s].L, total);
        f.in_latency = true;
        f.until = t + lat;
        f.remaining = total - lat;
        f.link[0] = dir == 0 ? uplink(s - 1, s, false) : uplink(s + 1, s, true);
        f.link[1] = dir == 0 ? downlink(s + 1, s, false) : downlink(s - 1, s, true);
        busy[dir][s] = true;
        ++sent[dir][s];
      }
    std::vector<Flow*> moving;
    for (int s = 1; s < S; s += 2)
      for (int dir = 0; dir < 2; ++dir)
        if (busy[dir][s] && !channel[dir][s].in_latency) moving.push_back(&channel[dir][s]);
    share_links(moving, num_links);

    // The next event.
    double next_t = std::numeric_limits<double>::infinity();
    for (int s = 0; s < S; s += 2)
      if (running[s]) next_t = std::min(next_t, run_end[s]);
    for (int s = 1; s < S; s += 2)
      for (int dir = 0; dir < 2; ++dir) {
        if (!busy[dir][s]) continue;
        const Flow& f = channel[dir][s];
        next_t = std::min(next_t, f.in_latency ? f.until : t + f.remaining / f.rate);
      }
    assert(next_t < std::numeric_limits<double>::infinity() && "the 1F1B order cannot deadlock on a chain");
    if (!(next_t < std::numeric_limits<double>::infinity())) break;
    next_t = std::max(next_t, t);
    for (Flow* f : moving) f->remaining -= f->rate * (next_t - t);
    t = next_t;

    // Finish what ends at t.
    for (int s = 0; s < S; s += 2) {
      if (!running[s] || run_end[s] > t) continue;
      const auto [backward, m] = order[s][next[s]++];
      (backward ? b_end : f_end)[s][m] = run_end[s];
      (backward ? b_done : f_done)[s][m] = true;
      running[s] = false;
      --remaining;
    }
    for (int s = 1; s < S; s += 2)
      for (int dir = 0; dir < 2; ++dir) {
        if (!busy[dir][s]) continue;
        Flow& f = channel[dir][s];
        if (f.in_latency && f.until <= t) f.in_latency = false;
        // A transfer ends when what is left would take less than a picosecond at full rate.
        if (!f.in_latency && f.remaining <= 1e-12) {
          (dir == 0 ? f_end : b_end)[s][f.microbatch] = t;
          (dir == 0 ? f_done : b_done)[s][f.microbatch] = true;
          busy[dir][s] = false;
          --remaining;
        }
      }
  }
  ScheduleTiming timing;
  timing.last_backward_end_s.resize(S);
  for (int s = 0; s < S; ++s) {
    timing.last_backward_end_s[s] = *std::max_element(b_end[s].begin(), b_end[s].end());
    timing.latency_s = std::max(timing.latency_s, timing.last_backward_end_s[s] + steps[s].T_a + steps[s].T_o);
  }
  return timing;
}

}  // namespace asteroid
