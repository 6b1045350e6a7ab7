// The RunReport (docs/architecture.md, data flow), written alike by both backends: per round start, end and
// samples; per-instruction spans; events (failure, detection, re-plan, state transfer, resume);
// peak memory per device; the plans with their ids. Rendered as JSON, as a Chrome trace (Perfetto:
// one track per device) and as a per-round CSV.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "asteroid/input/error.hpp"
#include "asteroid/model/plan.hpp"
#include "asteroid/input/power_model.hpp"
#include "asteroid/input/vocabulary.hpp"

namespace asteroid {

struct Span {
  int device = 0;
  std::string op;  // the instruction's token (program.cpp, kOps): "F", "SEND_F", "ALLREDUCE", "TRANSFER", ...
  int stage = -1;
  int microbatch = -1;
  int round = -1;
  double start = 0, end = 0;  // seconds from the start of training
};

struct RoundRecord {
  int round = 0;
  double start = 0, end = 0;  // start: when the previous round ended (0 for the first)
  int samples = 0;
  int plan_id = 0;
  std::optional<double> loss;  // the round's training loss, where the backend computes one (exec)
  int checkpoint_copies = -1;  // fewest live copies of any layer's checkpoint at this commit; -1: not tracked
};

struct RunEvent {
  double time = 0;  // seconds from the start of training
  EventKind kind = EventKind::failure;
  std::string device;            // may be empty
  std::string detail;            // what happened, in words
  double duration_s = 0;         // replan and state_transfer: how long it took
  int round = -1;                // replay: the first round run again
  int plan_id = -1;              // replan: the plan chosen (-1: none; a join may keep the running one); resume
  double bytes = 0;              // state_transfer: weights and optimizer state moved
  std::vector<int> lost_layers;  // failure: layers whose checkpoint had no live copy
};

// A device's battery over the run (battery.hpp), in joules: its charge at the start and when it
// left or the run ended. Derived from the power model (energy.hpp's accounting), never measured.
struct BatteryRecord {
  std::string device;
  double capacity_J = 0, floor_J = 0;
  double start_J = 0, end_J = 0;
  std::optional<double> left_s;  // when it left the run, if it did (how: the event of that time)
  std::string how;               // "energy_departure", "planned_departure", or "" (there to the end)
  bool measured = false;         // part of the drain is its power rail's measurement (asteroid-exec)
};

// A plan the run used, with what the cost model predicted for it. Device indices are into
// RunReport::devices.
struct PlanRecord {
  Plan plan;
  double predicted_round_latency_s = 0;
  double predicted_throughput_samples_per_s = 0;
  double predicted_schedule_latency_s = 0;
};

// A test-set evaluation during training (a run on a real data set): the model as it is after
// `round`, in evaluation mode, over `samples` test samples.
struct TestEvaluation {
  int round = 0;
  double epoch = 0;     // epochs of training done: (round + 1) / rounds per epoch
  double time_s = 0;    // training time at the end of `round` (evaluations themselves left out)
  double accuracy = 0;  // fraction of the samples classified correctly, 0..1
  double loss = 0;      // mean cross-entropy
  int samples = 0;
};

// An emulated run (asteroid-exec --emulate, docs/emulation.md): the time dilation its clock was
// divided by, and how faithful the emulation was: compute steps with a budget from the traces,
// those whose real computation took longer than their (dilated) budget, and the longest overrun
// in the run's seconds.
struct EmulationRecord {
  double time_dilation = 1;
  long long budgeted_steps = 0, over_budget_steps = 0;
  double worst_overrun_s = 0;
};

// Workers that computed on an accelerator (asteroid-exec, a CUDA device; exec/README.md): the
// transport and the checkpoint files work on host memory, so activations, gradients, the
// all-reduce's sums, inputs and checkpoints cross between device and host. Their count, bytes and
// seconds (real time, summed over the workers) in the training rounds, part of the rounds' times
// (test-set evaluations' copies are not counted).
struct HostCopyRecord {
  long long copies = 0;
  double bytes = 0, seconds = 0;
};

// How the run's first plan was found (backend_setup.hpp, backend_plan), when a planner chose it (not
// a plan file): the strategy, how long planning took, and how good the plan is proven to be.
struct PlanningRecord {
  std::string strategy;
  double planning_time_s = 0;   // wall-clock seconds
  bool proven_optimal = false;  // no plan of the strategy's space is better (its search completed)
  // Seconds, 0 when none is known (baselines): no plan of the space is shorter under the
  // strategy's objective; with objective_s, the proven gap (objective - bound) / bound.
  double lower_bound_s = 0;
  double objective_s = 0;  // the plan's value under that objective (the 1F1B replay by default)
};

// A device's energy measured on its board (asteroid-exec: the board's input rail, sampled by the
// worker, exec/runtime/worker/power_rails.hpp), summed over its training rounds.
struct MeasuredEnergy {
  std::string rail;      // the rail and how it was read: "VDD_IN, INA3221 via hwmon (hwmon1)"
  double J = 0;          // joules
  double seconds = 0;    // the rounds' time it covers (real seconds)
  long long samples = 0;
};

struct RunReport {
  std::string scenario;
  std::string backend;    // "sim" or "exec"
  nlohmann::json config;  // backend options (network model, recovery, ...), free-form
  std::vector<std::string> devices;
  std::vector<PlanRecord> plans;  // index = plan id
  std::optional<PlanningRecord> planning;  // of plan 0, when a strategy planned it
  int rounds_planned = 0;         // the rounds the run was asked to train
  double end_s = 0;               // when the run ended (the last round's end, or when it stopped)
  std::vector<RoundRecord> rounds;
  std::vector<Span> spans;
  std::vector<RunEvent> events;
  std::vector<double> peak_memory_bytes;    // per device
  // Per device (asteroid-exec): the most bytes libtorch's CPU allocator held at once in a training
  // round (tensors only: weights, gradients, optimizer state, activations, messages); 0 or empty:
  // not metered.
  std::vector<double> peak_allocated_bytes;
  std::vector<TestEvaluation> evaluations;  // in round order; empty when nothing was evaluated
  // Per device (exec, workers on other hosts): how far its spans may be off the coordinator's
  // clock, half the best of the round trips that measured its offset; empty: one clock (sim).
  std::vector<double> clock_offset_bound_s;
  std::optional<EmulationRecord> emulation;  // exec --emulate only
  std::optional<HostCopyRecord> host_copies;  // exec, workers on an accelerator only
  // What the run did not do that its scenario asked for, in words (e.g. a fault event after the
  // run's end, backend_setup.hpp unreached_fault_warnings); the backend prints them too.
  std::vector<std::string> warnings;
  // Per device (empty: no power data at all): its power model in its mode, or nullopt when its
  // type has none. energy.hpp turns it and the spans into joules.
  std::vector<std::optional<DevicePower>> power;
  // Per device (empty: nothing measured): the energy its board measured, nullopt where none was.
  std::vector<std::optional<MeasuredEnergy>> measured_energy;
  // The devices on batteries (none: every device on mains), in RunReport::devices order.
  std::vector<BatteryRecord> batteries;

  // Appends an event and returns it, to add a round, bytes or lost layers.
  RunEvent& add_event(double time, EventKind kind, const std::string& device, const std::string& detail,
                      double duration_s = 0) {
    RunEvent& e = events.emplace_back();
    e.time = time, e.kind = kind, e.device = device, e.detail = detail, e.duration_s = duration_s;
    return e;
  }
};

}  // namespace asteroid
