#include "asteroid/planning/plan_lifetime.hpp"

#include <algorithm>
#include <cmath>

#include "asteroid/planning/battery_forecast.hpp"

namespace asteroid {

PlanLifetime predict_plan_lifetime(const PlanEnergy& energy, const std::vector<std::optional<double>>& usable_J,
                                   double samples_per_round, double deadline_s) {
  PlanLifetime l;
  if (!energy.available || !(energy.round_s > 0)) return l;
  l.available = true;
  // The forecast the Coordinator makes at the start of the run (no margin: the floor itself).
  for (const BatteryForecast& f : forecast_batteries(energy, usable_J, 0))
    if (f.rounds_left < l.rounds) l.rounds = f.rounds_left, l.first_device = f.device;
  l.seconds = l.rounds * energy.round_s;
  double rounds = l.rounds;
  if (deadline_s > 0 && deadline_s / energy.round_s < rounds) {
    rounds = deadline_s / energy.round_s;
    l.deadline_first = true;
  }
  l.samples = samples_per_round * rounds;
  return l;
}

double lifetime_seconds_bound(const std::vector<std::optional<double>>& usable_J,
                              const std::vector<std::optional<DevicePower>>& power, double deadline_s) {
  double k = deadline_s > 0 ? deadline_s : INFINITY;
  for (size_t d = 0; d < usable_J.size() && d < power.size(); ++d) {
    if (!usable_J[d] || !power[d]) continue;  // on mains, or never drained by the model
    const ModePower& w = power[d]->power;
    const double least_W = std::min({w.idle_W, w.communication_W, w.compute_W});
    if (least_W > 0) k = std::min(k, *usable_J[d] / least_W);
  }
  return k;
}

std::vector<int> battery_relabeling(const std::vector<std::vector<int>>& classes, const PlanEnergy& energy,
                                    const std::vector<std::optional<double>>& usable_J) {
  std::vector<int> perm(energy.devices.size());
  for (size_t d = 0; d < perm.size(); ++d) perm[d] = int(d);
  auto joules = [&](int d) {
    const DeviceEnergy& e = energy.devices[size_t(d)];
    return e.modelled ? e.total_J() : 0.0;
  };
  auto charge = [&](int d) {
    return size_t(d) < usable_J.size() && usable_J[size_t(d)] ? *usable_J[size_t(d)] : INFINITY;
  };
  for (const std::vector<int>& members : classes) {
    if (members.size() < 2) continue;
    std::vector<int> parts = members, devices = members;
    // Stable, so that where charges or joules tie, nothing moves.
    std::stable_sort(parts.begin(), parts.end(), [&](int a, int b) { return joules(a) > joules(b); });
    std::stable_sort(devices.begin(), devices.end(), [&](int a, int b) { return charge(a) > charge(b); });
    for (size_t k = 0; k < parts.size(); ++k) perm[size_t(parts[k])] = devices[k];
  }
  return perm;
}

Plan relabel_plan(const Plan& plan, const std::vector<int>& perm) {
  Plan p = plan;
  for (StagePlan& s : p.stages)
    for (int& d : s.devices) d = perm[size_t(d)];
  return p;
}

PlanEnergy relabel_energy(const PlanEnergy& energy, const std::vector<int>& perm) {
  PlanEnergy e = energy;
  for (size_t d = 0; d < perm.size() && d < energy.devices.size(); ++d) {
    DeviceEnergy& to = e.devices[size_t(perm[d])];
    const DeviceEnergy& from = energy.devices[d];
    const std::string name = to.device, mode = to.mode, source = to.source;
    const bool modelled = to.modelled;
    to = from;
    to.device = name, to.mode = mode, to.source = source, to.modelled = modelled;
  }
  return e;
}

}  // namespace asteroid
