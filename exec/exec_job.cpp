#include "exec_job.hpp"

#include "asteroid/json_reader.hpp"

namespace asteroid::exec {

nlohmann::json job_to_json(const ExecJob& j) {
  return {{"scenario", j.scenario},       {"plan", j.plan},         {"rounds", j.rounds},
          {"learning_rate", j.learning_rate}, {"seed", j.seed},     {"store_port", j.store_port},
          {"timeout_s", j.timeout_s},     {"out_dir", j.out_dir}};
}

Result<ExecJob> job_from_json(const nlohmann::json& j, const std::string& file) {
  try {
    JsonReader r(j, "");
    r.allow_only({"scenario", "plan", "rounds", "learning_rate", "seed", "store_port", "timeout_s", "out_dir"});
    ExecJob out;
    out.scenario = r.at("scenario").string();
    out.plan = r.at("plan").json();
    out.rounds = int(r.at("rounds").positive_integer());
    out.learning_rate = r.at("learning_rate").number();
    out.seed = uint64_t(r.at("seed").integer());
    out.store_port = int(r.at("store_port").positive_integer());
    out.timeout_s = r.at("timeout_s").number();
    out.out_dir = r.at("out_dir").string();
    return out;
  } catch (const InputError& e) {
    return Error{file, e.path, e.message};
  }
}

nlohmann::json worker_log_to_json(const WorkerLog& w) {
  nlohmann::json rounds = nlohmann::json::array(), spans = nlohmann::json::array();
  for (const WorkerRound& r : w.rounds) {
    nlohmann::json x = {{"round", r.round}, {"start_s", r.start_s}, {"end_s", r.end_s}};
    if (r.has_loss) x["loss"] = r.loss;
    rounds.push_back(x);
  }
  for (const Span& s : w.spans)
    spans.push_back({{"op", s.op}, {"stage", s.stage}, {"microbatch", s.microbatch}, {"round", s.round},
                     {"start_s", s.start}, {"end_s", s.end}});
  return {{"device", w.device}, {"rounds", rounds}, {"spans", spans}, {"peak_rss_bytes", w.peak_rss_bytes}};
}

Result<WorkerLog> worker_log_from_json(const nlohmann::json& j, const std::string& file) {
  try {
    JsonReader r(j, "");
    r.allow_only({"device", "rounds", "spans", "peak_rss_bytes"});
    WorkerLog w;
    w.device = r.at("device").string();
    w.peak_rss_bytes = r.at("peak_rss_bytes").number();
    JsonReader rounds = r.at("rounds");
    for (size_t i = 0; i < rounds.size(); ++i) {
      JsonReader x = rounds.at(i);
      x.allow_only({"round", "start_s", "end_s", "loss"});
      WorkerRound wr;
      wr.round = int(x.at("round").integer());
      wr.start_s = x.at("start_s").number();
      wr.end_s = x.at("end_s").number();
      if (x.has("loss")) {
        wr.loss = x.at("loss").number();
        wr.has_loss = true;
      }
      w.rounds.push_back(wr);
    }
    JsonReader spans = r.at("spans");
    for (size_t i = 0; i < spans.size(); ++i) {
      JsonReader x = spans.at(i);
      x.allow_only({"op", "stage", "microbatch", "round", "start_s", "end_s"});
      Span s;
      s.op = x.at("op").string();
      s.stage = int(x.at("stage").integer());
      s.microbatch = int(x.at("microbatch").integer());
      s.round = int(x.at("round").integer());
      s.start = x.at("start_s").number();
      s.end = x.at("end_s").number();
      w.spans.push_back(s);
    }
    return w;
  } catch (const InputError& e) {
    return Error{file, e.path, e.message};
  }
}

std::string worker_log_path(const std::string& out_dir, const std::string& device) {
  return out_dir + "/worker_" + device + ".json";
}

}  // namespace asteroid::exec
