// The Coordinator, the paper's fault-tolerant pipeline replay (docs/method.md §6): a state machine
// with no I/O and no clock. It is told the time and what happened (a heartbeat, a round finished
// everywhere, a message overdue, the state transfer done) and answers with actions (declare a
// device failed, re-plan, move layers, transfer state, replay a round, resume). sim/ feeds it
// simulated time, exec/ wall time.
//
// 1. Heartbeat-guided detection: a device whose last heartbeat is more than
//    missed_heartbeats x heartbeat_interval old is declared failed at exactly that moment
//    (next_deadline() says when to call tick()). A message overdue only makes the coordinator check.
// 2. Topology-driven replication (assign_replicas): a stage whose group has >= 2 devices is its own
//    copy (every member holds the same weights after the all-reduce); a single-device stage is
//    copied to a device of a neighbouring stage (a one-stage plan: an idle device) chosen by the
//    path to it: among those with room for the copy, the one its route on the network graph
//    delivers it to soonest (bytes over the route's bottleneck plus its latency), then the one
//    with the most free memory; every
//    replication_interval_rounds rounds (the copies are Program instructions, so real traffic).
// 3. Recovery, by strategy:
//    lightweight: the failed device's group shrinks and Alg. 1 reruns, and the stage's boundaries
//                 with its neighbours may move (every pair of new boundaries is tried); or, for a
//                 single-device stage, its layers go to the neighbouring stages (every cut point between the
//                 two is tried) and the CostModel picks the best; state moves only for layers a device does
//                 not already hold (its own, or as a replica). Falls back to `replan` when no candidate fits
//                 in memory.
//    replan:      plan_optimal on the survivors; state moves only for layers a device lacks.
//    restart:     plan_optimal on the survivors; every device of the new plan receives its whole
//                 stage (weights + optimizer state) from the coordinator's checkpoint (device -1).
//    adaptive:    the lightweight plan and the full re-plan, whichever finishes the rounds left
//                 (config.rounds, counted from the checkpoint) sooner: its state transfer
//                 (estimate_transfer_s) plus the rounds at its predicted latency. A lightweight plan
//                 moves little state but may train slower for the rest of the run.
//    Then the rounds since the last checkpoint (the last round whose copies all landed) are replayed.
//    Copies of a round are skipped while the previous ones are still in flight, so that a slow
//    link delays the checkpoint rather than the training.
#pragma once

#include <string>
#include <vector>

#include "asteroid/cost_model.hpp"
#include "asteroid/planner.hpp"
#include "asteroid/program.hpp"

namespace asteroid {

struct CoordinatorConfig {
  double heartbeat_interval_s = 1.0;
  int missed_heartbeats = 3;
  int replication_interval_rounds = 1;
  bool replicate = true;  // false: no copies (fault-free runs that must match the cost model)
  Recovery recovery = Recovery::lightweight;
  PlannerOptions planner;
  int rounds = 0;  // rounds of the whole run, which `adaptive` weighs (0: unknown, one round)
};

struct StateTransfer {
  int from = -1;  // device index; -1: the coordinator's checkpoint
  int to = 0;
  int first_layer = 0, last_layer = 0;
  double bytes = 0;  // weights + optimizer state
};

struct Action {
  ActionKind kind = ActionKind::declare_failed;
  int device = -1;                       // declare_failed
  int round = -1;                        // replay_round: the first round to run again
  int plan_id = -1;                      // replan, resume
  std::string detail;                    // what was decided, for logs and reports
  std::vector<StateTransfer> transfers;  // transfer_state
};

// How long the transfers take if they all start together: each device sends and receives its
// transfers one after another at the pair's bandwidth (the checkpoint, device -1, over the
// receiver's fastest link), the busiest device sets the time, plus the largest latency. An estimate
// for choosing a recovery; the backends measure the real time.
double estimate_transfer_s(const Cluster& c, const std::vector<StateTransfer>& transfers);

// Which device keeps a copy of each single-device stage; never a device with alive[d] false.
// Pure; O(devices).
std::vector<ReplicaAssignment> assign_replicas(const CostModel& model, const Evaluation& ev,
                                               const std::vector<bool>& alive = {});

class Coordinator {
 public:
  Coordinator(const CostModel& model, const Plan& plan, CoordinatorConfig config);

  const CoordinatorConfig& config() const { return config_; }
  int plan_id() const { return int(plans_.size()) - 1; }
  const Plan& plan() const { return plans_.back().plan; }
  const std::vector<Evaluation>& plans() const { return plans_; }  // by id, with shares
  const std::vector<ReplicaAssignment>& replicas() const { return replicas_; }
  bool replicates_after(int round) const;  // copies go out at the end of this round
  bool alive(int device) const { return alive_[device]; }
  bool recovering() const { return recovering_; }
  int last_checkpoint() const { return checkpoint_; }  // -1: the initial weights

  // When tick() must next be called for detection to be on time (infinity: no device to watch).
  double next_deadline() const;

  void start(double now);
  std::vector<Action> heartbeat(int device, double now);
  std::vector<Action> tick(double now);
  std::vector<Action> message_overdue(int from_device, double now);
  // Round `round` finished on every device (without copies, that is a checkpoint).
  std::vector<Action> round_done(int round, double now);
  // Whether this replication round's copies go out: not while an earlier round's copies are still
  // in flight (the link cannot keep up; the next copies carry newer weights anyway).
  bool begin_copies(int round);
  // Every copy of `round` landed: it is the new checkpoint.
  void copies_landed(int round);
  std::vector<Action> state_transferred(double now);

 private:
  std::vector<Action> fail(int device, double now);
  Evaluation recover(int failed, std::string* detail);
  // The best plan that changes only the failed device's stage and its neighbours (infeasible if
  // none fits).
  Evaluation lightweight(int failed, std::string* detail) const;
  std::vector<StateTransfer> transfers_for(const Plan& next) const;

  const CostModel& model_;
  CoordinatorConfig config_;
  std::vector<Evaluation> plans_;
  std::vector<ReplicaAssignment> replicas_;
  std::vector<bool> alive_;
  std::vector<double> last_beat_;
  int checkpoint_ = -1;
  int copies_pending_ = -1;  // round whose copies are in flight, -1: none
  bool recovering_ = false;
};

}  // namespace asteroid
