#include "asteroid/run_report.hpp"

#include "asteroid/json_reader.hpp"

#include <cstdio>
#include <sstream>

namespace asteroid {

nlohmann::json report_to_json(const RunReport& r) {
  nlohmann::json rounds = nlohmann::json::array();
  for (const RoundRecord& x : r.rounds)
    rounds.push_back({{"round", x.round},
                      {"start_s", x.start},
                      {"end_s", x.end},
                      {"samples", x.samples},
                      {"plan_id", x.plan_id}});
  nlohmann::json spans = nlohmann::json::array();
  for (const Span& s : r.spans)
    spans.push_back({{"device", r.devices[s.device]},
                     {"op", s.op},
                     {"stage", s.stage},
                     {"microbatch", s.microbatch},
                     {"round", s.round},
                     {"start_s", s.start},
                     {"end_s", s.end}});
  nlohmann::json events = nlohmann::json::array();
  for (const RunEvent& e : r.events) {
    nlohmann::json j = {{"time_s", e.time}, {"kind", e.kind}, {"detail", e.detail}};
    if (!e.device.empty()) j["device"] = e.device;
    if (e.duration_s > 0) j["duration_s"] = e.duration_s;
    events.push_back(j);
  }
  nlohmann::json plans = nlohmann::json::array();
  for (size_t i = 0; i < r.plans.size(); ++i) {
    nlohmann::json p = r.plans[i];
    p["id"] = int(i);
    plans.push_back(p);
  }
  nlohmann::json memory = nlohmann::json::object();
  for (size_t d = 0; d < r.devices.size() && d < r.peak_memory_bytes.size(); ++d)
    memory[r.devices[d]] = r.peak_memory_bytes[d];
  return {
      {"scenario", r.scenario}, {"backend", r.backend}, {"config", r.config},          {"plans", plans},
      {"rounds", rounds},       {"events", events},     {"peak_memory_bytes", memory}, {"summary", r.summary},
      {"spans", spans}};
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
    std::string name =
        std::to_string(s.stage) + s.op + (s.microbatch >= 0 ? std::to_string(s.microbatch) : "");
    ev.push_back({{"ph", "X"},
                  {"pid", 0},
                  {"tid", s.device},
                  {"name", name},
                  {"cat", s.op},
                  {"ts", s.start * 1e6},
                  {"dur", (s.end - s.start) * 1e6},
                  {"args", {{"round", s.round}}}});
  }
  for (const RunEvent& e : r.events) {
    if (e.duration_s > 0)
      ev.push_back({{"ph", "X"},
                    {"pid", 0},
                    {"tid", coordinator_tid},
                    {"name", e.kind},
                    {"ts", e.time * 1e6},
                    {"dur", e.duration_s * 1e6},
                    {"args", {{"detail", e.detail}}}});
    else
      ev.push_back({{"ph", "i"},
                    {"s", "g"},
                    {"pid", 0},
                    {"tid", coordinator_tid},
                    {"name", e.kind},
                    {"ts", e.time * 1e6},
                    {"args", {{"detail", e.detail}, {"device", e.device}}}});
  }
  return nlohmann::json{{"traceEvents", ev}, {"displayTimeUnit", "ms"}}.dump() + "\n";
}

std::string report_to_rounds_csv(const RunReport& r) {
  std::ostringstream os;
  os << "round,start_s,end_s,samples,throughput,plan_id\n";
  char line[160];
  for (const RoundRecord& x : r.rounds) {
    double dt = x.end - x.start;
    std::snprintf(line, sizeof line, "%d,%.6f,%.6f,%d,%.3f,%d\n", x.round, x.start, x.end, x.samples,
                  dt > 0 ? x.samples / dt : 0.0, x.plan_id);
    os << line;
  }
  return os.str();
}

}  // namespace asteroid

namespace asteroid {

Result<RunReport> report_from_json(const nlohmann::json& j, const std::string& file) {
  try {
    JsonReader r(j, "");
    r.allow_only({"scenario", "backend", "config", "plans", "rounds", "events", "peak_memory_bytes",
                  "summary", "spans"});
    RunReport out;
    out.scenario = r.at("scenario").string();
    out.backend = r.at("backend").string();
    if (r.has("config")) out.config = r.at("config").json();
    if (r.has("summary")) out.summary = r.at("summary").json();
    auto device_index = [&](const std::string& name) {
      for (size_t d = 0; d < out.devices.size(); ++d)
        if (out.devices[d] == name) return int(d);
      out.devices.push_back(name);
      out.peak_memory_bytes.push_back(0);
      return int(out.devices.size()) - 1;
    };
    if (r.has("peak_memory_bytes")) {
      JsonReader m = r.at("peak_memory_bytes");
      for (const std::string& name : m.keys())
        out.peak_memory_bytes[device_index(name)] = m.at(name.c_str()).number();
    }
    if (r.has("plans")) {
      JsonReader ps = r.at("plans");
      for (size_t i = 0; i < ps.size(); ++i) out.plans.push_back(ps.at(i).json());
    }
    JsonReader rounds = r.at("rounds");
    for (size_t i = 0; i < rounds.size(); ++i) {
      JsonReader x = rounds.at(i);
      x.allow_only({"round", "start_s", "end_s", "samples", "plan_id"});
      RoundRecord rr;
      rr.round = int(x.at("round").integer());
      rr.start = x.at("start_s").number();
      rr.end = x.at("end_s").number();
      if (rr.end < rr.start) x.at("end_s").fail("ends before it starts");
      rr.samples = int(x.at("samples").integer());
      if (x.has("plan_id")) rr.plan_id = int(x.at("plan_id").integer());
      out.rounds.push_back(rr);
    }
    if (r.has("events")) {
      JsonReader evs = r.at("events");
      for (size_t i = 0; i < evs.size(); ++i) {
        JsonReader e = evs.at(i);
        e.allow_only({"time_s", "kind", "detail", "device", "duration_s"});
        RunEvent ev;
        ev.time = e.at("time_s").number();
        ev.kind = e.at("kind").string();
        if (e.has("detail")) ev.detail = e.at("detail").string();
        if (e.has("device")) ev.device = e.at("device").string();
        if (e.has("duration_s")) ev.duration_s = e.at("duration_s").number();
        out.events.push_back(ev);
      }
    }
    if (r.has("spans")) {
      JsonReader ss = r.at("spans");
      for (size_t i = 0; i < ss.size(); ++i) {
        JsonReader x = ss.at(i);
        x.allow_only({"device", "op", "stage", "microbatch", "round", "start_s", "end_s"});
        Span s;
        s.device = device_index(x.at("device").string());
        s.op = x.at("op").string();
        if (x.has("stage")) s.stage = int(x.at("stage").integer());
        if (x.has("microbatch")) s.microbatch = int(x.at("microbatch").integer());
        if (x.has("round")) s.round = int(x.at("round").integer());
        s.start = x.at("start_s").number();
        s.end = x.at("end_s").number();
        if (s.end < s.start) x.at("end_s").fail("ends before it starts");
        out.spans.push_back(s);
      }
    }
    return out;
  } catch (const InputError& e) {
    return Error{file, e.path, e.message};
  }
}

}  // namespace asteroid
