// The round book (docs/method.md §6.2): which rounds are committed and which
// copy rounds are whole, from what the devices report. Like the Coordinator it has no clock and no
// I/O: sim/ feeds it simulated time, exec/ the coordinator's clock, and both take its answers (the
// committed rounds go into the report and to Coordinator::round_done; a whole copy round to
// Coordinator::copies_landed, which decides the checkpoint). The cross-check between the backends
// rests on this one definition.
//
// A generation runs one plan from its first round on `workers` devices (the plan's devices and any
// idle device that keeps a copy); a failure, a join or a planned departure starts the next one.
// - Round r is committed when every worker of the generation finished its part of r (its
//   optimizer step included) and every round before it is committed. Its record: start = the end
//   of the previous committed round (0 for the first), end = the latest of the workers' ends,
//   samples = the mini-batch B (the plan's micro-batch size x micro-batches, which the planners
//   make B), the loss = the sum of the losses the workers reported (the last stage's devices each
//   report their rows' share), the generation's plan id.
// - Copies: an owner sends its copy of a copy round only when its previous copy is through, else
//   it skips that round (the link cannot keep up, and the next copy carries newer weights anyway):
//   a rule each device applies itself, as a real board must (CopyGate). Round r's copies are whole
//   once every backup saved its copy of r. A round some owner skipped is never whole: its partial
//   copies are dropped when a later round's copies are whole.
// - A new generation (start) drops every record from its first round on: rounds committed after
//   the checkpoint are run again (the replay), and only their second run counts.
#pragma once

#include <atomic>
#include <map>
#include <optional>
#include <vector>

#include "asteroid/report/run_report.hpp"

namespace asteroid {

class RoundBook {
 public:
  // samples_per_round: the mini-batch B (samples, > 0).
  explicit RoundBook(int samples_per_round);

  // A new generation: `plan_id` runs from `first_round` on `workers` devices (>= 1), each copy
  // round's copies landing on `backups` devices (0: no copies). Drops the records of rounds >=
  // first_round and everything reported of the previous generation.
  void start(int plan_id, int workers, int backups, int first_round);
  // The generation ends without committing more (a rollback to the checkpoint before
  // `first_round`): drops the records of rounds >= first_round and everything reported since.
  void roll_back(int first_round);

  // One worker finished its part of `round` at `end` (seconds, the backend's clock), with its
  // share of the loss where it computes one. Returns the rounds this commits, in order (none when
  // an earlier round still misses a worker). A round before the generation's first is ignored.
  std::vector<RoundRecord> finished(int round, double end, std::optional<double> loss = std::nullopt);

  // One backup saved its copy of `round`. True when that makes the round's copies whole (and
  // drops the partial copies of the rounds before it); false otherwise, and for a round at or
  // before the last whole one.
  bool copy_landed(int round);

  // Every round committed so far, of every generation, in order.
  const std::vector<RoundRecord>& records() const { return records_; }
  // The first round not committed: the round in progress (or the number of rounds once all are).
  int next_round() const { return next_; }
  int first_round() const { return first_; }
  // The end of committed round `round` (seconds), if it is committed in the current records.
  std::optional<double> end_of(int round) const;

 private:
  struct Reported {
    int finishers = 0;
    double end = 0;
    std::optional<double> loss;
  };
  int samples_;
  int plan_id_ = 0, workers_ = 1, backups_ = 0, first_ = 0, next_ = 0;
  int last_whole_copies_ = -1;
  std::map<int, Reported> reported_;  // rounds of this generation not yet committed
  std::map<int, int> copies_;         // rounds of this generation whose copies are landing: how many did
  std::vector<RoundRecord> records_;
};

// An owner's rule for its copies (above): begin() says whether this round's copy goes (false
// while the previous one is in flight, which it then keeps); through() when the copy is sent or
// lost. One per owner device, used by that device only (sim's device actor, exec's worker; the
// worker's copy thread calls through(), hence the atomic).
class CopyGate {
 public:
  bool begin() {
    bool expected = false;
    return in_flight_.compare_exchange_strong(expected, true);
  }
  void through() { in_flight_ = false; }
  bool in_flight() const { return in_flight_; }

 private:
  std::atomic<bool> in_flight_{false};
};

}  // namespace asteroid
