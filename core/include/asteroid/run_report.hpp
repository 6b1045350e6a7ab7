// The RunReport (docs/architecture.md, data flow), written alike by both backends: per round start, end and
// samples; per-instruction spans; events (failure, detection, re-plan, state transfer, resume);
// peak memory per device; the plans with their ids. Rendered as JSON, as a Chrome trace (Perfetto:
// one track per device) and as a per-round CSV.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "asteroid/error.hpp"

namespace asteroid {

struct Span {
  int device = 0;
  std::string op;  // the instruction's token kind: "F", "SEND_F", "ALLREDUCE", "TRANSFER", ...
  int stage = -1;
  int microbatch = -1;
  int round = -1;
  double start = 0, end = 0;
};

struct RoundRecord {
  int round = 0;
  double start = 0, end = 0;  // start: when the previous round ended (0 for the first)
  int samples = 0;
  int plan_id = 0;
};

struct RunEvent {
  double time = 0;
  std::string kind;    // failure, detection, replan, state_transfer, replay, resume, ...
  std::string device;  // may be empty
  std::string detail;
  double duration_s = 0;  // replan and state_transfer: how long it took
};

struct RunReport {
  std::string scenario;
  std::string backend;    // "sim" or "exec"
  nlohmann::json config;  // backend options (network model, recovery, ...)
  std::vector<std::string> devices;
  std::vector<nlohmann::json> plans;  // index = plan id
  std::vector<RoundRecord> rounds;
  std::vector<Span> spans;
  std::vector<RunEvent> events;
  std::vector<double> peak_memory_bytes;  // per device
  nlohmann::json summary;
};

nlohmann::json report_to_json(const RunReport& r);
// Reads what report_to_json wrote (either backend's); an Error names the file and JSON path.
Result<RunReport> report_from_json(const nlohmann::json& j, const std::string& file);
// Chrome trace event format ("traceEvents", complete events "ph":"X" in microseconds), one thread
// per device, events as instant markers on a "coordinator" track.
std::string report_to_chrome_trace(const RunReport& r);
// "round,start_s,end_s,samples,throughput,plan_id".
std::string report_to_rounds_csv(const RunReport& r);

}  // namespace asteroid
