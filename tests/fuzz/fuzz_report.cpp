// Fuzzes the RunReport reader (what asteroid-compare reads), and everything done with a report once
// read: its summary, its JSON, Chrome trace and CSV forms, and a comparison with itself.
#include <cstddef>
#include <cstdint>
#include <string>

#include "asteroid/input/json_reader.hpp"
#include "asteroid/report/report_compare.hpp"
#include "asteroid/report/report_files.hpp"
#include "asteroid/report/run_report.hpp"
#include "asteroid/report/run_summary.hpp"

using namespace asteroid;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto j = parse_json_text(std::string(reinterpret_cast<const char*>(data), size), "fuzz.json");
  if (!j) return 0;
  auto r = report_from_json(*j, "fuzz.json");
  if (!r) return 0;
  RunSummary s = summarize_run(*r);
  (void)summary_to_json(s).dump();
  (void)summary_to_text(s, r->backend);
  (void)report_to_json(*r).dump();
  (void)report_to_chrome_trace(*r);
  (void)report_to_rounds_csv(*r);
  ReportComparison c = compare_reports(*r, *r);
  (void)comparison_to_text(c, 10);
  (void)comparison_to_json(c).dump();
  return 0;
}
