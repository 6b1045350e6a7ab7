// The scenario's faults and the Coordinator's decisions, carried out by the launcher
// (launcher_loop.hpp): leaves and joins injected at their times, and each action - detection,
// fencing, re-plan, state moves - turned into the next generation of workers. Torch-free.
#include <algorithm>

#include "launcher_loop.hpp"

namespace asteroid::exec::detail {

// A leave event of the scenario: that device's worker kills itself, as abruptly as a power cut.
// A join: the device comes back (bring_back).
void Launcher::inject_faults(double now) {
  for (size_t i = 0; coordinating_ && i < s_.faults.events.size(); ++i) {
    const FaultEvent& f = s_.faults.events[i];
    if (faults_done_.count(i) || now < f.time_s) continue;
    if (f.kind == FaultKind::join) {
      if (bring_back(s_.device_index(f.device), now)) faults_done_.insert(i);
      continue;
    }
    faults_done_.insert(i);
    Peer* p = peer(s_.device_index(f.device));
    if (!p || p->gone()) continue;
    server_.send(p->device, Leave{});
    p->killed = true;
    drain_off(p->device, now, EventKind::failure);
    event(now, EventKind::failure, f.device, "worker killed (leave)").round = round_in_progress();
  }
}

// A device that left returns: once the Coordinator has declared it gone (false until then: a
// device back before its departure was seen is taken back after), its worker starts again, holding
// nothing; when it has joined (handle), the Coordinator weighs planning it back in.
bool Launcher::bring_back(int d, double now) {
  Peer* p = peer(d);
  const bool connected = server_.joined(d) && (!p || !p->gone());
  if (returning_.count(d) || (connected && coord_.alive(d))) {
    event(now, EventKind::join, name(d), name(d) + " is in the run: nothing to do");
    return true;
  }
  if (coord_.alive(d)) return false;
  const bool first = std::count(o_.coordinator.absent.begin(), o_.coordinator.absent.end(), d) > 0 &&
                     std::none_of(s_.faults.events.begin(), s_.faults.events.end(), [&](const FaultEvent& f) {
                       return f.kind == FaultKind::leave && f.device == name(d) && f.time_s <= now;
                     });
  event(now, EventKind::join, name(d),
        name(d) + (first ? " joins: its worker starts" : " joins: its worker starts again"));
  server_.reopen(d);
  returning_.insert(d);
  drain_on(d, now);
  std::string why;
  if (!o_.start_worker || !o_.start_worker(d, &why))
    console_.line(name(d) + " may join again" + (why.empty() ? "" : ": " + why));
  return true;
}

// The Coordinator's actions, as asteroid-sim carries them out (sim/src/recovery.cpp). A failure
// ends the generation: the survivors may be blocked on the dead peer, so they restart their
// processes and the next generation starts on the new plan.
std::optional<Launcher::End> Launcher::carry_out(const std::vector<Action>& actions, double decided_s,
                                                 double now) {
  for (const Action& a : actions) {
    switch (a.kind) {
      case ActionKind::declare_failed:
        if (Peer* p = peer(a.device); p && !p->gone()) {
          // Declared by its silence alone (paused, hung, cut off): no failure was seen, so it is
          // dated at the start of the silence, missed x interval before, and the report gives its
          // recovery its figures like any other failure's. Events stay in time order.
          const CoordinatorConfig& c = coord_.config();
          event(std::max(0.0, now - c.missed_heartbeats * c.heartbeat_interval_s), EventKind::failure,
                name(a.device), "silent (paused, hung or cut off) since its last heartbeat")
              .round = round_in_progress();
          auto& events = out_.report.events;
          std::stable_sort(events.begin(), events.end(),
                           [](const RunEvent& x, const RunEvent& y) { return x.time < y.time; });
        }
        drain_off(a.device, now, EventKind::failure);  // no-op for one already off (a leave, a floor)
        event(now, EventKind::detection, name(a.device), a.detail);
        if (!coord_.config().replicate)  // no copies, no checkpoints: nothing to recover from
          return stop_after(coord_.last_checkpoint(), "device " + name(a.device) +
                                                          " failed; a run without copies (--replicate "
                                                          "keeps them) has nothing to recover from");
        break;
      case ActionKind::fence: {  // silent but connected (paused, hung): out of the run for good
        Peer* p = peer(a.device);
        if (!p || p->gone()) break;
        server_.send(a.device, Leave{});
        processes_.kill_worker(name(a.device));  // a paused local process cannot obey
        server_.drop(a.device);
        p->killed = true;
        event(now, EventKind::fenced, name(a.device), a.detail);
        break;
      }
      case ActionKind::rollback:  // every worker is stopped below; the next generation loads the checkpoint
        break;
      case ActionKind::replan:
        event(now, EventKind::replan, "", a.detail, decided_s).plan_id = a.plan_id;
        if (a.plan_id < 0)
          return stop_after(coord_.last_checkpoint(),
                            a.lost_layers.empty() ? "no plan fits on the survivors: " + a.detail : a.detail);
        break;
      case ActionKind::move_layers: event(now, EventKind::move_layers, "", a.detail); break;
      case ActionKind::transfer_state:
        transfers_.clear();
        transfer_bytes_ = 0;
        for (const StateTransfer& x : a.transfers) {
          if (x.from < 0)
            return stop_after(coord_.last_checkpoint(),
                              "layers " + std::to_string(x.first_layer) + "-" + std::to_string(x.last_layer) +
                                  " have no copy on a live device: their trained weights are lost");
          transfers_.push_back({x.from, x.to, x.first_layer, x.last_layer});
          transfer_bytes_ += x.bytes;
        }
        break;
      case ActionKind::replay_round:  // the next generation's workers load the checkpoint and replay
      case ActionKind::resume:        // they resume when their state is in place (on_ready)
        break;
    }
  }
  merge(coord_.last_checkpoint());
  stop_generation();
  start_round_ = coord_.last_checkpoint() + 1;
  recovery_started_ = t();
  ++generation_;
  return std::nullopt;
}

}  // namespace asteroid::exec::detail
