#include "asteroid/report/report_files.hpp"

#include "asteroid/report/energy.hpp"
#include "asteroid/input/json_reader.hpp"
#include "asteroid/input/limits.hpp"
#include "asteroid/report/run_summary.hpp"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace asteroid {

namespace {

// The format's objects and their fields (docs/formats.md, "RunReport"), one table: the writer checks
// every object it writes against it (written()), the reader accepts no other field (allow_only).
using Fields = std::vector<std::string>;
const Fields kReportFields = {
    "scenario", "backend", "config", "devices", "plans", "rounds_planned", "end_s", "rounds", "events",
    "peak_memory_bytes", "clock_offset_bound_s", "summary", "spans", "peak_allocated_bytes", "planning",
    "emulation", "host_copies", "warnings", "measured_energy", "batteries", "power", "energy", "evaluations"};
const Fields kPlanFields = {"id", "microbatch_size", "microbatches", "stages", "predicted_round_latency_s",
                            "predicted_throughput_samples_per_s", "predicted_schedule_latency_s"};
const Fields kStageFields = {"layers", "devices", "shares", "recompute"};  // plan_to_json's
const Fields kRoundFields = {"round", "start_s", "end_s", "samples", "plan_id", "loss", "checkpoint_copies"};
const Fields kSpanFields = {"device", "op", "stage", "microbatch", "round", "start_s", "end_s"};
const Fields kEventFields = {"time_s", "kind",    "detail", "device",     "duration_s",
                             "round",  "plan_id", "bytes",  "lost_layers"};
const Fields kPlanningFields = {"strategy",    "planning_time_s", "proven_optimal",
                                "lower_bound_s", "objective_s",   "optimality_gap"};
const Fields kEmulationFields = {"time_dilation", "budgeted_steps", "over_budget_steps", "worst_overrun_s"};
const Fields kHostCopyFields = {"copies", "bytes", "seconds"};
const Fields kMeasuredFields = {"rail", "J", "seconds", "samples"};
const Fields kBatteryFields = {"device", "capacity_J", "floor_J", "start_J", "end_J", "left_s", "how", "drain"};
const Fields kPowerFields = {"device_type", "power_model", "power_mode",      "budget_W",       "idle_W",
                             "compute_W",   "communication_W", "provenance", "mode_provenance"};
const Fields kEvaluationFields = {"round", "epoch", "time_s", "accuracy", "loss", "samples"};

// `j` as written, after checking that the table lists each of its fields (else a bug: logic_error).
const nlohmann::json& written(const nlohmann::json& j, const Fields& fields, const char* what) {
  for (const auto& item : j.items())
    if (std::find(fields.begin(), fields.end(), item.key()) == fields.end())
      throw std::logic_error(std::string("report_to_json wrote ") + what + " field \"" + item.key() +
                             "\", which the format's table does not list");
  return j;
}

}  // namespace

const std::vector<std::string>& report_keys() { return kReportFields; }

nlohmann::json report_to_json(const RunReport& r) {
  nlohmann::json rounds = nlohmann::json::array();
  for (const RoundRecord& x : r.rounds) {
    nlohmann::json j = {{"round", x.round},
                        {"start_s", x.start},
                        {"end_s", x.end},
                        {"samples", x.samples},
                        {"plan_id", x.plan_id}};
    if (x.loss) j["loss"] = *x.loss;
    if (x.checkpoint_copies >= 0) j["checkpoint_copies"] = x.checkpoint_copies;
    rounds.push_back(written(j, kRoundFields, "a round's"));
  }
  nlohmann::json spans = nlohmann::json::array();
  for (const Span& s : r.spans)
    spans.push_back(written({{"device", r.devices[s.device]},
                             {"op", s.op},
                             {"stage", s.stage},
                             {"microbatch", s.microbatch},
                             {"round", s.round},
                             {"start_s", s.start},
                             {"end_s", s.end}},
                            kSpanFields, "a span's"));
  nlohmann::json events = nlohmann::json::array();
  for (const RunEvent& e : r.events) {
    nlohmann::json j = {{"time_s", e.time}, {"kind", to_string(e.kind)}, {"detail", e.detail}};
    if (!e.device.empty()) j["device"] = e.device;
    if (e.duration_s > 0) j["duration_s"] = e.duration_s;
    if (e.round >= 0) j["round"] = e.round;
    if (e.plan_id >= 0) j["plan_id"] = e.plan_id;
    if (e.bytes > 0) j["bytes"] = e.bytes;
    if (!e.lost_layers.empty()) j["lost_layers"] = e.lost_layers;
    events.push_back(written(j, kEventFields, "an event's"));
  }
  nlohmann::json plans = nlohmann::json::array();
  for (size_t i = 0; i < r.plans.size(); ++i) {
    nlohmann::json p = plan_to_json(r.plans[i].plan, r.devices);
    p["id"] = int(i);
    p["predicted_round_latency_s"] = r.plans[i].predicted_round_latency_s;
    p["predicted_throughput_samples_per_s"] = r.plans[i].predicted_throughput_samples_per_s;
    p["predicted_schedule_latency_s"] = r.plans[i].predicted_schedule_latency_s;
    for (const nlohmann::json& stage : p.at("stages")) written(stage, kStageFields, "a stage's");
    plans.push_back(written(p, kPlanFields, "a plan's"));
  }
  nlohmann::json memory = nlohmann::json::object();
  for (size_t d = 0; d < r.devices.size() && d < r.peak_memory_bytes.size(); ++d)
    memory[r.devices[d]] = r.peak_memory_bytes[d];
  nlohmann::json allocated = nlohmann::json::object();
  for (size_t d = 0; d < r.devices.size() && d < r.peak_allocated_bytes.size(); ++d)
    if (r.peak_allocated_bytes[d] > 0) allocated[r.devices[d]] = r.peak_allocated_bytes[d];
  nlohmann::json clocks = nlohmann::json::object();
  for (size_t d = 0; d < r.devices.size() && d < r.clock_offset_bound_s.size(); ++d)
    clocks[r.devices[d]] = r.clock_offset_bound_s[d];
  nlohmann::json out = {{"scenario", r.scenario},
                        {"backend", r.backend},
                        {"config", r.config},
                        {"devices", r.devices},
                        {"plans", plans},
                        {"rounds_planned", r.rounds_planned},
                        {"end_s", r.end_s},
                        {"rounds", rounds},
                        {"events", events},
                        {"peak_memory_bytes", memory},
                        {"clock_offset_bound_s", clocks},
                        {"summary", summary_to_json(summarize_run(r))},
                        {"spans", spans}};
  if (!allocated.empty()) out["peak_allocated_bytes"] = allocated;
  if (r.planning) {
    const PlanningRecord& p = *r.planning;
    nlohmann::json j = {{"strategy", p.strategy},
                        {"planning_time_s", p.planning_time_s},
                        {"proven_optimal", p.proven_optimal}};
    if (p.lower_bound_s > 0) {
      j["lower_bound_s"] = p.lower_bound_s;
      j["objective_s"] = p.objective_s;
      j["optimality_gap"] = p.proven_optimal ? 0.0 : std::max(0.0, (p.objective_s - p.lower_bound_s) / p.lower_bound_s);
    }
    out["planning"] = written(j, kPlanningFields, "the planning");
  }
  if (r.emulation)
    out["emulation"] = written({{"time_dilation", r.emulation->time_dilation},
                                {"budgeted_steps", r.emulation->budgeted_steps},
                                {"over_budget_steps", r.emulation->over_budget_steps},
                                {"worst_overrun_s", r.emulation->worst_overrun_s}},
                               kEmulationFields, "the emulation");
  if (r.host_copies)
    out["host_copies"] = written({{"copies", r.host_copies->copies},
                                  {"bytes", r.host_copies->bytes},
                                  {"seconds", r.host_copies->seconds}},
                                 kHostCopyFields, "the host copies'");
  if (!r.warnings.empty()) out["warnings"] = r.warnings;
  nlohmann::json measured = nlohmann::json::object();
  for (size_t d = 0; d < r.devices.size() && d < r.measured_energy.size(); ++d)
    if (const auto& m = r.measured_energy[d])
      measured[r.devices[d]] = written({{"rail", m->rail}, {"J", m->J}, {"seconds", m->seconds}, {"samples", m->samples}},
                                       kMeasuredFields, "a measured energy's");
  if (!measured.empty()) out["measured_energy"] = measured;
  if (!r.batteries.empty()) {
    nlohmann::json b = nlohmann::json::array();
    for (const BatteryRecord& x : r.batteries) {
      nlohmann::json j = {{"device", x.device},     {"capacity_J", x.capacity_J}, {"floor_J", x.floor_J},
                          {"start_J", x.start_J},   {"end_J", x.end_J},           {"how", x.how}};
      if (x.left_s) j["left_s"] = *x.left_s;
      j["drain"] = x.measured ? "measured and modelled" : "modelled";
      b.push_back(written(j, kBatteryFields, "a battery's"));
    }
    out["batteries"] = b;
  }
  nlohmann::json power = nlohmann::json::object();
  for (size_t d = 0; d < r.devices.size() && d < r.power.size(); ++d)
    if (const auto& p = r.power[d]) {
      nlohmann::json j = {{"device_type", p->device_type},
                          {"power_model", p->source},
                          {"power_mode", p->power.mode},
                          {"idle_W", p->power.idle_W},
                          {"compute_W", p->power.compute_W},
                          {"communication_W", p->power.communication_W},
                          {"provenance", p->provenance}};
      if (p->power.budget_W > 0) j["budget_W"] = p->power.budget_W;
      if (!p->power.provenance.is_null()) j["mode_provenance"] = p->power.provenance;
      power[r.devices[d]] = written(j, kPowerFields, "a power model's");
    }
  if (!power.empty()) {
    out["power"] = power;
    out["energy"] = energy_to_json(compute_energy(r), r);
  }
  if (!r.evaluations.empty()) {
    nlohmann::json ev = nlohmann::json::array();
    for (const TestEvaluation& e : r.evaluations)
      ev.push_back(written({{"round", e.round},
                            {"epoch", e.epoch},
                            {"time_s", e.time_s},
                            {"accuracy", e.accuracy},
                            {"loss", e.loss},
                            {"samples", e.samples}},
                           kEvaluationFields, "an evaluation's"));
    out["evaluations"] = ev;
  }
  return written(out, kReportFields, "the report's");
}

std::string span_slice_name(const Span& s) {
  // The instruction tokens of program.cpp (kOps) and the simulator's TRANSFER, in words; a token
  // not listed keeps its own spelling, so that a new instruction is never dropped from the trace.
  static const std::pair<const char*, const char*> kWords[] = {
      {"F", "forward"},         {"B", "backward"},           {"SEND_F", "send act"},
      {"RECV_F", "recv act"},   {"SEND_B", "send grad"},     {"RECV_B", "recv grad"},
      {"ALLREDUCE", "all-reduce"}, {"OPT", "optimizer step"}, {"REPLICATE", "replicate checkpoint"},
      {"RECV_REPLICA", "recv checkpoint copy"}, {"TRANSFER", "state transfer"}};
  std::string name = s.op;
  for (const auto& [token, words] : kWords)
    if (s.op == token) name = words;
  if (s.microbatch >= 0) name += " mb " + std::to_string(s.microbatch);
  return name;
}

std::string report_to_chrome_trace(const RunReport& r) {
  nlohmann::json ev = nlohmann::json::array();
  const int coordinator_tid = int(r.devices.size());
  for (size_t d = 0; d < r.devices.size(); ++d)
    ev.push_back({{"ph", "M"},
                  {"pid", 0},
                  {"tid", int(d)},
                  {"name", "thread_name"},
                  {"args", {{"name", r.devices[d]}}}});
  ev.push_back({{"ph", "M"},
                {"pid", 0},
                {"tid", coordinator_tid},
                {"name", "thread_name"},
                {"args", {{"name", "coordinator"}}}});
  for (const Span& s : r.spans) {
    nlohmann::json args = {{"round", s.round}, {"op", s.op}};
    if (s.stage >= 0) args["stage"] = s.stage;
    if (s.microbatch >= 0) args["microbatch"] = s.microbatch;
    ev.push_back({{"ph", "X"},
                  {"pid", 0},
                  {"tid", s.device},
                  {"name", span_slice_name(s)},
                  {"cat", s.op},
                  {"ts", s.start * 1e6},
                  {"dur", (s.end - s.start) * 1e6},
                  {"args", args}});
  }
  for (const RunEvent& e : r.events) {
    if (e.duration_s > 0)
      ev.push_back({{"ph", "X"},
                    {"pid", 0},
                    {"tid", coordinator_tid},
                    {"name", to_string(e.kind)},
                    {"ts", e.time * 1e6},
                    {"dur", e.duration_s * 1e6},
                    {"args", {{"detail", e.detail}}}});
    else
      ev.push_back({{"ph", "i"},
                    {"s", "g"},
                    {"pid", 0},
                    {"tid", coordinator_tid},
                    {"name", to_string(e.kind)},
                    {"ts", e.time * 1e6},
                    {"args", {{"detail", e.detail}, {"device", e.device}}}});
  }
  // Counter tracks of each modelled device's power (energy.hpp's activities x its mode's watts):
  // Perfetto draws them beside the device's spans.
  if (!r.power.empty() && !r.spans.empty()) {
    const auto activity = device_activity(r);
    for (size_t d = 0; d < r.devices.size() && d < r.power.size(); ++d) {
      if (!r.power[d]) continue;
      const ModePower& w = r.power[d]->power;
      const std::string name = "power " + r.devices[d] + " (W)";
      double last = -1;
      auto counter = [&](double t, double watts) {
        if (watts == last) return;
        ev.push_back({{"ph", "C"}, {"pid", 0}, {"name", name}, {"ts", t * 1e6}, {"args", {{"W", watts}}}});
        last = watts;
      };
      for (const ActivitySegment& s : activity[d])
        counter(s.start, s.activity == Activity::compute         ? w.compute_W
                         : s.activity == Activity::communication ? w.communication_W
                         : s.activity == Activity::idle          ? w.idle_W
                                                                 : 0.0);
      if (!activity[d].empty()) counter(activity[d].back().end, 0.0);
    }
  }
  return nlohmann::json{{"traceEvents", ev}, {"displayTimeUnit", "ms"}}.dump() + "\n";
}

std::string report_to_rounds_csv(const RunReport& r) {
  std::ostringstream os;
  os << "round,start_s,end_s,samples,throughput,plan_id,loss\n";
  char line[160];
  for (const RoundRecord& x : r.rounds) {
    double dt = x.end - x.start;
    std::snprintf(line, sizeof line, "%d,%.6f,%.6f,%d,%.3f,%d,", x.round, x.start, x.end, x.samples,
                  dt > 0 ? x.samples / dt : 0.0, x.plan_id);
    os << line;
    if (x.loss) {
      std::snprintf(line, sizeof line, "%.6g", *x.loss);
      os << line;
    }
    os << "\n";
  }
  return os.str();
}

}  // namespace asteroid

namespace asteroid {
namespace {

// A plan as a report records it: its stages by device name, and the cost model's predictions.
template <class DeviceIndex>
PlanRecord plan_record(const JsonReader& j, DeviceIndex&& device_index) {
  j.allow_only(kPlanFields);
  PlanRecord rec;
  rec.plan.microbatch_size = j.at("microbatch_size").integer_in(1, limits::kMaxBatchSize);
  rec.plan.microbatches = j.at("microbatches").integer_in(1, limits::kMaxBatchSize);
  JsonReader stages = j.at("stages");
  for (size_t i = 0; i < stages.size_at_most(limits::kMaxLayers); ++i) {
    JsonReader st = stages.at(i);
    st.allow_only(kStageFields);
    StagePlan sp;
    JsonReader layers = st.at("layers");
    if (layers.size() != 2) layers.fail("must be [first, last]");
    sp.first_layer = layers.at(0).integer_in(0, limits::kMaxLayers - 1);
    sp.last_layer = layers.at(1).integer_in(sp.first_layer, limits::kMaxLayers - 1);
    JsonReader devices = st.at("devices");
    for (size_t k = 0; k < devices.size_at_most(limits::kMaxDevices); ++k)
      sp.devices.push_back(device_index(devices.at(k).string()));
    if (st.has("shares"))
      for (size_t k = 0; k < st.at("shares").size_at_most(limits::kMaxDevices); ++k)
        sp.shares.push_back(st.at("shares").at(k).integer_in(0, rec.plan.microbatch_size));
    if (st.has("recompute")) sp.recompute = st.at("recompute").boolean();
    rec.plan.stages.push_back(sp);
  }
  if (j.has("predicted_round_latency_s"))
    rec.predicted_round_latency_s = j.at("predicted_round_latency_s").number();
  if (j.has("predicted_throughput_samples_per_s"))
    rec.predicted_throughput_samples_per_s = j.at("predicted_throughput_samples_per_s").number();
  if (j.has("predicted_schedule_latency_s"))
    rec.predicted_schedule_latency_s = j.at("predicted_schedule_latency_s").number();
  return rec;
}

}  // namespace

Result<RunReport> report_from_json(const nlohmann::json& j, const std::string& file) {
  try {
    JsonReader r(j, "");
    // "summary" is derived from the rest (run_summary.hpp): read past, computed again when needed.
    r.allow_only(report_keys());
    RunReport out;
    out.scenario = r.at("scenario").string();
    out.backend = r.at("backend").string();
    if (r.has("config")) out.config = r.at("config").json();
    if (r.has("rounds_planned")) out.rounds_planned = r.at("rounds_planned").integer_in(0, limits::kMaxRounds);
    if (r.has("end_s")) out.end_s = r.at("end_s").number_in(-limits::kMaxReportTimeS, limits::kMaxReportTimeS);
    auto device_index = [&](const std::string& name) {
      for (size_t d = 0; d < out.devices.size(); ++d)
        if (out.devices[d] == name) return int(d);
      out.devices.push_back(name);
      out.peak_memory_bytes.push_back(0);
      return int(out.devices.size()) - 1;
    };
    if (r.has("devices"))  // in the writer's order, so that device indices read back as written
      for (size_t d = 0; d < r.at("devices").size_at_most(limits::kMaxDevices); ++d)
        device_index(r.at("devices").at(d).string());
    if (r.has("peak_memory_bytes")) {
      JsonReader m = r.at("peak_memory_bytes");
      for (const std::string& name : m.keys())
        out.peak_memory_bytes[device_index(name)] = m.at(name.c_str()).number();
    }
    if (r.has("peak_allocated_bytes")) {
      JsonReader m = r.at("peak_allocated_bytes");
      for (const std::string& name : m.keys()) {
        const int d = device_index(name);
        out.peak_allocated_bytes.resize(out.devices.size(), 0);
        out.peak_allocated_bytes[size_t(d)] = m.at(name.c_str()).number_in(0, 1e15);
      }
    }
    if (r.has("clock_offset_bound_s")) {
      JsonReader c = r.at("clock_offset_bound_s");
      for (const std::string& name : c.keys()) {
        size_t d = size_t(device_index(name));
        out.clock_offset_bound_s.resize(std::max(out.clock_offset_bound_s.size(), d + 1), 0.0);
        out.clock_offset_bound_s[d] = c.at(name.c_str()).number_in(0, limits::kMaxReportTimeS);
      }
    }
    if (r.has("emulation")) {
      JsonReader e = r.at("emulation");
      e.allow_only(kEmulationFields);
      EmulationRecord m;
      m.time_dilation = e.at("time_dilation").number_in(1, 1000);
      m.budgeted_steps = e.at("budgeted_steps").integer_in(0, INT_MAX);
      m.over_budget_steps = e.at("over_budget_steps").integer_in(0, m.budgeted_steps);
      m.worst_overrun_s = e.at("worst_overrun_s").number_in(0, limits::kMaxReportTimeS);
      out.emulation = m;
    }
    if (r.has("planning")) {
      // "optimality_gap" is derived from the two figures: read past.
      JsonReader p = r.at("planning");
      p.allow_only(kPlanningFields);
      PlanningRecord rec;
      rec.strategy = p.at("strategy").string();
      rec.planning_time_s = p.at("planning_time_s").number_in(0, limits::kMaxReportTimeS);
      rec.proven_optimal = p.at("proven_optimal").boolean();
      if (p.has("lower_bound_s")) rec.lower_bound_s = p.at("lower_bound_s").number_in(0, limits::kMaxReportTimeS);
      if (p.has("objective_s")) rec.objective_s = p.at("objective_s").number_in(0, limits::kMaxReportTimeS);
      out.planning = rec;
    }
    if (r.has("host_copies")) {
      JsonReader c = r.at("host_copies");
      c.allow_only(kHostCopyFields);
      HostCopyRecord h;
      h.copies = c.at("copies").integer_in(0, INT_MAX);
      h.bytes = c.at("bytes").number_in(0, 1e18);
      h.seconds = c.at("seconds").number_in(0, limits::kMaxReportTimeS);
      out.host_copies = h;
    }
    if (r.has("measured_energy")) {
      JsonReader me = r.at("measured_energy");
      out.measured_energy.assign(out.devices.size(), std::nullopt);
      for (const std::string& name : me.keys()) {
        JsonReader x = me.at(name.c_str());
        x.allow_only(kMeasuredFields);
        auto at = std::find(out.devices.begin(), out.devices.end(), name);
        if (at == out.devices.end()) x.fail("not a device of this report");
        MeasuredEnergy m;
        m.rail = x.at("rail").string();
        m.J = x.at("J").number_in(0, 1e12);
        m.seconds = x.at("seconds").number_in(0, limits::kMaxReportTimeS);
        m.samples = x.at("samples").integer();
        if (m.samples < 0) x.at("samples").fail("negative");
        out.measured_energy[size_t(at - out.devices.begin())] = m;
      }
    }
    if (r.has("warnings"))
      for (size_t i = 0; i < r.at("warnings").size_at_most(limits::kMaxFaultEvents); ++i)
        out.warnings.push_back(r.at("warnings").at(i).string());
    if (r.has("batteries"))
      for (size_t i = 0; i < r.at("batteries").size_at_most(limits::kMaxDevices); ++i) {
        JsonReader x = r.at("batteries").at(i);
        x.allow_only(kBatteryFields);
        BatteryRecord b;
        b.device = x.at("device").string();
        b.capacity_J = x.at("capacity_J").number_in(0, limits::kMaxBatteryJ);
        b.floor_J = x.at("floor_J").number_in(0, limits::kMaxBatteryJ);
        b.start_J = x.at("start_J").number_in(0, limits::kMaxBatteryJ);
        b.end_J = x.at("end_J").number_in(-limits::kMaxBatteryJ, limits::kMaxBatteryJ);
        if (x.has("left_s")) b.left_s = x.at("left_s").number_in(0, limits::kMaxReportTimeS);
        b.how = x.at("how").string();
        if (x.has("drain")) b.measured = x.at("drain").string() != "modelled";
        out.batteries.push_back(b);
      }
    // "energy" is derived from the spans and "power" (energy.hpp): read past, computed again.
    if (r.has("power")) {
      JsonReader pw = r.at("power");
      for (const std::string& name : pw.keys()) {
        JsonReader x = pw.at(name.c_str());
        x.allow_only(kPowerFields);
        DevicePower p;
        p.device_type = x.at("device_type").string();
        p.source = x.at("power_model").string();
        p.power.mode = x.at("power_mode").string();
        if (x.has("budget_W")) p.power.budget_W = x.at("budget_W").number_in(0, limits::kMaxPowerW);
        p.power.idle_W = x.at("idle_W").number_in(0, limits::kMaxPowerW);
        p.power.compute_W = x.at("compute_W").number_in(0, limits::kMaxPowerW);
        p.power.communication_W = x.at("communication_W").number_in(0, limits::kMaxPowerW);
        if (x.has("provenance")) p.provenance = x.at("provenance").json();
        if (x.has("mode_provenance")) p.power.provenance = x.at("mode_provenance").json();
        size_t d = size_t(device_index(name));
        out.power.resize(std::max(out.power.size(), d + 1));
        out.power[d] = p;
      }
    }
    if (r.has("plans")) {
      JsonReader ps = r.at("plans");
      for (size_t i = 0; i < ps.size_at_most(limits::kMaxPlans); ++i)
        out.plans.push_back(plan_record(ps.at(i), device_index));
    }
    JsonReader rounds = r.at("rounds");
    for (size_t i = 0; i < rounds.size(); ++i) {
      JsonReader x = rounds.at(i);
      x.allow_only(kRoundFields);
      RoundRecord rr;
      rr.round = x.at("round").integer_in(0, limits::kMaxRounds - 1);
      rr.start = x.at("start_s").number_in(-limits::kMaxReportTimeS, limits::kMaxReportTimeS);
      rr.end = x.at("end_s").number_in(-limits::kMaxReportTimeS, limits::kMaxReportTimeS);
      if (rr.end < rr.start) x.at("end_s").fail("ends before it starts");
      rr.samples = x.at("samples").integer_in(0, limits::kMaxBatchSize);
      if (x.has("plan_id")) rr.plan_id = x.at("plan_id").integer_in(0, limits::kMaxPlans - 1);
      if (x.has("loss")) rr.loss = x.at("loss").number();
      if (x.has("checkpoint_copies"))
        rr.checkpoint_copies = x.at("checkpoint_copies").integer_in(-1, limits::kMaxDevices + 1);
      out.rounds.push_back(rr);
    }
    if (r.has("events")) {
      JsonReader evs = r.at("events");
      for (size_t i = 0; i < evs.size(); ++i) {
        JsonReader e = evs.at(i);
        e.allow_only(kEventFields);
        RunEvent ev;
        ev.time = e.at("time_s").number_in(-limits::kMaxReportTimeS, limits::kMaxReportTimeS);
        ev.kind = e.at("kind").token(kEventKinds);
        if (e.has("detail")) ev.detail = e.at("detail").string();
        if (e.has("device")) ev.device = e.at("device").string();
        if (e.has("duration_s")) ev.duration_s = e.at("duration_s").number_in(0, limits::kMaxReportTimeS);
        if (e.has("round")) ev.round = e.at("round").integer_in(-1, limits::kMaxRounds - 1);
        if (e.has("plan_id")) ev.plan_id = e.at("plan_id").integer_in(-1, limits::kMaxPlans - 1);
        if (e.has("bytes")) ev.bytes = e.at("bytes").number_in(0, 1e18);
        if (e.has("lost_layers"))
          for (size_t k = 0; k < e.at("lost_layers").size_at_most(limits::kMaxLayers); ++k)
            ev.lost_layers.push_back(e.at("lost_layers").at(k).integer_in(0, limits::kMaxLayers - 1));
        out.events.push_back(ev);
      }
    }
    if (r.has("evaluations")) {
      JsonReader evs = r.at("evaluations");
      for (size_t i = 0; i < evs.size_at_most(limits::kMaxRounds); ++i) {
        JsonReader x = evs.at(i);
        x.allow_only(kEvaluationFields);
        TestEvaluation e;
        e.round = x.at("round").integer_in(0, limits::kMaxRounds - 1);
        e.epoch = x.at("epoch").number_in(0, limits::kMaxRounds);
        e.time_s = x.at("time_s").number_in(-limits::kMaxReportTimeS, limits::kMaxReportTimeS);
        e.accuracy = x.at("accuracy").number_in(0, 1);
        e.loss = x.at("loss").number_in(0, 1e12);
        e.samples = x.at("samples").integer_in(1, 1 << 30);
        out.evaluations.push_back(e);
      }
    }
    if (r.has("spans")) {
      JsonReader ss = r.at("spans");
      for (size_t i = 0; i < ss.size(); ++i) {
        JsonReader x = ss.at(i);
        x.allow_only(kSpanFields);
        Span s;
        s.device = device_index(x.at("device").string());
        s.op = x.at("op").string();
        if (x.has("stage")) s.stage = x.at("stage").integer_in(-1, limits::kMaxLayers - 1);
        if (x.has("microbatch")) s.microbatch = x.at("microbatch").integer_in(-1, limits::kMaxBatchSize);
        if (x.has("round")) s.round = x.at("round").integer_in(-1, limits::kMaxRounds - 1);
        // Spans may start before training does (a backend's set-up): any time within the bound.
        s.start = x.at("start_s").number_in(-limits::kMaxReportTimeS, limits::kMaxReportTimeS);
        s.end = x.at("end_s").number_in(-limits::kMaxReportTimeS, limits::kMaxReportTimeS);
        if (s.end < s.start) x.at("end_s").fail("ends before it starts");
        out.spans.push_back(s);
      }
    }
    if (!out.power.empty()) out.power.resize(out.devices.size());
    return out;
  } catch (const InputError& e) {
    return Error{file, e.path, e.message};
  } catch (const nlohmann::json::exception& e) {
    return Error{file, "", std::string("unreadable JSON value: ") + e.what()};
  }
}

}  // namespace asteroid
