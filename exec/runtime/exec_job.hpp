// What asteroid-exec's launcher tells its workers (the job), and what each worker reports back
// (its log). Both are JSON files in the run's output directory, written whole. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "asteroid/error.hpp"
#include "asteroid/program.hpp"
#include "asteroid/run_report.hpp"

namespace asteroid::exec {

// A layer range's state moving from one device to another when a generation starts.
struct JobTransfer {
  int from = 0, to = 0;
  int first_layer = 0, last_layer = 0;
};

struct ExecJob {
  std::string scenario;  // the scenario file (workers load it themselves)
  nlohmann::json plan;   // plan_to_json form, with every stage's shares
  int rounds = 1;        // of the whole run
  double learning_rate = 0.01;
  uint64_t seed = 1;       // initial weights and the training batch
  int store_port = 0;      // c10d TCPStore on 127.0.0.1, served by rank 0
  double timeout_s = 300;  // Gloo and store timeouts
  std::string out_dir;
  // Failures: a run is a sequence of generations, each a set of worker processes on a plan.
  int generation = 0;
  int start_round = 0;                      // > 0: resume from the checkpoint of round start_round - 1
  int64_t origin_ns = 0;                    // the run's time origin (steady clock); 0: rank 0 sets it
  std::vector<int> workers;                 // devices with a worker, in rank order
  std::vector<ReplicaAssignment> replicas;  // copies after replicating rounds
  int replicate_every = 0;                  // rounds between copies (0: none)
  std::vector<JobTransfer> transfers;       // state to move before the first round
  double heartbeat_interval_s = 1.0;
  bool survive_peer_failure = false;  // on a transport error, keep beating and wait to be stopped
};

nlohmann::json job_to_json(const ExecJob& j);
Result<ExecJob> job_from_json(const nlohmann::json& j, const std::string& file);

struct WorkerRound {
  int round = 0;
  double start_s = 0, end_s = 0;  // from the common origin (rank 0's clock after the start barrier)
  double loss = 0;                // this device's part of the round's mean loss (last stage), else 0
  bool has_loss = false;
};

struct WorkerLog {
  std::string device;
  int generation = 0;
  double ready_s = 0;     // when the generation's workers were ready (state moved), on the origin's clock
  double transfer_s = 0;  // of which moving state
  std::vector<WorkerRound> rounds;
  std::vector<Span> spans;  // Span::device is ignored: the log's device
  double peak_rss_bytes = 0;
};

nlohmann::json worker_log_to_json(const WorkerLog& w);
Result<WorkerLog> worker_log_from_json(const nlohmann::json& j, const std::string& file);

// Where a worker writes its log, and keeps its checkpoints (layer_<l>.r<round>.pt).
std::string worker_log_path(const std::string& out_dir, const std::string& device, int generation);
std::string checkpoint_dir(const std::string& out_dir, const std::string& device);

}  // namespace asteroid::exec
