// The project's named choices, each as one table of {value, token, description}: the planning
// strategies, the recovery strategies, the latency models, the optimizers, the network topologies,
// the fault kinds, the run events and the Coordinator's actions. Parsing (scenario files, command
// lines), printing (reports, logs), "must be one of" messages and --help all read these tables, so
// a name exists in exactly one place. (The Program's instruction tokens live in program.cpp, kOps.)
//
// Usage:  if (auto r = kRecoveries.parse(text)) use(*r); else fail(kRecoveries.must_be(text));
//         std::string s = kRecoveries.token(Recovery::replan);   // "replan"
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "asteroid/input/near_match.hpp"

namespace asteroid {

template <class E>
struct Term {
  E value;
  const char* token;        // the word in files, on command lines and in reports
  const char* description;  // one line, for --help and docs
};

template <class E, std::size_t N>
struct Vocabulary {
  const char* what;  // "recovery strategy": names the vocabulary in messages
  std::array<Term<E>, N> terms;

  // The token of `v`. Every value of E has one (tests check the tables are complete).
  const char* token(E v) const {
    for (const Term<E>& t : terms)
      if (t.value == v) return t.token;
    return "?";
  }
  const char* description(E v) const {
    for (const Term<E>& t : terms)
      if (t.value == v) return t.description;
    return "?";
  }
  std::optional<E> parse(std::string_view s) const {
    for (const Term<E>& t : terms)
      if (s == t.token) return t.value;
    return std::nullopt;
  }
  // "a, b or c"
  std::string list() const {
    std::string out;
    for (std::size_t i = 0; i < N; ++i)
      out += std::string(i == 0 ? "" : i + 1 == N ? " or " : ", ") + terms[i].token;
    return out;
  }
  // The message for an unknown token: "unknown recovery strategy \"x\" (must be a, b or c)".
  std::string must_be(std::string_view found) const {
    std::vector<std::string> tokens;
    for (const Term<E>& t : terms) tokens.emplace_back(t.token);
    return "unknown " + std::string(what) + " \"" + std::string(found) + "\" (must be " + list() + ")" +
           did_you_mean(found, tokens);
  }
  // One line per term, "  token  description", tokens aligned: for --help.
  std::string help(int indent = 2) const {
    std::size_t width = 0;
    for (const Term<E>& t : terms) width = std::max(width, std::string_view(t.token).size());
    std::string out;
    for (const Term<E>& t : terms)
      out += std::string(indent, ' ') + t.token +
             std::string(width + 2 - std::string_view(t.token).size(), ' ') + t.description + "\n";
    return out;
  }
};

template <class E, class... T>
constexpr auto vocabulary(const char* what, T... terms) {
  return Vocabulary<E, sizeof...(T)>{what, {{terms...}}};
}

// --- Planning strategies (strategies.hpp runs them; README.md, "Baselines") ---
enum class Strategy { asteroid, device, dp, pp, pp_net, pipedream, dapple, alpa, hetpipe };
inline constexpr auto kStrategies = vocabulary<Strategy>(
    "strategy",
    Term<Strategy>{Strategy::asteroid, "asteroid",
                   "the exact HPP planner (stages x data-parallel groups, Alg. 1)"},
    Term<Strategy>{Strategy::device, "device", "the whole model on the fastest device that fits"},
    Term<Strategy>{Strategy::dp, "dp", "every device, whole model, equal shares (data parallelism)"},
    Term<Strategy>{Strategy::pp, "pp",
                   "one device per stage, all devices, split to balance computation; links ignored"},
    Term<Strategy>{Strategy::pp_net, "pp_net", "one device per stage, all devices, best split with links"},
    Term<Strategy>{Strategy::pipedream, "pipedream",
                   "replicated stages, equal shares, identical devices assumed"},
    Term<Strategy>{Strategy::dapple, "dapple", "replicated stages, equal shares, links modelled"},
    Term<Strategy>{Strategy::alpa, "alpa", "replicated stages, equal shares, memory-aware"},
    Term<Strategy>{Strategy::hetpipe, "hetpipe",
                   "per-device speeds and Alg. 1 shares; memory and links ignored"});

// --- Planning objectives (objective_planner.hpp; docs/method.md, "Energy-aware planning") ---
// Each is one case of objective_planner.cpp's switch: another objective is one more case.
enum class PlanningObjective { time, energy, lifetime };
inline constexpr auto kObjectives = vocabulary<PlanningObjective>(
    "objective", Term<PlanningObjective>{PlanningObjective::time, "time", "the shortest round (default)"},
    Term<PlanningObjective>{PlanningObjective::energy, "energy",
                    "the least predicted energy per sample within max_slowdown of the shortest round"},
    Term<PlanningObjective>{PlanningObjective::lifetime, "lifetime",
                    "the most samples before the first battery reaches its floor (or by planner.deadline)"});

// --- Power modes in planning ---
enum class PowerModeChoice { fixed, free };
inline constexpr auto kPowerModeChoices = vocabulary<PowerModeChoice>(
    "power-mode choice",
    Term<PowerModeChoice>{PowerModeChoice::fixed, "fixed", "each device in the scenario's mode (default)"},
    Term<PowerModeChoice>{PowerModeChoice::free, "free",
                          "each device's mode is a planning choice among the modes with a trace"});

// --- Recovery strategies (coordinator.hpp says what each does) ---
enum class Recovery { lightweight, replan, restart, adaptive };
inline constexpr auto kRecoveries = vocabulary<Recovery>(
    "recovery strategy",
    Term<Recovery>{Recovery::lightweight, "lightweight",
                   "shrink the failed stage's group or hand its layers to the neighbouring stages"},
    Term<Recovery>{Recovery::replan, "replan",
                   "plan the survivors from scratch; move only the state they lack"},
    Term<Recovery>{Recovery::restart, "restart",
                   "plan the survivors from scratch; every device reloads its stage from the checkpoint"},
    Term<Recovery>{Recovery::adaptive, "adaptive",
                   "lightweight or replan, whichever finishes the remaining rounds sooner"});

// --- What the Coordinator does about batteries (battery_forecast.hpp) ---
enum class BatteryPolicy { react, proactive };
inline constexpr auto kBatteryPolicies = vocabulary<BatteryPolicy>(
    "battery policy",
    Term<BatteryPolicy>{BatteryPolicy::react, "react",
                        "a device whose battery reaches its floor leaves; recovered like a leave"},
    Term<BatteryPolicy>{BatteryPolicy::proactive, "proactive",
                        "a device forecast to reach its floor leaves, planned, at a round boundary before"});

// --- Round latency models (cost_model.hpp) ---
enum class LatencyModel { pipeline, paper };
inline constexpr auto kLatencyModels = vocabulary<LatencyModel>(
    "latency model",
    Term<LatencyModel>{LatencyModel::pipeline, "pipeline",
                       "steps' sum + (M-1) x dominant step + all-reduce tail (default)"},
    Term<LatencyModel>{LatencyModel::paper, "paper",
                       "Eq. 4-6 of the paper as reconstructed (docs/method.md)"});

// --- Pipeline schedules (planner.schedule; schedule.hpp, docs/method.md §1.1) ---
enum class PipelineSchedule { one_f_one_b, gpipe };
inline constexpr auto kPipelineSchedules = vocabulary<PipelineSchedule>(
    "pipeline schedule",
    Term<PipelineSchedule>{PipelineSchedule::one_f_one_b, "1f1b",
                           "each stage alternates a backward with a forward after its warm-up (default)"},
    Term<PipelineSchedule>{PipelineSchedule::gpipe, "gpipe",
                           "every stage runs all its forwards, then all its backwards: M micro-batches in flight"});

// --- Optimizers (their state sizes the memory; exec runs them) ---
enum class Optimizer { sgd, sgd_momentum, adam };
inline constexpr auto kOptimizers = vocabulary<Optimizer>(
    "optimizer", Term<Optimizer>{Optimizer::sgd, "sgd", "plain SGD: no state"},
    Term<Optimizer>{Optimizer::sgd_momentum, "sgd_momentum", "SGD with momentum: one buffer per parameter"},
    Term<Optimizer>{Optimizer::adam, "adam", "Adam: two buffers per parameter"});

// --- Activation recomputation (training.recomputation; cost_model.hpp, docs/method.md §3.5) ---
enum class Recomputation { automatic, off, all };
inline constexpr auto kRecomputations = vocabulary<Recomputation>(
    "recomputation",
    Term<Recomputation>{Recomputation::automatic, "auto",
                        "a stage recomputes only where it does not fit without (default)"},
    Term<Recomputation>{Recomputation::off, "off", "no stage recomputes"},
    Term<Recomputation>{Recomputation::all, "all", "every stage whose backward keeps activations recomputes"});

// --- Network topologies (docs/formats.md) ---
enum class Topology { star, wifi, graph };
inline constexpr auto kTopologies = vocabulary<Topology>(
    "topology", Term<Topology>{Topology::star, "star", "one full-duplex port per device on one switch"},
    Term<Topology>{Topology::wifi, "wifi", "one shared half-duplex medium"},
    Term<Topology>{Topology::graph, "graph", "switches, media and links as the scenario names them"});

// --- Scripted faults (docs/formats.md, "faults") ---
enum class FaultKind { leave, slowdown, link_slowdown, join };
inline constexpr auto kFaultKinds = vocabulary<FaultKind>(
    "fault kind", Term<FaultKind>{FaultKind::leave, "leave", "the device leaves (until it joins again)"},
    Term<FaultKind>{FaultKind::slowdown, "slowdown", "the device's speed is multiplied by `factor`"},
    Term<FaultKind>{FaultKind::link_slowdown, "link_slowdown", "the device's link drops to `bandwidth`"},
    Term<FaultKind>{FaultKind::join, "join",
                    "the device joins (first event: absent until then) or returns after leaving"});

// --- What a run reports happening (run_report.hpp; docs/formats.md, "RunReport") ---
enum class EventKind {
  failure,          // a device left (scripted) or its worker died
  slowdown,         // a device's speed changed (scripted)
  link_slowdown,    // a device's link bandwidth changed (scripted)
  detection,        // the Coordinator declared it failed
  message_overdue,  // a device waited for a peer past the deadline
  replan,           // a new plan was chosen (duration: the time it took)
  move_layers,      // which layers move where
  state_transfer,   // state moved to the new owners (duration, bytes)
  replay,           // rounds since the checkpoint run again (round: the first)
  resume,           // training goes on (plan id)
  stop,             // the run stopped before its last round (why)
  abort,            // the simulator gave up (nothing can go on)
  join,             // a device joined or returned (scripted)
  fenced,           // a device declared failed was stopped for good (its process or host)
  energy_departure,   // a device's battery reached its floor: it left, unannounced (battery.hpp)
  planned_departure,  // a device left at a round boundary, its state copied out first (battery_forecast.hpp)
};
inline constexpr auto kEventKinds = vocabulary<EventKind>(
    "event kind", Term<EventKind>{EventKind::failure, "failure", "a device left or its worker died"},
    Term<EventKind>{EventKind::slowdown, "slowdown", "a device's speed changed"},
    Term<EventKind>{EventKind::link_slowdown, "link_slowdown", "a device's link bandwidth changed"},
    Term<EventKind>{EventKind::detection, "detection", "the Coordinator declared the device failed"},
    Term<EventKind>{EventKind::message_overdue, "message_overdue",
                    "a device waited for a peer past the deadline"},
    Term<EventKind>{EventKind::replan, "replan", "a new plan was chosen"},
    Term<EventKind>{EventKind::move_layers, "move_layers", "which layers move where"},
    Term<EventKind>{EventKind::state_transfer, "state_transfer", "state moved to its new owners"},
    Term<EventKind>{EventKind::replay, "replay", "the rounds since the checkpoint run again"},
    Term<EventKind>{EventKind::resume, "resume", "training goes on"},
    Term<EventKind>{EventKind::stop, "stop", "the run stopped before its last round"},
    Term<EventKind>{EventKind::abort, "abort", "the run cannot go on"},
    Term<EventKind>{EventKind::join, "join", "a device joined or returned"},
    Term<EventKind>{EventKind::fenced, "fenced", "a device declared failed was stopped for good"},
    Term<EventKind>{EventKind::energy_departure, "energy_departure",
                    "a device's battery reached its floor: it left, recovered like a leave"},
    Term<EventKind>{EventKind::planned_departure, "planned_departure",
                    "a device left at a round boundary, its state copied out first"});

// Events after which the device is gone without warning (until it joins again): a leave or a
// dead worker, and a battery that reached its floor. A planned departure is not one.
inline bool is_unplanned_departure(EventKind k) {
  return k == EventKind::failure || k == EventKind::energy_departure;
}
// Every event after which the device is not in the run (until it joins again).
inline bool is_departure(EventKind k) { return is_unplanned_departure(k) || k == EventKind::planned_departure; }

// --- The Coordinator's actions (coordinator.hpp) ---
enum class ActionKind {
  declare_failed,
  fence,
  rollback,
  replan,
  move_layers,
  transfer_state,
  replay_round,
  resume
};
inline constexpr auto kActionKinds = vocabulary<ActionKind>(
    "action", Term<ActionKind>{ActionKind::declare_failed, "declare_failed", "a device is failed"},
    Term<ActionKind>{ActionKind::fence, "fence",
                     "stop the device for good (its process, its host): it must never act again"},
    Term<ActionKind>{ActionKind::rollback, "rollback",
                     "stop the rounds in progress; every device goes back to the checkpoint"},
    Term<ActionKind>{ActionKind::replan, "replan", "a new plan (plan_id < 0: none fits)"},
    Term<ActionKind>{ActionKind::move_layers, "move_layers", "layers change owner"},
    Term<ActionKind>{ActionKind::transfer_state, "transfer_state", "state to move before resuming"},
    Term<ActionKind>{ActionKind::replay_round, "replay_round", "the first round to run again"},
    Term<ActionKind>{ActionKind::resume, "resume", "start the workers on the plan"});

// The token of each value, for logs and messages.
inline const char* to_string(Strategy v) { return kStrategies.token(v); }
inline const char* to_string(PlanningObjective v) { return kObjectives.token(v); }
inline const char* to_string(PowerModeChoice v) { return kPowerModeChoices.token(v); }
inline const char* to_string(Recovery v) { return kRecoveries.token(v); }
inline const char* to_string(BatteryPolicy v) { return kBatteryPolicies.token(v); }
inline const char* to_string(LatencyModel v) { return kLatencyModels.token(v); }
inline const char* to_string(PipelineSchedule v) { return kPipelineSchedules.token(v); }
inline const char* to_string(Optimizer v) { return kOptimizers.token(v); }
inline const char* to_string(Recomputation v) { return kRecomputations.token(v); }
inline const char* to_string(Topology v) { return kTopologies.token(v); }
inline const char* to_string(FaultKind v) { return kFaultKinds.token(v); }
inline const char* to_string(EventKind v) { return kEventKinds.token(v); }
inline const char* to_string(ActionKind v) { return kActionKinds.token(v); }

}  // namespace asteroid
