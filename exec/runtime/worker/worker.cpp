// One generation of an asteroid-exec worker (worker.hpp): the process plays one device of the plan.
// It builds the whole model from the common seed (so every device starts from the same weights),
// keeps its stage's layers, and interprets its list of the Program (core/include/asteroid/program/program.hpp)
// round after round on real tensors: forward and backward of its share of each micro-batch,
// activations and gradients as Gloo point-to-point messages (gloo_group.hpp), the stage group's gradients
// summed by a Gloo all-reduce, then the optimizer step. The loss is summed over each device's
// samples and divided by the batch size, so that the summed gradients are those of the whole
// mini-batch: a plan computes the same update as one device would (exactly, for models without
// batch norm).
// Its groups meet through the coordinator's store (control_store.hpp) at the addresses the job
// hands out. For failures (launcher.hpp) it checkpoints its stage's layers after every round in its
// own directory and sends copies to its backup after replicating rounds; a later generation starts
// from those files, moving layers between devices over Gloo as the job says.
// Messages and copies through host memory are in worker_transport.cpp, test-set evaluation in
// worker_eval.cpp; the class in worker_internal.hpp.
// Emulated jobs (job.time_dilation > 0, docs/emulation.md): each Forward, Backward and optimizer
// step runs for real, then waits until its budget (the trace's time for the emulated device, times
// the dilation) is over; a step whose real computation took longer is counted as over budget.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include "allocation_meter.hpp"
#include "worker_internal.hpp"

namespace asteroid::exec::detail {

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
  torch::manual_seed(job_.seed);
  if (!job_.model_archive.empty()) {
    // Imported: the layers' initial weights are the archive's, the same on every worker.
    try {
      net_ = load_archive(job_.model_archive);
    } catch (const std::invalid_argument& e) {
      refuse(std::string("model archive: ") + e.what());
    }
  } else {
    bool ok = false;
    ModelOptions mo = model_options_for(job_.model, job_.input, &ok);
    if (!ok || !is_model_name(job_.model))
      refuse("model " + job_.model + " (" + job_.input + ") is not built by asteroid-exec");
    net_ = make_model(job_.model, mo);
  }
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
  if (out_shape_.empty() || out_shape_.back().size() != 1)
    refuse("the model's output per sample must be one vector of class scores (the runtime trains with "
           "cross-entropy on class labels)");
  if (stage_ < 0) return;
  // The stage's layers on the compute device, with the common seed's initial weights.
  for (int l = first_; l <= last_; ++l) net_.module(size_t(l))->to(compute_);
  if (first_ > 0) in_shape_ = out_shape_[first_ - 1];
  for (int l = first_; l <= last_; ++l)
    for (const Tensor& t : net_.layer_parameters(l)) params_.push_back(t);
  for (const Instruction& i : job_.program[size_t(device_)]) recomputes_ = recomputes_ || i.op == Op::recompute;
  if (recomputes_)
    for (int l = first_; l <= last_; ++l)
      for (const Tensor& b : net_.module(size_t(l))->buffers()) buffers_.push_back(b);
  state_ = std::make_unique<StageState>(net_, first_, last_, job_.optimizer, job_.learning_rate);
}

// The same samples every round, so that the loss must fall.
void Worker::make_training_batch() {
  if (stage_ < 0 || real_data_) return;
  torch::manual_seed(job_.seed + 1);
  Tensor data = net_.make_input(B_);
  Tensor labels = torch::randint(0, out_shape_.back().at(0), {B_}, torch::kLong);
  std::vector<Tensor> d, l;
  for (int m = 0; m < M_; ++m) {
    d.push_back(data.narrow(0, int64_t(m) * beta_ + mine_.lo, mine_.hi - mine_.lo));
    l.push_back(labels.narrow(0, int64_t(m) * beta_ + mine_.lo, mine_.hi - mine_.lo));
  }
  data_ = torch::cat(d);
  labels_ = torch::cat(l);
}

// Only the devices that touch samples read the files: the first stage's (images) and the last
// stage's (labels). Their copy must be the coordinator's (same counts).
void Worker::load_data() {
  real_data_ = job_.data == DataSource::fashion_mnist;
  if (!real_data_ || stage_ < 0) return;
  if (net_.input != "cifar10_32") refuse("the data set fits 32x32 image models, not input " + net_.input);
  sequence_ = std::make_unique<BatchSequence>(job_.seed, job_.train_samples, B_);
  const bool first = stage_ == 0, last = stage_ == plan_.num_stages() - 1;
  if (!first && !last) return;
  auto dir = locate_fashion_mnist(job_.data_dir);
  if (!dir) refuse(dir.error().str());
  auto set = load_fashion_mnist(*dir);
  if (!set) refuse(set.error().str());
  if (set->train.count != job_.train_samples || set->test.count != job_.test_samples)
    refuse(*dir + ": " + std::to_string(set->train.count) + " training and " + std::to_string(set->test.count) +
           " test images here, the coordinator's copy has " + std::to_string(job_.train_samples) + " and " +
           std::to_string(job_.test_samples));
  set_ = std::make_unique<FashionMnist>(std::move(set.value()));
}

void Worker::read_round(int round) {
  if (!real_data_ || stage_ < 0 || !set_) return;
  const int64_t rows = mine_.hi - mine_.lo;
  // Row i of micro-batch m is row m * beta + i of the mini-batch: what one device would read.
  std::vector<int64_t> index;
  index.reserve(size_t(M_ * rows));
  for (int m = 0; m < M_; ++m)
    for (int64_t i = mine_.lo; i < mine_.hi; ++i) index.push_back(int64_t(m) * beta_ + i);
  auto sample = [&](int64_t k) { return sequence_->sample(round, index[size_t(k)]); };
  if (stage_ == 0) {
    data_ = torch::empty({int64_t(index.size()), 3, kImageSide, kImageSide});
    float* out = data_.data_ptr<float>();
    for (size_t k = 0; k < index.size(); ++k) {
      Augmentation a = job_.augment ? augmentation(job_.seed, round, index[k]) : Augmentation{};
      const int64_t top = (kImageSide - set_->train.rows) / 2 + 4 - a.dy;
      const int64_t left = (kImageSide - set_->train.cols) / 2 + 4 - a.dx;
      write_image(*set_, set_->train, sample(int64_t(k)), top, left, a.flip, out + int64_t(k) * kImageFloats);
    }
  }
  if (stage_ == plan_.num_stages() - 1) {
    labels_ = torch::empty({int64_t(index.size())}, torch::kLong);
    fill_labels(set_->train, sample, 0, int64_t(index.size()), labels_.data_ptr<int64_t>());
  }
}

void Worker::connect() {
  std::filesystem::create_directories(dir_);
  auto timeout = std::chrono::milliseconds(int64_t(job_.timeout_s * 1000));
  store_ = std::make_unique<ControlStore>(control_, timeout);
  auto device = GlooGroup::device_for(job_.addresses.at(device_));
  const std::string g = "g" + std::to_string(job_.generation) + "/";
  all_ = std::make_unique<GlooGroup>(*store_, g + "all", rank_of(device_), int(rank_.size()), device, timeout);
  if (stage_ >= 0 && plan_.stages[stage_].devices.size() > 1) {
    const StagePlan& sp = plan_.stages[stage_];
    int gr = int(std::find(sp.devices.begin(), sp.devices.end(), device_) - sp.devices.begin());
    group_ = std::make_unique<GlooGroup>(*store_, g + "stage" + std::to_string(stage_), gr, int(sp.devices.size()),
                                         device, timeout);
  }
  // The copies' waits have no deadline worth the name: a backup waits for the next copy as long as
  // the rounds between copies take, and a copy may take many rounds on a slow link; failures are
  // the heartbeats' business (and a Gloo timeout would break every connection of the group).
  if (!job_.replicas.empty())
    copies_ = std::make_unique<GlooGroup>(*store_, g + "copies", rank_of(device_), int(rank_.size()), device,
                                          std::chrono::hours(24 * 30));
  all_->barrier();
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
      send_tensor(load_tensor(layer_file(l, round)), t.to, kTag + l);
    }
  }
  if (stage_ >= 0)
    for (int l = first_; l <= last_; ++l) {
      const JobTransfer* in = nullptr;
      for (const JobTransfer& t : job_.transfers)
        if (t.to == device_ && l >= t.first_layer && l <= t.last_layer) in = &t;
      if (in) {
        state_->load(l, to_compute(recv_tensor({StageState::flat_size(net_, l, job_.optimizer)}, in->from, kTag + l)));
      } else {
        state_->load(l, to_compute(load_tensor(layer_file(l, round))));
      }
    }
  finish_sends();
}

// The last stage's part of the round's loss: cross-entropy summed over this device's rows of
// micro-batch `microbatch`, over the mini-batch size (so the parts add up to the mean).
Tensor Worker::loss_of(const Tensor& y, int microbatch, int64_t rows) {
  Tensor labels = to_compute(labels_.narrow(0, int64_t(microbatch) * rows, rows));
  return torch::nn::functional::cross_entropy(
             y, labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum)) /
         double(B_);
}

void Worker::execute(const Instruction& ins, int round) {
  Micro& mb = ins.microbatch >= 0 ? micro_[ins.microbatch] : micro_[0];
  const bool last_stage = stage_ == plan_.num_stages() - 1;
  auto tag = [&](int dir) { return ins.microbatch * 2 + dir; };
  switch (ins.op) {
    case Op::forward: {
      Tensor x;
      const int64_t rows = mine_.hi - mine_.lo;
      // A device with share 0 holds the stage but none of its samples: nothing to compute (batch
      // norm refuses an empty batch); its gradients are zeros in the all-reduce.
      if (rows == 0) break;
      if (stage_ == 0) {
        x = to_compute(data_.narrow(0, int64_t(ins.microbatch) * rows, rows));
      } else {
        mb.x.requires_grad_(true);
        x = mb.x;
      }
      if (recomputes_) {  // the graph is built by RECOMPUTE
        mb.input = x;
        mb.rng = at::detail::getDefaultCPUGenerator().get_state();
        torch::NoGradGuard no_graph;
        mb.y = net_.forward_range(x, first_, last_ + 1);
      } else {
        mb.y = net_.forward_range(x, first_, last_ + 1);
      }
      if (last_stage) {
        mb.loss = loss_of(mb.y, ins.microbatch, rows);
        round_loss_ += mb.loss.item<double>();
      }
      break;
    }
    case Op::recompute: {
      if (mine_.hi == mine_.lo) break;
      {
        // The statistics as they are now; put back after the Backward (the graph holds them until then).
        torch::NoGradGuard no_graph;
        kept_buffers_.clear();
        for (const Tensor& b : buffers_) kept_buffers_.push_back(b.clone());
      }
      at::Generator cpu = at::detail::getDefaultCPUGenerator();
      const Tensor now = cpu.get_state();
      cpu.set_state(mb.rng);
      mb.y = net_.forward_range(mb.input, first_, last_ + 1);
      cpu.set_state(now);
      if (last_stage) mb.loss = loss_of(mb.y, ins.microbatch, mine_.hi - mine_.lo);
      mb.input = Tensor();
      break;
    }
    case Op::backward:
      if (mine_.hi == mine_.lo) break;
      if (last_stage)
        mb.loss.backward();
      else
        mb.y.backward(mb.grad_y);
      mb.y = Tensor();
      mb.loss = Tensor();
      if (!kept_buffers_.empty()) {  // a recomputed micro-batch: its statistics counted once
        torch::NoGradGuard no_graph;
        for (size_t i = 0; i < buffers_.size(); ++i) buffers_[i].copy_(kept_buffers_[i]);
        kept_buffers_.clear();
      }
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
      Tensor flat = torch::cat(grads);
      all_reduce(flat);
      int64_t at = 0;
      for (Tensor& p : params_) {
        p.mutable_grad().view(-1).copy_(flat.narrow(0, at, p.numel()));
        at += p.numel();
      }
      break;
    }
    case Op::optimizer_step:
      state_->step();
      state_->zero_grad();
      break;
    case Op::replicate: send_copy(ins, round); break;  // in the background (worker_copies.cpp)
    case Op::recv_replica: break;                        // the receiving thread saves it
  }
}

// This stage's layers as of `round`; files older than the checkpoint are removed. A recovery
// starts from the checkpoint (the last round whose copies all landed) or a later one, so this
// device's files from the last checkpoint the coordinator announced on (and, before any, from the
// generation's own starting point) are enough: as many rounds as the copies lag behind.
double Worker::checkpoint(int round) {
  if (stage_ >= 0)
    for (int l = first_; l <= last_; ++l) save_tensor(to_host(state_->flat(l)), layer_file(l, round));
  const int keep_from = control_.checkpoint(job_.generation, job_.start_round - 1);
  double bytes = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    std::string f = e.path().filename().string();
    auto at = f.rfind(".r");
    if (at == std::string::npos || f.size() < 3 || f.substr(f.size() - 3) != ".pt") continue;
    int r = std::atoi(f.c_str() + at + 2);
    if (r < keep_from) {
      std::filesystem::remove(e.path(), ec);
    } else {
      const uintmax_t size = e.file_size(ec);  // a copy being saved by a receiving thread: not yet
      if (!ec) bytes += double(size);
    }
  }
  return bytes;
}

// A compute step's budget: the emulated device's time for it, stretched by the dilation. Steps
// without one (communication, and compute the trace gives no time) run as they are.
void Worker::wait_out_budget(const Instruction& ins, int64_t start_ns, Round& done) {
  const ComputeBudget& b = job_.budgets[size_t(device_)];
  double budget_s = 0;
  // A recompute is the Forward again: its budget is the Forward's (the Program gives it the same time).
  if ((ins.op == Op::forward || ins.op == Op::recompute) && mine_.hi > mine_.lo) budget_s = b.forward_s;
  if (ins.op == Op::backward && mine_.hi > mine_.lo) budget_s = b.backward_s;
  if (ins.op == Op::optimizer_step) budget_s = b.optimizer_s;
  if (budget_s <= 0) return;
  ++done.budgeted;
  const int64_t until = start_ns + int64_t(budget_s * job_.time_dilation * 1e9);
  const int64_t now = now_ns();
  if (now > until) {
    ++done.over_budget;
    done.worst_overrun_s = std::max(done.worst_overrun_s, double(now - until) * 1e-9);
    return;
  }
  std::this_thread::sleep_for(std::chrono::nanoseconds(until - now));
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
  reset_peak_allocated_bytes();
  read_round(round);  // part of the round: the input path's cost is the training's
  post_receives(list);
  for (const Instruction& ins : list) {
    SpanRecord s;
    s.op = op_token(ins.op);
    s.stage = ins.stage;
    s.microbatch = ins.microbatch;
    s.start_ns = now_ns();
    execute(ins, round);
    if (job_.time_dilation > 0) wait_out_budget(ins, s.start_ns, done);
    s.end_ns = now_ns();
    done.spans.push_back(s);
  }
  finish_sends();
  // The training's, before the checkpoint's copies; a stage on CUDA keeps its tensors in the CUDA
  // allocator's memory, not metered here.
  if (compute_.is_cpu()) done.peak_allocated_bytes = double(peak_allocated_bytes());
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
  done.host_copies = host_copies_.copies;
  done.host_copy_bytes = host_copies_.bytes;
  done.host_copy_s = host_copies_.seconds;
  host_copies_ = HostCopyRecord{};
  if (power_) {
    done.power_rail = power_->rail().label + ", " + power_->rail().how;
    done.measured_J = power_->joules(done.start_ns, done.end_ns, &done.power_samples);
  }
  control_.send(done);
}

void Worker::run() {
  place();
  select_accelerator();
  build_model();
  load_data();
  make_training_batch();
  connect();
  const int64_t t0 = now_ns();
  restore();
  host_copies_ = HostCopyRecord{};  // the report counts the rounds' copies, not the restore's
  if (job_.time_dilation == 0)
    if (auto rail = find_input_rail(nullptr)) power_ = std::make_unique<PowerSampler>(*rail);
  start_copies();
  all_->barrier();
  const int64_t ready = now_ns();
  control_.send(Ready{job_.generation, ready, double(ready - t0) * 1e-9});
  const bool active = !job_.program[device_].empty() || !job_.program_with_copies[device_].empty();
  for (int r = job_.start_round; active && r < job_.rounds; ++r) {
    run_round(r);
    if (evaluates_after(r)) evaluate(r);
  }
  finish_copies();
  all_->barrier();  // nobody tears the group down while a peer still needs it
  control_.send(Done{job_.generation});
}

}  // namespace asteroid::exec::detail

namespace asteroid::exec {

void run_generation(const ExecJob& job, ControlClient& control) {
  install_allocation_meter();  // before the generation's first tensor
  at::set_num_threads(control.options().threads);
  // Never destroyed when it throws: its copies' threads may still use it, and the coordinator
  // restarts this process anyway.
  auto worker = std::make_unique<detail::Worker>(job, control);
  try {
    worker->run();
  } catch (const std::exception& e) {
    worker.release();
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));  // c10 appends a stack trace
    if (!job.survive_peer_failure) control.fail(what, 1, job.generation);
    // A peer failed under us (expected after a failure): say so, and wait to be stopped.
    control.send(PeerLost{job.generation, what});
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(60));
  }
}

}  // namespace asteroid::exec
