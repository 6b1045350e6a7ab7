// One asteroid-exec worker: a process that plays one device of the plan. It builds the whole model
// from the common seed (so every device starts from the same weights), keeps its stage's layers,
// and interprets its list of the Program (core/include/asteroid/program.hpp) round after round on
// real tensors: forward and backward of its share of each micro-batch, activations and gradients
// as c10d/Gloo point-to-point messages, the stage group's gradients summed by a Gloo all-reduce,
// then the optimizer step. The loss is summed over each device's samples and divided by the batch
// size, so that the summed gradients are those of the whole mini-batch: a plan computes the same
// update as one device would (exactly, for models without batch norm).
// For failures (launcher.hpp): a heartbeat thread writes "h" lines to the launcher's pipe, and the
// worker writes "r <round>" after each round and "s" once its state is in place; it checkpoints
// its stage's layers after every round and sends copies to its backup after replicating rounds;
// a later generation starts from those files, moving layers between devices as the job says.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <thread>

#include <torch/torch.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "asteroid/backend_setup.hpp"
#include "asteroid/json_reader.hpp"
#include "asteroid/program.hpp"
#include "exec_job.hpp"
#include "models.hpp"
#include "stage_state.hpp"

namespace asteroid::exec {
namespace {

using torch::Tensor;
using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& device, const std::string& message, int status) {
  std::cerr << "asteroid-exec: worker " << device << ": " << message << "\n";
  std::exit(status);
}

// The model options that give the scenario's input ("cifar10_32", "miniimagenet_224", ...).
ModelOptions options_for(const std::string& model, const std::string& input, bool* ok) {
  ModelOptions o;
  *ok = true;
  const std::string seq = "synthetic_seq";
  if (model == "bert_small" && input.rfind(seq, 0) == 0) {
    o.seq_len = std::atoll(input.c_str() + seq.size());
    *ok = o.seq_len >= 1 && o.seq_len <= 512;
  } else if (input.find("224") != std::string::npos && model != "resnet50") {
    o.stem = "imagenet";
  }
  return o;
}

struct Range {
  int lo = 0, hi = 0;
};

Range overlap(Range a, Range b) { return {std::max(a.lo, b.lo), std::min(a.hi, b.hi)}; }

class Worker {
 public:
  Worker(const ExecJob& job, int device) : job_(job), device_(device) {}
  int run();

 private:
  void setup();
  void restore();
  void run_round(int round);
  void execute(const Instruction& ins, int round);
  void send_slice(const Tensor& mine, int peer_stage, int peer, int tag);
  void recv_slice(Tensor& into, const std::vector<int64_t>& sample, int peer_stage, int peer, int tag);
  void checkpoint(int round);
  Range range_of(int stage, int device) const;
  int rank_of(int device) const { return rank_.at(device); }
  double now() const { return std::chrono::duration<double>(Clock::now() - origin_).count(); }
  void write_log();
  std::string layer_file(int l, int round) const {
    return checkpoint_dir(job_.out_dir, name_) + "/layer_" + std::to_string(l) + ".r" +
           std::to_string(round) + ".pt";
  }

  const ExecJob& job_;
  int device_;
  std::string name_;
  Scenario scenario_;
  std::unique_ptr<CostModel> model_;
  Plan plan_;
  Program plain_, replicated_;
  std::map<int, int> rank_;  // device -> rank among the generation's workers
  int stage_ = -1, first_ = 0, last_ = 0, beta_ = 1, M_ = 1, B_ = 1;
  Range mine_;
  bool has_model_ = false;

  PlannerModel net_;
  std::unique_ptr<StageState> state_;
  std::vector<Tensor> params_;
  std::vector<std::vector<int64_t>> out_shape_;  // per layer, one sample's output shape
  std::vector<int64_t> in_shape_;                // one sample's input to this stage
  Tensor data_, labels_;

  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> all_, group_;
  Clock::time_point origin_;

  struct Micro {
    Tensor x, y, grad_y, loss;
  };
  std::vector<Micro> micro_;
  std::vector<std::pair<c10::intrusive_ptr<c10d::Work>, Tensor>> sends_;
  double round_loss_ = 0;
  WorkerLog log_;
};

Range Worker::range_of(int stage, int device) const {
  const StagePlan& sp = plan_.stages[stage];
  auto ranges = sample_ranges(sp.shares);
  for (size_t i = 0; i < sp.devices.size(); ++i)
    if (sp.devices[i] == device) return {ranges[i].first, ranges[i].second};
  return {};
}

void Worker::setup() {
  auto loaded = load_scenario(job_.scenario);
  if (!loaded) die(std::to_string(device_), loaded.error().str(), 2);
  scenario_ = std::move(loaded.value());
  name_ = scenario_.devices.at(device_).name;
  model_ = std::make_unique<CostModel>(make_cost_model(scenario_));
  auto p = plan_from_json(job_.plan, model_->cluster(), model_->num_layers(), scenario_.training.batch_size,
                          "job", "plan");
  if (!p) die(name_, p.error().str(), 2);
  plain_ = make_program(*model_, p.value());
  replicated_ = make_program(*model_, p.value(), job_.replicas);
  plan_ = plain_.plan;
  beta_ = plan_.microbatch_size;
  M_ = plan_.microbatches;
  B_ = scenario_.training.batch_size;
  for (size_t i = 0; i < job_.workers.size(); ++i) rank_[job_.workers[i]] = int(i);
  if (!rank_.count(device_)) die(name_, "not among the job's workers", 2);
  for (int s = 0; s < plan_.num_stages(); ++s)
    for (int d : plan_.stages[s].devices)
      if (d == device_) stage_ = s;
  bool holds_state = stage_ >= 0;
  for (const ReplicaAssignment& r : job_.replicas) holds_state |= r.backup == device_;
  for (const JobTransfer& t : job_.transfers) holds_state |= t.from == device_;

  if (holds_state) {
    bool ok = false;
    ModelOptions mo = options_for(scenario_.model, scenario_.input, &ok);
    if (!ok || !is_model_name(scenario_.model))
      die(name_, "model " + scenario_.model + " (" + scenario_.input + ") is not built by asteroid-exec", 2);
    torch::manual_seed(job_.seed);
    net_ = make_model(scenario_.model, mo);
    has_model_ = true;
    if (net_.input != scenario_.input)
      die(name_,
          "model " + scenario_.model + " takes input " + net_.input + ", the scenario says " +
              scenario_.input,
          2);
    if (int(net_.size()) != model_->num_layers())
      die(name_,
          "the model has " + std::to_string(net_.size()) + " layers, the traces " +
              std::to_string(model_->num_layers()),
          2);
    // One sample through every layer (eval mode: batch norm on one sample) gives the message shapes.
    torch::NoGradGuard no_grad;
    net_.train(false);
    Tensor x = net_.make_input(1);
    for (size_t l = 0; l < net_.size(); ++l) {
      x = net_.forward_range(x, l, l + 1);
      out_shape_.push_back(x.sizes().slice(1).vec());
    }
    net_.train(true);
  }
  if (stage_ >= 0) {
    first_ = plan_.stages[stage_].first_layer;
    last_ = plan_.stages[stage_].last_layer;
    mine_ = range_of(stage_, device_);
    if (first_ > 0) in_shape_ = out_shape_[first_ - 1];
    for (int l = first_; l <= last_; ++l)
      for (const Tensor& t : net_.layer_parameters(l)) params_.push_back(t);
    state_ =
        std::make_unique<StageState>(net_, first_, last_, scenario_.training.optimizer, job_.learning_rate);
    // The training batch: the same samples every round, so that the loss must fall.
    torch::manual_seed(job_.seed + 1);
    data_ = net_.make_input(B_);
    labels_ = torch::randint(0, out_shape_.back().at(0), {B_}, torch::kLong);
  }
  std::filesystem::create_directories(checkpoint_dir(job_.out_dir, name_));

  auto timeout = std::chrono::milliseconds(int64_t(job_.timeout_s * 1000));
  c10d::TCPStoreOptions so;
  so.port = uint16_t(job_.store_port);
  so.isServer = rank_of(device_) == 0;
  so.numWorkers = c10::nullopt;
  so.waitWorkers = false;
  so.timeout = timeout;
  store_ = c10::make_intrusive<c10d::TCPStore>("127.0.0.1", so);
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  options->threads = 1;  // more processes than cores: one Gloo thread each
  all_ = c10::make_intrusive<c10d::ProcessGroupGloo>(c10::make_intrusive<c10d::PrefixStore>("all", store_),
                                                     rank_of(device_), int(rank_.size()), options);
  if (stage_ >= 0 && plan_.stages[stage_].devices.size() > 1) {
    const StagePlan& sp = plan_.stages[stage_];
    int gr = int(std::find(sp.devices.begin(), sp.devices.end(), device_) - sp.devices.begin());
    group_ = c10::make_intrusive<c10d::ProcessGroupGloo>(
        c10::make_intrusive<c10d::PrefixStore>("stage" + std::to_string(stage_), store_), gr,
        int(sp.devices.size()), options);
  }
  all_->barrier()->wait();
  if (job_.origin_ns != 0) {
    origin_ = Clock::time_point(Clock::duration(job_.origin_ns));
  } else {
    // The run's time origin: rank 0's clock just after everyone has arrived (one machine: one
    // monotonic clock); the launcher reads it from a file to time the faults.
    if (rank_of(device_) == 0) {
      std::string v = std::to_string(Clock::now().time_since_epoch().count());
      store_->set("origin", std::vector<uint8_t>(v.begin(), v.end()));
      auto w = write_file_atomically(job_.out_dir + "/origin", v + "\n");
      if (!w) die(name_, w.error().str(), 1);
    }
    auto v = store_->get("origin");
    origin_ = Clock::time_point(Clock::duration(std::stoll(std::string(v.begin(), v.end()))));
  }
}

// Loads the checkpoint of round start_round - 1: the layers this device already holds from its
// own files, the others from the devices the job names (each sends from its own files).
void Worker::restore() {
  if (job_.start_round == 0) return;
  const int round = job_.start_round - 1;
  const Optimizer kind = scenario_.training.optimizer;
  const int kTag = 1 << 20;
  for (const JobTransfer& t : job_.transfers) {
    if (t.from != device_) continue;
    for (int l = t.first_layer; l <= t.last_layer; ++l) {
      Tensor flat = load_tensor(layer_file(l, round));
      std::vector<Tensor> v{flat};
      sends_.push_back({all_->send(v, rank_of(t.to), kTag + l), flat});
    }
  }
  if (stage_ >= 0)
    for (int l = first_; l <= last_; ++l) {
      const JobTransfer* in = nullptr;
      for (const JobTransfer& t : job_.transfers)
        if (t.to == device_ && l >= t.first_layer && l <= t.last_layer) in = &t;
      if (in) {
        std::vector<Tensor> v{torch::empty({StageState::flat_size(net_, l, kind)})};
        all_->recv(v, rank_of(in->from), kTag + l)->wait();
        state_->load(l, v[0]);
      } else {
        state_->load(l, load_tensor(layer_file(l, round)));
      }
    }
  for (auto& [work, tensor] : sends_) work->wait();
  sends_.clear();
}

// The rows of `mine` (this device's samples) that `peer` of `peer_stage` also has, sent to it.
void Worker::send_slice(const Tensor& mine, int peer_stage, int peer, int tag) {
  Range o = overlap(mine_, range_of(peer_stage, peer));
  Tensor t = mine.narrow(0, o.lo - mine_.lo, o.hi - o.lo).contiguous();
  std::vector<Tensor> v{t};
  sends_.push_back({all_->send(v, rank_of(peer), tag), t});
}

// The rows of `into` (this device's samples, one sample shaped `sample`) that `peer` of
// `peer_stage` has, received from it; `into` is allocated on the first message.
void Worker::recv_slice(Tensor& into, const std::vector<int64_t>& sample, int peer_stage, int peer, int tag) {
  Range o = overlap(mine_, range_of(peer_stage, peer));
  std::vector<int64_t> shape{mine_.hi - mine_.lo};
  shape.insert(shape.end(), sample.begin(), sample.end());
  if (!into.defined()) into = torch::zeros(shape);
  shape[0] = o.hi - o.lo;
  std::vector<Tensor> v{torch::empty(shape)};
  all_->recv(v, rank_of(peer), tag)->wait();
  into.narrow(0, o.lo - mine_.lo, o.hi - o.lo).copy_(v[0]);
}

void Worker::execute(const Instruction& ins, int round) {
  Micro& mb = ins.microbatch >= 0 ? micro_[ins.microbatch] : micro_[0];
  const bool last_stage = stage_ == plan_.num_stages() - 1;
  auto tag = [&](int dir) { return ins.microbatch * 2 + dir; };
  const int kReplicaTag = 1 << 21;
  switch (ins.op) {
    case Op::forward: {
      Tensor x;
      if (stage_ == 0) {
        x = data_.narrow(0, int64_t(ins.microbatch) * beta_ + mine_.lo, mine_.hi - mine_.lo);
      } else {
        mb.x.requires_grad_(true);
        x = mb.x;
      }
      mb.y = net_.forward_range(x, first_, last_ + 1);
      if (last_stage) {
        Tensor y = labels_.narrow(0, int64_t(ins.microbatch) * beta_ + mine_.lo, mine_.hi - mine_.lo);
        mb.loss = torch::nn::functional::cross_entropy(
                      mb.y, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum)) /
                  double(B_);
        round_loss_ += mb.loss.item<double>();
      }
      break;
    }
    case Op::backward:
      if (last_stage)
        mb.loss.backward();
      else
        mb.y.backward(mb.grad_y);
      mb.y = Tensor();
      mb.loss = Tensor();
      break;
    case Op::send_activation: send_slice(mb.y.detach(), stage_ + 1, ins.peer, tag(0)); break;
    case Op::recv_activation: recv_slice(mb.x, in_shape_, stage_ - 1, ins.peer, tag(0)); break;
    case Op::send_gradient: send_slice(mb.x.grad(), stage_ - 1, ins.peer, tag(1)); break;
    case Op::recv_gradient: recv_slice(mb.grad_y, out_shape_[last_], stage_ + 1, ins.peer, tag(1)); break;
    case Op::all_reduce: {
      std::vector<Tensor> grads;
      for (Tensor& p : params_) {
        if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
        grads.push_back(p.grad().view(-1));
      }
      std::vector<Tensor> flat{torch::cat(grads)};
      group_->allreduce(flat)->wait();
      int64_t at = 0;
      for (Tensor& p : params_) {
        p.mutable_grad().view(-1).copy_(flat[0].narrow(0, at, p.numel()));
        at += p.numel();
      }
      break;
    }
    case Op::optimizer_step:
      state_->step();
      state_->zero_grad();
      break;
    case Op::replicate:  // this stage's state, layer by layer, to the backup
      for (int l = first_; l <= last_; ++l) {
        Tensor flat = state_->flat(l);
        std::vector<Tensor> v{flat};
        sends_.push_back({all_->send(v, rank_of(ins.peer), kReplicaTag + l), flat});
      }
      break;
    case Op::recv_replica: {  // keep the copy as this device's checkpoint of those layers
      const StagePlan& owner = plan_.stages[ins.stage];
      for (int l = owner.first_layer; l <= owner.last_layer; ++l) {
        std::vector<Tensor> v{torch::empty({StageState::flat_size(net_, l, scenario_.training.optimizer)})};
        all_->recv(v, rank_of(ins.peer), kReplicaTag + l)->wait();
        save_tensor(v[0], layer_file(l, round));
      }
      break;
    }
  }
}

// This stage's layers as of `round`; older files are removed. The checkpoint a recovery starts
// from is the last round whose copies every worker finished; no worker gets more than one round
// ahead of the slowest (its next round needs everyone's data), so the files of the last copies and
// later are enough.
void Worker::checkpoint(int round) {
  if (stage_ >= 0)
    for (int l = first_; l <= last_; ++l) save_tensor(state_->flat(l), layer_file(l, round));
  int keep_from = round - std::max(1, job_.replicate_every);
  for (const auto& e : std::filesystem::directory_iterator(checkpoint_dir(job_.out_dir, name_))) {
    std::string f = e.path().filename().string();
    auto at = f.rfind(".r");
    if (at == std::string::npos || f.size() < 3 || f.substr(f.size() - 3) != ".pt") continue;
    int r = std::atoi(f.c_str() + at + 2);
    if (r < keep_from) std::filesystem::remove(e.path());
  }
}

void Worker::run_round(int round) {
  bool copies = job_.replicate_every > 0 && !job_.replicas.empty() && (round + 1) % job_.replicate_every == 0;
  const std::vector<Instruction>& list = (copies ? replicated_ : plain_).device[device_];
  micro_.assign(M_, Micro{});
  round_loss_ = 0;
  WorkerRound wr;
  wr.round = round;
  wr.start_s = now();
  for (const Instruction& ins : list) {
    Span s;
    s.op = op_token(ins.op);
    s.stage = ins.stage;
    s.microbatch = ins.microbatch;
    s.round = round;
    s.start = now();
    execute(ins, round);
    s.end = now();
    log_.spans.push_back(s);
  }
  for (auto& [work, tensor] : sends_) work->wait();
  sends_.clear();
  // Every round when failures may come (the next generation starts from these files: part of the
  // round), else the trained state once, after the last round's end.
  if (job_.survive_peer_failure) checkpoint(round);
  wr.end_s = now();
  if (!job_.survive_peer_failure && round == job_.rounds - 1) checkpoint(round);
  if (stage_ == plan_.num_stages() - 1) {
    wr.loss = round_loss_;
    wr.has_loss = true;
  }
  log_.rounds.push_back(wr);
}

void Worker::write_log() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  log_.peak_rss_bytes = double(ru.ru_maxrss) * 1024;
  auto w = write_file_atomically(worker_log_path(job_.out_dir, name_, job_.generation),
                                 worker_log_to_json(log_).dump() + "\n");
  if (!w) die(name_, w.error().str(), 1);
}

// Lines to the launcher, if it gave a pipe: "h" (heartbeat), "r <round> <end_s> <loss or ->" (a
// round done), "s" (ready).
int launcher_pipe() {
  const char* fd = std::getenv("ASTEROID_EXEC_PIPE_FD");
  return fd ? std::atoi(fd) : -1;
}

void tell(const std::string& line) {
  int fd = launcher_pipe();
  if (fd < 0) return;
  std::string l = line + "\n";
  if (write(fd, l.data(), l.size()) < 0) {
    // The launcher is gone: nothing to tell.
  }
}

int Worker::run() {
  setup();
  log_.device = name_;
  log_.generation = job_.generation;
  double t0 = now();
  restore();
  all_->barrier()->wait();
  log_.ready_s = now();
  log_.transfer_s = log_.ready_s - t0;
  tell("s");
  // The log is rewritten after a round when a second has passed since the last time, so that a
  // run that stops still has (nearly) every finished round on disk.
  double written = now();
  bool active = !plain_.device[device_].empty() || !replicated_.device[device_].empty();
  for (int r = job_.start_round; active && r < job_.rounds; ++r) {
    run_round(r);
    const WorkerRound& done = log_.rounds.back();
    char line[96];
    if (done.has_loss)
      std::snprintf(line, sizeof line, "r %d %.9f %.12g", r, done.end_s, done.loss);
    else
      std::snprintf(line, sizeof line, "r %d %.9f -", r, done.end_s);
    tell(line);
    if (now() - written >= 1.0 && r + 1 < job_.rounds) {
      write_log();
      written = now();
    }
  }
  all_->barrier()->wait();  // nobody tears the group down while a peer still needs it
  write_log();
  return 0;
}

}  // namespace

int run_worker(const std::string& job_file, int device) {
  signal(SIGPIPE, SIG_IGN);  // a write into a reset socket must be an error, not a death
  at::set_num_threads(1);
  auto j = read_json_file(job_file);
  if (!j) die(std::to_string(device), j.error().str(), 2);
  auto job = job_from_json(j.value(), job_file);
  if (!job) die(std::to_string(device), job.error().str(), 2);
  // Heartbeats from the start: a worker that is still loading is alive.
  std::atomic<bool> beating{true};
  std::thread heart([&] {
    auto every = std::chrono::duration<double>(job->heartbeat_interval_s / 4);
    while (beating) {
      tell("h");
      std::this_thread::sleep_for(every);
    }
  });
  int status = 0;
  try {
    status = Worker(job.value(), device).run();
  } catch (const std::exception& e) {
    if (!job->survive_peer_failure) die(std::to_string(device), std::string("failed: ") + e.what(), 1);
    // A peer failed under us: keep beating until the launcher, which decides, stops this process.
    std::cerr << "asteroid-exec: worker " << device << ": " << e.what() << "; waiting for the launcher\n";
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(60));
  }
  beating = false;
  heart.join();
  return status;
}

}  // namespace asteroid::exec
