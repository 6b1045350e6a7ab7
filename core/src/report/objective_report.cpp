#include "asteroid/planning/objective_planner.hpp"

#include <cmath>
#include <cstdio>
#include <cstring>

#include "asteroid/input/units.hpp"

namespace asteroid {

namespace {

// A figure that may be infinite (a lifetime no battery bounds): null in JSON.
nlohmann::json finite_or_null(double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr); }

std::string device_name(const Cluster& c, int d) {
  return d >= 0 && d < int(c.devices.size()) ? c.devices[size_t(d)].name : std::string();
}

// "4480 samples before nano0's battery reaches its floor at 140.0 s" (or "by the deadline at ...").
std::string lifetime_text(const PlanLifetime& l, const Cluster& c) {
  if (!l.available) return "samples on batteries n/a";
  char buf[256];
  if (!std::isfinite(l.samples))
    return "no battery runs out";
  if (l.deadline_first || l.first_device < 0)
    std::snprintf(buf, sizeof buf, "%.0f samples by the deadline (the first battery, %s, would reach its floor at %.1f s)",
                  l.samples, l.first_device < 0 ? "none" : device_name(c, l.first_device).c_str(), l.seconds);
  else
    std::snprintf(buf, sizeof buf, "%.0f samples before %s's battery reaches its floor at %.1f s", l.samples,
                  device_name(c, l.first_device).c_str(), l.seconds);
  return buf;
}

}  // namespace

nlohmann::json scored_plan_to_json(const ScoredPlan& p, const Cluster& c) {
  nlohmann::json j = {{"feasible", p.evaluation.feasible}};
  if (!p.evaluation.feasible) return j;
  j["round_s"] = p.round_s();
  j["s_per_sample"] = p.s_per_sample();
  j["J_per_sample"] = p.energy.available ? nlohmann::json(p.energy.J_per_sample) : nlohmann::json(nullptr);
  j["microbatch_size"] = p.evaluation.plan.microbatch_size;
  nlohmann::json stages = nlohmann::json::array();
  for (const StagePlan& sp : p.evaluation.plan.stages) {
    nlohmann::json names = nlohmann::json::array();
    for (int d : sp.devices) names.push_back(c.devices[size_t(d)].name);
    stages.push_back({{"layers", {sp.first_layer, sp.last_layer}}, {"devices", names}});
  }
  j["stages"] = stages;
  nlohmann::json modes = nlohmann::json::object();
  for (size_t d = 0; d < p.power_modes.size() && d < c.devices.size(); ++d)
    if (!p.power_modes[d].empty()) modes[c.devices[d].name] = p.power_modes[d];
  j["power_modes"] = modes;
  if (p.lifetime.available) {
    const PlanLifetime& l = p.lifetime;
    j["lifetime"] = {{"samples", finite_or_null(l.samples)},
                     {"rounds", finite_or_null(l.rounds)},
                     {"seconds", finite_or_null(l.seconds)},
                     {"first_device", l.first_device >= 0 ? nlohmann::json(device_name(c, l.first_device)) : nlohmann::json(nullptr)},
                     {"deadline_first", l.deadline_first}};
  }
  return j;
}

nlohmann::json objective_to_json(const ObjectiveResult& r, const ObjectiveOptions& o, const Cluster& c) {
  nlohmann::json j = {{"objective", to_string(o.objective)},
                      {"max_slowdown", o.max_slowdown},
                      {"power_modes", to_string(o.power_modes)},
                      {"ceiling_s", r.ceiling_s},
                      {"mode_assignments", r.mode_assignments},
                      {"plans_scored", r.plans_scored},
                      {"proven_optimal", r.proven_optimal}};
  j["fastest"] = scored_plan_to_json(r.fastest, c);
  j["chosen"] = scored_plan_to_json(r.chosen, c);
  if (r.fastest.energy.available && r.chosen.energy.available && r.fastest.energy.J_per_sample > 0) {
    j["energy_saved"] = 1 - r.chosen.energy.J_per_sample / r.fastest.energy.J_per_sample;
    j["slowdown"] = r.chosen.s_per_sample() / r.fastest.s_per_sample() - 1;
  }
  nlohmann::json front = nlohmann::json::array(), fastest = nlohmann::json::array(),
                 least = nlohmann::json::array();
  for (const ScoredPlan& p : r.front) front.push_back(scored_plan_to_json(p, c));
  for (const ScoredPlan& p : r.assignment_fastest) fastest.push_back(scored_plan_to_json(p, c));
  for (const ScoredPlan& p : r.assignment_least_energy) least.push_back(scored_plan_to_json(p, c));
  j["front"] = front;
  j["assignment_fastest"] = fastest;
  j["assignment_least_energy"] = least;
  if (o.objective == PlanningObjective::lifetime) {
    j["max_slowdown"] = o.max_slowdown_given ? nlohmann::json(o.max_slowdown) : nlohmann::json(nullptr);
    j["deadline_s"] = o.deadline_s > 0 ? nlohmann::json(o.deadline_s) : nlohmann::json(nullptr);
    const PlanLifetime &chosen = r.chosen.lifetime, &fast = r.fastest.lifetime;
    if (chosen.available && fast.available && std::isfinite(chosen.samples) && std::isfinite(fast.samples) &&
        fast.samples > 0)
      j["samples_gained"] = chosen.samples / fast.samples - 1;
    nlohmann::json most = nlohmann::json::array();
    for (const ScoredPlan& p : r.assignment_most_samples) most.push_back(scored_plan_to_json(p, c));
    j["assignment_most_samples"] = most;
  }
  return j;
}

std::string objective_to_text(const ObjectiveResult& r, const ObjectiveOptions& o, const Cluster& c) {
  auto modes = [&](const ScoredPlan& p) {
    std::string t;
    for (size_t d = 0; d < p.power_modes.size() && d < c.devices.size(); ++d)
      if (!p.power_modes[d].empty()) t += (t.empty() ? "" : ", ") + c.devices[d].name + " " + p.power_modes[d];
    return t.empty() ? std::string("-") : t;
  };
  auto line = [&](const char* what, const ScoredPlan& p) {
    char buf[256], joules[32] = "n/a";
    if (p.energy.available) std::snprintf(joules, sizeof joules, "%.4g", p.energy.J_per_sample);
    std::snprintf(buf, sizeof buf, "%s: round %.4f s, %.4g s and %s J per sample; modes: ", what, p.round_s(),
                  p.s_per_sample(), joules);
    return buf + modes(p) + "\n";
  };
  char buf[256];
  char limits_text[96];
  if (o.objective != PlanningObjective::lifetime)
    std::snprintf(limits_text, sizeof limits_text, "max slowdown %.4g%%", o.max_slowdown * 100);
  else if (o.deadline_s > 0)
    std::snprintf(limits_text, sizeof limits_text, "deadline %.6g s", o.deadline_s);
  else
    std::snprintf(limits_text, sizeof limits_text, "until the first battery's floor");
  if (o.objective == PlanningObjective::lifetime && o.max_slowdown_given)
    std::snprintf(limits_text + std::strlen(limits_text), sizeof limits_text - std::strlen(limits_text),
                  ", max slowdown %.4g%%", o.max_slowdown * 100);
  std::snprintf(buf, sizeof buf, "objective %s (%s, power modes %s): %d mode assignment%s, %lld plans "
                "within %.4f s scored%s\n",
                to_string(o.objective), limits_text, to_string(o.power_modes), r.mode_assignments,
                r.mode_assignments == 1 ? "" : "s", r.plans_scored, r.ceiling_s,
                r.proven_optimal ? ", proven optimal" : " (a time limit cut a search: not proven optimal)");
  std::string t = buf + line("fastest", r.fastest) + line("chosen ", r.chosen);
  if (r.fastest.energy.available && r.chosen.energy.available && r.fastest.energy.J_per_sample > 0) {
    std::snprintf(buf, sizeof buf, "the chosen plan saves %.1f%% of the energy per sample for %.1f%% more time per sample\n",
                  100 * (1 - r.chosen.energy.J_per_sample / r.fastest.energy.J_per_sample),
                  100 * (r.chosen.s_per_sample() / r.fastest.s_per_sample() - 1));
    t += buf;
  }
  if (o.objective == PlanningObjective::lifetime) {
    t += "on batteries, the chosen plan trains " + lifetime_text(r.chosen.lifetime, c) + "; the fastest " +
         lifetime_text(r.fastest.lifetime, c) + "\n";
  }
  return t;
}

}  // namespace asteroid
