#include "asteroid/input/power_model.hpp"

#include "asteroid/input/json_reader.hpp"
#include "asteroid/input/limits.hpp"
#include "asteroid/input/units.hpp"

namespace asteroid {

const ModePower* PowerModel::mode(const std::string& name) const {
  auto it = modes.find(name.empty() ? default_mode : name);
  return it == modes.end() ? nullptr : &it->second;
}

std::string PowerModel::mode_list() const {
  std::string out;
  for (const auto& [name, m] : modes) out += (out.empty() ? "" : ", ") + name;
  return out;
}

namespace {

ModePower parse_mode(const JsonReader& r, const std::string& name) {
  r.allow_only({"budget", "idle", "compute", "communication", "provenance"});
  ModePower m;
  m.mode = name;
  if (r.has("budget")) m.budget_W = r.at("budget").power_in(0, limits::kMaxPowerW);
  m.idle_W = r.at("idle").power_in(0, limits::kMaxPowerW);
  m.compute_W = r.at("compute").power_in(0, limits::kMaxPowerW);
  m.communication_W = r.at("communication").power_in(0, limits::kMaxPowerW);
  // A mode's cap bounds what the module draws in it: a figure above it is a typo or a wrong mode.
  if (m.budget_W > 0)
    for (auto [key, w] : {std::pair{"idle", m.idle_W}, std::pair{"compute", m.compute_W},
                          std::pair{"communication", m.communication_W}})
      if (w > m.budget_W) r.at(key).fail("is above the mode's budget of " + units::format_power(m.budget_W));
  if (r.has("provenance")) {
    r.at("provenance").require_object();
    m.provenance = r.at("provenance").json();
  }
  return m;
}

}  // namespace

Result<PowerModel> parse_power_model(const nlohmann::json& j, const std::string& file) {
  try {
    JsonReader r(j, "");
    r.allow_only({"schema_version", "device_type", "default_mode", "provenance", "modes"});
    long long version = r.at("schema_version").integer();
    if (version != 1)
      r.at("schema_version")
          .fail("this program reads schema_version 1; the file has " + std::to_string(version));
    PowerModel p;
    p.file = file;
    p.device_type = r.at("device_type").string();
    JsonReader prov = r.at("provenance");
    prov.require_object();
    std::string kind = prov.at("kind").string();
    if (kind != "measured" && kind != "derived")
      prov.at("kind").fail("must be \"measured\" or \"derived\", found \"" + kind + "\"");
    p.provenance = prov.json();
    JsonReader modes = r.at("modes");
    modes.require_object();
    if (modes.keys().empty()) modes.fail("must list at least one power mode");
    if (modes.keys().size() > size_t(limits::kMaxPowerModes))
      modes.fail("at most " + std::to_string(limits::kMaxPowerModes) + " modes");
    for (const std::string& name : modes.keys()) {
      if (name.empty()) modes.fail("a mode's name must not be empty");
      p.modes[name] = parse_mode(modes.at(name.c_str()), name);
    }
    p.default_mode = r.at("default_mode").string();
    if (!p.modes.count(p.default_mode))
      r.at("default_mode")
          .fail("unknown power mode \"" + p.default_mode + "\" (modes: " + p.mode_list() + ")");
    return p;
  } catch (const InputError& e) {
    return Error{file, e.path, e.message};
  } catch (const nlohmann::json::exception& e) {
    return Error{file, "", std::string("unreadable JSON value: ") + e.what()};
  }
}

Result<PowerModel> load_power_model(const std::string& file) {
  auto j = read_json_file(file);
  if (!j) return j.error();
  return parse_power_model(j.value(), file);
}

}  // namespace asteroid
