#include "asteroid/report/report_compare.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <tuple>

namespace asteroid {
namespace {

std::string label(const RunReport& r) {
  std::string s = r.backend;
  if (r.config.is_object()) {
    std::string extra;
    for (const char* k : {"network_model", "recovery"})
      if (r.config.contains(k) && r.config[k].is_string())
        extra += (extra.empty() ? "" : ", ") + r.config[k].get<std::string>();
    if (!extra.empty()) s += " (" + extra + ")";
  }
  return s + ", scenario " + r.scenario;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string percent(double e) { return fmt("%+.1f%%", 100 * e); }

}  // namespace

ReportComparison compare_reports(const RunReport& a, const RunReport& b) {
  ReportComparison c;
  c.label_a = label(a);
  c.label_b = label(b);
  if (!a.rounds.empty()) c.length_a_s = a.rounds.back().end;
  if (!b.rounds.empty()) c.length_b_s = b.rounds.back().end;

  // Rounds by (number, occurrence): a replayed round appears again under its number.
  std::map<std::pair<int, int>, const RoundRecord*> in_b;
  std::map<int, int> seen;
  for (const RoundRecord& r : b.rounds) in_b[{r.round, seen[r.round]++}] = &r;
  seen.clear();
  for (const RoundRecord& r : a.rounds) {
    auto it = in_b.find({r.round, seen[r.round]++});
    if (it == in_b.end()) {
      ++c.rounds_only_a;
      continue;
    }
    c.rounds.push_back({r.round, r.end - r.start, it->second->end - it->second->start});
    in_b.erase(it);
  }
  c.rounds_only_b = int(in_b.size());
  for (const RoundDiff& d : c.rounds) {
    if (!(d.a_s > 0) && c.zero_rounds_a++ == 0) c.first_zero_round_a = d.round;
    double e = std::fabs(d.error());
    c.mean_abs_round_error += e;
    if (e > c.max_abs_round_error || c.worst_round < 0) {
      c.max_abs_round_error = std::max(c.max_abs_round_error, e);
      c.worst_round = d.round;
    }
  }
  if (!c.rounds.empty()) c.mean_abs_round_error /= double(c.rounds.size());

  std::map<std::tuple<std::string, std::string, int>, OpDiff> ops;
  auto add = [&](const RunReport& r, bool is_a) {
    for (const Span& s : r.spans) {
      const std::string& dev = s.device >= 0 && s.device < int(r.devices.size()) ? r.devices[s.device] : "?";
      OpDiff& o = ops[{dev, s.op, s.stage}];
      o.device = dev;
      o.op = s.op;
      o.stage = s.stage;
      (is_a ? o.count_a : o.count_b) += 1;
      (is_a ? o.a_s : o.b_s) += s.end - s.start;
    }
  };
  add(a, true);
  add(b, false);
  for (auto& [key, o] : ops) c.ops.push_back(o);

  std::map<std::pair<std::string, int>, double> events_b;
  std::map<std::string, int> count;
  for (const RunEvent& e : b.events) events_b[{to_string(e.kind), count[to_string(e.kind)]++}] = e.time;
  count.clear();
  for (const RunEvent& e : a.events) {
    const std::string kind = to_string(e.kind);
    int k = count[kind]++;
    auto it = events_b.find({kind, k});
    if (it == events_b.end()) {
      ++c.events_only_a;
      continue;
    }
    c.events.push_back({kind, k, e.time, it->second});
    events_b.erase(it);
  }
  c.events_only_b = int(events_b.size());
  c.energy_a = compute_energy(a);
  c.energy_b = compute_energy(b);
  c.energy_compared = c.energy_a.available && c.energy_b.available;
  return c;
}

std::string comparison_to_text(const ReportComparison& c, int max_rows) {
  std::string t = "A: " + c.label_a + "\nB: " + c.label_b + "\n";
  t += "run length: A " + fmt("%.3f s", c.length_a_s) + ", B " + fmt("%.3f s", c.length_b_s) +
       (c.length_a_s > 0 ? " (" + percent((c.length_b_s - c.length_a_s) / c.length_a_s) + ")" : "") + "\n";
  t += "rounds: " + std::to_string(c.rounds.size()) + " in both, " + std::to_string(c.rounds_only_a) +
       " only in A, " + std::to_string(c.rounds_only_b) + " only in B";
  if (!c.rounds.empty())
    t += "; round duration error: mean |e| " + fmt("%.2f%%", 100 * c.mean_abs_round_error) + ", max " +
         fmt("%.2f%%", 100 * c.max_abs_round_error) + " (round " + std::to_string(c.worst_round) + ")";
  t += "\n";
  if (!c.rounds.empty()) {
    std::vector<RoundDiff> r = c.rounds;
    std::stable_sort(r.begin(), r.end(), [](const RoundDiff& x, const RoundDiff& y) {
      return std::fabs(x.error()) > std::fabs(y.error());
    });
    if (int(r.size()) > max_rows) r.resize(max_rows);
    t += "  largest round errors:\n  round       A (s)       B (s)    error\n";
    for (const RoundDiff& d : r)
      t += fmt("  %5.0f", d.round) + fmt(" %11.4f", d.a_s) + fmt(" %11.4f", d.b_s) + "  " +
           percent(d.error()) + "\n";
  }
  if (!c.events.empty() || c.events_only_a || c.events_only_b) {
    t += "events: " + std::to_string(c.events.size()) + " in both, " + std::to_string(c.events_only_a) +
         " only in A, " + std::to_string(c.events_only_b) + " only in B\n";
    for (const EventDiff& e : c.events)
      t += "  " + e.kind + " #" + std::to_string(e.occurrence) + fmt(": A %.3f s", e.a_s) +
           fmt(", B %.3f s", e.b_s) + fmt(" (%+.3f s)", e.b_s - e.a_s) + "\n";
  }
  if (c.energy_compared) {
    const RunEnergy &a = c.energy_a, &b = c.energy_b;
    auto rel = [](double x, double y) { return x > 0 ? " (" + percent((y - x) / x) + ")" : std::string(); };
    t += "energy (modelled): total A " + fmt("%.1f J", a.total_J) + ", B " + fmt("%.1f J", b.total_J) +
         rel(a.total_J, b.total_J);
    if (a.J_per_sample && b.J_per_sample)
      t += "; per sample A " + fmt("%.3f J", *a.J_per_sample) + ", B " + fmt("%.3f J", *b.J_per_sample) +
           rel(*a.J_per_sample, *b.J_per_sample);
    t += "\n  device        A (J)        B (J)    error\n";
    for (const DeviceEnergy& da : a.devices)
      for (const DeviceEnergy& db : b.devices)
        if (da.device == db.device && da.modelled && db.modelled) {
          char line[160];
          std::snprintf(line, sizeof line, "  %-13s %10.1f   %10.1f  ", da.device.c_str(), da.total_J(), db.total_J());
          t += line + (da.total_J() > 0 ? percent((db.total_J() - da.total_J()) / da.total_J()) : std::string("-")) +
               "\n";
        }
  }
  if (!c.ops.empty()) {
    std::vector<OpDiff> o = c.ops;
    std::stable_sort(o.begin(), o.end(), [](const OpDiff& x, const OpDiff& y) {
      return std::fabs(x.b_s - x.a_s) > std::fabs(y.b_s - y.a_s);
    });
    if (int(o.size()) > max_rows) o.resize(max_rows);
    t += "busy time per device and instruction (largest differences; " + std::to_string(c.ops.size()) +
         " kinds in all):\n  device        op          stage  count A  count B       A (s)       B (s)    "
         "error\n";
    for (const OpDiff& d : o) {
      char line[200];
      std::snprintf(line, sizeof line, "  %-13s %-11s %5d  %7d  %7d %11.4f %11.4f  ", d.device.c_str(),
                    d.op.c_str(), d.stage, d.count_a, d.count_b, d.a_s, d.b_s);
      t += line + (d.a_s > 0 ? percent(d.error()) : std::string("-")) + "\n";
    }
  }
  return t;
}

nlohmann::json comparison_to_json(const ReportComparison& c) {
  nlohmann::json rounds = nlohmann::json::array(), ops = nlohmann::json::array(),
                 events = nlohmann::json::array();
  for (const RoundDiff& d : c.rounds)
    rounds.push_back({{"round", d.round}, {"a_s", d.a_s}, {"b_s", d.b_s}, {"error", d.error()}});
  for (const OpDiff& d : c.ops)
    ops.push_back({{"device", d.device},
                   {"op", d.op},
                   {"stage", d.stage},
                   {"count_a", d.count_a},
                   {"count_b", d.count_b},
                   {"a_s", d.a_s},
                   {"b_s", d.b_s},
                   {"error", d.error()}});
  for (const EventDiff& e : c.events)
    events.push_back({{"kind", e.kind}, {"occurrence", e.occurrence}, {"a_s", e.a_s}, {"b_s", e.b_s}});
  nlohmann::json out = {{"a", c.label_a},
          {"b", c.label_b},
          {"length_a_s", c.length_a_s},
          {"length_b_s", c.length_b_s},
          {"rounds_only_a", c.rounds_only_a},
          {"rounds_only_b", c.rounds_only_b},
          {"mean_abs_round_error", c.mean_abs_round_error},
          {"max_abs_round_error", c.max_abs_round_error},
          {"worst_round", c.worst_round},
          {"zero_rounds_a", c.zero_rounds_a},
          {"events_only_a", c.events_only_a},
          {"events_only_b", c.events_only_b},
          {"rounds", rounds},
          {"ops", ops},
          {"events", events}};
  if (c.energy_compared) {
    nlohmann::json devices = nlohmann::json::array();
    for (const DeviceEnergy& da : c.energy_a.devices)
      for (const DeviceEnergy& db : c.energy_b.devices)
        if (da.device == db.device && da.modelled && db.modelled)
          devices.push_back({{"device", da.device}, {"a_J", da.total_J()}, {"b_J", db.total_J()}});
    nlohmann::json e = {{"kind", "modelled"},
                        {"total_a_J", c.energy_a.total_J},
                        {"total_b_J", c.energy_b.total_J},
                        {"devices", devices}};
    if (c.energy_a.J_per_sample) e["J_per_sample_a"] = *c.energy_a.J_per_sample;
    if (c.energy_b.J_per_sample) e["J_per_sample_b"] = *c.energy_b.J_per_sample;
    out["energy"] = e;
  }
  return out;
}

}  // namespace asteroid
