// The files a run writes from its RunReport (run_report.hpp), and reading report.json back: the
// JSON form with the summary and the energy derived from it (run_summary.hpp, energy.hpp), the
// Chrome trace and the rounds' CSV (docs/formats.md).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "asteroid/input/error.hpp"
#include "asteroid/report/run_report.hpp"

namespace asteroid {

// The JSON form's top-level keys, one list: the writer writes no other (a key missing from it is
// a std::logic_error, a bug), the reader accepts no other.
const std::vector<std::string>& report_keys();

// The JSON form (docs/formats.md, "RunReport"); its "summary" is summarize_run(r) (run_summary.hpp).
nlohmann::json report_to_json(const RunReport& r);
// Reads what report_to_json wrote (either backend's); an Error names the file and JSON path.
Result<RunReport> report_from_json(const nlohmann::json& j, const std::string& file);
// A span's slice name in the Chrome trace, in words: "forward mb 3", "backward mb 3", "send act mb 3",
// "recv grad mb 0", "all-reduce", "optimizer step", "state transfer" (docs/formats.md, "Chrome trace").
std::string span_slice_name(const Span& s);
// Chrome trace event format ("traceEvents", complete events "ph":"X" in microseconds), one thread
// per device, events as instant markers on a "coordinator" track. Each span's slice is named by
// span_slice_name; its category is the instruction token ("F"), its args round, op, stage, microbatch.
std::string report_to_chrome_trace(const RunReport& r);
// "round,start_s,end_s,samples,throughput,plan_id,loss" (loss empty where not computed).
std::string report_to_rounds_csv(const RunReport& r);

}  // namespace asteroid
