// The coordinator actor: heartbeats and overdue notices in, the core Coordinator's actions out.
#include <simgrid/Exception.hpp>

#include <algorithm>
#include <chrono>
#include <memory>

#include "messages.hpp"
#include "simulation.hpp"

namespace sg4 = simgrid::s4u;

namespace asteroid::sim {

void Simulation::coordinator_actor() {
  auto* mailbox = sg4::Mailbox::by_name(kCoordinatorMailbox);
  mailbox->set_receiver(sg4::Actor::self());  // heartbeats land even while we are busy
  coord_.start(0);
  const double interval = coord_.config().heartbeat_interval_s;
  std::vector<std::pair<int, int>> reported;  // (device, peer) overdue notices already logged
  // SUBTLE: one receive stays posted across timeouts. Cancelling it on a timeout would also cancel
  // a message already matched to it and still on its way: a heartbeat lost in the simulator only,
  // which made detections up to one interval early.
  ControlMessage* m = nullptr;
  sg4::CommPtr c;
  while (!finished_) {
    const double now = sg4::Engine::get_clock();
    if (now > last_commit_end_ + kStallTimeout && !coord_.recovering()) {
      // Nothing committed for so long that something is stuck: stop rather than run forever.
      event(now, EventKind::abort, "", "no round committed for " + std::to_string(kStallTimeout) + " s");
      finished_ = true;
      result_.report.end_s = now;
      break;
    }
    const double wake = std::min(coord_.next_deadline(), now + interval);
    if (!c) c = mailbox->get_async<ControlMessage>(&m);
    std::vector<sg4::CommPtr> one = {c};
    // SUBTLE: the Coordinator has no clock; how long it thinks is wall time we charge to the
    // simulated clock (carry_out), so re-planning costs what the planner really costs.
    auto call = [&](auto&& f) {
      auto t0 = std::chrono::steady_clock::now();
      std::vector<Action> a = f();
      double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      carry_out(a, wall);
    };
    if (sg4::Comm::wait_any_for(one, std::max(0.0, wake - now)) < 0) {
      call([&] { return coord_.tick(sg4::Engine::get_clock()); });
      continue;
    }
    c = nullptr;
    std::unique_ptr<ControlMessage> msg(m);
    m = nullptr;
    const double t = sg4::Engine::get_clock();
    if (msg->kind == ControlKind::heartbeat) {
      // Stamped with the send time: beats that queued while the coordinator was busy (moving state)
      // still count for when they were sent, and arrive in send order, so none is judged late
      // because an earlier one was read late.
      call([&] { return coord_.heartbeat(msg->device, std::min(t, msg->sent_s)); });
      continue;
    }
    std::pair<int, int> key{msg->device, msg->peer};
    if (std::find(reported.begin(), reported.end(), key) == reported.end()) {
      reported.push_back(key);
      const auto& names = result_.report.devices;
      event(t, EventKind::message_overdue, names[msg->device], "waiting for " + names[msg->peer]);
    }
    call([&] { return coord_.message_overdue(msg->peer, t); });
  }
  if (c) c->cancel();
  mailbox->set_receiver(nullptr);
}

void Simulation::carry_out(const std::vector<Action>& actions, double planning_wall_s) {
  const auto& names = result_.report.devices;
  for (const Action& a : actions) {
    const double now = sg4::Engine::get_clock();
    switch (a.kind) {
      case ActionKind::declare_failed: {
        event(now, EventKind::detection, names[a.device], a.detail);
        // Abort the round in progress everywhere; survivors fall back to their checkpoint.
        ++epoch_;
        for (auto& w : workers_)
          if (sg4::Actor::by_pid(w->get_pid())) w->kill();
        workers_.clear();
        rounds_.clear();
        copy_decision_.clear();
        const int version = coord_.last_checkpoint() + 1;
        ledger_.rollback(version);
        auto& rounds = result_.report.rounds;
        while (!rounds.empty() && rounds.back().round >= version) rounds.pop_back();
        break;
      }
      case ActionKind::replan:
        sg4::this_actor::sleep_for(planning_wall_s);
        event(now, EventKind::replan, "", a.detail, planning_wall_s);
        if (a.plan_id < 0) {  // nothing fits on the survivors
          event(now, EventKind::abort, "", "training cannot go on: " + a.detail);
          finished_ = true;
          result_.report.end_s = now;
          return;
        }
        break;
      case ActionKind::move_layers: event(now, EventKind::move_layers, "", a.detail); break;
      case ActionKind::transfer_state: {
        transfer_state(a.transfers);
        const double done = sg4::Engine::get_clock();
        double bytes = 0;
        for (const StateTransfer& t : a.transfers) bytes += t.bytes;
        event(now, EventKind::state_transfer, "",
              std::to_string(a.transfers.size()) + " transfers, " + std::to_string(bytes / 1e6) + " MB",
              done - now)
            .bytes = bytes;
        carry_out(coord_.state_transferred(done), 0);
        return;
      }
      case ActionKind::replay_round:
        event(now, EventKind::replay, "", a.detail).round = a.round;
        next_commit_ = a.round;
        break;
      case ActionKind::resume:
        event(now, EventKind::resume, "", "plan " + std::to_string(a.plan_id));
        start_workers(a.plan_id, next_commit_);
        break;
    }
  }
}

void Simulation::transfer_state(const std::vector<StateTransfer>& transfers) {
  // Every move at once, each from its holder's host (or the coordinator's) to its new owner.
  const int version = coord_.last_checkpoint() + 1;
  std::vector<sg4::ActorPtr> receivers;
  for (size_t i = 0; i < transfers.size(); ++i) {
    const StateTransfer t = transfers[i];
    const std::string name = "e" + std::to_string(epoch_) + "/transfer" + std::to_string(i);
    sg4::Host* from = t.from < 0 ? platform_.coordinator : platform_.hosts[t.from];
    sg4::Actor::create("send_state", from, [name, t] {
      try {
        sg4::Mailbox::by_name(name)->put(&kToken, uint64_t(t.bytes), kTransferTimeout);
      } catch (const simgrid::Exception&) {
      }
    })->daemonize();
    receivers.push_back(sg4::Actor::create("receive_state", platform_.hosts[t.to], [this, name, t, version] {
      const double t0 = sg4::Engine::get_clock();
      try {
        sg4::Mailbox::by_name(name)->get<char>(kTransferTimeout);
        ledger_.add(t.to, t.first_layer, t.last_layer, version);
        span(t.to, "TRANSFER", -1, -1, version - 1, t0);
      } catch (const simgrid::Exception&) {
      }
    }));
  }
  for (auto& r : receivers) r->join(kTransferTimeout);
}

}  // namespace asteroid::sim
