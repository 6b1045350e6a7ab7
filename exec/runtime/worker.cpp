// One generation of an asteroid-exec worker (worker.hpp): the process plays one device of the plan.
// It builds the whole model from the common seed (so every device starts from the same weights),
// keeps its stage's layers, and interprets its list of the Program (core/include/asteroid/program.hpp)
// round after round on real tensors: forward and backward of its share of each micro-batch,
// activations and gradients as c10d/Gloo point-to-point messages, the stage group's gradients
// summed by a Gloo all-reduce, then the optimizer step. The loss is summed over each device's
// samples and divided by the batch size, so that the summed gradients are those of the whole
// mini-batch: a plan computes the same update as one device would (exactly, for models without
// batch norm).
// Its groups meet through the coordinator's store (control_store.hpp) at the addresses the job
// hands out. For failures (launcher.hpp) it checkpoints its stage's layers after every round in its
// own directory and sends copies to its backup after replicating rounds; a later generation starts
// from those files, moving layers between devices over Gloo as the job says.
#include <sys/resource.h>

#include <filesystem>
#include <map>
#include <thread>

#include <torch/torch.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>

#include "control_store.hpp"
#include "models.hpp"
#include "net.hpp"
#include "stage_state.hpp"
#include "worker.hpp"

namespace asteroid::exec {
namespace {

using torch::Tensor;

// The model options that give the job's input ("cifar10_32", "miniimagenet_224", ...).
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
  Worker(const ExecJob& job, ControlClient& control)
      : job_(job), control_(control), device_(control.welcome().device), name_(control.name()) {}
  void run();

 private:
  // Setup, in order.
  void place();                // this device's stage, range and rank, from the plan
  void build_model();          // the model from the common seed, message shapes, stage state
  void make_training_batch();  // the data every round trains on
  void connect();              // Gloo groups through the coordinator's store
  void restore();              // the checkpoint, when the job resumes

  void run_round(int round);
  void execute(const Instruction& ins, int round);
  void send_slice(const Tensor& mine, int peer_stage, int peer, int tag);
  void recv_slice(Tensor& into, const std::vector<int64_t>& sample, int peer_stage, int peer, int tag);
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

  PlannerModel net_;
  std::unique_ptr<StageState> state_;
  std::vector<Tensor> params_;
  std::vector<std::vector<int64_t>> out_shape_;  // per layer, one sample's output shape
  std::vector<int64_t> in_shape_;                // one sample's input to this stage
  Tensor data_, labels_;

  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> all_, group_;

  struct Micro {
    Tensor x, y, grad_y, loss;
  };
  std::vector<Micro> micro_;
  std::vector<std::pair<c10::intrusive_ptr<c10d::Work>, Tensor>> sends_;
  double round_loss_ = 0;
  double checkpoint_bytes_ = 0;
};

Range Worker::range_of(int stage, int device) const {
  const StagePlan& sp = plan_.stages[stage];
  auto ranges = sample_ranges(sp.shares);
  for (size_t i = 0; i < sp.devices.size(); ++i)
    if (sp.devices[i] == device) return {ranges[i].first, ranges[i].second};
  return {};
}

void Worker::place() {
  beta_ = plan_.microbatch_size;
  M_ = plan_.microbatches;
  B_ = job_.batch_size;
  for (size_t i = 0; i < job_.workers.size(); ++i) rank_[job_.workers[i]] = int(i);
  if (!rank_.count(device_)) refuse("not among the job's workers");
  for (int s = 0; s < plan_.num_stages(); ++s)
    for (int d : plan_.stages[s].devices)
      if (d == device_) stage_ = s;
  if (stage_ >= 0) {
    first_ = plan_.stages[stage_].first_layer;
    last_ = plan_.stages[stage_].last_layer;
    mine_ = range_of(stage_, device_);
  }
}

void Worker::build_model() {
  bool holds_state = stage_ >= 0;
  for (const ReplicaAssignment& r : job_.replicas) holds_state |= r.backup == device_;
  for (const JobTransfer& t : job_.transfers) holds_state |= t.from == device_;
  if (!holds_state) return;
  bool ok = false;
  ModelOptions mo = options_for(job_.model, job_.input, &ok);
  if (!ok || !is_model_name(job_.model))
    refuse("model " + job_.model + " (" + job_.input + ") is not built by asteroid-exec");
  torch::manual_seed(job_.seed);
  net_ = make_model(job_.model, mo);
  if (net_.input != job_.input)
    refuse("model " + job_.model + " takes input " + net_.input + ", the scenario says " + job_.input);
  if (int(net_.size()) != job_.num_layers)
    refuse("the model has " + std::to_string(net_.size()) + " layers, the traces " +
           std::to_string(job_.num_layers));
  // One sample through every layer (eval mode: batch norm on one sample) gives the message shapes.
  {
    torch::NoGradGuard no_grad;
    net_.train(false);
    Tensor x = net_.make_input(1);
    for (size_t l = 0; l < net_.size(); ++l) {
      x = net_.forward_range(x, l, l + 1);
      out_shape_.push_back(x.sizes().slice(1).vec());
    }
    net_.train(true);
  }
  if (stage_ < 0) return;
  if (first_ > 0) in_shape_ = out_shape_[first_ - 1];
  for (int l = first_; l <= last_; ++l)
    for (const Tensor& t : net_.layer_parameters(l)) params_.push_back(t);
  state_ = std::make_unique<StageState>(net_, first_, last_, job_.optimizer, job_.learning_rate);
}

// The same samples every round, so that the loss must fall.
void Worker::make_training_batch() {
  if (stage_ < 0) return;
  torch::manual_seed(job_.seed + 1);
  data_ = net_.make_input(B_);
  labels_ = torch::randint(0, out_shape_.back().at(0), {B_}, torch::kLong);
}

void Worker::connect() {
  std::filesystem::create_directories(dir_);
  auto timeout = std::chrono::milliseconds(int64_t(job_.timeout_s * 1000));
  store_ = c10::make_intrusive<ControlStore>(control_, timeout);
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(job_.addresses.at(device_)));
  options->threads = 1;  // more processes than cores: one Gloo thread each (toolchain-notes G6)
  const std::string g = "g" + std::to_string(job_.generation) + "/";
  all_ =
      c10::make_intrusive<c10d::ProcessGroupGloo>(c10::make_intrusive<c10d::PrefixStore>(g + "all", store_),
                                                  rank_of(device_), int(rank_.size()), options);
  if (stage_ >= 0 && plan_.stages[stage_].devices.size() > 1) {
    const StagePlan& sp = plan_.stages[stage_];
    int gr = int(std::find(sp.devices.begin(), sp.devices.end(), device_) - sp.devices.begin());
    group_ = c10::make_intrusive<c10d::ProcessGroupGloo>(
        c10::make_intrusive<c10d::PrefixStore>(g + "stage" + std::to_string(stage_), store_), gr,
        int(sp.devices.size()), options);
  }
  all_->barrier()->wait();
}

// Loads the checkpoint of round start_round - 1: the layers this device already holds from its
// own files, the others from the devices the job names (each sends from its own files, over Gloo).
void Worker::restore() {
  if (job_.start_round == 0) return;
  const int round = job_.start_round - 1;
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
        std::vector<Tensor> v{torch::empty({StageState::flat_size(net_, l, job_.optimizer)})};
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
        std::vector<Tensor> v{torch::empty({StageState::flat_size(net_, l, job_.optimizer)})};
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
// later are enough: at most replicate_every + 1 rounds of this device's layers and copies.
double Worker::checkpoint(int round) {
  if (stage_ >= 0)
    for (int l = first_; l <= last_; ++l) save_tensor(state_->flat(l), layer_file(l, round));
  int keep_from = round - std::max(1, job_.replicate_every);
  double bytes = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    std::string f = e.path().filename().string();
    auto at = f.rfind(".r");
    if (at == std::string::npos || f.size() < 3 || f.substr(f.size() - 3) != ".pt") continue;
    int r = std::atoi(f.c_str() + at + 2);
    if (r < keep_from)
      std::filesystem::remove(e.path());
    else
      bytes += double(e.file_size());
  }
  return bytes;
}

void Worker::run_round(int round) {
  bool copies = job_.replicate_every > 0 && !job_.replicas.empty() && (round + 1) % job_.replicate_every == 0;
  const std::vector<Instruction>& list = (copies ? job_.program_with_copies : job_.program)[device_];
  micro_.assign(M_, Micro{});
  round_loss_ = 0;
  Round done;
  done.generation = job_.generation;
  done.round = round;
  done.start_ns = now_ns();
  for (const Instruction& ins : list) {
    SpanRecord s;
    s.op = op_token(ins.op);
    s.stage = ins.stage;
    s.microbatch = ins.microbatch;
    s.start_ns = now_ns();
    execute(ins, round);
    s.end_ns = now_ns();
    done.spans.push_back(s);
  }
  for (auto& [work, tensor] : sends_) work->wait();
  sends_.clear();
  // Every round when failures may come (the next generation starts from these files: part of the
  // round), else the trained state once, after the last round's end.
  if (job_.survive_peer_failure) checkpoint_bytes_ = checkpoint(round);
  done.end_ns = now_ns();
  if (!job_.survive_peer_failure && round == job_.rounds - 1) checkpoint_bytes_ = checkpoint(round);
  if (stage_ == plan_.num_stages() - 1) done.loss = round_loss_;
  done.checkpoint_bytes = checkpoint_bytes_;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  done.peak_rss_bytes = double(ru.ru_maxrss) * 1024;
  control_.send(done);
}

void Worker::run() {
  place();
  build_model();
  make_training_batch();
  connect();
  const int64_t t0 = now_ns();
  restore();
  all_->barrier()->wait();
  const int64_t ready = now_ns();
  control_.send(Ready{job_.generation, ready, double(ready - t0) * 1e-9});
  const bool active = !job_.program[device_].empty() || !job_.program_with_copies[device_].empty();
  for (int r = job_.start_round; active && r < job_.rounds; ++r) run_round(r);
  all_->barrier()->wait();  // nobody tears the group down while a peer still needs it
  control_.send(Done{job_.generation});
}

}  // namespace

void run_generation(const ExecJob& job, ControlClient& control) {
  at::set_num_threads(control.options().threads);
  try {
    Worker(job, control).run();
  } catch (const std::exception& e) {
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));  // c10 appends a stack trace
    if (!job.survive_peer_failure) control.fail(what, 1, job.generation);
    // A peer failed under us (expected after a failure): say so, and wait to be stopped.
    control.send(PeerLost{job.generation, what});
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(60));
  }
}

}  // namespace asteroid::exec
