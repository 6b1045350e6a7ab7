#include "asteroid/planning/battery_forecast.hpp"

#include <cstdio>

namespace asteroid {

std::vector<BatteryForecast> forecast_batteries(const PlanEnergy& energy,
                                                const std::vector<std::optional<double>>& usable_J,
                                                int margin_rounds) {
  std::vector<BatteryForecast> out;
  for (size_t d = 0; d < usable_J.size(); ++d) {
    if (!usable_J[d]) continue;
    BatteryForecast f;
    f.device = int(d);
    f.usable_J = *usable_J[d];
    f.round_s = energy.round_s;
    if (d < energy.devices.size() && energy.devices[d].modelled) f.round_J = energy.devices[d].total_J();
    if (f.round_J > 0) {
      f.rounds_left = f.usable_J / f.round_J;
      f.seconds_left = f.rounds_left * f.round_s;
    }
    f.leave_now = f.rounds_left < 1.0 + margin_rounds;
    out.push_back(f);
  }
  return out;
}

std::string forecast_reason(const BatteryForecast& f, int plan_id, int margin_rounds) {
  char buf[200];
  std::snprintf(buf, sizeof buf,
                "forecast at the checkpoint: %.1f J above its floor, %.1f J a round under plan %d: %.2f rounds "
                "left, fewer than 1 + %d",
                f.usable_J, f.round_J, plan_id, f.rounds_left, margin_rounds);
  return buf;
}

}  // namespace asteroid
