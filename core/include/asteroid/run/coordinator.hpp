// The Coordinator, the paper's fault-tolerant pipeline replay (docs/method.md §6): a state machine
// with no I/O and no clock. It is told the time and what happened (a heartbeat, a round finished
// everywhere, copies landed, a device joined, the state transfer done) and answers with actions
// (declare a device failed, fence it, roll back, re-plan, move layers, transfer state, replay a
// round, resume). sim/ feeds it simulated time, exec/ wall time.
//
// 1. Heartbeat-guided detection: a device whose last heartbeat is missed_heartbeats x
//    heartbeat_interval old is declared failed at exactly that moment (next_deadline() says when to
//    call tick()); every device overdue at that moment, or within one detection window of it
//    (silent for max(missed - 1, 1.5) intervals: devices that die together stop beating up to an
//    interval apart), is declared in the same call, and recovery plans on the others only. A declared device is fenced (the backend makes sure it never acts
//    again: a paused or slow device that was only late must not come back into the run on its own);
//    its later heartbeats are ignored. A message overdue only makes the coordinator check.
// 2. Topology-driven replication (assign_replicas): a stage whose group has >= 2 devices is its own
//    copy (every member holds the same weights after the all-reduce); a single-device stage is
//    copied to a device of a neighbouring stage (a one-stage plan: an idle device) chosen by the
//    path to it: among those with room for the copy, the one its route on the network graph
//    delivers it to soonest (bytes over the route's bottleneck plus its latency), then the one
//    with the most free memory; every replication_interval_rounds rounds (the copies are Program
//    instructions, so real traffic). An owner skips a round's copy while its previous one is still
//    in flight (round_book.hpp), so that a slow link delays the checkpoint rather than the training.
// 3. Checkpoints: round r is the checkpoint once every device finished r (its optimizer step
//    included: round_done) and, when the plan has copies, r's copies all landed (copies_landed),
//    in either order. The coordinator keeps which live devices hold each layer's checkpoint (its
//    stage, a copy, state moved to it in a recovery). Before the first checkpoint every live device
//    holds it: the initial weights come from the run's seed. With `restart` the coordinator's own
//    store holds every checkpoint.
// 4. Recovery, by strategy, from the plan that was running and the devices alive:
//    lightweight: the paper's layer-wise re-plan, in two steps. (1) Each failed device's group
//                 shrinks and Alg. 1 reruns, and the stage's boundaries with its neighbours may
//                 move; or, for a single-device stage, its layers go to the neighbouring stages
//                 (every cut point between the two is tried); failed devices are handled one after
//                 the other. (2) The surviving groups kept, every stage boundary is rebalanced
//                 (rebalance): each candidate priced as its state transfer (layers a device does not
//                 hold) plus the rounds left at its replayed round. Falls back to `replan` when no
//                 candidate fits.
//    replan:      plan_optimal on the survivors; state moves only for layers a device lacks.
//    restart:     plan_optimal on the survivors; every device of the new plan receives its whole
//                 stage (weights + optimizer state) from the coordinator's checkpoint (device -1).
//    adaptive:    the lightweight plan and the full re-plan, whichever finishes the rounds left
//                 (config.rounds, counted from the checkpoint) sooner: its state transfer
//                 (estimate_transfer_s) plus the rounds at its predicted latency.
//    Then the rounds since the checkpoint are replayed. A failure declared while a recovery is
//    under way abandons it and starts again from the running plan with the true survivors. When a
//    layer's checkpoint is on no live device, or no plan fits, the replan action has plan_id -1
//    (and names the lost layers): the run cannot go on.
// 5. Joins: a device that joins (or returns) is alive again and holds nothing. At the next moment
//    no recovery is under way (at once, or at the next checkpoint), the coordinator plans on every
//    live device and switches when that finishes the rounds left sooner than staying: the state
//    transfer plus the rounds from the checkpoint at the new latency, against the rounds not yet
//    done at the current latency. A switch is carried out like a recovery (roll back to the
//    checkpoint, move state, replay); the decision either way is a replan action.
#pragma once

#include <string>
#include <vector>

#include "asteroid/model/cost_model.hpp"
#include "asteroid/planning/planner.hpp"
#include "asteroid/program/program.hpp"

namespace asteroid {

struct CoordinatorConfig {
  double heartbeat_interval_s = 1.0;
  int missed_heartbeats = 3;
  int replication_interval_rounds = 1;
  bool replicate = true;  // false: no copies (fault-free runs that must match the cost model)
  Recovery recovery = Recovery::lightweight;
  PlannerOptions planner;
  int rounds = 0;           // rounds of the whole run, which `adaptive` and joins weigh (0: unknown, one)
  std::vector<int> absent;  // devices not there at the start (they join later); the plan avoids them
};

struct StateTransfer {
  int from = -1;  // device index; -1: the coordinator's checkpoint
  int to = 0;
  int first_layer = 0, last_layer = 0;
  double bytes = 0;  // weights + optimizer state
};

struct Action {
  ActionKind kind = ActionKind::declare_failed;
  int device = -1;                       // declare_failed, fence
  int round = -1;                        // replay_round: the first round to run again; rollback: to after it
  int plan_id = -1;                      // replan (-1: the run cannot go on), resume
  std::string detail;                    // what was decided, for logs and reports
  std::vector<StateTransfer> transfers;  // transfer_state
  std::vector<int> lost_layers;          // replan with plan_id -1: layers with no live copy, if any
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

// "layers 3-5, 9" for a sorted list of layer indices.
std::string layer_list_text(const std::vector<int>& layers);

class Coordinator {
 public:
  // `plan` must be feasible and use no device of config.absent.
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
  // Whether `device` holds layer `layer`'s checkpoint, by the coordinator's account (-1: its store).
  bool holds(int device, int layer) const;

  // When tick() must next be called for detection to be on time (infinity: no device to watch).
  double next_deadline() const;

  void start(double now);
  // A heartbeat sent at `now`; one from a device declared failed is ignored.
  std::vector<Action> heartbeat(int device, double now);
  // The same without the check for overdue devices, for a caller that takes in a batch of beats
  // at once (after its own pause, every device's beat first) and then calls tick().
  void record_heartbeat(int device, double now);
  // Declares every device overdue at `now` and recovers once, on the others.
  std::vector<Action> tick(double now);
  std::vector<Action> message_overdue(int from_device, double now);
  // A device seen dead at `now` without waiting for its heartbeats (its process exited: a crash,
  // an OOM kill); declared at once with `why`, then recovered like an overdue one.
  std::vector<Action> lost(int device, const std::string& why, double now);
  // Round `round` finished on every device of the plan, optimizer steps included.
  std::vector<Action> round_done(int round, double now);
  // Every copy of `round` landed (RoundBook::copy_landed says when; with round_done(round), in
  // either order, it is the checkpoint). A round at or before the last such one is ignored.
  std::vector<Action> copies_landed(int round, double now = 0);
  // A device joins or returns (alive again, holding nothing); when the plan changes for it, the
  // actions roll back and move state like a recovery.
  std::vector<Action> join(int device, double now);
  std::vector<Action> state_transferred(double now);
  // A planned departure (battery_forecast.hpp, the proactive policy): `devices` leave at the
  // checkpoint, which must be the last round finished everywhere. They are taken out of the plans at
  // once (like a failure: rollback, replan, move_layers, transfer_state) but keep serving their
  // state until state_transferred, which then resumes at the round after the checkpoint with no
  // replay; the caller switches them off after that. Returns {} (nothing done) while a recovery is
  // under way, when a round finished after the checkpoint, or when a device is not alive; a single
  // replan action with the running plan's id when no plan fits without them (they stay).
  std::vector<Action> depart(const std::vector<int>& devices, double now);
  bool leaving(int device) const { return leaving_[device]; }

 private:
  // Declares `devices` failed (why: "" for missed heartbeats) and recovers on the others.
  std::vector<Action> fail(const std::vector<int>& devices, double now, const std::string& why = "");
  // Moves the checkpoint to `round` when it is finished everywhere and its copies (if any) landed.
  std::vector<Action> promote(double now);
  // The recovery's plan on the live devices, from the running plan.
  Evaluation recover(std::string* detail);
  // Plans on every live device.
  Evaluation full_replan(const std::string& why, std::string* detail) const;
  // The best plan that changes only the failed devices' stages and their neighbours (infeasible if
  // none fits); the devices are taken out one at a time.
  Evaluation lightweight(std::string* detail) const;
  Evaluation lightweight_one(const Plan& cur, int failed, std::string* detail) const;
  // `start`'s device groups kept, its stage boundaries moved to the cheapest state transfer plus
  // rounds left (never costlier than `start`; `start` itself when nothing fits).
  Evaluation rebalance(const Evaluation& start, std::string* detail) const;
  std::vector<StateTransfer> transfers_for(const Plan& next) const;
  std::vector<int> lost_layers() const;
  // Starts moving to `next` (chosen by recover or a join): replan, move_layers, transfer_state.
  void switch_to(const Evaluation& next, const std::string& detail, std::vector<Action>& out);
  std::vector<Action> consider_joins(double now);

  const CostModel& model_;
  CoordinatorConfig config_;
  std::vector<Evaluation> plans_;
  std::vector<ReplicaAssignment> replicas_;  // of plans_.back()
  std::vector<bool> alive_;
  std::vector<bool> leaving_;  // a planned departure under way: out of the plans, still holds its state
  std::vector<double> last_beat_;
  std::vector<std::vector<bool>> holds_;  // [device][layer]: holds the checkpoint's version
  bool store_holds_ = true;               // the coordinator's store holds the checkpoint
  std::vector<int> joined_;               // devices that joined and were not yet weighed
  std::vector<StateTransfer> moving_;     // the transfers of the recovery under way
  int running_ = 0;                       // the plan the workers run (or ran before a recovery)
  int checkpoint_ = -1;
  int done_through_ = -1;    // rounds finished everywhere, in order, since the checkpoint's plan
  int copies_landed_ = -1;   // the last round whose copies all landed
  bool recovering_ = false;
  bool planned_ = false;  // the recovery under way is a planned departure (no replay at its end)
};

}  // namespace asteroid
