#include "asteroid/pipeline_schedule.hpp"

#include <algorithm>
#include <cassert>

namespace asteroid {

ScheduleTiming schedule_latency(const std::vector<StepCost>& steps, int M) {
  int S = int(steps.size());
  assert(S % 2 == 1 && "steps alternate compute and communication, starting and ending with compute");
  // f_end[s][m], b_end[s][m]: when step s finishes micro-batch m forward / backward.
  std::vector<std::vector<double>> f_end(S, std::vector<double>(M, 0.0)), b_end = f_end;
  // Compute steps follow a fixed order; communication steps are FIFO per direction. Process
  // operations in an order consistent with all dependencies: repeatedly run any step whose next
  // operation's inputs are ready.
  std::vector<std::vector<std::pair<bool, int>>> order(S);  // (is_backward, micro-batch)
  for (int s = 0; s < S; s += 2) {
    int warmup = std::min(M, S - s);
    int f = 0, b = 0;
    for (; f < warmup; ++f) order[s].push_back({false, f});
    while (b < M) {
      order[s].push_back({true, b++});
      if (f < M) order[s].push_back({false, f++});
    }
  }
  std::vector<size_t> next(S, 0);
  std::vector<int> fwd_sent(S, 0), bwd_sent(S, 0);  // communication steps: how many done per direction
  std::vector<double> busy(S, 0.0), fwd_chan(S, 0.0), bwd_chan(S, 0.0);
  std::vector<std::vector<bool>> f_done(S, std::vector<bool>(M, false)), b_done = f_done;
  int remaining = S * M * 2;
  while (remaining > 0) {
    bool progressed = false;
    for (int s = 0; s < S; ++s) {
      if (s % 2 == 0) {
        while (next[s] < order[s].size()) {
          auto [backward, m] = order[s][next[s]];
          double ready;
          if (!backward) {
            if (s > 0 && !f_done[s - 1][m]) break;
            ready = s > 0 ? f_end[s - 1][m] : 0.0;
            double start = std::max(busy[s], ready);
            busy[s] = f_end[s][m] = start + steps[s].E_f;
            f_done[s][m] = true;
          } else {
            bool last = s == S - 1;
            if (last ? !f_done[s][m] : !b_done[s + 1][m]) break;
            ready = last ? f_end[s][m] : b_end[s + 1][m];
            double start = std::max(busy[s], ready);
            busy[s] = b_end[s][m] = start + steps[s].E_b;
            b_done[s][m] = true;
          }
          ++next[s];
          --remaining;
          progressed = true;
        }
      } else {
        while (fwd_sent[s] < M && f_done[s - 1][fwd_sent[s]]) {
          int m = fwd_sent[s]++;
          fwd_chan[s] = f_end[s][m] = std::max(fwd_chan[s], f_end[s - 1][m]) + steps[s].E_f;
          f_done[s][m] = true;
          --remaining;
          progressed = true;
        }
        // Gradients come back in the order the next compute step produces them (0, 1, ...).
        while (bwd_sent[s] < M && b_done[s + 1][bwd_sent[s]]) {
          int m = bwd_sent[s]++;
          bwd_chan[s] = b_end[s][m] = std::max(bwd_chan[s], b_end[s + 1][m]) + steps[s].E_b;
          b_done[s][m] = true;
          --remaining;
          progressed = true;
        }
      }
    }
    assert(progressed && "the 1F1B order cannot deadlock on a chain");
    if (!progressed) break;
  }
  ScheduleTiming t;
  t.last_backward_end_s.resize(S);
  for (int s = 0; s < S; ++s) {
    t.last_backward_end_s[s] = *std::max_element(b_end[s].begin(), b_end[s].end());
    t.latency_s = std::max(t.latency_s, t.last_backward_end_s[s] + steps[s].T_a);
  }
  return t;
}

}  // namespace asteroid
