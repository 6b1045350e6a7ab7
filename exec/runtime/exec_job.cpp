#include "exec_job.hpp"

#include "asteroid/json_reader.hpp"

namespace asteroid::exec {

nlohmann::json job_to_json(const ExecJob& j) {
  nlohmann::json replicas = nlohmann::json::array(), transfers = nlohmann::json::array();
  for (const ReplicaAssignment& r : j.replicas)
    replicas.push_back({{"stage", r.stage}, {"owner", r.owner}, {"backup", r.backup}});
  for (const JobTransfer& t : j.transfers)
    transfers.push_back(
        {{"from", t.from}, {"to", t.to}, {"first_layer", t.first_layer}, {"last_layer", t.last_layer}});
  return {{"scenario", j.scenario},
          {"plan", j.plan},
          {"rounds", j.rounds},
          {"learning_rate", j.learning_rate},
          {"seed", j.seed},
          {"store_port", j.store_port},
          {"timeout_s", j.timeout_s},
          {"out_dir", j.out_dir},
          {"generation", j.generation},
          {"start_round", j.start_round},
          {"origin_ns", j.origin_ns},
          {"workers", j.workers},
          {"replicas", replicas},
          {"replicate_every", j.replicate_every},
          {"transfers", transfers},
          {"heartbeat_interval_s", j.heartbeat_interval_s},
          {"survive_peer_failure", j.survive_peer_failure}};
}

Result<ExecJob> job_from_json(const nlohmann::json& j, const std::string& file) {
  try {
    JsonReader r(j, "");
    r.allow_only({"scenario", "plan", "rounds", "learning_rate", "seed", "store_port", "timeout_s", "out_dir",
                  "generation", "start_round", "origin_ns", "workers", "replicas", "replicate_every",
                  "transfers", "heartbeat_interval_s", "survive_peer_failure"});
    ExecJob out;
    out.scenario = r.at("scenario").string();
    out.plan = r.at("plan").json();
    out.rounds = int(r.at("rounds").positive_integer());
    out.learning_rate = r.at("learning_rate").number();
    out.seed = uint64_t(r.at("seed").integer());
    out.store_port = int(r.at("store_port").positive_integer());
    out.timeout_s = r.at("timeout_s").number();
    out.out_dir = r.at("out_dir").string();
    out.generation = int(r.at("generation").integer());
    out.start_round = int(r.at("start_round").integer());
    out.origin_ns = r.at("origin_ns").integer();
    JsonReader w = r.at("workers");
    for (size_t i = 0; i < w.size(); ++i) out.workers.push_back(int(w.at(i).integer()));
    JsonReader reps = r.at("replicas");
    for (size_t i = 0; i < reps.size(); ++i) {
      JsonReader x = reps.at(i);
      x.allow_only({"stage", "owner", "backup"});
      out.replicas.push_back(
          {int(x.at("stage").integer()), int(x.at("owner").integer()), int(x.at("backup").integer())});
    }
    out.replicate_every = int(r.at("replicate_every").integer());
    JsonReader ts = r.at("transfers");
    for (size_t i = 0; i < ts.size(); ++i) {
      JsonReader x = ts.at(i);
      x.allow_only({"from", "to", "first_layer", "last_layer"});
      out.transfers.push_back({int(x.at("from").integer()), int(x.at("to").integer()),
                               int(x.at("first_layer").integer()), int(x.at("last_layer").integer())});
    }
    out.heartbeat_interval_s = r.at("heartbeat_interval_s").number();
    out.survive_peer_failure = r.at("survive_peer_failure").boolean();
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
    spans.push_back({{"op", s.op},
                     {"stage", s.stage},
                     {"microbatch", s.microbatch},
                     {"round", s.round},
                     {"start_s", s.start},
                     {"end_s", s.end}});
  return {{"device", w.device},
          {"generation", w.generation},
          {"ready_s", w.ready_s},
          {"transfer_s", w.transfer_s},
          {"rounds", rounds},
          {"spans", spans},
          {"peak_rss_bytes", w.peak_rss_bytes}};
}

Result<WorkerLog> worker_log_from_json(const nlohmann::json& j, const std::string& file) {
  try {
    JsonReader r(j, "");
    r.allow_only({"device", "generation", "ready_s", "transfer_s", "rounds", "spans", "peak_rss_bytes"});
    WorkerLog w;
    w.device = r.at("device").string();
    w.generation = int(r.at("generation").integer());
    w.ready_s = r.at("ready_s").number();
    w.transfer_s = r.at("transfer_s").number();
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

std::string worker_log_path(const std::string& out_dir, const std::string& device, int generation) {
  return out_dir + "/worker_" + device + ".g" + std::to_string(generation) + ".json";
}

std::string checkpoint_dir(const std::string& out_dir, const std::string& device) {
  return out_dir + "/checkpoints/" + device;
}

}  // namespace asteroid::exec
