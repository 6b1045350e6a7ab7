#include "asteroid/run/round_book.hpp"

#include <algorithm>
#include <cassert>

namespace asteroid {

RoundBook::RoundBook(int samples_per_round) : samples_(samples_per_round) { assert(samples_per_round > 0); }

void RoundBook::start(int plan_id, int workers, int backups, int first_round) {
  assert(workers >= 1 && backups >= 0 && first_round >= 0);
  plan_id_ = plan_id, workers_ = workers, backups_ = backups;
  roll_back(first_round);
}

void RoundBook::roll_back(int first_round) {
  first_ = next_ = first_round;
  while (!records_.empty() && records_.back().round >= first_round) records_.pop_back();
  reported_.clear();
  copies_.clear();
  last_whole_copies_ = -1;
}

std::vector<RoundRecord> RoundBook::finished(int round, double end, std::optional<double> loss) {
  std::vector<RoundRecord> out;
  if (round < next_) return out;
  Reported& r = reported_[round];
  ++r.finishers;
  r.end = std::max(r.end, end);
  if (loss) r.loss = r.loss.value_or(0) + *loss;
  for (auto it = reported_.begin(); it != reported_.end() && it->first == next_ && it->second.finishers >= workers_;
       it = reported_.erase(it), ++next_) {
    RoundRecord rec;
    rec.round = next_;
    rec.start = records_.empty() ? 0 : records_.back().end;
    rec.end = it->second.end;
    rec.samples = samples_;
    rec.plan_id = plan_id_;
    rec.loss = it->second.loss;
    records_.push_back(rec);
    out.push_back(rec);
  }
  return out;
}

bool RoundBook::copy_landed(int round) {
  if (backups_ == 0 || round <= last_whole_copies_) return false;
  if (++copies_[round] < backups_) return false;
  copies_.erase(copies_.begin(), copies_.upper_bound(round));  // earlier rounds some owner skipped
  last_whole_copies_ = round;
  return true;
}

std::optional<double> RoundBook::end_of(int round) const {
  if (round < 0 || round >= next_) return std::nullopt;
  auto it = std::lower_bound(records_.begin(), records_.end(), round,
                             [](const RoundRecord& r, int k) { return r.round < k; });
  if (it == records_.end() || it->round != round) return std::nullopt;
  return it->end;
}

}  // namespace asteroid
