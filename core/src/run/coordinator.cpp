// The Coordinator's state machine: detection, checkpoints, what each device holds, joins, and the
// order of the actions. How a recovery plan is chosen is in coordinator_plans.cpp.
#include "asteroid/run/coordinator.hpp"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <limits>

#include "run/coordinator_internal.hpp"

namespace asteroid {

using coordinator_detail::action;
using coordinator_detail::layers_text;

std::string layer_list_text(const std::vector<int>& layers) {
  std::string out;
  for (size_t i = 0; i < layers.size();) {
    size_t j = i;
    while (j + 1 < layers.size() && layers[j + 1] == layers[j] + 1) ++j;
    out += (out.empty() ? "" : ", ") +
           (i == j ? std::to_string(layers[i]) : std::to_string(layers[i]) + "-" + std::to_string(layers[j]));
    i = j + 1;
  }
  return (layers.size() == 1 ? "layer " : "layers ") + out;
}

Coordinator::Coordinator(const CostModel& model, const Plan& plan, CoordinatorConfig config)
    : model_(model), config_(std::move(config)) {
  const int n = model_.num_devices();
  alive_.assign(n, true);
  leaving_.assign(n, false);
  for (int d : config_.absent) alive_[d] = false;
  Evaluation ev = model_.evaluate(plan);
  assert(ev.feasible && "the coordinator starts from a feasible plan");
  plans_.push_back(ev);
  if (config_.replicate) replicas_ = assign_replicas(model_, ev, alive_);
  last_beat_.assign(n, 0.0);
  // The initial weights: on the devices of their stage, and in the store that sent them.
  holds_.assign(n, std::vector<bool>(model_.num_layers(), false));
  for (const StagePlan& sp : plan.stages)
    for (int d : sp.devices) {
      assert(alive_[d] && "the first plan uses present devices only");
      for (int l = sp.first_layer; l <= sp.last_layer; ++l) holds_[d][l] = true;
    }
}

bool Coordinator::holds(int device, int layer) const {
  if (device < 0) return store_holds_;
  // The initial weights come from the run's seed: any live device can make them.
  // A device leaving as planned still serves its state until the transfer is done.
  return (alive_[device] || leaving_[device]) && (checkpoint_ < 0 || holds_[device][layer]);
}

bool Coordinator::replicates_after(int round) const {
  return config_.replicate && !replicas_.empty() &&
         (round + 1) % std::max(1, config_.replication_interval_rounds) == 0;
}

double Coordinator::next_deadline() const {
  double t = coordinator_detail::kInf;
  const double timeout = config_.missed_heartbeats * config_.heartbeat_interval_s;
  for (int d = 0; d < int(alive_.size()); ++d)
    if (alive_[d]) t = std::min(t, last_beat_[d] + timeout);
  return t;
}

void Coordinator::start(double now) { last_beat_.assign(alive_.size(), now); }

std::vector<Action> Coordinator::heartbeat(int device, double now) {
  record_heartbeat(device, now);
  return tick(now);
}

void Coordinator::record_heartbeat(int device, double now) {
  if (alive_[device]) last_beat_[device] = std::max(last_beat_[device], now);
}

std::vector<Action> Coordinator::tick(double now) {
  const double timeout = config_.missed_heartbeats * config_.heartbeat_interval_s;
  bool any = false;
  for (int d = 0; d < int(alive_.size()); ++d) any = any || (alive_[d] && now >= last_beat_[d] + timeout);
  if (!any) return {};
  // Devices that die together stop beating up to one interval apart (each beats on its own
  // clock), so they fall overdue up to an interval apart. Re-planning on the first alone would plan
  // on the others, which are already dead, and the next recovery would undo it. So every device
  // within one detection window of its deadline goes in the same declaration: silent for more than
  // timeout - interval, and never less than 1.5 intervals, which a live device beating every
  // interval does not reach (docs/method.md §6.1).
  const double suspect = std::min(timeout, std::max(timeout - config_.heartbeat_interval_s,
                                                    1.5 * config_.heartbeat_interval_s));
  std::vector<int> overdue;
  for (int d = 0; d < int(alive_.size()); ++d)
    if (alive_[d] && (now >= last_beat_[d] + timeout || now > last_beat_[d] + suspect)) overdue.push_back(d);
  return fail(overdue, now);
}

std::vector<Action> Coordinator::message_overdue(int, double now) {
  // A late message alone is no proof: the sender may be slow. The heartbeats decide.
  return tick(now);
}

std::vector<Action> Coordinator::lost(int device, const std::string& why, double now) {
  if (leaving_[device]) {  // gone before its planned departure finished: recover without its state
    leaving_[device] = false;
    std::fill(holds_[device].begin(), holds_[device].end(), false);
    return fail({}, now, why);
  }
  if (!alive_[device]) return {};
  return fail({device}, now, why);
}

std::vector<Action> Coordinator::round_done(int round, double now) {
  if (recovering_ || round != done_through_ + 1) return {};
  done_through_ = round;
  return promote(now);
}

std::vector<Action> Coordinator::copies_landed(int round, double now) {
  if (recovering_ || round <= copies_landed_) return {};
  copies_landed_ = round;
  return promote(now);
}

std::vector<Action> Coordinator::promote(double now) {
  // With copies, a checkpoint is a round whose copies landed; without, any finished round.
  const bool copies = config_.replicate && !replicas_.empty();
  const int r = copies ? (copies_landed_ <= done_through_ ? copies_landed_ : -1) : done_through_;
  if (recovering_ || r <= checkpoint_) return {};
  checkpoint_ = r;
  const Plan& p = plans_[running_].plan;
  for (auto& row : holds_) std::fill(row.begin(), row.end(), false);
  for (const StagePlan& sp : p.stages)
    for (int d : sp.devices)
      for (int l = sp.first_layer; l <= sp.last_layer; ++l) holds_[d][l] = true;
  if (copies)
    for (const ReplicaAssignment& a : replicas_) {
      const StagePlan& sp = p.stages[a.stage];
      for (int l = sp.first_layer; l <= sp.last_layer; ++l) holds_[a.backup][l] = true;
    }
  // The store has the initial weights only; under `restart` it is assumed to keep every checkpoint
  // (sim/README.md: its upload is not modelled).
  store_holds_ = config_.recovery == Recovery::restart;
  return joined_.empty() ? std::vector<Action>{} : consider_joins(now);
}

std::vector<Action> Coordinator::state_transferred(double) {
  assert(recovering_ && "state_transferred outside a recovery");
  recovering_ = false;
  running_ = plan_id();
  for (const StateTransfer& t : moving_)
    for (int l = t.first_layer; l <= t.last_layer; ++l) holds_[t.to][l] = true;
  moving_.clear();
  done_through_ = checkpoint_;
  copies_landed_ = -1;
  for (size_t d = 0; d < leaving_.size(); ++d)
    if (leaving_[d]) {
      leaving_[d] = false;
      std::fill(holds_[d].begin(), holds_[d].end(), false);
    }
  std::vector<Action> out;
  // A planned departure rolled back to the last round finished everywhere: nothing is run again.
  const bool planned = planned_;
  planned_ = false;
  if (planned) {
    Action resume = action(ActionKind::resume);
    resume.plan_id = plan_id();
    out.push_back(resume);
    return out;
  }
  Action replay = action(ActionKind::replay_round);
  replay.round = checkpoint_ + 1;
  replay.plan_id = plan_id();
  replay.detail = "replay from round " + std::to_string(checkpoint_ + 1);
  out.push_back(replay);
  Action resume = action(ActionKind::resume);
  resume.plan_id = plan_id();
  out.push_back(resume);
  return out;
}

std::vector<int> Coordinator::lost_layers() const {
  std::vector<int> lost;
  for (int l = 0; l < model_.num_layers(); ++l) {
    bool held = store_holds_;
    for (int d = 0; d < int(alive_.size()) && !held; ++d) held = holds(d, l);
    if (!held) lost.push_back(l);
  }
  return lost;
}

std::vector<Action> Coordinator::fail(const std::vector<int>& devices, double now, const std::string& why) {
  const double timeout = config_.missed_heartbeats * config_.heartbeat_interval_s;
  std::vector<Action> out;
  for (int d : devices) {
    alive_[d] = false;
    for (size_t l = 0; l < holds_[d].size(); ++l) holds_[d][l] = false;
    joined_.erase(std::remove(joined_.begin(), joined_.end(), d), joined_.end());
    Action declared = action(ActionKind::declare_failed);
    declared.device = d;
    char silent[64];
    std::snprintf(silent, sizeof silent, " (silent for %.3f s)", now - last_beat_[d]);
    declared.detail = "device " + model_.cluster().devices[d].name + " " +
                      (why.empty() ? "missed " + std::to_string(config_.missed_heartbeats) + " heartbeats" +
                                         (now - last_beat_[d] > timeout * 1.001 ? silent : "")
                                   : why);
    out.push_back(declared);
    Action fence = action(ActionKind::fence);
    fence.device = d;
    fence.detail = "device " + model_.cluster().devices[d].name + " is out of the run until it joins again";
    out.push_back(fence);
  }
  const bool again = recovering_;
  recovering_ = true;
  planned_ = false;  // a failure during a planned departure: rounds may have to run again
  Action rollback = action(ActionKind::rollback);
  rollback.round = checkpoint_;
  rollback.detail = "back to the checkpoint after round " + std::to_string(checkpoint_);
  out.push_back(rollback);

  std::vector<int> lost = lost_layers();
  if (!lost.empty()) {
    Action stop = action(ActionKind::replan);
    stop.lost_layers = lost;
    stop.detail = "no live device holds the checkpoint of " + layer_list_text(lost) +
                  ": their trained weights are lost";
    out.push_back(stop);
    return out;
  }
  std::string detail;
  Evaluation next = recover(&detail);
  if (again) detail = "a failure during the recovery: the recovery starts again; " + detail;
  if (!next.feasible) {
    Action stop = action(ActionKind::replan);
    stop.detail = detail;
    out.push_back(stop);
    return out;
  }
  switch_to(next, detail, out);
  return out;
}

void Coordinator::switch_to(const Evaluation& next, const std::string& detail, std::vector<Action>& out) {
  std::vector<StateTransfer> moves = transfers_for(next.plan);
  moving_ = moves;
  plans_.push_back(next);
  replicas_ = config_.replicate ? assign_replicas(model_, next, alive_) : std::vector<ReplicaAssignment>{};
  Action replan = action(ActionKind::replan);
  replan.detail = detail;
  replan.plan_id = plan_id();
  out.push_back(replan);
  Action move = action(ActionKind::move_layers);
  move.plan_id = plan_id();
  for (const StateTransfer& t : moves) {
    if (!move.detail.empty()) move.detail += "; ";
    move.detail += layers_text(t.first_layer, t.last_layer) + " -> " + model_.cluster().devices[t.to].name;
  }
  if (moves.empty()) move.detail = "nothing moves: every device already holds its layers";
  out.push_back(move);
  Action transfer = action(ActionKind::transfer_state);
  transfer.transfers = moves;
  out.push_back(transfer);
}

std::vector<Action> Coordinator::depart(const std::vector<int>& devices, double) {
  if (recovering_ || devices.empty() || done_through_ != checkpoint_) return {};
  std::string names;
  for (int d : devices) {
    if (!alive_[d]) return {};
    names += (names.empty() ? "" : ", ") + model_.cluster().devices[d].name;
  }
  for (int d : devices) alive_[d] = false, leaving_[d] = true;
  std::string detail;
  Evaluation next = recover(&detail);
  if (!next.feasible) {
    for (int d : devices) alive_[d] = true, leaving_[d] = false;
    Action stay = action(ActionKind::replan);
    stay.plan_id = plan_id();
    stay.detail = names + " would leave as planned, but no plan fits without it (" + detail +
                  "): the plan stays";
    return {stay};
  }
  for (int d : devices) joined_.erase(std::remove(joined_.begin(), joined_.end(), d), joined_.end());
  recovering_ = true;
  planned_ = true;
  std::vector<Action> out;
  Action rollback = action(ActionKind::rollback);
  rollback.round = checkpoint_;
  rollback.detail = "planned departure of " + names + " after round " + std::to_string(checkpoint_);
  out.push_back(rollback);
  switch_to(next, "planned departure of " + names + ": " + detail, out);
  return out;
}

std::vector<Action> Coordinator::join(int device, double now) {
  if (alive_[device]) return {};
  alive_[device] = true;
  last_beat_[device] = now;
  std::fill(holds_[device].begin(), holds_[device].end(), false);
  joined_.push_back(device);
  if (recovering_) return {};  // weighed at the next checkpoint
  return consider_joins(now);
}

std::vector<Action> Coordinator::consider_joins(double now) {
  std::string names;
  for (int d : joined_) names += (names.empty() ? "" : ", ") + model_.cluster().devices[d].name;
  joined_.clear();
  std::string detail;
  Evaluation next = full_replan("", &detail);
  const Evaluation& cur = plans_[running_];
  const int rounds = std::max(1, config_.rounds);
  // Staying: the rounds not finished yet. Switching: the rounds since the checkpoint are lost.
  const int left_stay = std::max(0, rounds - (done_through_ + 1));
  const int left_switch = std::max(0, rounds - (checkpoint_ + 1));
  const double stay_s = left_stay * cur.predicted_round_s();
  std::vector<Action> out;
  Action decision = action(ActionKind::replan);
  decision.plan_id = plan_id();
  char buf[320];
  if (!next.feasible || left_stay == 0) {
    decision.detail =
        names + " joined; the plan stays (" + (next.feasible ? "no round is left" : detail) + ")";
    out.push_back(decision);
    return out;
  }
  const double move_s = estimate_transfer_s(model_.cluster(), transfers_for(next.plan));
  const double switch_s = move_s + left_switch * next.predicted_round_s();
  std::snprintf(buf, sizeof buf,
                "%s joined; a plan on %d devices finishes the rounds left in %.3f s (state transfer %.3f s "
                "+ %d rounds x %.4f s), the running plan in %.3f s (%d rounds x %.4f s)",
                names.c_str(), int(std::count(alive_.begin(), alive_.end(), true)), switch_s, move_s,
                left_switch, next.predicted_round_s(), stay_s, left_stay, cur.predicted_round_s());
  if (switch_s >= stay_s) {
    decision.detail = std::string(buf) + ": the plan stays";
    out.push_back(decision);
    return out;
  }
  recovering_ = true;
  Action rollback = action(ActionKind::rollback);
  rollback.round = checkpoint_;
  rollback.detail = "back to the checkpoint after round " + std::to_string(checkpoint_) + " to re-plan";
  out.push_back(rollback);
  switch_to(next, std::string(buf) + ": re-plan (" + detail + ")", out);
  (void)now;
  return out;
}

}  // namespace asteroid
