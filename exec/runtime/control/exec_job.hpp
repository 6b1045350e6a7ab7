// What asteroid-exec's coordinator tells every worker of a generation (the job, sent over the
// control connection, control_protocol.hpp). It carries everything a worker needs, so that a worker
// on another host needs neither the scenario nor the traces: the model, the plan, each device's
// instruction lists (program.hpp's text form), the Gloo addresses. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "asteroid/input/error.hpp"
#include "asteroid/program/program.hpp"
#include "asteroid/input/vocabulary.hpp"

namespace asteroid::exec {

// What the workers train on: `asteroid-exec --data`, the job's and the report's "data".
enum class DataSource { synthetic, fashion_mnist };
inline constexpr auto kDataSources = vocabulary<DataSource>(
    "data source",
    Term<DataSource>{DataSource::synthetic, "synthetic", "one fixed random mini-batch, every round (default)"},
    Term<DataSource>{DataSource::fashion_mnist, "fashion-mnist",
                     "Fashion-MNIST from its IDX files (exec/data/fashion_mnist.hpp), test-set evaluations"});

// A layer range's state moving from one device to another when a generation starts.
struct JobTransfer {
  int from = 0, to = 0;
  int first_layer = 0, last_layer = 0;
};

// Emulation (asteroid-exec --emulate, docs/emulation.md): a device's compute times under the
// scenario's traces for its share of a micro-batch (the Program's Forward/Backward seconds) and for its
// stage's optimizer step, in the emulated device's seconds.
struct ComputeBudget {
  double forward_s = 0, backward_s = 0, optimizer_s = 0;
};

struct ExecJob {
  // What to train.
  std::vector<std::string> devices;  // the scenario's device names, by index
  std::string model;                 // a model of exec/models ("bert_small")
  std::string input;                 // its input tag ("synthetic_seq128")
  // An imported model's archive folder (asteroid/input/model_archive.hpp), empty for a built-in model.
  // The same path on every worker's host; each layer file's SHA-256 is checked when loaded.
  std::string model_archive;
  Optimizer optimizer = Optimizer::sgd_momentum;
  int batch_size = 1;
  int num_layers = 0;  // of the traces: the model built must have as many
  int rounds = 1;      // of the whole run
  double learning_rate = 0.01;
  uint64_t seed = 1;  // initial weights, the order of the training samples, their crops and flips
  // The training data (kDataSources): each worker locates its own copy of a data set, or reads
  // data_dir.
  DataSource data = DataSource::synthetic;
  std::string data_dir;  // empty: found on the worker's host
  bool augment = false;  // random crop (padding 4) and horizontal flip of training images
  int eval_every = 0;    // rounds between test-set evaluations (0: at each epoch's end and the last round only)
  int64_t train_samples = 0, test_samples = 0;  // of the coordinator's copy: every worker's must agree
  int eval_samples = 0;  // the first N test images (0: all); multiples of the mini-batch, the rest left out
  // How: the plan (shares filled in) and the Program's lists, without and with the copies.
  Plan plan;
  std::vector<std::vector<Instruction>> program, program_with_copies;  // per device
  // Where: Gloo binds each worker's device to its address; the store is the control connection.
  std::vector<std::string> addresses;  // by device index; empty for devices without a worker
  // Where each device's worker computes ("cpu", "cuda", "cuda:N"), by device index; a worker's
  // own --accelerator overrides its entry. Empty: every worker on its CPU.
  std::vector<std::string> accelerators;
  double timeout_s = 300;              // Gloo and store timeouts
  // Failures: a run is a sequence of generations, each a set of worker processes on a plan.
  int generation = 0;
  int start_round = 0;                      // > 0: resume from the checkpoint of round start_round - 1
  std::vector<int> workers;                 // devices with a worker, in rank order
  std::vector<ReplicaAssignment> replicas;  // copies after replicating rounds
  int replicate_every = 0;                  // rounds between copies (0: none)
  std::vector<JobTransfer> transfers;       // state to move before the first round
  bool survive_peer_failure = false;        // on a transport error, report it and wait to be stopped
  // Emulation: 0, not emulated; else each Forward, Backward and optimizer step lasts its budget
  // times this factor (the real computation runs, then the worker waits out the rest).
  double time_dilation = 0;
  std::vector<ComputeBudget> budgets;  // by device index; empty when not emulated
};

nlohmann::json job_to_json(const ExecJob& j);
// Reads what job_to_json wrote; an Error names `where` and the JSON path. Pure.
Result<ExecJob> job_from_json(const nlohmann::json& j, const std::string& where);

}  // namespace asteroid::exec
