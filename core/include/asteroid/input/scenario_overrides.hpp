// What-ifs without editing JSON: command-line changes to a scenario (`--bandwidth 100Mbps`,
// `--add-device jetson_nano:nano_c`, `--remove-device nx`, `--model NAME`, `--batch-size N`), shared by
// asteroid-plan, asteroid-sim and asteroid-exec. They are applied to the scenario's JSON before it is parsed, so
// that every check of a scenario file applies to the changed one too (docs/formats.md, "What-ifs
// on the command line").
//
// Usage:  ScenarioOverrides o;
//         while (args.next()) if (take_override(args, o)) continue; else ...
//         auto s = load_scenario(file, o);                 // an Error names the flag or the field
//         for (const std::string& line : s->applied_overrides) std::cout << line << "\n";
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "asteroid/input/cli_args.hpp"
#include "asteroid/input/error.hpp"
#include "asteroid/input/scenario.hpp"

namespace asteroid {

struct ScenarioOverrides {
  // "100Mbps" (every link and medium, and the shorthand's bandwidth) or "NAME=100Mbps" (the medium
  // NAME, or every link that touches the device or switch NAME), in the order given.
  std::vector<std::string> bandwidths;
  std::vector<std::string> add_devices;     // "TYPE" or "TYPE:NAME"
  std::vector<std::string> remove_devices;  // device names
  std::optional<std::string> model;         // a model with traces under traces/<type>/<model>.json
  std::optional<int> batch_size;            // samples per round, >= 1

  bool empty() const {
    return bandwidths.empty() && add_devices.empty() && remove_devices.empty() && !model && !batch_size;
  }
};

// The flags' lines for --help (each program prints them under its own usage).
std::string overrides_help();

// When the current argument is one of the override flags, takes it and its value into `o` and
// returns true; otherwise leaves `args` where it was and returns false. A malformed value (a
// batch size that is not a whole number >= 1) goes to the program's fail().
bool take_override(CliArgs& args, ScenarioOverrides& o);

// Applies `o` to the scenario JSON `j` read from `file`: removals first, then additions, the model,
// the batch size and the bandwidths. Returns one line per change in words ("removed device nx
// (and its fault events)"). Errors name the flag and the problem: an unknown device name, a device
// name used twice, a bandwidth without a unit, a NAME= that no link or medium touches.
// O(devices + links + events) per flag.
Result<std::vector<std::string>> apply_overrides(nlohmann::json& j, const ScenarioOverrides& o,
                                                 const std::string& file);

// load_scenario with the overrides applied before the scenario is checked; `applied_overrides` of
// the result lists the changes. A check that fails on the changed scenario says so: its one line
// ends with "(after the command line's overrides)".
Result<Scenario> load_scenario(const std::string& file, const ScenarioOverrides& o);

}  // namespace asteroid
