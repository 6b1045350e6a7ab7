// The coordinator's tally of test-set evaluations (exec/README.md, "Real data"): each last-stage
// device sends its part (EvalPart, control_protocol.hpp); an evaluation is whole when every
// last-stage device of the plan has sent its part. Torch-free, no I/O.
#pragma once

#include <map>
#include <optional>
#include <vector>

#include "asteroid/report/run_report.hpp"
#include "control_protocol.hpp"

namespace asteroid::exec {

class EvalTally {
 public:
  // `rounds_per_epoch` >= 1: floor(training samples / batch size).
  explicit EvalTally(double rounds_per_epoch) : per_epoch_(rounds_per_epoch) {}

  // A new generation: `parts` last-stage devices send a part of each evaluation. A round evaluated
  // again (replayed after a failure) replaces its earlier evaluation.
  void start_generation(int parts) { parts_ = parts, fresh_.clear(); }

  // Adds a part; `start_s`, `end_s`: when that device evaluated, seconds from the start of
  // training. Returns the evaluation when this part completes it (its time_s not yet set).
  std::optional<TestEvaluation> add(const EvalPart& p, double start_s, double end_s);

  // The whole evaluations of the rounds in `rounds` (committed), in round order, each at its
  // round's end less the evaluations before it (evaluating is not training). An evaluation's own
  // time runs from its round's end (or its first part's start, if later) to its last part's end.
  std::vector<TestEvaluation> evaluations(const std::vector<RoundRecord>& rounds) const;

 private:
  struct Seen {
    int parts = 0, needed = 1;  // parts in, parts of its generation's plan
    double loss_sum = 0;
    int64_t correct = 0, samples = 0;
    double start = 1e300, end = 0;
  };
  double per_epoch_;
  int parts_ = 1;
  std::map<int, Seen> seen_;  // by round
  std::map<int, bool> fresh_;  // rounds that received a part this generation
};

}  // namespace asteroid::exec
