// Batteries: a device of the scenario may run on one (`cluster.devices[i].battery`, docs/formats.md);
// without one it is on mains. asteroid-sim drains it by the device's power model over the run's
// activity (the accounting of energy.hpp) and the device leaves when its charge reaches its floor;
// battery_forecast.hpp tells the Coordinator when that will be. docs/method.md, "Batteries".
#pragma once

#include <string>

#include "asteroid/input/json_reader.hpp"

namespace asteroid {

// Joules. 0 <= floor_J <= charge_J <= capacity_J, capacity_J > 0 (parse_battery checks it).
struct BatterySpec {
  double capacity_J = 0;
  double charge_J = 0;  // at the start of the run
  double floor_J = 0;   // the device stops (leaves the run) when its charge reaches this
  // The energy the run may draw from it: charge less floor.
  double usable_J() const { return charge_J - floor_J; }
};

// Reads {"capacity": "20Wh", "charge": "15Wh" | "75%", "floor": "1Wh" | "5%"}: every value an
// energy with its unit (units::parse_energy) or, for charge and floor, a percentage of the
// capacity. floor defaults to 0 J, charge to the capacity. Throws InputError (r.fail) naming the
// field: a unitless or negative value, a capacity of 0 or above limits::kMaxBatteryJ, a charge above
// the capacity, a floor above the charge.
BatterySpec parse_battery(const JsonReader& r);

// "15 Wh (54000 J)": joules written in watt-hours, as batteries are labelled, and in joules.
std::string format_watt_hours(double joules);

}  // namespace asteroid
