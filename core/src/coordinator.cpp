#include "asteroid/coordinator.hpp"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <limits>

#include "asteroid/survivors.hpp"

namespace asteroid {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

double state_bytes(const CostModel& m, int first, int last) {
  return m.cluster().devices[0].table->param_bytes(first, last) *
         (1.0 + optimizer_state_factor(m.options().optimizer));
}

std::string layers_text(int first, int last) {
  return first == last ? "layer " + std::to_string(first)
                       : "layers " + std::to_string(first) + "-" + std::to_string(last);
}

Action action(ActionKind k) {
  Action a;
  a.kind = k;
  return a;
}

}  // namespace

std::vector<ReplicaAssignment> assign_replicas(const CostModel& model, const Evaluation& ev,
                                               const std::vector<bool>& alive) {
  const Plan& plan = ev.plan;
  const Cluster& c = model.cluster();
  std::vector<double> free(c.size(), 0);
  for (int d = 0; d < c.size(); ++d) free[d] = c.devices[d].memory_bytes;  // idle devices
  for (const DeviceUse& u : ev.devices) free[u.device] = u.memory_bytes - u.peak_memory_bytes;
  std::vector<ReplicaAssignment> out;
  for (int s = 0; s < plan.num_stages(); ++s) {
    const StagePlan& sp = plan.stages[s];
    if (sp.devices.size() != 1) continue;  // the group is its own copy
    const int owner = sp.devices[0];
    const double bytes = state_bytes(model, sp.first_layer, sp.last_layer);
    // By the path to it: the candidate the copy reaches soonest over its route (bottleneck and
    // latency of the network graph), among those with room for it; then the most room.
    auto better = [&](int d, int than) {
      if (than < 0) return true;
      bool fits = free[d] >= bytes, fits_than = free[than] >= bytes;
      if (fits != fits_than) return fits;
      double t = bytes / c.bandwidth_Bps[owner][d] + c.latency_s[owner][d];
      double t_than = bytes / c.bandwidth_Bps[owner][than] + c.latency_s[owner][than];
      if (t != t_than) return t < t_than;
      return free[d] > free[than];
    };
    int best = -1;
    for (int n : {s - 1, s + 1}) {
      if (n < 0 || n >= plan.num_stages()) continue;
      for (int d : plan.stages[n].devices)
        if (better(d, best)) best = d;
    }
    if (best < 0) {
      // A one-stage plan has no neighbour: the copy goes to an idle device, chosen alike.
      for (int d = 0; d < c.size(); ++d)
        if (d != owner && (alive.empty() || alive[d]) && better(d, best)) best = d;
    }
    if (best < 0) continue;  // a single device and nothing else: no copy is possible
    free[best] -= bytes;
    out.push_back({s, owner, best});
  }
  return out;
}

Coordinator::Coordinator(const CostModel& model, const Plan& plan, CoordinatorConfig config)
    : model_(model), config_(std::move(config)) {
  Evaluation ev = model_.evaluate(plan);
  assert(ev.feasible && "the coordinator starts from a feasible plan");
  plans_.push_back(ev);
  if (config_.replicate) replicas_ = assign_replicas(model_, ev);
  alive_.assign(model_.num_devices(), true);
  last_beat_.assign(model_.num_devices(), 0.0);
}

bool Coordinator::replicates_after(int round) const {
  return config_.replicate && !replicas_.empty() &&
         (round + 1) % std::max(1, config_.replication_interval_rounds) == 0;
}

double Coordinator::next_deadline() const {
  double t = kInf;
  const double timeout = config_.missed_heartbeats * config_.heartbeat_interval_s;
  for (int d = 0; d < int(alive_.size()); ++d)
    if (alive_[d]) t = std::min(t, last_beat_[d] + timeout);
  return t;
}

void Coordinator::start(double now) { last_beat_.assign(alive_.size(), now); }

std::vector<Action> Coordinator::heartbeat(int device, double now) {
  if (alive_[device]) last_beat_[device] = std::max(last_beat_[device], now);
  return tick(now);
}

std::vector<Action> Coordinator::tick(double now) {
  const double timeout = config_.missed_heartbeats * config_.heartbeat_interval_s;
  for (int d = 0; d < int(alive_.size()); ++d)
    if (alive_[d] && now >= last_beat_[d] + timeout) return fail(d, now);
  return {};
}

std::vector<Action> Coordinator::message_overdue(int, double now) {
  // A late message alone is no proof: the sender may be slow. The heartbeats decide.
  return tick(now);
}

std::vector<Action> Coordinator::round_done(int round, double) {
  if (!recovering_ && (!config_.replicate || replicas_.empty())) checkpoint_ = std::max(checkpoint_, round);
  return {};
}

bool Coordinator::begin_copies(int round) {
  if (recovering_ || !replicates_after(round) || copies_pending_ >= 0) return false;
  copies_pending_ = round;
  return true;
}

void Coordinator::copies_landed(int round) {
  if (round != copies_pending_) return;
  copies_pending_ = -1;
  checkpoint_ = std::max(checkpoint_, round);
}

std::vector<Action> Coordinator::state_transferred(double) {
  assert(recovering_ && "state_transferred outside a recovery");
  recovering_ = false;
  std::vector<Action> out;
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

std::vector<Action> Coordinator::fail(int device, double) {
  alive_[device] = false;
  recovering_ = true;
  copies_pending_ = -1;  // copies in flight belong to the aborted rounds
  std::vector<Action> out;
  Action declared = action(ActionKind::declare_failed);
  declared.device = device;
  declared.detail = "device " + model_.cluster().devices[device].name + " missed " +
                    std::to_string(config_.missed_heartbeats) + " heartbeats";
  out.push_back(declared);

  std::string detail;
  Evaluation next = recover(device, &detail);
  std::vector<StateTransfer> moves = next.feasible ? transfers_for(next.plan) : std::vector<StateTransfer>{};
  Action replan = action(ActionKind::replan);
  replan.detail = detail;
  if (next.feasible) {
    plans_.push_back(next);
    replicas_ = config_.replicate ? assign_replicas(model_, next, alive_) : std::vector<ReplicaAssignment>{};
    replan.plan_id = plan_id();
  }
  out.push_back(replan);
  if (!next.feasible) return out;  // nothing fits on the survivors: training cannot go on

  Action move = action(ActionKind::move_layers);
  move.plan_id = plan_id();
  for (const StateTransfer& t : moves) {
    if (!move.detail.empty()) move.detail += "; ";
    move.detail += layers_text(t.first_layer, t.last_layer) + " -> " + model_.cluster().devices[t.to].name;
  }
  out.push_back(move);
  Action transfer = action(ActionKind::transfer_state);
  transfer.transfers = moves;
  out.push_back(transfer);
  return out;
}

Evaluation Coordinator::recover(int failed, std::string* detail) {
  std::vector<int> dead;
  for (int d = 0; d < int(alive_.size()); ++d)
    if (!alive_[d]) dead.push_back(d);
  auto full_replan = [&](const std::string& why) {
    Evaluation none;
    if (dead.size() == alive_.size()) {
      none.reason = "no device is left";
      *detail = why + "no device is left";
      return none;
    }
    SurvivorModel s = survivors_model(model_, dead);
    auto r = plan_optimal(s.model, config_.planner);
    Evaluation ev;
    if (!r) {
      ev.reason = r.error().message;
      *detail = why + "no plan fits on the survivors: " + ev.reason;
      return ev;
    }
    ev = model_.evaluate(to_full_indices(r->plan, s.to_full));
    *detail = why + "full re-plan on " + std::to_string(s.to_full.size()) + " survivors";
    return ev;
  };
  if (config_.recovery == Recovery::replan || config_.recovery == Recovery::restart) return full_replan("");
  std::string light_detail;
  Evaluation light = lightweight(failed, &light_detail);
  if (config_.recovery == Recovery::lightweight) {
    if (light.feasible) {
      *detail = light_detail;
      return light;
    }
    return full_replan("lightweight found no candidate that fits, ");
  }
  // Adaptive: weigh the two over the rounds left.
  std::string full_detail;
  Evaluation full = full_replan("");
  full_detail = *detail;
  if (!light.feasible || !full.feasible) {
    *detail = "adaptive: " + (light.feasible ? light_detail : full_detail);
    return light.feasible ? light : full;
  }
  int left = config_.rounds > 0 ? std::max(1, config_.rounds - (checkpoint_ + 1)) : 1;
  auto finish_s = [&](const Evaluation& ev, std::string* how) {
    double moving = estimate_transfer_s(model_.cluster(), transfers_for(ev.plan));
    char buf[160];
    std::snprintf(buf, sizeof buf, "%.3f s (state transfer %.3f s + %d rounds x %.4f s)",
                  moving + left * ev.round_latency_s, moving, left, ev.round_latency_s);
    *how = buf;
    return moving + left * ev.round_latency_s;
  };
  std::string light_how, full_how;
  double light_s = finish_s(light, &light_how), full_s = finish_s(full, &full_how);
  bool pick_light = light_s <= full_s;
  *detail = "adaptive: " + (pick_light ? light_detail : full_detail) + "; the rounds left take " + light_how +
            " after the lightweight plan, " + full_how + " after the full re-plan";
  return pick_light ? light : full;
}

Evaluation Coordinator::lightweight(int failed, std::string* detail) const {
  // Candidate plans that touch only the failed device's stage and its neighbours.
  const Plan& cur = plan();
  int s = -1;
  for (int p = 0; p < cur.num_stages(); ++p)
    for (int d : cur.stages[p].devices)
      if (d == failed) s = p;
  if (s < 0) {  // an idle device left: nothing to move
    *detail = "the failed device held no stage";
    return plans_.back();
  }
  std::vector<std::pair<Plan, std::string>> candidates;
  auto clear_shares = [](Plan p) {
    for (auto& st : p.stages) st.shares.clear();
    return p;
  };
  const StagePlan& st = cur.stages[s];
  if (st.devices.size() > 1) {
    // The group shrinks and Alg. 1 reruns; the stage's boundaries with its neighbours may also move,
    // so that the slower stage hands layers to them (or takes some) and the steps stay balanced.
    // Only the layers that cross a boundary move, and only to a neighbour. O(layers^2) candidates.
    Plan base = clear_shares(cur);
    auto& devs = base.stages[s].devices;
    devs.erase(std::find(devs.begin(), devs.end(), failed));
    const int P = cur.num_stages(), L = model_.num_layers();
    const bool has_prev = s > 0, has_next = s + 1 < P;
    const int first_lo = has_prev ? cur.stages[s - 1].first_layer + 1 : 0;
    const int first_hi = has_prev ? st.last_layer : 0;
    const int last_hi = has_next ? cur.stages[s + 1].last_layer - 1 : L - 1;
    for (int first = first_lo; first <= first_hi; ++first)
      for (int last = has_next ? first : L - 1; last <= last_hi; ++last) {
        Plan p = base;
        p.stages[s].first_layer = first;
        p.stages[s].last_layer = last;
        if (has_prev) p.stages[s - 1].last_layer = first - 1;
        if (has_next) p.stages[s + 1].first_layer = last + 1;
        std::string what = "stage " + std::to_string(s) + " group shrinks, Alg. 1 reruns";
        if (first != st.first_layer || last != st.last_layer)
          what += ", its layers become " + layers_text(first, last);
        candidates.push_back({p, what});
      }
  } else if (cur.num_stages() > 1) {
    // Layers first..k go to the previous stage, k+1..last to the next one.
    const bool has_prev = s > 0, has_next = s + 1 < cur.num_stages();
    for (int k = st.first_layer - 1; k <= st.last_layer; ++k) {
      if (!has_prev && k != st.first_layer - 1) continue;
      if (!has_next && k != st.last_layer) continue;
      Plan p = clear_shares(cur);
      if (has_prev && k >= st.first_layer) p.stages[s - 1].last_layer = k;
      if (has_next && k < st.last_layer) p.stages[s + 1].first_layer = k + 1;
      p.stages.erase(p.stages.begin() + s);
      std::string what = "stage " + std::to_string(s) + " (" + layers_text(st.first_layer, st.last_layer) +
                         ") split at layer " + std::to_string(k) + " between its neighbours";
      candidates.push_back({p, what});
    }
  }
  Evaluation best;
  for (auto& [p, what] : candidates) {
    Evaluation ev = model_.evaluate(p);
    if (ev.feasible && (!best.feasible || ev.round_latency_s < best.round_latency_s)) {
      best = ev;
      *detail = "lightweight: " + what + " (" + std::to_string(candidates.size()) + " candidates)";
    }
  }
  return best;
}

double estimate_transfer_s(const Cluster& c, const std::vector<StateTransfer>& transfers) {
  std::vector<double> sending(c.size(), 0.0), receiving(c.size(), 0.0);
  double latency = 0, busiest = 0;
  for (const StateTransfer& t : transfers) {
    int from = t.from;
    if (from < 0) {  // the checkpoint: over the receiver's fastest link
      from = t.to == 0 && c.size() > 1 ? 1 : 0;
      for (int j = 0; j < c.size(); ++j)
        if (j != t.to && c.bandwidth_Bps[j][t.to] > c.bandwidth_Bps[from][t.to]) from = j;
    }
    if (from == t.to) continue;
    double s = t.bytes / c.bandwidth_Bps[from][t.to];
    latency = std::max(latency, c.latency_s[from][t.to]);
    if (t.from >= 0) busiest = std::max(busiest, sending[t.from] += s);
    busiest = std::max(busiest, receiving[t.to] += s);
  }
  return transfers.empty() ? 0 : busiest + latency;
}

std::vector<StateTransfer> Coordinator::transfers_for(const Plan& next) const {
  const Cluster& c = model_.cluster();
  const int L = model_.num_layers();
  const Plan& cur = plan();
  // holds[d][l]: device d has layer l's state of the last checkpoint (its stage or a copy).
  std::vector<std::vector<bool>> holds(c.size(), std::vector<bool>(L, false));
  for (const StagePlan& sp : cur.stages)
    for (int d : sp.devices)
      for (int l = sp.first_layer; l <= sp.last_layer; ++l) holds[d][l] = true;
  for (const ReplicaAssignment& r : replicas_) {
    const StagePlan& sp = cur.stages[r.stage];
    for (int l = sp.first_layer; l <= sp.last_layer; ++l) holds[r.backup][l] = true;
  }
  std::vector<StateTransfer> out;
  for (const StagePlan& sp : next.stages)
    for (int d : sp.devices) {
      for (int l = sp.first_layer; l <= sp.last_layer; ++l) {
        int from = -1;
        if (config_.recovery != Recovery::restart) {
          if (holds[d][l]) continue;
          // No survivor holds it (no copies were kept): the coordinator's checkpoint serves it.
          for (int h = 0; h < c.size() && from < 0; ++h)
            if (alive_[h] && holds[h][l]) from = h;
        }
        if (!out.empty() && out.back().to == d && out.back().from == from && out.back().last_layer == l - 1) {
          out.back().last_layer = l;
        } else {
          out.push_back({from, d, l, l, 0});
        }
      }
    }
  for (StateTransfer& t : out) t.bytes = state_bytes(model_, t.first_layer, t.last_layer);
  return out;
}

}  // namespace asteroid
