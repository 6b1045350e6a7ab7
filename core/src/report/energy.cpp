#include "asteroid/report/energy.hpp"

#include <algorithm>
#include <cstdio>

#include "asteroid/input/units.hpp"

namespace asteroid {

Activity activity_of(const std::string& op) {
  return op == "F" || op == "B" || op == "RECOMPUTE" || op == "OPT" ? Activity::compute : Activity::communication;
}

namespace {

// The run's end: end_s, or the last round's end where a report leaves end_s out.
double run_end(const RunReport& r) {
  double end = r.end_s;
  if (end <= 0)
    for (const RoundRecord& x : r.rounds) end = std::max(end, x.end);
  return end;
}

// Changes of a device's state over time: +1/-1 on its presence, compute and communication depths.
struct Change {
  double t = 0;
  int present = 0, compute = 0, communication = 0;
};

}  // namespace

std::vector<std::vector<ActivitySegment>> device_activity(const RunReport& r) {
  const int n = int(r.devices.size());
  const double end = run_end(r);
  std::vector<std::vector<Change>> changes(static_cast<size_t>(n));
  // Presence: there from 0 unless its first failure-or-join is a join; a failure ends it, a join
  // starts it again. Events in time order (file order among equal times).
  std::vector<size_t> order(r.events.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return r.events[a].time < r.events[b].time; });
  auto presence_event = [&](const RunEvent& e, int d) {
    return e.device == r.devices[size_t(d)] && (is_departure(e.kind) || e.kind == EventKind::join);
  };
  for (int d = 0; d < n; ++d) {
    bool present = true;
    for (size_t i : order)
      if (presence_event(r.events[i], d)) {
        present = r.events[i].kind != EventKind::join;  // one that first joins starts absent
        break;
      }
    std::vector<Change>& c = changes[size_t(d)];
    if (present) c.push_back({0, +1, 0, 0});
    for (size_t i : order) {
      const RunEvent& e = r.events[i];
      if (!presence_event(e, d)) continue;
      const double t = std::clamp(e.time, 0.0, end);
      if (is_departure(e.kind) && present) c.push_back({t, -1, 0, 0});
      if (e.kind == EventKind::join && !present) c.push_back({t, +1, 0, 0});
      present = e.kind == EventKind::join;
    }
  }
  for (const Span& s : r.spans) {
    if (s.device < 0 || s.device >= n) continue;
    const double a = std::max(s.start, 0.0), b = std::min(s.end, end);
    if (b <= a) continue;
    const bool compute = activity_of(s.op) == Activity::compute;
    changes[size_t(s.device)].push_back({a, 0, compute ? 1 : 0, compute ? 0 : 1});
    changes[size_t(s.device)].push_back({b, 0, compute ? -1 : 0, compute ? 0 : -1});
  }
  std::vector<std::vector<ActivitySegment>> out(static_cast<size_t>(n));
  for (int d = 0; d < n; ++d) {
    std::vector<Change>& c = changes[size_t(d)];
    std::stable_sort(c.begin(), c.end(), [](const Change& x, const Change& y) { return x.t < y.t; });
    int present = 0, compute = 0, communication = 0;
    double t = 0;
    size_t i = 0;
    std::vector<ActivitySegment>& segs = out[size_t(d)];
    while (t < end || i < c.size()) {
      // Apply every change at time t, then the state holds until the next change (or the end).
      while (i < c.size() && c[i].t <= t) {
        present += c[i].present, compute += c[i].compute, communication += c[i].communication;
        ++i;
      }
      const double next = i < c.size() ? std::min(c[i].t, end) : end;
      if (next > t) {
        const Activity a = present <= 0        ? Activity::absent
                           : compute > 0       ? Activity::compute
                           : communication > 0 ? Activity::communication
                                               : Activity::idle;
        if (!segs.empty() && segs.back().activity == a && segs.back().end == t)
          segs.back().end = next;
        else
          segs.push_back({t, next, a});
      }
      if (next >= end) break;
      t = next;
    }
  }
  return out;
}

RunEnergy compute_energy(const RunReport& r) {
  RunEnergy e;
  if (r.power.empty()) {
    e.unavailable = "no power model for any device";
    return e;
  }
  if (r.spans.empty() && !r.rounds.empty()) {
    e.unavailable = "the report has no spans (asteroid-sim --no-spans)";
    return e;
  }
  const auto activity = device_activity(r);
  bool any = false;
  for (size_t d = 0; d < r.devices.size(); ++d) {
    DeviceEnergy de;
    de.device = r.devices[d];
    const std::optional<DevicePower>* p = d < r.power.size() ? &r.power[d] : nullptr;
    for (const ActivitySegment& s : activity[d]) {
      const double dt = s.end - s.start;
      if (s.activity == Activity::compute) de.compute_s += dt;
      if (s.activity == Activity::communication) de.communication_s += dt;
      if (s.activity == Activity::idle) de.idle_s += dt;
    }
    if (p && p->has_value()) {
      const ModePower& w = (*p)->power;
      de.modelled = any = true;
      de.mode = w.mode;
      de.source = (*p)->source;
      de.compute_J = w.compute_W * de.compute_s;
      de.communication_J = w.communication_W * de.communication_s;
      de.idle_J = w.idle_W * de.idle_s;
      e.compute_J += de.compute_J, e.communication_J += de.communication_J, e.idle_J += de.idle_J;
    } else {
      e.partial = true;
    }
    e.devices.push_back(de);
  }
  if (!any) {
    e.unavailable = "no power model for any device";
    e.devices.clear();
    e.partial = false;
    e.compute_J = e.communication_J = e.idle_J = 0;
    return e;
  }
  e.available = true;
  e.total_J = e.compute_J + e.communication_J + e.idle_J;
  // Per round: each modelled device's segments inside the round's window, rounds taken in time
  // order so that one pass over a device's segments serves every round.
  std::vector<size_t> order(r.rounds.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return r.rounds[a].start < r.rounds[b].start; });
  std::vector<double> round_J(r.rounds.size(), 0.0);
  for (size_t d = 0; d < r.devices.size(); ++d) {
    if (!e.devices[d].modelled) continue;
    const ModePower& w = r.power[d]->power;
    const std::vector<ActivitySegment>& segs = activity[d];
    size_t j = 0;
    for (size_t k : order) {
      const RoundRecord& x = r.rounds[k];
      while (j < segs.size() && segs[j].end <= x.start) ++j;
      for (size_t m = j; m < segs.size() && segs[m].start < x.end; ++m) {
        const double dt = std::min(segs[m].end, x.end) - std::max(segs[m].start, x.start);
        if (dt <= 0) continue;
        const Activity a = segs[m].activity;
        round_J[k] += dt * (a == Activity::compute         ? w.compute_W
                            : a == Activity::communication ? w.communication_W
                            : a == Activity::idle          ? w.idle_W
                                                           : 0.0);
      }
    }
  }
  for (size_t k = 0; k < r.rounds.size(); ++k) {
    e.rounds.push_back({r.rounds[k].round, round_J[k]});
    e.samples += r.rounds[k].samples;
  }
  e.rounds_committed = int(r.rounds.size());
  if (e.rounds_committed > 0) e.J_per_round = e.total_J / e.rounds_committed;
  if (e.samples > 0) e.J_per_sample = e.total_J / double(e.samples);
  return e;
}

nlohmann::json energy_to_json(const RunEnergy& e, const RunReport& r) {
  if (!e.available) return {{"kind", "modelled"}, {"available", false}, {"reason", e.unavailable}};
  // The provenance of every power file the run used, once per file.
  nlohmann::json sources = nlohmann::json::object();
  for (const auto& p : r.power)
    if (p && !sources.contains(p->source))
      sources[p->source] = {{"device_type", p->device_type}, {"provenance", p->provenance}};
  nlohmann::json devices = nlohmann::json::object();
  for (const DeviceEnergy& d : e.devices) {
    if (!d.modelled) {
      devices[d.device] = {{"available", false}, {"reason", "no power model for its device type"}};
      continue;
    }
    devices[d.device] = {{"power_mode", d.mode},
                         {"power_model", d.source},
                         {"compute_s", d.compute_s},
                         {"communication_s", d.communication_s},
                         {"idle_s", d.idle_s},
                         {"compute_J", d.compute_J},
                         {"communication_J", d.communication_J},
                         {"idle_J", d.idle_J},
                         {"total_J", d.total_J()}};
  }
  nlohmann::json rounds = nlohmann::json::array();
  for (const RoundEnergy& x : e.rounds) rounds.push_back({{"round", x.round}, {"J", x.J}});
  nlohmann::json out = {{"kind", "modelled"},
                        {"available", true},
                        {"method",
                         "per device: P_compute x (F, B, OPT spans) + P_communication x (other spans; a receive "
                         "includes its wait for the sender) + P_idle x (the rest of its time in the run); "
                         "docs/method.md 7.1"},
                        {"partial", e.partial},
                        {"power_models", sources},
                        {"total_J", e.total_J},
                        {"compute_J", e.compute_J},
                        {"communication_J", e.communication_J},
                        {"idle_J", e.idle_J},
                        {"rounds_committed", e.rounds_committed},
                        {"samples", e.samples},
                        {"devices", devices},
                        {"rounds", rounds}};
  if (e.J_per_round) out["J_per_round"] = *e.J_per_round;
  if (e.J_per_sample) out["J_per_sample"] = *e.J_per_sample;
  return out;
}

std::string energy_to_text(const RunEnergy& e) {
  if (!e.available) return "energy: not available (" + e.unavailable + ")\n";
  std::string out = "energy (modelled: power models x the spans' compute, communication and idle time";
  out += e.partial ? "; devices without a power model left out):\n" : "):\n";
  char line[256];
  std::snprintf(line, sizeof line, "  total %s over %d rounds: %.2f J per sample, %s per round\n",
                units::format_energy(e.total_J).c_str(), e.rounds_committed, e.J_per_sample.value_or(0.0),
                units::format_energy(e.J_per_round.value_or(0.0)).c_str());
  out += line;
  for (const DeviceEnergy& d : e.devices) {
    if (!d.modelled) {
      out += "  " + d.device + ": not available (no power model)\n";
      continue;
    }
    std::snprintf(line, sizeof line, "  %-8s %-6s %10s  (compute %s, communication %s, idle %s)\n",
                  d.device.c_str(), d.mode.c_str(), units::format_energy(d.total_J()).c_str(),
                  units::format_energy(d.compute_J).c_str(), units::format_energy(d.communication_J).c_str(),
                  units::format_energy(d.idle_J).c_str());
    out += line;
  }
  return out;
}

std::string measured_energy_to_text(const RunReport& r, const RunEnergy& e) {
  if (r.backend == "sim") return "";
  if (r.emulation)
    return "energy measured: none (an emulated run: this host's power is not the devices')\n";
  if (r.measured_energy.empty())
    return "energy measured: none (no INA3221 input rail readable on the workers' boards): the energy above is "
           "modelled, the scenario's devices' powers over this run's times, which are this machine's\n";
  std::string out = "energy measured on the boards (their input rail, over the training rounds):\n";
  char line[320];
  for (size_t d = 0; d < r.devices.size() && d < r.measured_energy.size(); ++d) {
    const auto& m = r.measured_energy[d];
    if (!m) {
      std::snprintf(line, sizeof line, "  %-8s not measured (no readable input rail)\n", r.devices[d].c_str());
      out += line;
      continue;
    }
    std::string modelled = "no power model";
    if (e.available && d < e.devices.size() && e.devices[d].modelled)
      modelled = "modelled " + units::format_energy(e.devices[d].total_J()) + " over its whole time in the run";
    std::snprintf(line, sizeof line, "  %-8s %10s in %.1f s, mean %.2f W (%s; %lld samples); %s\n",
                  r.devices[d].c_str(), units::format_energy(m->J).c_str(), m->seconds,
                  m->seconds > 0 ? m->J / m->seconds : 0.0, m->rail.c_str(), m->samples, modelled.c_str());
    out += line;
  }
  return out;
}

}  // namespace asteroid
