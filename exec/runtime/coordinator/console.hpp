// What asteroid-exec's coordinator tells the person watching: on a terminal, one progress line
// rewritten in place (round k of 0-(N-1), samples/s, loss, time left) with the events printed above it;
// otherwise plain lines, one per committed round. Also the check of measured against predicted
// round times, with the likely reason when they are far apart. Torch-free.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "asteroid/input/scenario.hpp"

namespace asteroid::exec {

class Console {
 public:
  // `tty`: rewrite a progress line (stdout is a terminal); else plain lines.
  explicit Console(bool tty, std::FILE* out = stdout) : tty_(tty), out_(out) {}

  // A line of its own (an event, a join, a warning); the progress line is redrawn after it.
  void line(const std::string& text);
  // Round `round` (0-based) of `rounds` committed.
  // `left_s`: wall-clock seconds to the end (real time, also under --emulate).
  void progress(int round, int rounds, double samples_per_s, std::optional<double> loss, double left_s);
  // Ends the progress line (before the summary).
  void done();

 private:
  bool tty_;
  std::FILE* out_;
  std::string bar_;  // the progress line shown now, if any
};

// "1:05", "12.3 s", "2:03:04".
std::string duration_text(double s);
// "12.3 MB".
std::string bytes_text(double bytes);
// `v` as printf's `format` (one double) writes it.
std::string fmt(const char* format, double v);

// A warning when the measured round time is more than 2x off the cost model's prediction, with the
// likely reasons: traces not measured on this machine, a scaled device speed, workers sharing its
// cores, a busy machine, loopback in place of the scenario's links. Empty when within 2x.
// `measured_s`, `predicted_s`: seconds per round; `local_workers`: workers on this machine;
// `shaped`: whether the workers' links are the scenario's (real or shaped).
std::string prediction_warning(const Scenario& s, int local_workers, bool shaped, double measured_s,
                               double predicted_s);

}  // namespace asteroid::exec
