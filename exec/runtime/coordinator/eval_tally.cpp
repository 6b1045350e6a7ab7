#include "eval_tally.hpp"

#include <algorithm>

namespace asteroid::exec {

std::optional<TestEvaluation> EvalTally::add(const EvalPart& p, double start_s, double end_s) {
  Seen& s = seen_[p.round];
  if (!fresh_[p.round]) s = Seen{}, s.needed = parts_, fresh_[p.round] = true;  // a replayed round starts over
  s.parts += 1;
  s.loss_sum += p.loss_sum;
  s.correct += p.correct;
  s.samples += p.samples;
  s.start = std::min(s.start, start_s);
  s.end = std::max(s.end, end_s);
  if (s.parts != s.needed || s.samples == 0) return std::nullopt;
  TestEvaluation t;
  t.round = p.round;
  t.epoch = (p.round + 1) / per_epoch_;
  t.accuracy = double(s.correct) / double(s.samples);
  t.loss = s.loss_sum / double(s.samples);
  t.samples = int(s.samples);
  return t;
}

std::vector<TestEvaluation> EvalTally::evaluations(const std::vector<RoundRecord>& rounds) const {
  std::vector<TestEvaluation> out;
  double evaluating = 0;
  for (const auto& [round, s] : seen_) {
    if (s.parts != s.needed || s.samples == 0) continue;
    auto rec = std::find_if(rounds.begin(), rounds.end(), [&](const RoundRecord& x) { return x.round == round; });
    if (rec == rounds.end()) continue;
    TestEvaluation t;
    t.round = round;
    t.epoch = (round + 1) / per_epoch_;
    t.time_s = rec->end - evaluating;
    t.accuracy = double(s.correct) / double(s.samples);
    t.loss = s.loss_sum / double(s.samples);
    t.samples = int(s.samples);
    out.push_back(t);
    evaluating += std::max(0.0, s.end - std::max(s.start, rec->end));
  }
  return out;
}

}  // namespace asteroid::exec
