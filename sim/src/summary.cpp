#include "summary.hpp"

#include <cstdio>
#include <sstream>

namespace asteroid::sim {
namespace {

// Samples per second over the committed rounds that lie inside [from, to].
double throughput(const RunReport& r, double from, double to, int* rounds) {
  double samples = 0, first = -1, last = 0;
  *rounds = 0;
  for (const RoundRecord& x : r.rounds) {
    if (x.start < from - 1e-12 || x.end > to + 1e-12) continue;
    if (first < 0) first = x.start;
    last = x.end;
    samples += x.samples;
    ++*rounds;
  }
  return last > first && first >= 0 ? samples / (last - first) : 0;
}

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

}  // namespace

std::string plan_text(const Plan& p, const Cluster& c) {
  std::ostringstream os;
  os << "micro-batch " << p.microbatch_size << " x " << p.microbatches << ", " << p.num_stages()
     << " stages\n";
  for (int s = 0; s < p.num_stages(); ++s) {
    const StagePlan& sp = p.stages[s];
    os << "  stage " << s << ": layers " << sp.first_layer << "-" << sp.last_layer << " on";
    for (size_t i = 0; i < sp.devices.size(); ++i)
      os << (i ? ", " : " ") << c.devices[sp.devices[i]].name
         << (i < sp.shares.size() ? " (" + std::to_string(sp.shares[i]) + ")" : "");
    os << "\n";
  }
  return os.str();
}

nlohmann::json summarize(const SimResult& res, const Cluster&) {
  const RunReport& r = res.report;
  nlohmann::json s;
  s["completed"] = res.completed;
  s["rounds_committed"] = int(r.rounds.size());
  s["simulated_s"] = res.end_s;
  int n = 0;
  s["throughput_samples_per_s"] = throughput(r, 0, 1e300, &n);
  if (!r.rounds.empty()) s["first_round_latency_s"] = r.rounds.front().end - r.rounds.front().start;
  s["min_checkpoint_copies"] = res.min_copies;
  s["weights_lost"] = res.weights_lost;
  nlohmann::json recs = nlohmann::json::array();
  for (const RecoveryRecord& x : res.recoveries) {
    nlohmann::json j = {{"device", x.device}, {"failure_s", x.failure_s}, {"lost_layers", x.lost_layers}};
    int before_n = 0, after_n = 0;
    j["throughput_before"] = throughput(r, 0, x.failure_s, &before_n);
    if (x.detection_s >= 0) j["detection_s"] = x.detection_s - x.failure_s;
    j["replan_s"] = x.replan_s;
    j["state_transfer_s"] = x.transfer_s;
    j["state_transfer_bytes"] = x.transfer_bytes;
    if (x.resume_s >= 0) j["resume_at_s"] = x.resume_s;
    if (x.replayed_s >= 0) {
      j["replay_s"] = x.replayed_s - x.resume_s;
      j["recovery_s"] = x.replayed_s - x.failure_s;
      j["throughput_after"] = throughput(r, x.replayed_s, 1e300, &after_n);
      j["replay_round"] = x.replay_round;
      j["interrupted_round"] = x.interrupted_round;
    }
    recs.push_back(j);
  }
  s["failures"] = recs;
  return s;
}

std::string summary_text(const nlohmann::json& s) {
  std::ostringstream os;
  os << "rounds committed " << s["rounds_committed"].get<int>() << " in "
     << fmt("%.2f", s["simulated_s"].get<double>()) << " s simulated, throughput "
     << fmt("%.2f", s["throughput_samples_per_s"].get<double>()) << " samples/s";
  if (s.contains("first_round_latency_s"))
    os << ", first round " << fmt("%.4f", s["first_round_latency_s"].get<double>()) << " s";
  os << "\n";
  for (const auto& f : s["failures"]) {
    os << "failure of " << f["device"].get<std::string>() << " at "
       << fmt("%.3f", f["failure_s"].get<double>()) << " s\n";
    if (f.contains("detection_s"))
      os << "  detection      " << fmt("%.3f", f["detection_s"].get<double>()) << " s after it\n";
    os << "  re-plan        " << fmt("%.4f", f["replan_s"].get<double>()) << " s\n";
    os << "  state transfer " << fmt("%.3f", f["state_transfer_s"].get<double>()) << " s ("
       << fmt("%.2f", f["state_transfer_bytes"].get<double>() / 1e6) << " MB)\n";
    if (f.contains("replay_s")) {
      os << "  replay         " << fmt("%.3f", f["replay_s"].get<double>()) << " s (rounds "
         << f["replay_round"].get<int>() << "-" << f["interrupted_round"].get<int>()
         << ", from the checkpoint to the interrupted round)\n";
      os << "  recovery total " << fmt("%.3f", f["recovery_s"].get<double>())
         << " s, failure to the interrupted round committed\n";
    }
    os << "  throughput     " << fmt("%.2f", f["throughput_before"].get<double>()) << " samples/s before, ";
    if (f.contains("throughput_after"))
      os << fmt("%.2f", f["throughput_after"].get<double>()) << " after\n";
    else
      os << "training did not resume\n";
    os << "  weights        "
       << (f["lost_layers"].empty() ? std::string("every layer's checkpoint was on a survivor")
                                    : std::to_string(f["lost_layers"].size()) + " layers LOST")
       << "\n";
  }
  os << "weights check: " << (s["weights_lost"].get<bool>() ? "WEIGHTS LOST" : "no weights lost")
     << "; at every commit each layer's checkpoint had at least " << s["min_checkpoint_copies"].get<int>()
     << (s["min_checkpoint_copies"].get<int>() == 1 ? " copy" : " copies") << " on live devices\n";
  return os.str();
}

}  // namespace asteroid::sim
