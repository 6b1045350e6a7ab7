// What asteroid-exec's launcher tells its workers (the job), and what each worker reports back
// (its log). Both are JSON files in the run's output directory, written whole. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "asteroid/error.hpp"
#include "asteroid/run_report.hpp"

namespace asteroid::exec {

struct ExecJob {
  std::string scenario;         // the scenario file (workers load it themselves)
  nlohmann::json plan;          // plan_to_json form, with every stage's shares
  int rounds = 1;
  double learning_rate = 0.01;
  uint64_t seed = 1;            // initial weights and the training batch
  int store_port = 0;           // c10d TCPStore on 127.0.0.1, served by rank 0
  double timeout_s = 300;       // Gloo and store timeouts
  std::string out_dir;
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
  std::vector<WorkerRound> rounds;
  std::vector<Span> spans;  // Span::device is ignored: the log's device
  double peak_rss_bytes = 0;
};

nlohmann::json worker_log_to_json(const WorkerLog& w);
Result<WorkerLog> worker_log_from_json(const nlohmann::json& j, const std::string& file);

// Where a worker writes its log.
std::string worker_log_path(const std::string& out_dir, const std::string& device);

}  // namespace asteroid::exec
