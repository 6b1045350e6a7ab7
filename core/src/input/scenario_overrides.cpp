// What-ifs on the command line (scenario_overrides.hpp): edits of the scenario's JSON, made before
// it is parsed so that every check of docs/formats.md applies to the result.
#include "asteroid/input/scenario_overrides.hpp"

#include <algorithm>

#include "asteroid/input/json_reader.hpp"
#include "asteroid/input/units.hpp"

namespace asteroid {
namespace {

using nlohmann::json;

std::string dir_of(const std::string& file) {
  auto pos = file.find_last_of('/');
  return pos == std::string::npos ? "." : file.substr(0, pos);
}

// A graph names switches, media or links, or says so (docs/formats.md, "Network"); else a shorthand.
bool is_graph(const json& net) {
  return net.value("topology", "") == "graph" || net.contains("links") || net.contains("switches") ||
         net.contains("media");
}

bool names(const json& pair, const std::string& name) {
  return pair.is_array() && std::any_of(pair.begin(), pair.end(), [&](const json& x) { return x == name; });
}

std::vector<std::string> device_names(const json& devices) {
  std::vector<std::string> out;
  for (const json& d : devices) out.push_back(d.value("name", ""));
  return out;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& x : v) out += (out.empty() ? "" : ", ") + x;
  return out;
}

// Takes the device out of the cluster, the network and the fault script. Returns what else went.
std::string remove_device(json& j, const std::string& name) {
  json& devices = j["cluster"]["devices"];
  devices.erase(std::remove_if(devices.begin(), devices.end(), [&](const json& d) { return d.value("name", "") == name; }),
                devices.end());
  std::string also;
  json& net = j["cluster"]["network"];
  for (const char* key : {"links", "overrides"}) {
    if (!net.contains(key)) continue;
    json& list = net[key];
    const char* pair = std::string(key) == "links" ? "between" : "devices";
    const size_t before = list.size();
    list.erase(std::remove_if(list.begin(), list.end(), [&](const json& l) { return names(l.value(pair, json()), name); }),
               list.end());
    if (list.size() < before) also += std::string(", its ") + (std::string(key) == "links" ? "links" : "pairwise links");
  }
  if (net.contains("media"))
    for (json& m : net["media"])
      if (m.contains("stations")) {
        json& st = m["stations"];
        st.erase(std::remove(st.begin(), st.end(), json(name)), st.end());
      }
  if (j.contains("faults") && j["faults"].contains("events")) {
    json& ev = j["faults"]["events"];
    const size_t before = ev.size();
    ev.erase(std::remove_if(ev.begin(), ev.end(), [&](const json& e) { return e.value("device", "") == name; }),
             ev.end());
    if (ev.size() < before) also += ", its fault events";
  }
  return also.empty() ? "" : " (and" + also.substr(1) + ")";
}

// Puts a new device on the network as the others are: on a shorthand nothing more (every device is
// on the switch or medium); on a graph, the attachments of the first device of its type (else of
// the first device) copied.
void attach_device(json& net, const json& devices, const std::string& type, const std::string& name) {
  if (!is_graph(net)) return;
  std::string model_device;
  for (const json& d : devices)
    if (d.value("type", "") == type && d.value("name", "") != name) {
      model_device = d.value("name", "");
      break;
    }
  if (model_device.empty() && !devices.empty()) model_device = devices[0].value("name", "");
  if (net.contains("links")) {
    json added = json::array();
    for (const json& l : net["links"])
      if (names(l.value("between", json()), model_device)) {
        json copy = l;
        for (json& end : copy["between"])
          if (end == model_device) end = name;
        added.push_back(copy);
      }
    for (json& l : added) net["links"].push_back(l);
  }
  if (net.contains("media"))
    for (json& m : net["media"])
      if (names(m.value("stations", json()), model_device)) m["stations"].push_back(name);
}

// Every link and medium (and the shorthand's bandwidth) to `value`, or those `target` names.
// Returns how many were set.
int set_bandwidth(json& net, const std::string& target, const std::string& value) {
  int set = 0;
  if (!is_graph(net)) {
    if (target.empty()) net["bandwidth"] = value, ++set;
    if (net.contains("overrides"))
      for (json& o : net["overrides"])
        if (target.empty() || names(o.value("devices", json()), target)) o["bandwidth"] = value, ++set;
    return set;
  }
  // A medium's name sets the medium alone (its link to a switch is the access point's wired port).
  if (net.contains("media"))
    for (json& m : net["media"])
      if (target.empty() || m.value("name", "") == target) m["bandwidth"] = value, ++set;
  if (!target.empty() && set > 0) return set;
  if (net.contains("links"))
    for (json& l : net["links"])
      if (target.empty() || names(l.value("between", json()), target)) l["bandwidth"] = value, ++set;
  return set;
}

}  // namespace

std::string overrides_help() {
  return "what-ifs (applied to the scenario before it is checked):\n"
         "    --bandwidth BW         every link and medium at BW (\"100Mbps\"); NAME=BW: the medium NAME, or\n"
         "                           every link touching the device or switch NAME (a graph's, or a pairwise link)\n"
         "    --add-device TYPE[:NAME]  one device more, on the network as the others of its type are\n"
         "    --remove-device NAME   without that device (and its links and fault events)\n"
         "    --model NAME           another model (traces/<type>/NAME.json)\n"
         "    --batch-size N         N samples per round\n";
}

bool take_override(CliArgs& args, ScenarioOverrides& o) {
  const std::string& s = args.arg();
  if (s == "--bandwidth")
    o.bandwidths.push_back(args.value());
  else if (s == "--add-device")
    o.add_devices.push_back(args.value());
  else if (s == "--remove-device")
    o.remove_devices.push_back(args.value());
  else if (s == "--model")
    o.model = args.value();
  else if (s == "--batch-size")
    o.batch_size = int(args.number(1, true));
  else
    return false;
  return true;
}

Result<std::vector<std::string>> apply_overrides(json& j, const ScenarioOverrides& o, const std::string& file) {
  std::vector<std::string> applied;
  auto bad = [&](const std::string& flag, const std::string& why) { return Error{"", "", flag + ": " + why}; };
  json& devices = j["cluster"]["devices"];
  for (const std::string& name : o.remove_devices) {
    const auto have = device_names(devices);
    if (std::find(have.begin(), have.end(), name) == have.end())
      return bad("--remove-device " + name, file + " has no device \"" + name + "\" (its devices: " + joined(have) + ")");
    applied.push_back("removed device " + name + remove_device(j, name));
  }
  for (const std::string& spec : o.add_devices) {
    const size_t colon = spec.find(':');
    const std::string type = spec.substr(0, colon);
    std::string name = colon == std::string::npos ? "" : spec.substr(colon + 1);
    if (type.empty()) return bad("--add-device " + spec, "expected TYPE or TYPE:NAME (e.g. jetson_nano:nano_c)");
    const auto have = device_names(devices);
    if (colon != std::string::npos && name.empty())
      return bad("--add-device " + spec, "an empty NAME after \":\"");
    if (name.empty())  // the first of TYPE_1, TYPE_2, ... not taken
      for (int k = 1; name.empty() || std::count(have.begin(), have.end(), name); ++k) name = type + "_" + std::to_string(k);
    else if (std::count(have.begin(), have.end(), name))
      return bad("--add-device " + spec, file + " already has a device \"" + name + "\"");
    devices.push_back({{"name", name}, {"type", type}});
    attach_device(j["cluster"]["network"], devices, type, name);
    applied.push_back("added device " + name + " (" + type + ")");
  }
  if (o.model) {
    const std::string before = j["model"].value("name", "");
    j["model"] = {{"name", *o.model}};  // archive and input belonged to the old model
    // An explicit trace of the old model: the same folder's trace of the new one.
    if (j.contains("traces"))
      for (auto it = j["traces"].begin(); it != j["traces"].end(); ++it) {
        json& path = it.value();
        const std::string p = path.is_string() ? path.get<std::string>() : "";
        const std::string old_file = before + ".json";
        if (p.size() >= old_file.size() && p.compare(p.size() - old_file.size(), old_file.size(), old_file) == 0)
          path = p.substr(0, p.size() - old_file.size()) + *o.model + ".json";
      }
    applied.push_back("model " + *o.model + " (was " + before + ")");
  }
  if (o.batch_size) {
    json& t = j["training"];
    const std::string before = t.contains("batch_size") ? t["batch_size"].dump() : "none";
    t["batch_size"] = *o.batch_size;
    std::string note;
    // The planner's micro-batch sizes must divide the batch (docs/formats.md): those that no longer
    // do are dropped, said on the console; none left, the planner tries every divisor.
    if (j.contains("planner") && j["planner"].contains("microbatch_sizes")) {
      json& sizes = j["planner"]["microbatch_sizes"];
      json kept = json::array();
      std::string list;
      for (const json& v : sizes)
        if (v.is_number_integer() && v.get<long long>() >= 1 && *o.batch_size % v.get<long long>() == 0)
          kept.push_back(v), list += (list.empty() ? "" : ", ") + v.dump();
      if (kept.size() < sizes.size()) {
        note = kept.empty() ? "; micro-batch sizes: every divisor" : "; micro-batch sizes kept: " + list;
        if (kept.empty())
          j["planner"].erase("microbatch_sizes");
        else
          sizes = kept;
      }
    }
    applied.push_back("batch size " + std::to_string(*o.batch_size) + " (was " + before + note + ")");
  }
  for (const std::string& spec : o.bandwidths) {
    const size_t eq = spec.find('=');
    const std::string target = eq == std::string::npos ? "" : spec.substr(0, eq);
    const std::string value = eq == std::string::npos ? spec : spec.substr(eq + 1);
    std::string why;
    if (!units::parse_bandwidth(value, &why)) return bad("--bandwidth " + spec, why);
    const int set = set_bandwidth(j["cluster"]["network"], target, value);
    if (set == 0)
      return bad("--bandwidth " + spec,
                 "no link or medium of " + file + " touches \"" + target +
                     "\" (a star or wifi shorthand has one bandwidth for all: --bandwidth " + value + ")");
    applied.push_back("bandwidth " + value + (target.empty() ? " on every link" : " on " + target) + " (" +
                      std::to_string(set) + (set == 1 ? " link or medium)" : " links or media)"));
  }
  return applied;
}

Result<Scenario> load_scenario(const std::string& file, const ScenarioOverrides& o) {
  if (o.empty()) return load_scenario(file);
  auto j = read_json_file(file);
  if (!j) return j.error();
  // The file as written first: its own errors are told as they are, and the edits below meet the
  // shapes docs/formats.md gives.
  auto plain = parse_scenario(j.value(), file, dir_of(file));
  if (!plain) return plain.error();
  json changed = j.value();
  auto applied = apply_overrides(changed, o, file);
  if (!applied) return applied.error();
  auto s = parse_scenario(changed, file, dir_of(file));
  if (!s) {
    Error e = s.error();
    // A model no device type has a trace of is refused by the trace lookup, under the device's type:
    // said here as what it is, a model the traces do not know.
    if (o.model && e.message.find(*o.model) != std::string::npos)
      return Error{"", "", "--model " + *o.model + ": no trace of it for this scenario's devices: " + e.str() +
                               " (after the command line's overrides)"};
    e.message += " (after the command line's overrides)";
    return e;
  }
  Scenario out = std::move(s).value();
  out.applied_overrides = applied.value();
  return out;
}

}  // namespace asteroid
