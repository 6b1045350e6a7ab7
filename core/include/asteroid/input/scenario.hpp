// A scenario: the cluster, the model, the training set-up, the planner options, where the traces are,
// and a fault script. Loaded from JSON ("schema_version": 1) and validated here, once, for every
// program. Format: docs/formats.md.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "asteroid/input/battery.hpp"
#include "asteroid/input/error.hpp"
#include "asteroid/input/fine_tuning.hpp"
#include "asteroid/input/network.hpp"
#include "asteroid/input/power_model.hpp"
#include "asteroid/input/profile.hpp"
#include "asteroid/input/vocabulary.hpp"

namespace asteroid {

struct DeviceSpec {
  std::string name;
  std::string type;                    // a key of Scenario::traces
  std::optional<double> memory_bytes;  // usable memory; default: the trace's usable_memory_bytes
  double speed_factor = 1.0;           // multiplies the trace's speed (1 = as profiled)
  std::string host;  // asteroid-exec: where ssh starts its worker; empty: not started over ssh
  // asteroid-exec: where its worker computes, "cpu" (the default) or "cuda" / "cuda:N" (exec/README.md)
  std::string accelerator = "cpu";
  // The power mode it runs in (power_model.hpp); empty: its power model's default mode. Accepted
  // when a trace exists for the mode: the type's trace's own mode, or a mode trace beside it
  // (traces/<type>/modes/<mode>/<model>.json, docs/formats.md), whose times the device then runs at.
  std::string power_mode;
  // Its battery (battery.hpp); none: on mains. Only on a type with a power model (what drains it).
  std::optional<BatterySpec> battery;
};

struct LinkOverride {
  std::string a, b;
  double bandwidth_Bps = 0;
  double latency_s = 0;
};

struct NetworkSpec {
  Topology topology = Topology::star;
  // The shorthands: every device's link (star) or the medium (wifi), and pairwise links.
  double bandwidth_Bps = 0;  // bytes per second
  double latency_s = 0;      // device to device
  std::vector<LinkOverride> overrides;
  GraphSpec graph;  // what every topology is: the shorthands are written out as graphs
  std::shared_ptr<const Network> network;  // built from `graph` and checked when loaded
};

struct TrainingSpec {
  int batch_size = 0;  // mini-batch B, samples per round
  int rounds = 0;      // 0: not set; a backend chooses the run's length (backend_setup.hpp, run_length)
  Optimizer optimizer = Optimizer::sgd_momentum;
  // What trains (training.fine_tuning, fine_tuning.hpp): as written, and resolved against the
  // traces' layer list when the scenario is loaded (empty: every layer trains).
  FineTuningSpec fine_tuning;
  TrainingLayers layers;
  // Which stages recompute their activations (training.recomputation, cost_model.hpp).
  Recomputation recomputation = Recomputation::automatic;
};

struct PlannerSpec {
  Strategy strategy = Strategy::asteroid;
  std::vector<int> microbatch_sizes;  // empty: every divisor of B
  int max_stages = 0;                 // 0: no limit
  LatencyModel latency_model = LatencyModel::pipeline;
  // The order of a round's passes (planner.schedule, schedule.hpp): 1F1B, or GPipe.
  PipelineSchedule schedule = PipelineSchedule::one_f_one_b;
  double time_limit_s = 0;  // 0: search to the proven optimum
  // What the `asteroid` strategy minimises (objective_planner.hpp): the round, or the energy per
  // sample among plans whose round is at most (1 + max_slowdown) x the shortest, or (lifetime) the
  // samples before the first battery reaches its floor or by deadline_s, maximised.
  PlanningObjective objective = PlanningObjective::time;
  double max_slowdown = 0.1;  // a fraction (the scenario writes "10%"), >= 0
  // Whether the scenario (or a flag) wrote max_slowdown: the lifetime objective has no ceiling
  // of its own, so it applies one only when asked (the energy objective takes the 10% default).
  bool max_slowdown_given = false;
  PowerModeChoice power_modes = PowerModeChoice::fixed;
  // The lifetime objective's deadline, seconds (the scenario writes "10min"); 0: none (until the
  // first battery reaches its floor).
  double deadline_s = 0;
};

struct FaultEvent {
  double time_s = 0;
  std::string device;
  FaultKind kind = FaultKind::leave;
  double factor = 1.0;       // slowdown: new speed = factor x old speed
  double bandwidth_Bps = 0;  // link_slowdown: the device's link bandwidth from then on
};

struct FaultSpec {
  double heartbeat_interval_s = 1.0;
  int missed_heartbeats = 3;
  int replication_interval_rounds = 1;
  Recovery recovery = Recovery::lightweight;
  // What the Coordinator does about a battery that will reach its floor (battery_forecast.hpp):
  // react (its departure is detected like a leave) or proactive (it leaves, planned, at a round
  // boundary before), with battery_margin_rounds rounds of charge kept in hand.
  BatteryPolicy battery = BatteryPolicy::react;
  int battery_margin_rounds = 1;
  std::vector<FaultEvent> events;
};

struct Scenario {
  std::string file;  // where it was loaded from (for messages)
  std::string name;
  std::string description;
  std::vector<DeviceSpec> devices;
  NetworkSpec network;
  std::string model;
  // model.archive, resolved: an imported model's archive folder (asteroid/input/model_archive.hpp), empty
  // for the built-in models. Its name, input and layer names agree with the traces.
  std::string model_archive;
  // The model's input (e.g. "cifar10_32"): model.input, else the one input every trace names; empty
  // when neither says (only asteroid-exec needs it: require_model_input).
  std::string input;
  TrainingSpec training;
  PlannerSpec planner;
  std::map<std::string, std::string> trace_files;  // device type -> path (resolved)
  std::map<std::string, Profile> profiles;         // device type -> loaded profile
  // Device type -> power model: the scenario's "power" entry, else power.json beside the type's
  // trace when there is one. A type without one has no energy figures (reported as unavailable).
  std::map<std::string, std::string> power_files;
  std::map<std::string, PowerModel> power_models;
  // Device type -> power mode -> the trace of that mode, for the modes of the type's power model
  // other than its trace's own that have a mode trace (mode_trace_file); the same model and layers.
  std::map<std::string, std::map<std::string, Profile>> mode_profiles;
  std::map<std::string, std::map<std::string, std::string>> mode_trace_files;
  FaultSpec faults;
  // The command line's what-ifs applied before it was checked, one line each (scenario_overrides.hpp).
  std::vector<std::string> applied_overrides;

  int device_index(const std::string& name) const;  // -1 when unknown
};

// The devices whose first leave-or-join event is a join: not there when the run starts (events
// sorted by time). O(devices x events).
std::vector<int> absent_at_start(const std::vector<DeviceSpec>& devices, const FaultSpec& f);

// Loads, validates, and loads the traces the scenario names. Every error names file and JSON path.
Result<Scenario> load_scenario(const std::string& file);

// Parses from JSON already in memory; trace paths are resolved against `base_dir`.
Result<Scenario> parse_scenario(const nlohmann::json& j, const std::string& file,
                                const std::string& base_dir);

// asteroid-exec builds the model for its input: an Error naming model.input when the scenario's
// input is not known (neither model.input nor its traces name one), so that it is refused at load.
std::optional<Error> require_model_input(const Scenario& s);

// The model's layer names by layer index (every trace of a scenario carries the same list).
std::vector<std::string> layer_names(const Scenario& s);

// The power mode device d runs in: its power_mode, else its trace's, else its power model's
// default; "" when its type has no power model.
std::string device_power_mode(const Scenario& s, int d);

// Per scenario device (cluster order), its type's power model in its mode (device_power_mode), or
// nullopt when its type has none: RunReport::power, predict_plan_energy.
std::vector<std::optional<DevicePower>> device_powers(const Scenario& s);

// The trace device d's times come from: its power mode's trace (Scenario::mode_profiles) when it
// runs in a mode other than its type's trace's, else its type's trace.
const Profile& device_profile(const Scenario& s, int d);

// The power modes device type `type` can run in: its trace's mode and the modes with a mode trace,
// in the power model's order (names sorted); empty when the type has no power model.
std::vector<std::string> traced_power_modes(const Scenario& s, const std::string& type);

// Where the trace of `type` in power mode `mode` is looked for: beside the type's trace,
// <its folder>/modes/<mode>/<model>.json.
std::string mode_trace_file(const Scenario& s, const std::string& type, const std::string& mode);

// Bytes of optimizer state per parameter byte: 0 for SGD, 1 with momentum, 2 for Adam.
double optimizer_state_factor(Optimizer o);

// "cpu", "cuda" or "cuda:N" (N a device index below 64): a DeviceSpec's accelerator.
bool is_accelerator_name(const std::string& name);

}  // namespace asteroid
