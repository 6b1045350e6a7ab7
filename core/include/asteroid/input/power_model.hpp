// Power models: per device type, per power mode, the board's electrical power while idle, while
// computing (forward, backward, optimizer step) and while communicating (sends, receives,
// all-reduce, replication). Read from `traces/<device_type>/power.json` (docs/formats.md, "Power
// model"); every power carries its unit ("10W", "850mW") and the file says, in its provenance
// block, whether its figures are measured or derived and from what. energy.hpp turns them and a
// RunReport's spans into joules; plan_energy.hpp does the same for a plan's predicted round.
//
// What a mode changes here: only the powers. Its speed comes from its trace: a trace is for one
// mode (its `device.power_mode`, by default the power file's `default_mode`), other modes' traces
// lie beside it (traces/<type>/modes/<mode>/, docs/formats.md); a scenario that asks for a mode
// without a trace is refused (scenario.cpp), because its powers with another mode's times would
// give energies that are simply wrong (docs/method.md, "Energy").
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>

#include "asteroid/input/error.hpp"

namespace asteroid {

// One power mode of a device type. Watts, at the module's input rail (the whole board as a
// power meter or tegrastats' POM_5V_IN / VDD_IN would see it).
struct ModePower {
  std::string mode;            // "MAXN", "5W", "Max-Q", ...
  double budget_W = 0;         // the mode's power cap (nvpmodel); 0: the mode has none
  double idle_W = 0;           // nothing running: waiting, pipeline bubbles
  double compute_W = 0;        // forward, backward, optimizer step
  double communication_W = 0;  // sending, receiving, all-reduce, replication
  nlohmann::json provenance;   // free-form, per figure: where it comes from (may be empty)
};

struct PowerModel {
  std::string file;  // where it was loaded from (for messages and reports)
  std::string device_type;
  std::string default_mode;   // the mode the traces are for unless they say otherwise
  nlohmann::json provenance;  // "kind": "measured" | "derived", and how
  std::map<std::string, ModePower> modes;

  // The mode called `name`, or nullptr. "" is the default mode.
  const ModePower* mode(const std::string& name) const;
  // "MAXN, 5W": the modes, for messages.
  std::string mode_list() const;
};

// What one device of a run draws: its type's model in the mode the scenario gives it.
struct DevicePower {
  std::string device_type;
  std::string source;         // the power file
  ModePower power;            // with the mode's own provenance
  nlohmann::json provenance;  // the file's provenance block: "kind" measured | derived, and how
};

// What a device is doing, for its power: E = P_compute t_compute + P_comm t_comm + P_idle t_idle
// (energy.hpp for a run, plan_energy.hpp for a plan's round); absent: not there, drawing nothing.
enum class Activity { compute, communication, idle, absent };

// One device's energy by activity, over a run or a predicted round.
struct DeviceEnergy {
  std::string device;
  bool modelled = false;  // false: no power model for its type (energy not available for it)
  std::string mode;       // its power mode
  std::string source;     // the power file
  double compute_s = 0, communication_s = 0, idle_s = 0;  // seconds; together its time in the run
  double compute_J = 0, communication_J = 0, idle_J = 0;  // joules
  double total_J() const { return compute_J + communication_J + idle_J; }
};

// Reads and checks a power file: every power a string with a unit, 0 to limits::kMaxPowerW, none
// above its mode's budget; `default_mode` one of `modes`; provenance.kind "measured" or "derived".
// An Error names the file, the JSON path (e.g. "modes.5W.idle") and the problem.
Result<PowerModel> load_power_model(const std::string& file);
Result<PowerModel> parse_power_model(const nlohmann::json& j, const std::string& file);

}  // namespace asteroid
