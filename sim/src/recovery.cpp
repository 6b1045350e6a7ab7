// The core Coordinator's actions, carried out on the simulated cluster.
#include <simgrid/Exception.hpp>

#include <algorithm>

#include "messages.hpp"
#include "simulation.hpp"

namespace sg4 = simgrid::s4u;

namespace asteroid::sim {

void Simulation::carry_out(const std::vector<Action>& actions, double planning_wall_s) {
  const auto& names = result_.report.devices;
  for (const Action& a : actions) {
    if (finished_) return;
    const double now = sg4::Engine::get_clock();
    switch (a.kind) {
      case ActionKind::declare_failed: event(now, EventKind::detection, names[a.device], a.detail); break;
      case ActionKind::fence:
        // A device declared failed while its host still runs (paused, or so slow that its beats
        // stopped) is switched off, so that it can never act in the run again.
        if (host_on_[a.device]) {
          device_gone(a.device, now, "declared failed while still running");
          event(now, EventKind::fenced, names[a.device], a.detail);
        }
        break;
      case ActionKind::rollback: rollback(); break;
      case ActionKind::replan:
        sg4::this_actor::sleep_for(planning_wall_s);
        event(now, EventKind::replan, "", a.detail, planning_wall_s).plan_id = a.plan_id;
        if (a.plan_id < 0) {  // the checkpoint has no live copy of some layer, or nothing fits
          stop(a.lost_layers.empty() ? "training cannot go on: " + a.detail : a.detail);
          return;
        }
        break;
      case ActionKind::move_layers: event(now, EventKind::move_layers, "", a.detail); break;
      case ActionKind::transfer_state: transfer_state(a.transfers); break;
      case ActionKind::replay_round:
        event(now, EventKind::replay, "", a.detail).round = a.round;
        book_.roll_back(a.round);
        break;
      case ActionKind::resume:
        event(now, EventKind::resume, "", "plan " + std::to_string(a.plan_id)).plan_id = a.plan_id;
        progress_s_ = now;
        start_workers(a.plan_id, book_.next_round());
        break;
    }
  }
}

void Simulation::abort_round_actors() {
  ++epoch_;  // messages of the aborted rounds are recognised as stale
  for (std::vector<sg4::CommPtr>* steps : ring_steps_)
    for (sg4::CommPtr& c : *steps)
      if (c && c->get_state() == sg4::Activity::State::STARTED) c->cancel();
  // SUBTLE: the caller may be one of these actors (a worker whose commit found the checkpoint's
  // ledger check failing stops the run): killing itself would end this loop half-way and leave the
  // others running for ever. It is spared; its epoch is over, so it returns at its next check.
  const aid_t self = sg4::this_actor::get_pid();
  for (auto& w : workers_)
    if (w->get_pid() != self && sg4::Actor::by_pid(w->get_pid())) w->kill();
  workers_.clear();
  for (auto& a : transfer_actors_)
    if (a->get_pid() != self && sg4::Actor::by_pid(a->get_pid())) a->kill();
  transfer_actors_.clear();
}

void Simulation::rollback() {
  // Abort the rounds in progress everywhere; every device falls back to its checkpoint state (and
  // a state transfer under way is abandoned).
  abort_round_actors();
  const int version = coord_.last_checkpoint() + 1;
  ledger_.rollback(version);
  book_.roll_back(version);
}

void Simulation::transfer_state(const std::vector<StateTransfer>& transfers) {
  // Every move at once, each from its holder's host (or the coordinator's) to its new owner; the
  // coordinator goes on handling heartbeats meanwhile, and hears of the end by a control message.
  const double now = sg4::Engine::get_clock();
  const int version = coord_.last_checkpoint() + 1;
  const int epoch = epoch_;
  double bytes = 0;
  for (const StateTransfer& t : transfers) bytes += t.bytes;
  event(now, EventKind::state_transfer, "",
        std::to_string(transfers.size()) + " transfers, " + std::to_string(bytes / 1e6) + " MB")
      .bytes = bytes;
  transfer_event_ = result_.report.events.size() - 1;
  auto landed = std::make_shared<int>(0);
  std::vector<sg4::ActorPtr> receivers;
  std::vector<sg4::Host*> hosts;
  for (size_t i = 0; i < transfers.size(); ++i) {
    const StateTransfer t = transfers[i];
    const std::string name = "e" + std::to_string(epoch) + "/transfer" + std::to_string(i);
    sg4::Host* from = t.from < 0 ? platform_.coordinator : platform_.hosts[t.from];
    sg4::Host* to = platform_.hosts[t.to];
    // A host already off (a device that left and is not declared yet) takes no part: the transfer
    // cannot finish, and the coordinator's detection abandons it.
    if (!from->is_on() || !to->is_on()) return;
    hosts.push_back(from);
    hosts.push_back(to);
    auto sender = spawn("send_state", from, epoch, [name, t] {
      try {
        sg4::Mailbox::by_name(name)->put(&kToken, uint64_t(t.bytes), kStallTimeout);
      } catch (const simgrid::Exception&) {
      }
    });
    sender->daemonize();
    transfer_actors_.push_back(sender);
    auto receiver = spawn("receive_state", to, epoch, [this, name, t, version, landed] {
      const double t0 = sg4::Engine::get_clock();
      try {
        Busy busy(this, t.to, Activity::communication);
        sg4::Mailbox::by_name(name)->get<char>(kStallTimeout);
      } catch (const simgrid::Exception&) {
        return;
      }
      // The ledger takes only what the sender really held (its own account, not the Coordinator's).
      const int holder = t.from < 0 ? ledger_.coordinator() : t.from;
      bool held = true;
      for (int l = t.first_layer; l <= t.last_layer; ++l) held = held && ledger_.holds(holder, l, version);
      if (held) ledger_.add(t.to, t.first_layer, t.last_layer, version);
      span(t.to, "TRANSFER", -1, -1, version - 1, t0);
      ++*landed;
    });
    receiver->daemonize();
    transfer_actors_.push_back(receiver);
    receivers.push_back(receiver);
  }
  const int expected = int(transfers.size());
  auto joiner =
      spawn("transfer_done", platform_.coordinator, epoch, [this, receivers, hosts, landed, expected, epoch] {
        for (const auto& r : receivers) r->join();
        // A part lost because a host went off is the coordinator's to detect (and to abandon the
        // transfer for); a part that timed out between live hosts stops the run.
        if (*landed < expected &&
            !std::all_of(hosts.begin(), hosts.end(), [](sg4::Host* h) { return h->is_on(); }))
          return;
        ControlMessage m;
        m.kind = ControlKind::transfer_done, m.epoch = epoch, m.ok = *landed == expected;
        post_control(-1, m);
      });
  joiner->daemonize();
  transfer_actors_.push_back(joiner);
}

}  // namespace asteroid::sim
