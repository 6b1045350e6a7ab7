// Inside core: the power mode a type's trace was taken in (scenario_power_modes.cpp), shared by the
// scenario's reader and the public power-mode queries of scenario.hpp.
#pragma once

#include <string>

#include "asteroid/input/scenario.hpp"

namespace asteroid {

// The mode type `type`'s trace is for: the trace's own, else its power model's default; "" when the
// type has no power model.
std::string trace_power_mode(const Scenario& s, const std::string& type);

}  // namespace asteroid
