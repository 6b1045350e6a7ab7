// One asteroid-exec worker: a process that plays one device of the plan. It builds the whole model
// from the common seed (so every device starts from the same weights), keeps its stage's layers,
// and interprets its list of the Program (core/include/asteroid/program.hpp) round after round on
// real tensors: forward and backward of its share of each micro-batch, activations and gradients
// as c10d/Gloo point-to-point messages, the stage group's gradients summed by a Gloo all-reduce,
// then the optimizer step. The loss is summed over each device's samples and divided by the batch
// size, so that the summed gradients are those of the whole mini-batch: a plan computes the same
// update as one device would (exactly, for models without batch norm).
#include <signal.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>

#include "asteroid/json_reader.hpp"
#include "asteroid/program.hpp"
#include "asteroid/strategies.hpp"
#include "exec_job.hpp"
#include "models.hpp"

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
  void run_round(int round);
  void execute(const Instruction& ins, int round);
  void write_log();
  Range range_of(int stage, int device) const;
  int rank_of(int device) const { return rank_.at(device); }
  double now() const { return std::chrono::duration<double>(Clock::now() - origin_).count(); }

  const ExecJob& job_;
  int device_;
  std::string name_;
  Scenario scenario_;
  std::unique_ptr<CostModel> model_;
  Plan plan_;
  Program program_;
  std::map<int, int> rank_;  // device -> rank in the plan's order
  int stage_ = -1, first_ = 0, last_ = 0, beta_ = 1, M_ = 1, B_ = 1;
  Range mine_;

  PlannerModel net_;
  std::vector<Tensor> params_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
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
  auto p = plan_from_json(job_.plan, model_->cluster(), model_->num_layers(), scenario_.training.batch_size, "job", "plan");
  if (!p) die(name_, p.error().str(), 2);
  plan_ = p.value();
  program_ = make_program(*model_, plan_);
  plan_ = program_.plan;
  beta_ = plan_.microbatch_size;
  M_ = plan_.microbatches;
  B_ = scenario_.training.batch_size;
  int rank = 0;
  for (int s = 0; s < plan_.num_stages(); ++s)
    for (int d : plan_.stages[s].devices) {
      rank_[d] = rank++;
      if (d == device_) stage_ = s;
    }
  if (stage_ < 0) die(name_, "not in the plan", 2);
  first_ = plan_.stages[stage_].first_layer;
  last_ = plan_.stages[stage_].last_layer;
  mine_ = range_of(stage_, device_);

  bool ok = false;
  ModelOptions mo = options_for(scenario_.model, scenario_.input, &ok);
  if (!ok || !is_model_name(scenario_.model)) die(name_, "model " + scenario_.model + " (" + scenario_.input + ") is not built by asteroid-exec", 2);
  torch::manual_seed(job_.seed);
  net_ = make_model(scenario_.model, mo);
  if (net_.input != scenario_.input)
    die(name_, "model " + scenario_.model + " takes input " + net_.input + ", the scenario says " + scenario_.input, 2);
  if (int(net_.size()) != model_->num_layers())
    die(name_, "the model has " + std::to_string(net_.size()) + " layers, the traces " + std::to_string(model_->num_layers()), 2);
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
  if (first_ > 0) in_shape_ = out_shape_[first_ - 1];
  for (int l = first_; l <= last_; ++l)
    for (const Tensor& t : net_.layer_parameters(l)) params_.push_back(t);
  double lr = job_.learning_rate;
  switch (scenario_.training.optimizer) {
    case Optimizer::sgd: optimizer_ = std::make_unique<torch::optim::SGD>(params_, torch::optim::SGDOptions(lr)); break;
    case Optimizer::sgd_momentum:
      optimizer_ = std::make_unique<torch::optim::SGD>(params_, torch::optim::SGDOptions(lr).momentum(0.9));
      break;
    case Optimizer::adam: optimizer_ = std::make_unique<torch::optim::Adam>(params_, torch::optim::AdamOptions(lr)); break;
  }
  // The training batch: the same samples every round, so that the loss must fall.
  torch::manual_seed(job_.seed + 1);
  data_ = net_.make_input(B_);
  labels_ = torch::randint(0, out_shape_.back().at(0), {B_}, torch::kLong);

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
  const StagePlan& sp = plan_.stages[stage_];
  if (sp.devices.size() > 1) {
    int gr = int(std::find(sp.devices.begin(), sp.devices.end(), device_) - sp.devices.begin());
    group_ = c10::make_intrusive<c10d::ProcessGroupGloo>(
        c10::make_intrusive<c10d::PrefixStore>("stage" + std::to_string(stage_), store_), gr,
        int(sp.devices.size()), options);
  }
  // A common time origin: rank 0's clock just after everyone has arrived.
  all_->barrier()->wait();
  if (rank_of(device_) == 0) {
    int64_t t = Clock::now().time_since_epoch().count();
    std::string v = std::to_string(t);
    store_->set("origin", std::vector<uint8_t>(v.begin(), v.end()));
  }
  auto v = store_->get("origin");
  origin_ = Clock::time_point(Clock::duration(std::stoll(std::string(v.begin(), v.end()))));
}

void Worker::execute(const Instruction& ins, int round) {
  Micro& mb = ins.microbatch >= 0 ? micro_[ins.microbatch] : micro_[0];
  const bool last_stage = stage_ == plan_.num_stages() - 1;
  auto tag = [&](int dir) { return ins.microbatch * 2 + dir; };
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
      if (last_stage) mb.loss.backward();
      else mb.y.backward(mb.grad_y);
      mb.y = Tensor();
      mb.loss = Tensor();
      break;
    case Op::send_activation: {
      Range o = overlap(mine_, range_of(stage_ + 1, ins.peer));
      Tensor t = mb.y.detach().narrow(0, o.lo - mine_.lo, o.hi - o.lo).contiguous();
      std::vector<Tensor> v{t};
      sends_.push_back({all_->send(v, rank_of(ins.peer), tag(0)), t});
      break;
    }
    case Op::recv_activation: {
      Range o = overlap(mine_, range_of(stage_ - 1, ins.peer));
      std::vector<int64_t> shape{mine_.hi - mine_.lo};
      shape.insert(shape.end(), in_shape_.begin(), in_shape_.end());
      if (!mb.x.defined()) mb.x = torch::zeros(shape);
      shape[0] = o.hi - o.lo;
      std::vector<Tensor> v{torch::empty(shape)};
      all_->recv(v, rank_of(ins.peer), tag(0))->wait();
      mb.x.narrow(0, o.lo - mine_.lo, o.hi - o.lo).copy_(v[0]);
      break;
    }
    case Op::send_gradient: {
      Range o = overlap(mine_, range_of(stage_ - 1, ins.peer));
      Tensor t = mb.x.grad().narrow(0, o.lo - mine_.lo, o.hi - o.lo).contiguous();
      std::vector<Tensor> v{t};
      sends_.push_back({all_->send(v, rank_of(ins.peer), tag(1)), t});
      break;
    }
    case Op::recv_gradient: {
      Range o = overlap(mine_, range_of(stage_ + 1, ins.peer));
      std::vector<int64_t> shape{mine_.hi - mine_.lo};
      const auto& out = out_shape_[last_];
      shape.insert(shape.end(), out.begin(), out.end());
      if (!mb.grad_y.defined()) mb.grad_y = torch::zeros(shape);
      shape[0] = o.hi - o.lo;
      std::vector<Tensor> v{torch::empty(shape)};
      all_->recv(v, rank_of(ins.peer), tag(1))->wait();
      mb.grad_y.narrow(0, o.lo - mine_.lo, o.hi - o.lo).copy_(v[0]);
      break;
    }
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
      optimizer_->step();
      optimizer_->zero_grad();
      break;
    case Op::replicate:
    case Op::recv_replica:
      break;  // the launcher passes no replicas: there are no failures to survive yet
  }
  (void)round;
}

void Worker::run_round(int round) {
  micro_.assign(M_, Micro{});
  round_loss_ = 0;
  WorkerRound wr;
  wr.round = round;
  wr.start_s = now();
  for (const Instruction& ins : program_.device[device_]) {
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
  wr.end_s = now();
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
  auto w = write_file_atomically(worker_log_path(job_.out_dir, name_), worker_log_to_json(log_).dump() + "\n");
  if (!w) die(name_, w.error().str(), 1);
}

int Worker::run() {
  signal(SIGPIPE, SIG_IGN);  // a write into a reset socket must be an error, not a death
  at::set_num_threads(1);
  setup();
  log_.device = name_;
  // The log is rewritten after a round when a second has passed since the last time, so that a
  // run that stops still has (nearly) every finished round on disk.
  double written = now();
  for (int r = 0; r < job_.rounds; ++r) {
    run_round(r);
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
  auto j = read_json_file(job_file);
  if (!j) die(std::to_string(device), j.error().str(), 2);
  auto job = job_from_json(j.value(), job_file);
  if (!job) die(std::to_string(device), job.error().str(), 2);
  try {
    return Worker(job.value(), device).run();
  } catch (const std::exception& e) {
    die(std::to_string(device), std::string("failed: ") + e.what(), 1);
  }
}

}  // namespace asteroid::exec
