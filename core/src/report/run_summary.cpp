#include "asteroid/report/run_summary.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>

#include "asteroid/input/battery.hpp"

namespace asteroid {
namespace {

constexpr double kForever = std::numeric_limits<double>::infinity();

// Samples per second over the committed rounds that lie inside [from, to].
double throughput(const RunReport& r, double from, double to) {
  double samples = 0, first = -1, last = 0;
  for (const RoundRecord& x : r.rounds) {
    if (x.start < from - 1e-9 || x.end > to + 1e-9) continue;
    if (first < 0) first = x.start;
    last = x.end;
    samples += x.samples;
  }
  return first >= 0 && last > first ? samples / (last - first) : 0;
}

// The first event of `kind` at or after `from` (and for `device`, when given).
const RunEvent* first_event(const RunReport& r, EventKind kind, double from, const std::string& device = "") {
  for (const RunEvent& e : r.events)
    if (e.kind == kind && e.time >= from - 1e-12 && (device.empty() || e.device == device)) return &e;
  return nullptr;
}

FailureSummary summarize_failure(const RunReport& r, const RunEvent& failure) {
  FailureSummary f;
  f.device = failure.device;
  f.kind = failure.kind;
  f.failure_s = failure.time;
  f.lost_layers = failure.lost_layers;
  f.interrupted_round = failure.round;
  double t = failure.time;
  if (const RunEvent* d = first_event(r, EventKind::detection, t, failure.device)) {
    f.detection_s = d->time - failure.time;
    t = d->time;
  }
  if (const RunEvent* e = first_event(r, EventKind::replan, t)) f.replan_s = e->duration_s, t = e->time;
  if (const RunEvent* e = first_event(r, EventKind::state_transfer, t)) {
    f.state_transfer_s = e->duration_s;
    f.state_transfer_bytes = e->bytes;
  }
  if (const RunEvent* e = first_event(r, EventKind::replay, t)) f.replay_round = e->round;
  if (const RunEvent* e = first_event(r, EventKind::resume, t)) f.resume_at_s = e->time;
  if (f.interrupted_round < 0)  // a backend that does not know it: the first round the failure cut
    for (const RoundRecord& x : r.rounds)
      if (x.end > failure.time) {
        f.interrupted_round = x.round;
        break;
      }
  // How often checkpoints came before the failure, which sets how much is replayed.
  std::vector<int> checkpoints, gaps;
  for (const RoundRecord& x : r.rounds)
    if (x.checkpoint_copies >= 0 && x.end <= failure.time) checkpoints.push_back(x.round);
  for (size_t i = 1; i < checkpoints.size(); ++i) gaps.push_back(checkpoints[i] - checkpoints[i - 1]);
  if (!gaps.empty()) {
    std::nth_element(gaps.begin(), gaps.begin() + gaps.size() / 2, gaps.end());
    f.checkpoint_every_rounds = gaps[gaps.size() / 2];
  }
  // Recovery ends with the first round at or after the interrupted one that ends after the resume:
  // the replayed round, or the next one when the failed device held no stage and its round went on.
  if (f.resume_at_s)
    for (const RoundRecord& x : r.rounds)
      if (x.round >= f.interrupted_round && x.end >= *f.resume_at_s) {
        f.replay_s = x.end - *f.resume_at_s;
        f.recovery_s = x.end - failure.time;
        break;
      }
  return f;
}

JoinSummary summarize_join(const RunReport& r, const RunEvent& join, int newest_plan_before) {
  JoinSummary j;
  j.device = join.device;
  j.join_s = join.time;
  for (const RunEvent& e : r.events) {
    if (e.kind != EventKind::replan || e.time < join.time - 1e-12 ||
        e.detail.find(join.device) == std::string::npos || e.detail.find("joined") == std::string::npos)
      continue;
    j.decision = e.detail;
    j.replanned = e.plan_id > newest_plan_before;
    if (j.replanned) {
      if (const RunEvent* t = first_event(r, EventKind::state_transfer, e.time))
        j.state_transfer_s = t->duration_s, j.state_transfer_bytes = t->bytes;
      if (const RunEvent* t = first_event(r, EventKind::resume, e.time)) j.resume_at_s = t->time;
    }
    break;
  }
  return j;
}

std::string fmt(const char* format, double v) {
  char b[64];
  std::snprintf(b, sizeof b, format, v);
  return b;
}

}  // namespace

RunSummary summarize_run(const RunReport& r) {
  RunSummary s;
  s.rounds_committed = int(r.rounds.size());
  s.rounds_planned = r.rounds_planned;
  s.run_s = r.end_s;
  s.throughput_samples_per_s = throughput(r, 0, kForever);
  if (!r.rounds.empty()) s.first_round_latency_s = r.rounds.front().end - r.rounds.front().start;
  double first_failure_s = kForever;
  for (const RunEvent& e : r.events)
    if (e.kind == EventKind::failure) first_failure_s = std::min(first_failure_s, e.time);
  std::vector<double> steady;
  for (size_t i = 1; i < r.rounds.size() && r.rounds[i].end <= first_failure_s; ++i)
    steady.push_back(r.rounds[i].end - r.rounds[i].start);
  if (!steady.empty()) {
    std::sort(steady.begin(), steady.end());
    const size_t n = steady.size();
    s.steady_round_latency_s = n % 2 ? steady[n / 2] : (steady[n / 2 - 1] + steady[n / 2]) / 2;
    s.steady_rounds = int(n);
  }
  // The prediction the planner made: the plan's 1F1B replay where it has one, else its closed form.
  if (!r.plans.empty())
    s.predicted_round_latency_s = r.plans.front().predicted_schedule_latency_s > 0
                                      ? r.plans.front().predicted_schedule_latency_s
                                      : r.plans.front().predicted_round_latency_s;
  for (const RoundRecord& x : r.rounds) {
    if (x.checkpoint_copies >= 0)
      s.min_checkpoint_copies = s.min_checkpoint_copies < 0
                                    ? x.checkpoint_copies
                                    : std::min(s.min_checkpoint_copies, x.checkpoint_copies);
    if (x.loss) {
      if (!s.first_loss) s.first_loss = x.loss;
      s.last_loss = x.loss;
    }
  }
  for (double b : r.clock_offset_bound_s)
    s.clock_offset_bound_s = std::max(s.clock_offset_bound_s.value_or(0), b);
  bool stopped = false;
  int newest_plan = 0;
  for (const RunEvent& e : r.events) {
    if (is_unplanned_departure(e.kind)) s.failures.push_back(summarize_failure(r, e));
    if (e.kind == EventKind::planned_departure) s.planned_departures.push_back(e);
    if (e.kind == EventKind::join) s.joins.push_back(summarize_join(r, e, newest_plan));
    if (e.kind == EventKind::replan) newest_plan = std::max(newest_plan, e.plan_id);
    if (e.kind == EventKind::stop || e.kind == EventKind::abort) {
      stopped = true;
      if (s.stop_reason.empty()) s.stop_reason = e.detail;
    }
  }
  // Throughput windows: from the previous recovery's end to this failure, and from this
  // recovery's end to the next failure. Failures at the same moment share their windows.
  // A join that changed the plan also bounds the windows.
  auto next_change = [&](double after) {
    double next = kForever;
    for (const FailureSummary& g : s.failures)
      if (g.failure_s > after) next = std::min(next, g.failure_s);
    for (const JoinSummary& g : s.joins)
      if (g.replanned && g.join_s > after) next = std::min(next, g.join_s);
    return next;
  };
  for (FailureSummary& f : s.failures) {
    double previous_end = 0;
    const double next = next_change(f.failure_s);
    for (const FailureSummary& g : s.failures)
      if (g.failure_s < f.failure_s && g.recovery_s)
        previous_end = std::max(previous_end, g.failure_s + *g.recovery_s);
    for (const JoinSummary& g : s.joins)
      if (g.join_s < f.failure_s && g.resume_at_s) previous_end = std::max(previous_end, *g.resume_at_s);
    f.throughput_before = throughput(r, previous_end, f.failure_s);
    if (f.recovery_s) f.throughput_after = throughput(r, f.failure_s + *f.recovery_s, next);
    if (!f.lost_layers.empty()) s.weights_lost = true;
  }
  for (JoinSummary& j : s.joins)
    if (j.resume_at_s) j.throughput_after = throughput(r, *j.resume_at_s, next_change(j.join_s));
  // Completed: rounds 0..planned-1 each committed once, in order (a skipped or repeated round is
  // not a finished run), and nothing stopped it.
  bool every_round = s.rounds_planned > 0 && s.rounds_committed == s.rounds_planned;
  for (int i = 0; every_round && i < s.rounds_committed; ++i) every_round = r.rounds[size_t(i)].round == i;
  s.completed = !stopped && every_round;
  if (!r.evaluations.empty()) s.last_evaluation = r.evaluations.back();
  s.emulation = r.emulation;
  s.host_copies = r.host_copies;
  return s;
}

nlohmann::json summary_to_json(const RunSummary& s) {
  // A figure that does not apply (no detection, training did not resume) is left out, not null.
  auto put = [](nlohmann::json& j, const char* key, const std::optional<double>& v) {
    if (v) j[key] = *v;
  };
  nlohmann::json failures = nlohmann::json::array();
  for (const FailureSummary& f : s.failures) {
    nlohmann::json j = {{"device", f.device},
                        {"kind", to_string(f.kind)},
                        {"failure_s", f.failure_s},
                        {"replan_s", f.replan_s},
                        {"state_transfer_s", f.state_transfer_s},
                        {"state_transfer_bytes", f.state_transfer_bytes},
                        {"replay_round", f.replay_round},
                        {"interrupted_round", f.interrupted_round},
                        {"throughput_before", f.throughput_before},
                        {"lost_layers", f.lost_layers}};
    put(j, "detection_s", f.detection_s);
    put(j, "resume_at_s", f.resume_at_s);
    put(j, "replay_s", f.replay_s);
    if (f.checkpoint_every_rounds) j["checkpoint_every_rounds"] = *f.checkpoint_every_rounds;
    put(j, "recovery_s", f.recovery_s);
    put(j, "throughput_after", f.throughput_after);
    failures.push_back(j);
  }
  nlohmann::json joins = nlohmann::json::array();
  for (const JoinSummary& x : s.joins) {
    nlohmann::json j = {{"device", x.device},
                        {"join_s", x.join_s},
                        {"replanned", x.replanned},
                        {"decision", x.decision},
                        {"state_transfer_s", x.state_transfer_s},
                        {"state_transfer_bytes", x.state_transfer_bytes}};
    put(j, "resume_at_s", x.resume_at_s);
    put(j, "throughput_after", x.throughput_after);
    joins.push_back(j);
  }
  nlohmann::json j = {{"completed", s.completed},
                      {"rounds_committed", s.rounds_committed},
                      {"rounds_planned", s.rounds_planned},
                      {"run_s", s.run_s},
                      {"throughput_samples_per_s", s.throughput_samples_per_s},
                      {"predicted_round_latency_s", s.predicted_round_latency_s},
                      {"min_checkpoint_copies", s.min_checkpoint_copies},
                      {"weights_lost", s.weights_lost},
                      {"failures", failures},
                      {"joins", joins}};
  nlohmann::json planned = nlohmann::json::array();
  for (const RunEvent& e : s.planned_departures)
    planned.push_back({{"device", e.device}, {"time_s", e.time}, {"detail", e.detail}});
  if (!planned.empty()) j["planned_departures"] = planned;
  put(j, "first_round_latency_s", s.first_round_latency_s);
  put(j, "steady_round_latency_s", s.steady_round_latency_s);
  if (s.steady_rounds > 0) j["steady_rounds"] = s.steady_rounds;
  put(j, "first_loss", s.first_loss);
  put(j, "last_loss", s.last_loss);
  put(j, "clock_offset_bound_s", s.clock_offset_bound_s);
  if (!s.stop_reason.empty()) j["stop_reason"] = s.stop_reason;
  if (s.emulation) {
    j["time_dilation"] = s.emulation->time_dilation;
    j["budgeted_steps"] = s.emulation->budgeted_steps;
    j["over_budget_steps"] = s.emulation->over_budget_steps;
    j["worst_overrun_s"] = s.emulation->worst_overrun_s;
  }
  if (s.host_copies) {
    j["host_copies"] = s.host_copies->copies;
    j["host_copy_bytes"] = s.host_copies->bytes;
    j["host_copy_s"] = s.host_copies->seconds;
  }
  if (s.last_evaluation) {
    j["test_accuracy"] = s.last_evaluation->accuracy;
    j["test_loss"] = s.last_evaluation->loss;
  }
  return j;
}

std::string summary_to_text(const RunSummary& s, const std::string& backend) {
  std::string t = "rounds committed " + std::to_string(s.rounds_committed) + " of " +
                  std::to_string(s.rounds_planned) + " in " + fmt("%.2f", s.run_s) +
                  (backend == "sim" ? " s simulated" : " s") + ", throughput " +
                  fmt("%.2f", s.throughput_samples_per_s) + " samples/s";
  t += "\n";
  // The prediction is compared with the steady rounds, not the warm-up (round 0).
  if (s.first_round_latency_s) {
    t += "rounds: the first " + fmt("%.4f", *s.first_round_latency_s) + " s";
    if (s.steady_round_latency_s)
      t += std::string(backend == "sim" ? "" : " (warm-up)") + ", then " + fmt("%.4f", *s.steady_round_latency_s) +
           " s (median of " + std::to_string(s.steady_rounds) + " round" + (s.steady_rounds > 1 ? "s" : "") +
           (s.failures.empty() ? "" : " before the first failure") + ")";
    t += "; the plan predicts " + fmt("%.4f", s.predicted_round_latency_s) + " s";
    if (backend != "sim" && !s.emulation)
      t += " for the scenario's devices: these are this machine's times (asteroid-exec --emulate plays the "
           "devices' speeds, docs/emulation.md)";
    t += "\n";
  }
  if (s.first_loss)
    t += "loss " + fmt("%.4f", *s.first_loss) + " in the first round, " + fmt("%.4f", *s.last_loss) +
         " in the last\n";
  if (const auto& m = s.emulation) {
    t += "emulated: times are real / " + fmt("%g", m->time_dilation) + " (time dilation); " +
         std::to_string(m->over_budget_steps) + " of " + std::to_string(m->budgeted_steps) +
         " compute steps over budget";
    if (m->over_budget_steps > 0)
      t += " (worst by " + fmt("%.4f", m->worst_overrun_s) + " s: those steps ran longer than the trace says; " +
           "a larger --time-dilation gives the workers more room)";
    t += "\n";
  }
  if (const auto& h = s.host_copies)
    t += "accelerator: " + std::to_string(h->copies) + " copies between device and host memory, " +
         fmt("%.1f", h->bytes / 1e6) + " MB in " + fmt("%.3f", h->seconds) + " s (summed over the workers)\n";
  if (s.clock_offset_bound_s)
    t += "clocks: every worker's spans on the coordinator's clock within " +
         fmt("%.3f", *s.clock_offset_bound_s * 1e3) + " ms (offsets measured when they joined)\n";
  if (const auto& e = s.last_evaluation)
    t += "test accuracy " + fmt("%.4f", e->accuracy) + ", loss " + fmt("%.4f", e->loss) + " on " +
         std::to_string(e->samples) + " test samples after round " + std::to_string(e->round) + " (epoch " +
         fmt("%.2f", e->epoch) + ", " + fmt("%.1f", e->time_s) + " s of training)\n";
  for (const RunEvent& e : s.planned_departures)
    t += "planned departure of " + e.device + " at " + fmt("%.3f", e.time) + " s: " + e.detail + "\n";
  for (const FailureSummary& f : s.failures) {
    t += std::string(f.kind == EventKind::energy_departure ? "energy departure" : "failure") + " of " + f.device +
         " at " + fmt("%.3f", f.failure_s) + " s\n";
    if (f.kind == EventKind::energy_departure && !f.detection_s && !f.resume_at_s) {
      // The last device at its floor (sim/src/battery.cpp): nothing was recovered, the run stopped.
      t += "  no device was left to go on: the run stopped here (the checkpoint stays on the devices "
           "at their floors)\n";
      continue;
    }
    if (f.detection_s) t += "  detection      " + fmt("%.3f", *f.detection_s) + " s after it\n";
    t += "  re-plan        " + fmt("%.4f", f.replan_s) + " s\n";
    t += "  state transfer " + fmt("%.3f", f.state_transfer_s) + " s (" +
         fmt("%.2f", f.state_transfer_bytes / 1e6) + " MB)\n";
    // A range only when rounds were run again: a device that held no stage, or a failure after its
    // round's commit, leaves the checkpoint past the interrupted round, and nothing is replayed.
    if (f.replay_s) {
      const std::string upto = std::to_string(f.interrupted_round);
      if (f.replay_round >= 0 && f.replay_round <= f.interrupted_round)
        t += "  replay         " + fmt("%.3f", *f.replay_s) + " s (" +
             (f.replay_round == f.interrupted_round ? "round " + upto
                                                    : "rounds " + std::to_string(f.replay_round) + "-" + upto) +
             ", from the checkpoint to the interrupted round)\n";
      else if (f.replay_round > f.interrupted_round)
        t += "  replay         none (round " + upto + " was committed; training went on from round " +
             std::to_string(f.replay_round) + ")\n";
      else
        t += "  replay         " + fmt("%.3f", *f.replay_s) + " s (to round " + upto + " committed again)\n";
    }
    if (f.checkpoint_every_rounds && *f.checkpoint_every_rounds > 1 && f.replay_round >= 0 &&
        f.replay_round < f.interrupted_round)
      t += "  checkpoints    every " + std::to_string(*f.checkpoint_every_rounds) +
           " rounds before the failure: a round's copies took longer than a round, so the next round's "
           "were skipped and " +
           std::to_string(f.interrupted_round - f.replay_round + 1) + " rounds are replayed\n";
    if (f.recovery_s)
      t += "  recovery total " + fmt("%.3f", *f.recovery_s) +
           " s, failure to the interrupted round committed\n";
    t += "  throughput     " + fmt("%.2f", f.throughput_before) + " samples/s before, " +
         (!f.throughput_after  ? std::string("training did not resume\n")
          : *f.throughput_after > 0 ? fmt("%.2f", *f.throughput_after) + " after\n"
                                    : std::string("none after (the run ended with the replayed round)\n"));
    t += "  weights        " +
         (f.lost_layers.empty() ? std::string("every layer's checkpoint was on a survivor")
                                : std::to_string(f.lost_layers.size()) + " layers LOST") +
         "\n";
  }
  for (const JoinSummary& x : s.joins) {
    t += "join of " + x.device + " at " + fmt("%.3f", x.join_s) + " s: " +
         (x.replanned ? "planned in" : x.decision.empty() ? "not weighed (the run ended)" : "the plan stays") +
         "\n";
    if (x.replanned)
      t += "  state transfer " + fmt("%.3f", x.state_transfer_s) + " s (" +
           fmt("%.2f", x.state_transfer_bytes / 1e6) + " MB)" +
           (x.throughput_after ? ", then " + fmt("%.2f", *x.throughput_after) + " samples/s" : "") + "\n";
  }
  if (s.min_checkpoint_copies >= 0 || s.weights_lost)
    t += std::string("weights check: ") + (s.weights_lost ? "WEIGHTS LOST" : "no weights lost") +
         "; at every commit each layer's checkpoint had at least " + std::to_string(s.min_checkpoint_copies) +
         (s.min_checkpoint_copies == 1 ? " copy" : " copies") + " on live devices\n";
  if (!s.stop_reason.empty()) t += "stopped: " + s.stop_reason + "\n";
  return t;
}

std::string batteries_to_text(const std::vector<BatteryRecord>& batteries) {
  std::string t;
  for (const BatteryRecord& b : batteries) {
    char buf[160];
    if (b.left_s)
      std::snprintf(buf, sizeof buf, " at %.3f s (%s)", *b.left_s, b.how.c_str());
    else
      std::snprintf(buf, sizeof buf, " at the end");
    t += "battery of " + b.device + ": " + format_watt_hours(b.start_J) + " at the start, " +
         format_watt_hours(b.end_J) + buf + "; floor " + format_watt_hours(b.floor_J) + ", capacity " +
         format_watt_hours(b.capacity_J) +
         (b.measured ? " (its rail's measurement over its rounds, modelled between them)\n"
                     : " (modelled from its power model)\n");
  }
  return t;
}

}  // namespace asteroid
