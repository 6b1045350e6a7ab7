#include "asteroid/input/battery.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "asteroid/input/limits.hpp"
#include "asteroid/input/units.hpp"

namespace asteroid {
namespace {

// An energy with its unit, or "N%" of `capacity_J` (capacity_J < 0: a percentage is not allowed).
double energy_or_percent(const JsonReader& r, double capacity_J) {
  const std::string text = r.string();
  if (capacity_J >= 0 && !text.empty() && text.back() == '%') {
    const std::string number = text.substr(0, text.size() - 1);
    char* end = nullptr;
    const double pct = std::strtod(number.c_str(), &end);
    if (number.empty() || end != number.c_str() + number.size() || !std::isfinite(pct) || pct < 0 || pct > 100)
      r.fail("\"" + text + "\" must be a percentage of the capacity from 0% to 100%");
    return capacity_J * pct / 100;
  }
  std::string why;
  auto v = units::parse_energy(text, &why);
  if (!v) r.fail(why + (capacity_J >= 0 ? " (e.g. \"15Wh\", \"500J\") or a percentage (\"75%\")"
                                        : " (e.g. \"20Wh\", \"5kJ\")"));
  return *v;
}

}  // namespace

BatterySpec parse_battery(const JsonReader& r) {
  r.allow_only({"capacity", "charge", "floor"});
  BatterySpec b;
  b.capacity_J = energy_or_percent(r.at("capacity"), -1);
  if (!(b.capacity_J > 0 && b.capacity_J <= limits::kMaxBatteryJ))
    r.at("capacity").fail("must be above 0 J and at most " + format_watt_hours(limits::kMaxBatteryJ) + ", found " +
                          r.at("capacity").string());
  b.charge_J = r.has("charge") ? energy_or_percent(r.at("charge"), b.capacity_J) : b.capacity_J;
  if (b.charge_J > b.capacity_J)
    r.at("charge").fail("the charge " + format_watt_hours(b.charge_J) + " is above the capacity " +
                        format_watt_hours(b.capacity_J));
  if (r.has("floor")) b.floor_J = energy_or_percent(r.at("floor"), b.capacity_J);
  if (b.floor_J > b.charge_J)
    r.at("floor").fail("the floor " + format_watt_hours(b.floor_J) + " is above the charge " +
                       format_watt_hours(b.charge_J) + ": the device could not start");
  return b;
}

std::string format_watt_hours(double joules) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g Wh (%.0f J)", joules / 3600, joules);
  return buf;
}

}  // namespace asteroid
