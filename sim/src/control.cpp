// The control path of the simulated run: heartbeats and notices from the devices to the
// coordinator host, and the coordinator actor that hands them to the core Coordinator.
//
// Model (sim/README.md): a control message crosses its route to the coordinator host at the
// route's latency and the bandwidth of its slowest link of the moment, ahead of the data on those
// links (control traffic is a small, prioritised flow, as with a QoS queue on the port): a slow or
// saturated link delays a heartbeat by its own transmission time, never by the data queued in
// front of it. Messages are delivered in the order they arrive; none is lost unless its sender's
// host goes off on the way.
#include <simgrid/Exception.hpp>

#include <algorithm>
#include <chrono>
#include <limits>
#include <mutex>

#include "simulation.hpp"

namespace sg4 = simgrid::s4u;

namespace asteroid::sim {

double Simulation::control_transit_s(int d) const {
  // The route's latency, and the size at its slowest link of the moment (a link_slowdown counts).
  std::vector<sg4::Link*> route;
  double latency = 0;
  platform_.hosts[d]->route_to(platform_.coordinator, route, &latency);
  double bandwidth = std::numeric_limits<double>::infinity();
  for (const sg4::Link* l : route) bandwidth = std::min(bandwidth, l->get_bandwidth());
  return latency + (route.empty() ? 0 : kControlBytes / bandwidth);
}

void Simulation::post_control(int d, ControlMessage m) {
  auto deliver = [this](ControlMessage msg) {
    std::unique_lock<sg4::Mutex> lock(*control_mutex_);
    control_.push_back(std::move(msg));
    control_cv_->notify_all();
  };
  if (d < 0) {
    deliver(std::move(m));
    return;
  }
  if (!platform_.hosts[d]->is_on()) return;
  const double transit = control_transit_s(d);
  spawn("control", platform_.hosts[d], -1, [deliver, transit, m] {
    sg4::this_actor::sleep_for(transit);
    deliver(m);
  })->daemonize();
}

void Simulation::heartbeats(int d) {
  while (!finished_) {
    ControlMessage m;
    m.kind = ControlKind::heartbeat, m.device = d, m.sent_s = sg4::Engine::get_clock();
    post_control(d, m);
    sg4::this_actor::sleep_for(coord_.config().heartbeat_interval_s);
  }
}

void Simulation::stop(const std::string& reason) {
  if (finished_) return;
  const double now = sg4::Engine::get_clock();
  event(now, EventKind::stop, "", reason);
  finished_ = true;
  result_.report.end_s = now;
  abort_round_actors();
}

void Simulation::coordinator_actor() {
  coord_.start(0);
  const double interval = coord_.config().heartbeat_interval_s;
  std::unique_lock<sg4::Mutex> lock(*control_mutex_);
  while (!finished_) {
    const double now = sg4::Engine::get_clock();
    if (now > progress_s_ + kStallTimeout) {
      // Nothing committed (or moved) for so long that the run is stuck: a device or a link too slow
      // to finish a round. Stop rather than run forever.
      lock.unlock();
      stop(std::string("no round committed for ") + std::to_string(int(kStallTimeout)) + " s" +
           (coord_.recovering() ? " (the state transfer did not finish)"
                                : " (a device or a link is too slow to finish a round)"));
      break;
    }
    if (control_.empty()) {
      const double wake =
          std::min({coord_.next_deadline(), now + interval, progress_s_ + kStallTimeout + 1e-9});
      if (control_cv_->wait_until(lock, std::max(now, wake)) == std::cv_status::timeout && control_.empty()) {
        lock.unlock();
        auto t0 = std::chrono::steady_clock::now();
        std::vector<Action> a = coord_.tick(sg4::Engine::get_clock());
        carry_out(a, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        lock.lock();
      }
      continue;
    }
    ControlMessage m = std::move(control_.front());
    control_.pop_front();
    lock.unlock();
    handle(m);
    lock.lock();
  }
}

void Simulation::handle(ControlMessage& m) {
  const double t = sg4::Engine::get_clock();
  // SUBTLE: the Coordinator has no clock; how long it thinks is wall time we charge to the
  // simulated clock (carry_out), so re-planning costs what the planner really costs.
  auto call = [&](auto&& f) {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<Action> a = f();
    carry_out(a, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  };
  const auto& names = result_.report.devices;
  switch (m.kind) {
    case ControlKind::heartbeat:
      // Stamped with the send time: beats that queued while the coordinator was busy still count
      // for when they were sent.
      call([&] { return coord_.heartbeat(m.device, std::min(t, m.sent_s)); });
      break;
    case ControlKind::overdue:
      if (overdue_logged_.insert({m.device, m.peer}).second)
        event(t, EventKind::message_overdue, names[m.device], "waiting for " + names[m.peer]);
      call([&] { return coord_.message_overdue(m.peer, t); });
      break;
    case ControlKind::join: call([&] { return coord_.join(m.device, t); }); break;
    case ControlKind::transfer_done: {
      if (m.epoch != epoch_ || !coord_.recovering()) break;  // an abandoned recovery's transfer
      transfer_actors_.clear();
      result_.report.events[transfer_event_].duration_s = t - result_.report.events[transfer_event_].time;
      if (!m.ok) {
        stop("the state transfer did not finish within " + std::to_string(int(kStallTimeout)) + " s");
        break;
      }
      progress_s_ = t;
      carry_out(coord_.state_transferred(t), 0);
      finish_departures();  // a planned departure's device goes once its state is out
      break;
    }
    case ControlKind::decided: carry_out(m.actions, 0); break;
  }
}

}  // namespace asteroid::sim
