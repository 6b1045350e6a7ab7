#include "asteroid/planning/plan_energy.hpp"

#include <algorithm>
#include <cstdio>

#include "asteroid/program/program.hpp"
#include "asteroid/input/units.hpp"

namespace asteroid {

PlanEnergy predict_plan_energy(const CostModel& model, const Evaluation& ev,
                               const std::vector<std::optional<DevicePower>>& power) {
  PlanEnergy e;
  if (!ev.feasible) {
    e.unavailable = "the plan does not fit";
    return e;
  }
  if (std::none_of(power.begin(), power.end(), [](const auto& p) { return p.has_value(); })) {
    e.unavailable = "no power model for any device";
    return e;
  }
  e.round_s = ev.predicted_round_s();
  const Program program = make_program(model, ev.plan);
  const std::vector<int> stage_of = program.stage_of_device();
  const double M = ev.plan.microbatches;
  for (int d = 0; d < model.num_devices(); ++d) {
    DeviceEnergy de;
    de.device = model.cluster().devices[size_t(d)].name;
    for (const Instruction& in : program.device[size_t(d)])
      if (in.op == Op::forward || in.op == Op::backward || in.op == Op::optimizer_step)
        de.compute_s += in.seconds;
    const int p = stage_of[size_t(d)];
    if (p >= 0)
      for (const StepCost& s : ev.steps) {
        if (s.kind == StepKind::communication && (s.stage == p - 1 || s.stage == p))
          de.communication_s += M * (s.E_f + s.E_b);
        if (s.kind == StepKind::compute && s.stage == p) de.communication_s += s.T_a;
      }
    de.compute_s = std::min(de.compute_s, e.round_s);
    de.communication_s = std::min(de.communication_s, e.round_s - de.compute_s);
    de.idle_s = e.round_s - de.compute_s - de.communication_s;
    if (size_t(d) < power.size() && power[size_t(d)]) {
      const ModePower& w = power[size_t(d)]->power;
      de.modelled = true;
      de.mode = w.mode;
      de.source = power[size_t(d)]->source;
      de.compute_J = w.compute_W * de.compute_s;
      de.communication_J = w.communication_W * de.communication_s;
      de.idle_J = w.idle_W * de.idle_s;
      e.J_per_round += de.total_J();
    } else {
      e.partial = true;
    }
    e.devices.push_back(de);
  }
  e.available = true;
  e.J_per_sample = e.J_per_round / double(ev.plan.microbatch_size * ev.plan.microbatches);
  return e;
}

nlohmann::json plan_energy_to_json(const PlanEnergy& e) {
  if (!e.available) return {{"kind", "modelled"}, {"available", false}, {"reason", e.unavailable}};
  nlohmann::json devices = nlohmann::json::object();
  for (const DeviceEnergy& d : e.devices)
    if (d.modelled)
      devices[d.device] = {
          {"power_mode", d.mode}, {"compute_s", d.compute_s}, {"communication_s", d.communication_s},
          {"idle_s", d.idle_s},   {"compute_J", d.compute_J}, {"communication_J", d.communication_J},
          {"idle_J", d.idle_J},   {"total_J", d.total_J()}};
  return {{"kind", "modelled"},
          {"available", true},
          {"round_s", e.round_s},
          {"J_per_round", e.J_per_round},
          {"J_per_sample", e.J_per_sample},
          {"partial", e.partial},
          {"devices", devices}};
}

std::string plan_energy_to_text(const PlanEnergy& e) {
  if (!e.available) return "energy: not available (" + e.unavailable + ")\n";
  char line[256];
  std::snprintf(line, sizeof line, "energy per round (modelled%s): %s, %.2f J per sample\n",
                e.partial ? "; devices without a power model left out" : "",
                units::format_energy(e.J_per_round).c_str(), e.J_per_sample);
  std::string out = line;
  for (const DeviceEnergy& d : e.devices) {
    if (!d.modelled) continue;
    std::snprintf(line, sizeof line,
                  "  %-10s %-6s %9.2f J  (compute %.3f s, communication %.3f s, idle %.3f s)\n",
                  d.device.c_str(), d.mode.c_str(), d.total_J(), d.compute_s, d.communication_s, d.idle_s);
    out += line;
  }
  return out;
}

}  // namespace asteroid
