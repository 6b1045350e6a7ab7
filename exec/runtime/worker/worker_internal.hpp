// The Worker of one generation (worker.hpp's run_generation), shared by worker.cpp (set-up, the
// Program's instructions, checkpoints, emulation budgets), worker_transport.cpp (messages, and
// copies through host memory on an accelerator), worker_copies.cpp (copies to the backups, in the
// background) and worker_eval.cpp (test-set evaluation). Torch side: included by those files only.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "asteroid/run/round_book.hpp"
#include "batches.hpp"
#include "asteroid/report/run_report.hpp"
#include "control_store.hpp"
#include "fashion_mnist.hpp"
#include "gloo_group.hpp"
#include "models.hpp"
#include "net.hpp"
#include "power_rails.hpp"
#include "stage_state.hpp"
#include "worker.hpp"

namespace asteroid::exec::detail {

using torch::Tensor;

struct Range {
  int lo = 0, hi = 0;
};

inline Range overlap(Range a, Range b) { return {std::max(a.lo, b.lo), std::min(a.hi, b.hi)}; }

class Worker {
 public:
  Worker(const ExecJob& job, ControlClient& control)
      : job_(job), control_(control), device_(control.welcome().device), name_(control.name()) {}
  void run();

 private:
  // Setup, in order.
  void place();                // this device's stage, range and rank, from the plan
  void select_accelerator();   // compute_, from the job or the worker's --accelerator
  void build_model();          // the model from the common seed, message shapes, stage state
  void load_data();            // the data set (stage 0: images, last stage: labels), when real data
  void make_training_batch();  // synthetic data: the one batch every round trains on
  void read_round(int round);  // real data: this device's rows of the round's mini-batch
  void connect();              // Gloo groups through the coordinator's store
  void restore();              // the checkpoint, when the job resumes
  // Copies of the stage's state to its backup, in the background (worker_copies.cpp).
  void start_copies();  // this device's receiving threads, as a backup
  void send_copy(const Instruction& ins, int round);  // REPLICATE: unless the previous is in flight
  void receive_copies(const ReplicaAssignment& a);    // one owner's copies, until it says no more
  void finish_copies();                               // after the last round

  void run_round(int round);
  bool evaluates_after(int round) const;
  void evaluate(int round);  // the test set through the pipeline in evaluation mode
  Range eval_range(int stage, int device, int64_t rows) const;
  void execute(const Instruction& ins, int round);
  torch::Tensor loss_of(const torch::Tensor& y, int microbatch, int64_t rows);
  void wait_out_budget(const Instruction& ins, int64_t start_ns, Round& done);
  // The transport (gloo_group.hpp) on host tensors: a send (of a tensor anywhere) is queued in
  // sends_ until finish_sends(); a receive into a new host tensor of `shape` waits for its data.
  void send_tensor(const Tensor& t, int peer, int tag);
  Tensor recv_tensor(const std::vector<int64_t>& shape, int peer, int tag);
  void finish_sends();
  void all_reduce(Tensor& flat);  // float32, summed over the stage's devices
  // Between the compute device and host memory; each copy counted in host_copies_ (none on the CPU).
  Tensor to_host(const Tensor& t);
  Tensor to_compute(const Tensor& t);
  void count_copy(size_t bytes, int64_t start_ns);
  void send_slice(const Tensor& mine, int peer_stage, int peer, int tag);
  void recv_slice(Tensor& into, const std::vector<int64_t>& sample, int peer_stage, int peer, int tag);
  void post_receives(const std::vector<Instruction>& list);
  double checkpoint(int round);  // bytes on disk after it
  Range range_of(int stage, int device) const;
  int rank_of(int device) const { return rank_.at(device); }
  std::string layer_file(int l, int round) const {
    return dir_ + "/layer_" + std::to_string(l) + ".r" + std::to_string(round) + ".pt";
  }
  [[noreturn]] void refuse(const std::string& why) { control_.fail(why, 2, job_.generation); }

  const ExecJob& job_;
  ControlClient& control_;
  const int device_;
  const std::string name_;
  const std::string dir_ = control_.options().checkpoint_dir;
  const Plan& plan_ = job_.plan;
  std::map<int, int> rank_;  // device -> rank among the generation's workers
  int stage_ = -1, first_ = 0, last_ = 0, beta_ = 1, M_ = 1, B_ = 1;
  Range mine_;
  torch::Device compute_ = torch::kCPU;
  HostCopyRecord host_copies_;  // since the last Round message
  // The board's input rail, sampled while this process trains (power_rails.hpp); null where none
  // is readable or the run is emulated (this host's power would not be the device's).
  std::unique_ptr<PowerSampler> power_;

  PlannerModel net_;
  std::unique_ptr<StageState> state_;
  std::vector<Tensor> params_;
  std::vector<std::vector<int64_t>> out_shape_;  // per layer, one sample's output shape
  std::vector<int64_t> in_shape_;                // one sample's input to this stage
  // This device's rows of each micro-batch, micro-batch after micro-batch (M x its rows).
  Tensor data_, labels_;
  bool real_data_ = false;
  std::unique_ptr<FashionMnist> set_;
  std::unique_ptr<BatchSequence> sequence_;

  std::unique_ptr<ControlStore> store_;
  std::unique_ptr<GlooGroup> all_;    // every worker of the generation, ranked by rank_
  std::unique_ptr<GlooGroup> group_;  // this stage's devices, for the all-reduce (absent if alone)
  std::unique_ptr<GlooGroup> copies_;  // every worker, for the copies' threads (absent without copies)
  std::thread copy_sender_;
  CopyGate copy_gate_;  // this owner's copy in flight
  std::vector<std::thread> copy_receivers_;

  struct Micro {
    Tensor x, y, grad_y, loss;
    Tensor input, rng;  // a recomputing stage's: its input, and the random generator's state before it
  };
  // Activation recomputation (docs/method.md, "Recomputation"): the Program puts RECOMPUTE before
  // each of this device's BACKWARDs. The Forward then runs without autograd's graph, keeping only
  // the stage's input; RECOMPUTE runs it again with the graph and the same random numbers, and the
  // batch-norm statistics it updates are put back after the BACKWARD (updated once, as without).
  bool recomputes_ = false;
  std::vector<Tensor> buffers_;       // the stage's buffers (batch-norm statistics)
  std::vector<Tensor> kept_buffers_;  // their values before the last RECOMPUTE, restored after its BACKWARD
  std::vector<Micro> micro_;
  struct Message {  // in flight, with the host tensor it reads or fills
    Tensor host;     // declared first: outlives the message, should one ever be dropped unwaited
    GlooMessage message;
  };
  std::vector<Message> sends_;
  // The round's receives of activations and gradients, posted when it starts: key (tag, peer).
  std::map<std::pair<int, int>, Message> posted_;
  double round_loss_ = 0;
  double checkpoint_bytes_ = 0;
};

}  // namespace asteroid::exec::detail
