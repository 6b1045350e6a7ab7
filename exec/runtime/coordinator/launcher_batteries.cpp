// Batteries in asteroid-exec (docs/method.md, "Batteries"; exec/README.md): the same rule as
// asteroid-sim's (sim/src/battery.cpp), on the run's clock. A battery device's drain is accounted a
// reported round at a time: the round's own energy, measured by its board's input rail where the
// worker read one (power_rails.hpp), else modelled from the round's spans by energy.hpp's rule
// (compute, communication, idle at its power mode's watts); the gaps between its rounds at idle
// power. Between reports it is extrapolated at its last round's mean power (else the running plan's
// predicted power for it, plan_energy.hpp), so that a floor falls when it is reached, not at the
// next report. At its floor
// the device's worker stops at once, as a power cut would stop it (an energy departure, recovered
// like a leave); under the proactive policy, each checkpoint asks the core forecast
// (battery_forecast.hpp) whether a device must go, and the Coordinator's planned departure moves its
// state out first (the device sends it; no detection, no replay). Torch-free.
#include <algorithm>

#include "asteroid/planning/battery_forecast.hpp"
#include "asteroid/report/energy.hpp"
#include "launcher_loop.hpp"

namespace asteroid::exec::detail {
namespace {

// A battery device with a power model: the only ones drained (a type without one draws nothing by
// the model; the scenario refuses a battery there).
bool drained(const Scenario& s, const std::vector<std::optional<DevicePower>>& power, int d) {
  return s.devices[size_t(d)].battery && size_t(d) < power.size() && power[size_t(d)];
}

}  // namespace

double Launcher::drawn_J(int d, double now) {
  Drain& x = drains_[size_t(d)];
  if (!x.on || now <= x.until) return x.J;
  if (plan_energy_id_ != coord_.plan_id()) {
    plan_energy_ = predict_plan_energy(model_, coord_.plans()[size_t(coord_.plan_id())], power_);
    plan_energy_id_ = coord_.plan_id();
  }
  // Its mean power in its last reported round, while the plan is the one that round ran; else its
  // predicted mean power under the running plan; a device outside the plan idles.
  double watts = power_[size_t(d)]->power.idle_W;
  if (x.last_plan == coord_.plan_id() && x.last_W > 0) {
    watts = x.last_W;
  } else if (plan_energy_.available && plan_energy_.round_s > 0) {
    const DeviceEnergy& e = plan_energy_.devices[size_t(d)];
    if (e.compute_s + e.communication_s > 0) watts = e.total_J() / plan_energy_.round_s;
  }
  return x.J + watts * (now - x.until);
}

void Launcher::account_round(int d, const Round& r) {
  if (!drained(s_, power_, d)) return;
  Drain& x = drains_[size_t(d)];
  const double start = worker_t(d, r.start_ns), end = worker_t(d, r.end_ns);
  if (!x.on || end <= x.until) return;
  const double from = std::max(start, x.until);
  const ModePower& w = power_[size_t(d)]->power;
  const double before = x.J;
  x.J += w.idle_W * std::max(0.0, start - x.until);  // waiting for its round to start
  if (!r.power_rail.empty()) {
    x.J += r.measured_J;
    x.measured = true;
  } else {
    // The round's spans through energy.hpp's rule, on a report of this device and this round alone.
    RunReport one;
    one.devices = {name(d)};
    one.power = {power_[size_t(d)]};
    one.end_s = end - from;
    for (const SpanRecord& s : r.spans)
      one.spans.push_back({0, s.op, s.stage, s.microbatch, r.round, worker_t(d, s.start_ns) - from,
                           worker_t(d, s.end_ns) - from});
    const RunEnergy e = compute_energy(one);
    if (e.available) x.J += e.devices[0].total_J();
  }
  x.last_round_J = x.J - before;
  if (end > x.until) x.last_W = x.last_round_J / (end - x.until);
  x.last_plan = generation_plan_;
  x.until = end;
}

void Launcher::drain_off(int d, double now, EventKind how) {
  if (!drained(s_, power_, d) || !drains_[size_t(d)].on) return;
  Drain& x = drains_[size_t(d)];
  x.J = drawn_J(d, now);
  x.until = now;
  x.on = false;
  x.left_s = now;
  x.how = how;
}

void Launcher::drain_on(int d, double now) {
  if (!drained(s_, power_, d) || drains_[size_t(d)].on) return;
  Drain& x = drains_[size_t(d)];
  x.on = true;
  x.until = now;
  x.left_s.reset();
  x.asked = false;
}

// Floors reached: the device stops; the last one stops the run, its rounds kept.
std::optional<Launcher::End> Launcher::watch_batteries(double now) {
  if (!coordinating_) return std::nullopt;
  for (int d = 0; d < int(s_.devices.size()); ++d) {
    if (!drained(s_, power_, d) || !drains_[size_t(d)].on) continue;
    const BatterySpec& b = *s_.devices[size_t(d)].battery;
    if (drawn_J(d, now) < b.usable_J()) continue;
    const bool was_leaving = drains_[size_t(d)].leaving;
    drains_[size_t(d)].leaving = false;
    drain_off(d, now, EventKind::energy_departure);
    const std::string floor = "its battery reached its floor (" + format_watt_hours(b.floor_J) + ", " +
                              (drains_[size_t(d)].measured ? "measured and modelled drain" : "modelled drain") + ")";
    bool others = false;
    for (int e = 0; e < int(s_.devices.size()); ++e)
      if (e != d && (coord_.alive(e) || coord_.leaving(e))) others = true;
    Peer* p = peer(d);
    if (p && !p->gone()) {
      server_.send(d, Leave{});
      p->killed = true;
    }
    if (!others) {
      event(now, EventKind::energy_departure, name(d), "stops: " + floor + "; it was the last device").round =
          round_in_progress();
      return stop_after(o_.rounds - 1, "no device can go on: every device has left, the last (" + name(d) +
                                           ") at its battery's floor");
    }
    event(now, EventKind::energy_departure, name(d), "stops: " + floor).round = round_in_progress();
    // Its heartbeats stop and the Coordinator declares it, as for a leave. One that was moving its
    // state out as planned cannot finish that: it is lost now.
    if (was_leaving || !p)
      decide([&] { return coord_.lost(d, name(d) + "'s battery reached its floor", now); });
  }
  return std::nullopt;
}

// At a checkpoint: the forecast's devices leave as planned (the proactive policy).
void Launcher::consider_departures(double now) {
  if (s_.faults.battery != BatteryPolicy::proactive || !coordinating_ || coord_.recovering()) return;
  std::vector<std::optional<double>> usable(s_.devices.size());
  bool any = false;
  for (int d = 0; d < int(s_.devices.size()); ++d) {
    const Drain& x = drains_[size_t(d)];
    if (!drained(s_, power_, d) || !x.on || x.asked || !coord_.alive(d)) continue;
    usable[size_t(d)] = s_.devices[size_t(d)].battery->usable_J() - drawn_J(d, now);
    any = true;
  }
  if (!any) return;
  PlanEnergy e = predict_plan_energy(model_, coord_.plans()[size_t(coord_.plan_id())], power_);
  if (!e.available) return;
  // A device whose last round drew more than the plan predicts (its steps ran longer: a loaded
  // host, an emulation over budget, a rail that reads more) is forecast at what it drew: the rule
  // must not let it run dry while its state is being moved out.
  for (int d = 0; d < int(e.devices.size()); ++d) {
    DeviceEnergy& de = e.devices[size_t(d)];
    const double seen = drains_[size_t(d)].last_round_J, predicted = de.total_J();
    if (!usable[size_t(d)] || !(seen > predicted) || predicted <= 0) continue;
    const double k = seen / predicted;
    de.compute_J *= k, de.communication_J *= k, de.idle_J *= k;
  }
  std::vector<int> go;
  std::vector<std::string> why;
  for (const BatteryForecast& f : forecast_batteries(e, usable, s_.faults.battery_margin_rounds)) {
    if (!f.leave_now) continue;
    go.push_back(f.device);
    why.push_back(forecast_reason(f, coord_.plan_id(), s_.faults.battery_margin_rounds));
  }
  if (go.empty()) return;
  std::vector<Action> decided;
  decide([&] { return decided = coord_.depart(go, now); });
  if (decided.empty()) return;  // not at this checkpoint (a round finished after it): at the next
  for (size_t i = 0; i < go.size(); ++i) {
    Drain& x = drains_[size_t(go[i])];
    x.asked = true;
    if (!coord_.leaving(go[i])) continue;  // no plan without it: it stays to its floor
    x.leaving = true;
    x.why = why[i];
  }
}

// The state of the devices leaving as planned is in place on the others: they stop now.
void Launcher::finish_departures(double now) {
  for (int d = 0; d < int(s_.devices.size()); ++d) {
    Drain& x = drains_[size_t(d)];
    if (!x.leaving) continue;
    x.leaving = false;
    drain_off(d, now, EventKind::planned_departure);
    if (Peer* p = peer(d); p && !p->gone()) {
      server_.send(d, Leave{});
      p->killed = true;
    }
    event(now, EventKind::planned_departure, name(d),
          name(d) + " left as planned, its state copied out first (" + x.why + ")")
        .round = start_round_;
  }
}

void Launcher::record_batteries() {
  RunReport& rep = out_.report;
  for (int d = 0; d < int(s_.devices.size()); ++d) {
    if (!drained(s_, power_, d)) continue;
    const BatterySpec& b = *s_.devices[size_t(d)].battery;
    const Drain& x = drains_[size_t(d)];
    BatteryRecord r;
    r.device = name(d);
    r.capacity_J = b.capacity_J, r.floor_J = b.floor_J, r.start_J = b.charge_J;
    r.end_J = std::max(0.0, b.charge_J - drawn_J(d, rep.end_s));
    if (x.left_s) r.left_s = x.left_s, r.how = to_string(x.how);
    r.measured = x.measured;
    rep.batteries.push_back(r);
  }
}

}  // namespace asteroid::exec::detail
