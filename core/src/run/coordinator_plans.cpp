// How the Coordinator chooses a plan after failures (lightweight, replan, restart, adaptive), what
// state has to move for it, and where copies go (coordinator.hpp, 2 and 4).
#include <algorithm>
#include <cstdio>

#include "asteroid/run/coordinator.hpp"
#include "asteroid/planning/replay_search.hpp"
#include "asteroid/planning/survivors.hpp"
#include "run/coordinator_internal.hpp"

namespace asteroid {

using coordinator_detail::layers_text;
using coordinator_detail::state_bytes;
using coordinator_detail::frozen_bytes;

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

Evaluation Coordinator::full_replan(const std::string& why, std::string* detail) const {
  std::vector<int> dead;
  for (int d = 0; d < int(alive_.size()); ++d)
    if (!alive_[d]) dead.push_back(d);
  Evaluation none;
  if (dead.size() == alive_.size()) {
    none.reason = "no device is left";
    *detail = why + "no device is left";
    return none;
  }
  SurvivorModel s = survivors_model(model_, dead);
  auto r = plan_by_replay(s.model, config_.planner);
  if (!r) {
    none.reason = r.error().message;
    *detail =
        why + "no plan fits on the " + std::to_string(s.to_full.size()) + " live devices: " + none.reason;
    return none;
  }
  Evaluation ev = model_.evaluate(to_full_indices(r->evaluation.plan, s.to_full));
  *detail = why + "full re-plan on " + std::to_string(s.to_full.size()) + " survivors";
  return ev;
}

Evaluation Coordinator::recover(std::string* detail) {
  if (config_.recovery == Recovery::replan || config_.recovery == Recovery::restart)
    return full_replan("", detail);
  std::string light_detail;
  Evaluation light = lightweight(&light_detail);
  if (config_.recovery == Recovery::lightweight) {
    if (light.feasible) {
      *detail = light_detail;
      return light;
    }
    return full_replan("lightweight found no candidate that fits, ", detail);
  }
  // Adaptive: weigh the two over the rounds left.
  std::string full_detail;
  Evaluation full = full_replan("", &full_detail);
  if (!light.feasible || !full.feasible) {
    *detail = "adaptive: " + (light.feasible ? light_detail : full_detail);
    return light.feasible ? light : full;
  }
  int left = config_.rounds > 0 ? std::max(1, config_.rounds - (checkpoint_ + 1)) : 1;
  auto finish_s = [&](const Evaluation& ev, std::string* how) {
    double moving = estimate_transfer_s(model_.cluster(), transfers_for(ev.plan));
    char buf[160];
    std::snprintf(buf, sizeof buf, "%.3f s (state transfer %.3f s + %d rounds x %.4f s)",
                  moving + left * ev.predicted_round_s(), moving, left, ev.predicted_round_s());
    *how = buf;
    return moving + left * ev.predicted_round_s();
  };
  std::string light_how, full_how;
  double light_s = finish_s(light, &light_how), full_s = finish_s(full, &full_how);
  bool pick_light = light_s <= full_s;
  *detail = "adaptive: " + (pick_light ? light_detail : full_detail) + "; the rounds left take " + light_how +
            " after the lightweight plan, " + full_how + " after the full re-plan";
  return pick_light ? light : full;
}

Evaluation Coordinator::lightweight(std::string* detail) const {
  // 1. The failed devices of the running plan, taken out one at a time: their layers go to the
  //    neighbouring stages (or their group shrinks).
  Evaluation cur = plans_[running_];
  std::string what;
  int removed = 0;
  for (const StagePlan& sp : plans_[running_].plan.stages)
    for (int d : sp.devices) {
      if (alive_[d]) continue;
      std::string step;
      cur = lightweight_one(cur.plan, d, &step);
      if (!cur.feasible) return cur;
      what += (what.empty() ? "" : "; ") + step;
      ++removed;
    }
  if (removed == 0) {
    *detail = "lightweight: no failed device held a stage";
    return cur;
  }
  // 2. The surviving groups kept, every stage boundary rebalanced (docs/method.md §6.3).
  std::string balance;
  cur = rebalance(cur, &balance);
  *detail = "lightweight: " + what + "; " + balance;
  return cur;
}

namespace {

// Calls visit(cuts) for every way of cutting `layers` layers into `stages` contiguous non-empty
// ranges: cuts[i] is the first layer of stage i + 1. Stops early when visit returns false.
template <class Visit>
bool each_cut(int layers, int stages, std::vector<int>& cuts, int from, Visit&& visit) {
  const int i = int(cuts.size());
  if (i == stages - 1) return visit(cuts);
  for (int c = from; c <= layers - (stages - 1 - i); ++c) {
    cuts.push_back(c);
    bool go_on = each_cut(layers, stages, cuts, c + 1, visit);
    cuts.pop_back();
    if (!go_on) return false;
  }
  return true;
}

// Ways to cut L layers into P ranges, C(L-1, P-1), saturated at `cap` + 1.
long long cut_count(int layers, int stages, long long cap) {
  long long n = 1;
  const int k = stages - 1, m = layers - 1;
  for (int i = 1; i <= k; ++i) {
    n = n * (m - k + i) / i;
    if (n > cap) return cap + 1;
  }
  return n;
}

}  // namespace

Evaluation Coordinator::rebalance(const Evaluation& start, std::string* detail) const {
  // The paper's layer-wise re-plan keeps the surviving device groups and moves layer boundaries so
  // that the steps stay balanced; Alg. 1 reruns in every group (shares cleared). A boundary that
  // moves hands layers to a device that may not hold their checkpoint: that state must travel
  // before the replay, so a candidate is priced as the adaptive strategy prices a plan: its state
  // transfer plus the rounds left at its replayed round. Exhaustive over the boundaries when there
  // are at most kExhaustiveCuts ways to cut; otherwise a sweep that moves one boundary at a time to
  // its best place, until no move helps (a local optimum, never worse than `start`).
  constexpr long long kExhaustiveCuts = 4096;
  const Plan& base = start.plan;
  const int P = base.num_stages(), L = model_.num_layers();
  const int left = config_.rounds > 0 ? std::max(1, config_.rounds - (checkpoint_ + 1)) : 1;
  auto plan_at = [&](const std::vector<int>& cuts) {
    Plan p = base;
    for (int s = 0; s < P; ++s) {
      p.stages[s].shares.clear();
      p.stages[s].recompute = false;  // the cost model decides again for the new layers
      p.stages[s].first_layer = s == 0 ? 0 : cuts[s - 1];
      p.stages[s].last_layer = s + 1 == P ? L - 1 : cuts[s] - 1;
    }
    return p;
  };
  auto cost_of = [&](const Evaluation& ev) {
    return estimate_transfer_s(model_.cluster(), transfers_for(ev.plan)) + left * ev.predicted_round_s();
  };
  std::vector<int> best_cuts;
  for (int s = 1; s < P; ++s) best_cuts.push_back(base.stages[s].first_layer);
  Evaluation best = model_.evaluate(plan_at(best_cuts));
  double best_cost = best.feasible ? cost_of(best) : coordinator_detail::kInf;
  long long tried = 1;
  auto consider = [&](const std::vector<int>& cuts) {
    ++tried;
    Evaluation ev = model_.evaluate(plan_at(cuts));
    if (!ev.feasible) return false;
    const double c = cost_of(ev);
    if (c >= best_cost) return false;
    best = ev;
    best_cost = c;
    best_cuts = cuts;
    return true;
  };
  const bool exhaustive = cut_count(L, P, kExhaustiveCuts) <= kExhaustiveCuts;
  if (P > 1 && exhaustive) {
    std::vector<int> cuts;
    each_cut(L, P, cuts, 1, [&](const std::vector<int>& c) {
      consider(c);
      return true;
    });
  } else if (P > 1) {
    for (bool moved = true; moved;) {
      moved = false;
      for (int i = 0; i < P - 1; ++i) {
        const int lo = i == 0 ? 1 : best_cuts[i - 1] + 1, hi = i + 2 == P ? L - 1 : best_cuts[i + 1] - 1;
        const std::vector<int> from = best_cuts;
        for (int c = lo; c <= hi; ++c) {
          if (c == from[i]) continue;
          std::vector<int> cuts = from;
          cuts[i] = c;
          moved = consider(cuts) || moved;
        }
      }
    }
  }
  if (!best.feasible) {
    *detail = "no rebalanced plan fits";
    return start;
  }
  char buf[200];
  std::snprintf(buf, sizeof buf,
                "the %d surviving stages rebalanced (%lld %s candidates, each priced as its state transfer + "
                "%d rounds at its round time): ",
                P, tried, exhaustive ? "exhaustive" : "sweep", left);
  std::string stages;
  for (int s = 0; s < P; ++s)
    stages += (s ? ", " : "") + layers_text(best.plan.stages[s].first_layer, best.plan.stages[s].last_layer);
  *detail = buf + stages;
  return best;
}

Evaluation Coordinator::lightweight_one(const Plan& cur, int failed, std::string* detail) const {
  // Candidate plans that touch only the failed device's stage and its neighbours.
  int s = -1;
  for (int p = 0; p < cur.num_stages(); ++p)
    for (int d : cur.stages[p].devices)
      if (d == failed) s = p;
  Evaluation best;
  best.reason = "the failed device was the plan's only one";
  if (s < 0) return best;
  std::vector<std::pair<Plan, std::string>> candidates;
  auto clear_shares = [](Plan p) {
    // Alg. 1 and the recomputation choice (cost_model.hpp) are made again for the moved layers.
    for (auto& st : p.stages) st.shares.clear(), st.recompute = false;
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
      std::string what = "stage " + std::to_string(s) + " (" + layers_text(st.first_layer, st.last_layer) + ") ";
      what += !has_prev ? "goes to the next stage"
              : !has_next ? "goes to the previous stage"
                          : "split at layer " + std::to_string(k) + " between its neighbours";
      candidates.push_back({p, what});
    }
  }
  for (auto& [p, what] : candidates) {
    Evaluation ev = model_.evaluate(p);
    if (ev.feasible && (!best.feasible || ev.predicted_round_s() < best.predicted_round_s())) {
      best = ev;
      *detail = what + " (" + std::to_string(candidates.size()) + " candidates)";
    } else if (!ev.feasible && !best.feasible) {
      best.reason = ev.reason;
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
  const bool restart = config_.recovery == Recovery::restart;
  // Frozen weights (fine_tuning.hpp) are in no checkpoint copy (they never change): a device has
  // them for the layers it ran in the running plan. Anyone else fetches them from a live device
  // that ran the layer, else from the coordinator's store, which keeps the weights the run started
  // from. Under full training there are none and this adds nothing.
  const Plan& ran = plans_[size_t(running_)].plan;
  auto ran_layer = [&](int d, int l) {
    for (const StagePlan& sp : ran.stages)
      if (l >= sp.first_layer && l <= sp.last_layer)
        return std::find(sp.devices.begin(), sp.devices.end(), d) != sp.devices.end();
    return false;
  };
  // Runs of consecutive layers to one device from one holder, of one kind.
  enum class Kind { state, state_and_weights, weights };
  struct Part {
    StateTransfer t;
    Kind kind;
  };
  std::vector<Part> state_parts, weight_parts;  // apart, so that each forms runs
  auto add = [&](int from, int d, int l, Kind kind) {
    std::vector<Part>& parts = kind == Kind::weights ? weight_parts : state_parts;
    if (!parts.empty() && parts.back().kind == kind && parts.back().t.to == d && parts.back().t.from == from &&
        parts.back().t.last_layer == l - 1) {
      parts.back().t.last_layer = l;
    } else {
      parts.push_back({{from, d, l, l, 0}, kind});
    }
  };
  for (const StagePlan& sp : next.stages)
    for (int d : sp.devices) {
      for (int l = sp.first_layer; l <= sp.last_layer; ++l) {
        const bool frozen = frozen_bytes(model_, l, l) > 0;
        const bool has_frozen = !frozen || (!restart && alive_[size_t(d)] && ran_layer(d, l));
        int weights_from = -1;  // a live device that ran the layer, else the store
        for (int h = 0; h < c.size() && !has_frozen && !restart && weights_from < 0; ++h)
          if ((alive_[size_t(h)] || leaving_[size_t(h)]) && ran_layer(h, l)) weights_from = h;
        int from = -1;
        if (!restart) {
          if (holds(d, l)) {
            if (!has_frozen) add(weights_from, d, l, Kind::weights);
            continue;
          }
          // From a live device that holds it; else from the store (which then must hold it).
          for (int h = 0; h < c.size() && from < 0; ++h)
            if (holds(h, l)) from = h;
        }
        if (has_frozen) {
          add(from, d, l, Kind::state);
        } else if (restart || from == weights_from) {
          add(from, d, l, Kind::state_and_weights);  // one sender has both
        } else {
          add(from, d, l, Kind::state);
          add(weights_from, d, l, Kind::weights);
        }
      }
    }
  std::vector<StateTransfer> out;
  state_parts.insert(state_parts.end(), weight_parts.begin(), weight_parts.end());
  for (const Part& p : state_parts) {
    StateTransfer t = p.t;
    const double state = state_bytes(model_, t.first_layer, t.last_layer);
    const double weights = frozen_bytes(model_, t.first_layer, t.last_layer);
    t.bytes = p.kind == Kind::state ? state : p.kind == Kind::weights ? weights : state + weights;
    out.push_back(t);
  }
  return out;
}

}  // namespace asteroid
