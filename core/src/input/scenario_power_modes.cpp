// The power modes of a scenario's device types: which mode a trace is for, and where the traces of
// the other modes are (docs/formats.md, "Traces of other power modes").
#include "input/scenario_power_modes.hpp"

namespace asteroid {

std::string trace_power_mode(const Scenario& s, const std::string& type) {
  auto pm = s.power_models.find(type);
  if (pm == s.power_models.end()) return "";
  const std::string& trace_mode = s.profiles.at(type).power_mode;
  return trace_mode.empty() ? pm->second.default_mode : trace_mode;
}

std::string device_power_mode(const Scenario& s, int d) {
  const DeviceSpec& spec = s.devices[size_t(d)];
  if (!spec.power_mode.empty()) return spec.power_mode;
  return trace_power_mode(s, spec.type);
}

const Profile& device_profile(const Scenario& s, int d) {
  const DeviceSpec& spec = s.devices[size_t(d)];
  auto type = s.mode_profiles.find(spec.type);
  if (!spec.power_mode.empty() && type != s.mode_profiles.end()) {
    auto mode = type->second.find(spec.power_mode);
    if (mode != type->second.end()) return mode->second;
  }
  return s.profiles.at(spec.type);
}

std::vector<std::string> traced_power_modes(const Scenario& s, const std::string& type) {
  std::vector<std::string> out;
  auto pm = s.power_models.find(type);
  if (pm == s.power_models.end()) return out;
  const std::string base = trace_power_mode(s, type);
  auto modes = s.mode_profiles.find(type);
  for (const auto& [mode, power] : pm->second.modes)
    if (mode == base || (modes != s.mode_profiles.end() && modes->second.count(mode))) out.push_back(mode);
  return out;
}

std::vector<std::optional<DevicePower>> device_powers(const Scenario& s) {
  std::vector<std::optional<DevicePower>> out(s.devices.size());
  for (size_t d = 0; d < s.devices.size(); ++d) {
    auto pm = s.power_models.find(s.devices[d].type);
    if (pm == s.power_models.end()) continue;
    const ModePower* mode = pm->second.mode(device_power_mode(s, int(d)));
    if (!mode) continue;  // refused when the scenario was loaded
    out[d] = DevicePower{pm->second.device_type, pm->second.file, *mode, pm->second.provenance};
  }
  return out;
}

}  // namespace asteroid
