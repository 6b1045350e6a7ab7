#include "asteroid/input/scenario.hpp"

#include <algorithm>
#include <filesystem>
#include <set>

#include "asteroid/input/json_reader.hpp"
#include "asteroid/input/model_archive.hpp"
#include "asteroid/input/limits.hpp"
#include "asteroid/input/near_match.hpp"
#include "input/scenario_network.hpp"
#include "input/scenario_power_modes.hpp"

namespace asteroid {
namespace {

std::string dir_of(const std::string& file) {
  auto pos = file.find_last_of('/');
  return pos == std::string::npos ? "." : file.substr(0, pos);
}

std::string stem_of(const std::string& file) {
  auto slash = file.find_last_of('/');
  std::string base = slash == std::string::npos ? file : file.substr(slash + 1);
  auto dot = base.find_last_of('.');
  return dot == std::string::npos ? base : base.substr(0, dot);
}

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
         c == '.';
}

bool is_plain_name(const std::string& n) {
  return !n.empty() && n.size() <= 100 && n[0] != '.' && std::all_of(n.begin(), n.end(), name_char);
}

// The file's stem with every other character made '_'.
std::string plain_name(std::string n) {
  for (char& c : n)
    if (!name_char(c)) c = '_';
  if (n.size() > 100) n.resize(100);
  if (n.empty() || n[0] == '.') n.insert(n.begin(), '_');
  return n;
}

std::string resolve(const std::string& base_dir, const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  return base_dir + "/" + path;
}

void parse_devices(const JsonReader& r, Scenario& s) {
  if (r.size_at_most(limits::kMaxDevices) == 0) r.fail("a cluster needs at least one device");
  std::set<std::string> seen;
  for (size_t i = 0; i < r.size(); ++i) {
    JsonReader d = r.at(i);
    d.allow_only({"name", "type", "memory", "speed_factor", "host", "accelerator", "power_mode", "battery"});
    DeviceSpec spec;
    spec.name = d.at("name").string();
    if (spec.name.empty()) d.at("name").fail("must not be empty");
    if (!seen.insert(spec.name).second) d.at("name").fail("duplicate device name \"" + spec.name + "\"");
    spec.type = d.at("type").string();
    if (d.has("memory"))
      spec.memory_bytes = d.at("memory").bytes_in(limits::kMinMemoryBytes, limits::kMaxMemoryBytes);
    if (d.has("speed_factor"))
      spec.speed_factor = d.at("speed_factor").number_in(limits::kMinSpeedFactor, limits::kMaxSpeedFactor);
    if (d.has("host")) {
      spec.host = d.at("host").string();
      if (spec.host.empty() || spec.host[0] == '-' ||
          spec.host.find_first_of(" \t\n'\"") != std::string::npos)
        d.at("host").fail("expected an ssh destination such as \"jetson@192.168.1.21\"");
    }
    if (d.has("accelerator")) {
      spec.accelerator = d.at("accelerator").string();
      if (!is_accelerator_name(spec.accelerator))
        d.at("accelerator").fail("expected \"cpu\", \"cuda\" or \"cuda:N\"");
    }
    if (d.has("power_mode")) {
      spec.power_mode = d.at("power_mode").string();
      if (spec.power_mode.empty()) d.at("power_mode").fail("must not be empty");
    }
    if (d.has("battery")) spec.battery = parse_battery(d.at("battery"));
    s.devices.push_back(spec);
  }
}

// A non-empty list of non-empty strings (layer or map names).
std::vector<std::string> names_at(const JsonReader& r) {
  std::vector<std::string> out;
  if (r.size_at_most(limits::kMaxTrainingSelectors) == 0) r.fail("must name at least one");
  for (size_t i = 0; i < r.size(); ++i) {
    out.push_back(r.at(i).string());
    if (out.back().empty()) r.at(i).fail("must not be empty");
  }
  return out;
}

// training.fine_tuning: read here, checked against the layers once the traces are loaded.
void parse_fine_tuning(const JsonReader& r, Scenario& s) {
  r.allow_only({"frozen_prefix", "frozen", "lora", "adapters"});
  FineTuningSpec& f = s.training.fine_tuning;
  f.given = true;
  if (r.keys().empty())
    r.fail("says nothing: give frozen_prefix, frozen, lora or adapters, or leave it out for full training");
  if (r.has("frozen_prefix")) f.frozen_prefix = r.at("frozen_prefix").integer_in(0, limits::kMaxLayers);
  if (r.has("frozen")) {
    // Names, indices and index ranges; a bare number is taken as an index too.
    JsonReader fr = r.at("frozen");
    if (fr.size_at_most(limits::kMaxTrainingSelectors) == 0) fr.fail("must name at least one layer");
    for (size_t i = 0; i < fr.size(); ++i) {
      JsonReader e = fr.at(i);
      f.frozen.push_back(e.json().is_number() ? std::to_string(e.integer_in(0, limits::kMaxLayers)) : e.string());
    }
  }
  if (r.has("lora")) {
    JsonReader l = r.at("lora");
    l.allow_only({"rank", "maps"});
    f.lora_rank = int(l.at("rank").integer_in(1, limits::kMaxMapFeatures));
    f.lora_maps = names_at(l.at("maps"));
  }
  if (r.has("adapters")) {
    JsonReader a = r.at("adapters");
    a.allow_only({"width", "after"});
    f.adapter_width = int(a.at("width").integer_in(1, limits::kMaxMapFeatures));
    f.adapter_after = names_at(a.at("after"));
  }
}

void parse_training(const JsonReader& r, Scenario& s) {
  r.allow_only({"batch_size", "rounds", "optimizer", "fine_tuning", "recomputation"});
  s.training.batch_size = r.at("batch_size").integer_in(1, limits::kMaxBatchSize);
  if (r.has("rounds")) s.training.rounds = r.at("rounds").integer_in(1, limits::kMaxRounds);
  if (r.has("optimizer")) s.training.optimizer = r.at("optimizer").token(kOptimizers);
  if (r.has("fine_tuning")) parse_fine_tuning(r.at("fine_tuning"), s);
  if (r.has("recomputation")) s.training.recomputation = r.at("recomputation").token(kRecomputations);
}

void parse_planner(const JsonReader& r, Scenario& s) {
  r.allow_only({"strategy", "microbatch_sizes", "max_stages", "latency_model", "time_limit", "objective",
                "max_slowdown", "power_modes", "schedule", "deadline"});
  if (r.has("schedule")) s.planner.schedule = r.at("schedule").token(kPipelineSchedules);
  if (r.has("objective")) s.planner.objective = r.at("objective").token(kObjectives);
  if (r.has("max_slowdown")) {
    s.planner.max_slowdown = r.at("max_slowdown").percent_in(0, limits::kMaxSlowdown);
    s.planner.max_slowdown_given = true;
  }
  if (r.has("deadline")) {
    s.planner.deadline_s = r.at("deadline").seconds_in(0, limits::kMaxDeadlineS);
    if (s.planner.deadline_s <= 0) r.at("deadline").fail("must be a positive time");
  }
  if (r.has("power_modes")) s.planner.power_modes = r.at("power_modes").token(kPowerModeChoices);
  if (r.has("time_limit"))
    s.planner.time_limit_s = r.at("time_limit").seconds_in(0, limits::kMaxPlannerTimeLimitS);
  if (r.has("latency_model")) s.planner.latency_model = r.at("latency_model").token(kLatencyModels);
  if (r.has("strategy")) s.planner.strategy = r.at("strategy").token(kStrategies);
  if (r.has("microbatch_sizes")) {
    JsonReader mb = r.at("microbatch_sizes");
    for (size_t i = 0; i < mb.size_at_most(limits::kMaxBatchSize); ++i) {
      int v = mb.at(i).integer_in(1, s.training.batch_size);
      if (s.training.batch_size % v != 0)
        mb.at(i).fail("micro-batch size " + std::to_string(v) + " does not divide batch_size " +
                      std::to_string(s.training.batch_size));
      s.planner.microbatch_sizes.push_back(v);
    }
    if (s.planner.microbatch_sizes.empty()) mb.fail("must allow at least one micro-batch size");
  }
  if (r.has("max_stages")) s.planner.max_stages = r.at("max_stages").integer_in(1, limits::kMaxDevices);
}

void parse_faults(const JsonReader& r, Scenario& s) {
  r.allow_only({"heartbeat_interval", "missed_heartbeats", "replication_interval_rounds", "recovery", "battery",
                "battery_margin_rounds", "events"});
  FaultSpec& f = s.faults;
  if (r.has("heartbeat_interval"))
    f.heartbeat_interval_s =
        r.at("heartbeat_interval").seconds_in(limits::kMinHeartbeatIntervalS, limits::kMaxHeartbeatIntervalS);
  if (r.has("missed_heartbeats"))
    f.missed_heartbeats = r.at("missed_heartbeats").integer_in(1, limits::kMaxMissedHeartbeats);
  if (r.has("replication_interval_rounds"))
    f.replication_interval_rounds = r.at("replication_interval_rounds").integer_in(1, limits::kMaxRounds);
  if (r.has("recovery")) f.recovery = r.at("recovery").token(kRecoveries);
  if (r.has("battery")) f.battery = r.at("battery").token(kBatteryPolicies);
  if (r.has("battery_margin_rounds"))
    f.battery_margin_rounds = r.at("battery_margin_rounds").integer_in(0, limits::kMaxRounds);
  if (!r.has("events")) return;
  JsonReader ev = r.at("events");
  for (size_t i = 0; i < ev.size_at_most(limits::kMaxFaultEvents); ++i) {
    JsonReader e = ev.at(i);
    e.allow_only({"at", "device", "kind", "factor", "bandwidth"});
    FaultEvent fe;
    fe.time_s = e.at("at").seconds_in(0, limits::kMaxEventTimeS);
    fe.device = e.at("device").string();
    if (s.device_index(fe.device) < 0) e.at("device").fail("unknown device \"" + fe.device + "\"");
    fe.kind = e.at("kind").token(kFaultKinds);
    if (fe.kind == FaultKind::slowdown) {
      fe.factor = e.at("factor").number_in(limits::kMinSlowdownFactor, limits::kMaxSlowdownFactor);
    } else if (e.has("factor")) {
      e.at("factor").fail("only a slowdown has a factor");
    }
    if (fe.kind == FaultKind::link_slowdown)
      fe.bandwidth_Bps = e.at("bandwidth").bandwidth_in(limits::kMinBandwidthBps, limits::kMaxBandwidthBps);
    else if (e.has("bandwidth"))
      e.at("bandwidth").fail("only a link_slowdown has a bandwidth");
    f.events.push_back(fe);
  }
  // In time order (the file's order among events at the same time), each device leaves only while
  // present and joins only while absent; one whose first leave-or-join is a join starts absent.
  std::vector<size_t> order(f.events.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return f.events[a].time_s < f.events[b].time_s; });
  std::vector<FaultEvent> sorted;
  for (size_t i : order) sorted.push_back(f.events[i]);
  f.events = sorted;
  std::vector<bool> present(s.devices.size(), true);
  std::vector<double> speed(s.devices.size(), 1.0);  // slowdowns multiply
  for (int d : absent_at_start(s.devices, f)) present[d] = false;
  if (std::count(present.begin(), present.end(), true) == 0)
    ev.fail("every device joins later; the run has no device to start on");
  for (size_t k = 0; k < order.size(); ++k) {
    const FaultEvent& e = f.events[k];
    const int d = s.device_index(e.device);
    if (e.kind == FaultKind::leave) {
      if (!present[d]) ev.at(order[k]).fail(e.device + " leaves while it is not there");
      present[d] = false;
      if (std::count(present.begin(), present.end(), true) == 0)
        ev.at(order[k]).fail("every device has left; nothing could go on training");
    } else if (e.kind == FaultKind::join) {
      if (present[d]) ev.at(order[k]).fail(e.device + " joins while it is there");
      present[d] = true;
    } else if (e.kind == FaultKind::slowdown) {
      speed[d] *= e.factor;
      if (speed[d] < limits::kMinSlowdownFactor || speed[d] > limits::kMaxSlowdownFactor)
        ev.at(order[k]).fail("the slowdowns of " + e.device + " multiply to " + std::to_string(speed[d]) +
                             ", outside [1e-06, 1e+06]");
    }
  }
}

// A problem at a JSON path the file may not hold (model.input the traces imply, a trace found under
// traces/), told as JsonReader::fail tells one.
[[noreturn]] void fail_at(const std::string& path, const std::string& message) { throw InputError{path, message}; }

// The traces/ folder a scenario's device types are looked up in when it names no trace for them:
// the nearest traces/ beside the scenario's folder or above it (scenarios/x.json: the repository's),
// else the repository this program was built from. Empty when there is none.
std::string traces_dir(const std::string& base_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;  // a path that is not there is no folder (is_directory sets ec), not an error
  const fs::path dir = fs::absolute(base_dir, ec);
  if (!ec)
    for (fs::path d = dir; !d.empty(); d = d.parent_path()) {
      if (fs::is_directory(d / "traces", ec)) return (d / "traces").lexically_normal().string();
      if (d == d.parent_path()) break;
    }
#ifdef ASTEROID_TRACES_DIR
  if (fs::is_directory(ASTEROID_TRACES_DIR, ec)) return ASTEROID_TRACES_DIR;
#endif
  return "";
}

// traces/models/ holds the models' layer lists (traces/models/<model>.json), not a device type's traces.
constexpr const char* kLayerListsFolder = "models";

// The device types under `shelf` with a trace of `model` (traces/<type>/<model>.json), sorted.
std::vector<std::string> types_with_trace(const std::string& shelf, const std::string& model) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  std::error_code ec;
  if (shelf.empty()) return out;
  for (const auto& entry : fs::directory_iterator(shelf, ec))
    if (entry.path().filename() != kLayerListsFolder && fs::is_regular_file(entry.path() / (model + ".json"), ec))
      out.push_back(entry.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// The input the traces were measured on must be the scenario's: model.input when given (a trace
// naming another is refused), else the one input every trace names, which becomes the scenario's.
void check_input(Scenario& s, bool given) {
  std::set<std::string> named;
  for (const auto& [type, p] : s.profiles) {
    if (p.input.empty()) continue;
    named.insert(p.input);
    if (given && p.input != s.input)
      fail_at("traces." + type, "trace \"" + s.trace_files[type] + "\" was measured on input \"" + p.input +
                "\", but the scenario's model.input is \"" + s.input + "\"");
  }
  if (given || named.empty()) return;
  if (named.size() > 1) {
    std::string list;
    for (const std::string& n : named) list += (list.empty() ? "\"" : ", \"") + n + "\"";
    throw InputError{"model.input", "missing, and the traces name several inputs (" + list +
                                        "); add \"input\" to \"model\""};
  }
  s.input = *named.begin();
}

// A power file that is itself bad: its own error (file and field) is the message.
struct PowerFileError {
  Error error;
};

bool file_exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec);
}

// The traces of the power modes other than each type's trace's own, where one is found beside it
// (mode_trace_file). A mode trace must be of the same model, type and layers, and name its mode.
void load_mode_traces(Scenario& s) {
  for (const auto& [type, pm] : s.power_models) {
    const Profile& base = s.profiles.at(type);
    const std::string base_mode = trace_power_mode(s, type);
    for (const auto& [mode, power] : pm.modes) {
      if (mode == base_mode || !is_plain_name(mode)) continue;
      const std::string path = mode_trace_file(s, type, mode);
      if (!file_exists(path)) continue;
      auto p = load_profile(path);
      if (!p) fail_at("traces." + type, "trace of power mode " + mode + ": " + p.error().str());
      if (p->model != s.model || p->device_type != type || p->power_mode != mode)
        fail_at("traces." + type, "trace \"" + path + "\" must be of model \"" + s.model + "\", device type \"" +
                                      type + "\" and power mode \"" + mode + "\" (device.power_mode)");
      const std::string diff = layer_list_mismatch(base, *p);
      if (!diff.empty()) fail_at("traces." + type, "trace \"" + path + "\": layer list disagrees with " +
                                                     s.trace_files.at(type) + ": " + diff);
      s.mode_profiles[type][mode] = std::move(p).value();
      s.mode_trace_files[type][mode] = path;
    }
  }
}

// The power models (after the traces: a device's mode is checked against its trace's). A power
// file's own errors name that file and its field (they are about it, not the scenario).
void parse_power(const JsonReader& r, const JsonReader& devices, const std::string& base_dir, Scenario& s) {
  if (r.has("power")) {
    JsonReader power = r.at("power");
    power.require_object();
    for (const auto& type : power.keys()) {
      if (!s.trace_files.count(type))
        power.at(type.c_str()).fail("unknown device type \"" + type + "\": no trace for it under \"traces\"");
      s.power_files[type] = resolve(base_dir, power.at(type.c_str()).string());
    }
  }
  // By default, power.json beside the type's trace: the traces/<device_type>/ folder holds both.
  for (const auto& [type, trace] : s.trace_files)
    if (!s.power_files.count(type) && file_exists(dir_of(trace) + "/power.json"))
      s.power_files[type] = dir_of(trace) + "/power.json";
  for (const auto& [type, path] : s.power_files) {
    auto m = load_power_model(path);
    if (!m) throw PowerFileError{m.error()};
    if (m->device_type != type)
      (r.has("power") && r.at("power").has(type.c_str()) ? r.at("power").at(type.c_str()) : r.at("traces").at(type.c_str()))
          .fail("power model \"" + path + "\" is for device type \"" + m->device_type + "\"");
    const Profile& trace = s.profiles.at(type);
    if (!trace.power_mode.empty() && !m->mode(trace.power_mode))
      r.at("traces").at(type.c_str())
          .fail("trace is for power mode \"" + trace.power_mode + "\", which " + path + " does not list (" +
                m->mode_list() + ")");
    s.power_models[type] = std::move(m).value();
  }
  load_mode_traces(s);
  for (size_t i = 0; i < s.devices.size(); ++i) {
    const DeviceSpec& d = s.devices[i];
    if (d.battery && !s.power_models.count(d.type))
      devices.at(i).at("battery").fail("device type \"" + d.type +
                                       "\" has no power model (no power.json beside its trace, no \"power\" "
                                       "entry): nothing to drain the battery by");
    if (d.power_mode.empty()) continue;
    JsonReader field = devices.at(i).at("power_mode");
    auto pm = s.power_models.find(d.type);
    if (pm == s.power_models.end())
      field.fail("device type \"" + d.type + "\" has no power model (no power.json beside its trace, no \"power\" entry)");
    if (!pm->second.mode(d.power_mode))
      field.fail("unknown power mode \"" + d.power_mode + "\" for " + d.type + " (" + pm->second.file +
                 " has " + pm->second.mode_list() + ")");
    const std::string trace_mode = trace_power_mode(s, d.type);
    if (d.power_mode != trace_mode && !s.mode_profiles[d.type].count(d.power_mode))
      field.fail("no trace for power mode \"" + d.power_mode + "\": the trace " + s.trace_files.at(d.type) +
                 " is for " + trace_mode + ", and there is no " + mode_trace_file(s, d.type, d.power_mode) +
                 " (a mode's speed comes from its trace: docs/formats.md, \"Traces of other power modes\")");
  }
}

}  // namespace

std::optional<Error> require_model_input(const Scenario& s) {
  if (!s.input.empty()) return std::nullopt;
  return Error{s.file, "model.input",
               "missing, and the traces name no input; add the input the model is built for to \"model\", "
               "e.g. \"input\": \"cifar10_32\""};
}

std::vector<int> absent_at_start(const std::vector<DeviceSpec>& devices, const FaultSpec& f) {
  std::vector<int> out;
  for (size_t d = 0; d < devices.size(); ++d)
    for (const FaultEvent& e : f.events)
      if (e.device == devices[d].name && (e.kind == FaultKind::leave || e.kind == FaultKind::join)) {
        if (e.kind == FaultKind::join) out.push_back(int(d));
        break;
      }
  return out;
}

int Scenario::device_index(const std::string& n) const {
  for (size_t i = 0; i < devices.size(); ++i)
    if (devices[i].name == n) return int(i);
  return -1;
}

// An imported model's archive must be the model the traces describe: the same name, input and layers.
static void check_archive(Scenario& s, const JsonReader& at) {
  auto a = read_model_archive(s.model_archive);
  if (!a) at.fail(a.error().str());
  if (a->model != s.model)
    at.fail("the archive is model \"" + a->model + "\", the scenario's model is \"" + s.model + "\"");
  if (s.input.empty()) s.input = a->input;
  if (a->input != s.input) at.fail("the archive takes input " + a->input + ", the scenario says " + s.input);
  const Profile& p = s.profiles.begin()->second;
  if (p.layers.size() != a->layers.size())
    at.fail("the archive has " + std::to_string(a->layers.size()) + " layers, the traces " +
            std::to_string(p.layers.size()));
  for (size_t i = 0; i < p.layers.size(); ++i)
    if (p.layers[i].name != a->layers[i].name)
      at.fail("layer " + std::to_string(i) + " is \"" + a->layers[i].name + "\" in the archive, \"" +
              p.layers[i].name + "\" in the traces");
}

Result<Scenario> parse_scenario(const nlohmann::json& j, const std::string& file,
                                const std::string& base_dir) {
  Scenario s;
  s.file = file;
  try {
    JsonReader r(j, "");
    r.allow_only({"schema_version", "name", "description", "cluster", "model", "training", "planner",
                  "traces", "power", "faults"});
    long long version = r.at("schema_version").integer();
    if (version != 1)
      r.at("schema_version")
          .fail("this program reads schema_version 1; the file has " + std::to_string(version) +
                (version > 1 ? " (written by a newer version?)" : ""));
    // The name becomes the default output folder (out/<name>/): a plain file name, never a path.
    if (r.has("name")) {
      s.name = r.at("name").string();
      if (!is_plain_name(s.name))
        r.at("name").fail("\"" + s.name +
                          "\" must be 1 to 100 letters, digits, '_', '-' or '.', not starting with '.'");
    } else {
      s.name = plain_name(stem_of(file));
    }
    if (r.has("description")) s.description = r.at("description").string();

    JsonReader cluster = r.at("cluster");
    cluster.allow_only({"devices", "network"});
    parse_devices(cluster.at("devices"), s);
    parse_network(cluster.at("network"), s);

    JsonReader model = r.at("model");
    model.allow_only({"name", "input", "archive"});
    s.model = model.at("name").string();
    if (model.has("input")) s.input = model.at("input").string();
    if (model.has("archive")) s.model_archive = resolve(base_dir, model.at("archive").string());

    parse_training(r.at("training"), s);
    if (r.has("planner")) parse_planner(r.at("planner"), s);
    if (r.has("faults")) parse_faults(r.at("faults"), s);

    // Traces last: they are checked against the devices and the model read above. A device type
    // the scenario names no trace for takes the repository's traces/<type>/<model>.json.
    static const nlohmann::json kNoTraces = nlohmann::json::object();
    JsonReader traces = r.has("traces") ? r.at("traces") : JsonReader(kNoTraces, "traces");
    traces.require_object();
    for (const auto& type : traces.keys()) {
      std::string path = resolve(base_dir, traces.at(type.c_str()).string());
      s.trace_files[type] = path;
    }
    const std::string shelf = traces_dir(base_dir);
    for (size_t i = 0; i < s.devices.size(); ++i) {
      const auto& d = s.devices[i];
      if (s.trace_files.count(d.type)) continue;
      const std::string found = shelf.empty() ? "" : shelf + "/" + d.type + "/" + s.model + ".json";
      std::error_code ec;
      const bool plain = d.type.find('/') == std::string::npos && s.model.find('/') == std::string::npos &&
                         d.type != kLayerListsFolder;
      if (!found.empty() && plain && std::filesystem::is_regular_file(found, ec)) {
        s.trace_files[d.type] = found;
        continue;
      }
      // A type with a datasheet but no trace of this model: say how to derive one (tools/calibrate).
      const std::string sheet = shelf.empty() ? "" : shelf + "/" + d.type + "/device.json";
      if (!sheet.empty() && plain && std::filesystem::is_regular_file(sheet, ec)) {
        const std::string desc = shelf + "/" + kLayerListsFolder + "/" + s.model + ".json";
        cluster.at("devices").at(i).at("type").fail(
            "device type \"" + d.type + "\" has a datasheet (" + sheet + ") but no trace of " + s.model +
            " there; derive one: tools/calibrate/derive_traces.py --device " + sheet + " --model-desc " +
            (std::filesystem::is_regular_file(desc, ec) ? desc : "<the layer description of " + s.model + ">"));
      }
      std::string known;
      const std::vector<std::string> types = types_with_trace(shelf, s.model);
      for (const std::string& t : types) known += (known.empty() ? "" : ", ") + t;
      cluster.at("devices").at(i).at("type").fail(
          "unknown device type \"" + d.type + "\": no trace for it under \"traces\"" +
          (shelf.empty() ? std::string(" (and no traces/ folder found)")
                         : ", nor " + shelf + "/" + d.type + "/" + s.model + ".json; device types with a trace of " +
                               s.model + " there: " + (known.empty() ? "none" : known) + did_you_mean(d.type, types)));
    }
    const Profile* first = nullptr;
    std::string first_type;
    for (const auto& [type, path] : s.trace_files) {
      auto p = load_profile(path);
      if (!p) {
        const Error& e = p.error();
        fail_at("traces." + type, "trace " + e.str());
      }
      if (p->model != s.model)
        fail_at("traces." + type, "trace \"" + path + "\" is for model \"" + p->model + "\", but the scenario's model is \"" +
                  s.model + "\"");
      if (p->device_type != type)
        fail_at("traces." + type, "trace \"" + path + "\" is for device type \"" + p->device_type + "\"");
      s.profiles[type] = std::move(p).value();
      if (!first) {
        first = &s.profiles[type];
        first_type = type;
        continue;
      }
      std::string diff = layer_list_mismatch(*first, s.profiles[type]);
      if (!diff.empty())
        fail_at("traces." + type, "layer list disagrees with the trace of \"" + first_type + "\": " + diff);
    }
    check_input(s, model.has("input"));
    // Every trace carries the same layer list (checked above), so any one resolves what trains.
    auto trained = resolve_fine_tuning(s.training.fine_tuning, s.profiles.begin()->second);
    if (!trained) fail_at(trained.error().path, trained.error().message);
    s.training.layers = std::move(trained).value();
    if (!s.model_archive.empty()) check_archive(s, model.at("archive"));
    parse_power(r, cluster.at("devices"), base_dir, s);
    return s;
  } catch (const InputError& e) {
    return Error{file, e.path, e.message};
  } catch (const PowerFileError& e) {
    return e.error;
  } catch (const nlohmann::json::exception& e) {
    return Error{file, "", std::string("unreadable JSON value: ") + e.what()};
  }
}

std::string mode_trace_file(const Scenario& s, const std::string& type, const std::string& mode) {
  return dir_of(s.trace_files.at(type)) + "/modes/" + mode + "/" + s.model + ".json";
}

Result<Scenario> load_scenario(const std::string& file) {
  auto j = read_json_file(file);
  if (!j) return j.error();
  return parse_scenario(j.value(), file, dir_of(file));
}

std::vector<std::string> layer_names(const Scenario& s) {
  std::vector<std::string> names;
  if (s.profiles.empty()) return names;
  for (const LayerProfile& l : s.profiles.begin()->second.layers) names.push_back(l.name);
  return names;
}

double optimizer_state_factor(Optimizer o) {
  switch (o) {
    case Optimizer::sgd: return 0;
    case Optimizer::sgd_momentum: return 1;
    case Optimizer::adam: return 2;
  }
  return 0;
}

bool is_accelerator_name(const std::string& name) {
  if (name == "cpu" || name == "cuda") return true;
  if (name.rfind("cuda:", 0) != 0 || name.size() < 6 || name.size() > 7) return false;
  for (size_t i = 5; i < name.size(); ++i)
    if (name[i] < '0' || name[i] > '9') return false;
  return std::stoi(name.substr(5)) < 64;
}

}  // namespace asteroid
