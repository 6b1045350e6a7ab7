// Batteries in the simulated run (docs/method.md, "Batteries"; sim/README.md). Each device's draw
// follows energy.hpp's accounting as the run goes: compute while an F, B or OPT is under way, else
// communication while a receive, all-reduce, copy or state transfer is, else idle, each at its power
// mode's watts; nothing once it has left. A monitor per battery device wakes when the charge could
// first reach the floor (at the mode's highest power) and makes it leave then: an energy departure,
// recovered like a leave. With the proactive policy, each checkpoint asks the core forecast
// (battery_forecast.hpp) whether a device must leave, and the Coordinator plans its departure.
#include <simgrid/Exception.hpp>

#include <algorithm>

#include "asteroid/planning/battery_forecast.hpp"
#include "asteroid/planning/plan_energy.hpp"
#include "simulation.hpp"

namespace sg4 = simgrid::s4u;

namespace asteroid::sim {
namespace {

// Charge above the floor below which the battery counts as at its floor: a millijoule is far below
// any round's draw, and the monitor's steps converge to it geometrically.
constexpr double kEmptyJ = 1e-3;

}  // namespace

double Simulation::watts(int d) const {
  if (size_t(d) >= in_.power.size() || !in_.power[size_t(d)] || !drain_[size_t(d)].on) return 0;
  const ModePower& p = in_.power[size_t(d)]->power;
  const Drain& x = drain_[size_t(d)];
  return x.compute > 0 ? p.compute_W : x.communication > 0 ? p.communication_W : p.idle_W;
}

void Simulation::settle(int d) {
  const double now = sg4::Engine::get_clock();
  Drain& x = drain_[size_t(d)];
  if (now > x.since) x.used_J += watts(d) * (now - x.since);
  x.since = std::max(x.since, now);
}

void Simulation::busy(int d, Activity a, int delta) {
  settle(d);
  Drain& x = drain_[size_t(d)];
  int& n = a == Activity::compute ? x.compute : x.communication;
  n = std::max(0, n + delta);  // an activity cut short by its host going off ends after drain_on(false)
}

double Simulation::drawn_J(int d) const {
  const Drain& x = drain_[size_t(d)];
  const double now = sg4::Engine::get_clock();
  return x.used_J + (now > x.since ? watts(d) * (now - x.since) : 0);
}

void Simulation::drain_on(int d, bool on) {
  settle(d);
  Drain& x = drain_[size_t(d)];
  x.on = on;
  x.compute = x.communication = 0;
}

void Simulation::battery_monitor(int d) {
  const BatterySpec& b = *in_.batteries[size_t(d)];
  if (size_t(d) >= in_.power.size() || !in_.power[size_t(d)]) return;  // the scenario refuses this
  const ModePower& p = in_.power[size_t(d)]->power;
  const double most = std::max({p.idle_W, p.compute_W, p.communication_W});
  if (most <= 0) return;
  const auto& name = result_.report.devices[size_t(d)];
  while (!finished_) {
    if (!drain_[size_t(d)].on) {  // gone: it may join again
      sg4::this_actor::sleep_for(coord_.config().heartbeat_interval_s);
      continue;
    }
    const double left = b.usable_J() - drawn_J(d);
    if (left > kEmptyJ) {
      // The earliest moment it could reach its floor: at its highest power all along.
      sg4::this_actor::sleep_for(left / most);
      continue;
    }
    const double now = sg4::Engine::get_clock();
    bool others = false;
    for (int e = 0; e < in_.model->num_devices(); ++e) others = others || (e != d && host_on_[size_t(e)]);
    if (!others) {
      // The last device: nothing could go on without it. The run stops here, gracefully, its
      // checkpoint on the devices at their floors (off, not wiped), and the report is written.
      drain_on(d, false);
      drain_[size_t(d)].left_s = now;
      drain_[size_t(d)].how = to_string(EventKind::energy_departure);
      event(now, EventKind::energy_departure, name,
            name + " stops: its battery reached its floor (" + format_watt_hours(b.floor_J) + "); it was the last device")
          .round = book_.next_round();
      stop("no device can go on: every device has left, the last (" + name + ") at its battery's floor");
      return;
    }
    const bool was_leaving = coord_.leaving(d);
    leaving_[size_t(d)] = false;
    device_gone(d, now, "stops: its battery reached its floor (" + format_watt_hours(b.floor_J) + ")",
                EventKind::energy_departure);
    if (was_leaving) {  // its planned departure had not finished: recover without its state
      ControlMessage m;
      m.kind = ControlKind::decided;
      m.actions = coord_.lost(d, name + "'s battery reached its floor during its planned departure", now);
      post_control(-1, std::move(m));
    }
  }
}

void Simulation::consider_departures() {
  if (in_.faults.battery != BatteryPolicy::proactive || finished_ || coord_.recovering()) return;
  const int n = in_.model->num_devices();
  std::vector<std::optional<double>> usable(static_cast<size_t>(n));
  bool any = false;
  for (int d = 0; d < n; ++d)
    if (size_t(d) < in_.batteries.size() && in_.batteries[size_t(d)] && host_on_[size_t(d)] && coord_.alive(d) &&
        !asked_to_leave_[size_t(d)]) {
      usable[size_t(d)] = in_.batteries[size_t(d)]->usable_J() - drawn_J(d);
      any = true;
    }
  if (!any) return;
  const PlanEnergy e = predict_plan_energy(*in_.model, coord_.plans()[size_t(coord_.plan_id())], in_.power);
  if (!e.available) return;
  std::vector<int> go;
  std::vector<std::string> why;
  for (const BatteryForecast& f : forecast_batteries(e, usable, in_.faults.battery_margin_rounds)) {
    if (!f.leave_now) continue;
    go.push_back(f.device);
    why.push_back(forecast_reason(f, coord_.plan_id(), in_.faults.battery_margin_rounds));
  }
  if (go.empty()) return;
  std::vector<Action> decided = coord_.depart(go, sg4::Engine::get_clock());
  if (decided.empty()) return;  // not at this checkpoint (a round finished after it): at the next
  for (size_t i = 0; i < go.size(); ++i) {
    asked_to_leave_[size_t(go[i])] = true;
    if (!coord_.leaving(go[i])) continue;  // no plan without it: it stays to its floor
    leaving_[size_t(go[i])] = true;
    leave_reason_[size_t(go[i])] = why[i];
  }
  ControlMessage m;
  m.kind = ControlKind::decided, m.actions = std::move(decided);
  post_control(-1, std::move(m));
}

void Simulation::finish_departures() {
  const double now = sg4::Engine::get_clock();
  for (int d = 0; d < in_.model->num_devices(); ++d) {
    if (!leaving_[size_t(d)]) continue;
    leaving_[size_t(d)] = false;
    if (!host_on_[size_t(d)]) continue;  // its battery ran out meanwhile (an energy departure)
    drain_on(d, false);
    drain_[size_t(d)].left_s = now;
    drain_[size_t(d)].how = to_string(EventKind::planned_departure);
    platform_.hosts[size_t(d)]->turn_off();
    host_on_[size_t(d)] = false;
    ledger_.clear(d);
    failure_recorded_[size_t(d)] = true;
    const std::string& name = result_.report.devices[size_t(d)];
    event(now, EventKind::planned_departure, name,
          name + " left as planned, its state copied out first (" + leave_reason_[size_t(d)] + ")")
        .round = book_.next_round();
  }
}

void Simulation::record_batteries() {
  const double end = result_.report.end_s;
  for (int d = 0; d < in_.model->num_devices(); ++d) {
    if (size_t(d) >= in_.batteries.size() || !in_.batteries[size_t(d)]) continue;
    const BatterySpec& b = *in_.batteries[size_t(d)];
    const Drain& x = drain_[size_t(d)];
    // There to the end: its draw up to the run's end (the engine may stop a little after it).
    double used = x.used_J;
    if (x.on && end > x.since) used += watts(d) * (end - x.since);
    BatteryRecord r;
    r.device = result_.report.devices[size_t(d)];
    r.capacity_J = b.capacity_J, r.floor_J = b.floor_J, r.start_J = b.charge_J;
    r.end_J = std::max(0.0, b.charge_J - used);  // a drain that met its floor exactly may round below 0
    if (!x.on) r.left_s = x.left_s, r.how = x.how;
    result_.report.batteries.push_back(r);
  }
}

}  // namespace asteroid::sim
