// asteroid-compare A.json B.json [--json] [--rows N] [--max-round-error PERCENT] [-o FILE]
// Compares two RunReports (report.json of asteroid-sim, or of any backend that writes the format):
// run length, per-round durations, events, and busy time per device and instruction kind, with B's
// error relative to A. Bad input: one line on stderr naming the file, the field and the problem;
// exit status 2. With --max-round-error, exit status 1 when the mean |round error| exceeds it, when
// no round is in both reports (nothing to check), or when a round in both lasts no time in A (no
// relative error to check).
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "asteroid/input/cli_args.hpp"
#include "asteroid/input/json_reader.hpp"
#include "asteroid/report/report_compare.hpp"
#include "asteroid/report/report_files.hpp"

using namespace asteroid;

namespace {

const char* kUsage =
    "usage: asteroid-compare A.json B.json [--json] [--rows N] [--max-round-error PERCENT] [-o FILE]\n";

[[noreturn]] void fail(const std::string& message) {
  std::cerr << "asteroid-compare: " << message << "\n";
  std::exit(2);
}

RunReport load(const std::string& file) {
  auto j = read_json_file(file);
  if (!j) fail(j.error().str());
  auto r = report_from_json(*j, file);
  if (!r) fail(r.error().str());
  return *r;
}

}  // namespace

int main(int argc, char** argv) {
  std::string a_file, b_file, output;
  bool json = false;
  int rows = 10;
  bool rows_given = false;
  double max_error_percent = -1;
  CliArgs args(argc, argv, [](const std::string& m) { fail(m); });
  while (args.next()) {
    const std::string& s = args.arg();
    if (s == "--json")
      json = true;
    else if (s == "--rows")
      rows = int(args.number(1, true, 1e6)), rows_given = true;
    else if (s == "--max-round-error")
      max_error_percent = args.number(0, false, 1e6);
    else if (s == "-o" || s == "--output")
      output = args.value();
    else if (s == "-h" || s == "--help") {
      std::cout << kUsage;
      return 0;
    } else if (args.is_option())
      fail("unknown option " + s + " (see --help)");
    else if (a_file.empty())
      a_file = s;
    else if (b_file.empty())
      b_file = s;
    else
      fail("more than two reports given");
  }
  if (b_file.empty()) fail("two reports are needed (see --help)");
  if (json && rows_given) fail("--rows limits the text tables; --json writes every row");
  RunReport a = load(a_file), b = load(b_file);
  ReportComparison c = compare_reports(a, b);
  std::string text = json ? comparison_to_json(c).dump(2) + "\n" : comparison_to_text(c, rows);
  if (output.empty()) {
    std::cout << text;
  } else if (auto w = write_file_atomically(output, text); !w) {
    fail(w.error().str());
  }
  if (max_error_percent >= 0 && c.rounds.empty()) {
    std::fprintf(stderr, "asteroid-compare: no round is in both reports: nothing to check against %.2f%%\n",
                 max_error_percent);
    return 1;
  }
  if (max_error_percent >= 0 && c.zero_rounds_a > 0) {
    std::fprintf(
        stderr,
        "asteroid-compare: %d round(s) in both last 0 s in A (the first: round %d): no relative error "
        "to check against %.2f%%\n",
        c.zero_rounds_a, c.first_zero_round_a, max_error_percent);
    return 1;
  }
  if (max_error_percent >= 0 && 100 * c.mean_abs_round_error > max_error_percent) {
    std::fprintf(stderr, "asteroid-compare: mean round error %.2f%% exceeds %.2f%%\n",
                 100 * c.mean_abs_round_error, max_error_percent);
    return 1;
  }
  return 0;
}
