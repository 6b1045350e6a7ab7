// A worker's messages (worker_internal.hpp) and, on an accelerator, its copies through host memory.
// The transport (gloo_group.hpp) and the checkpoint files work on host tensors; a worker that
// computes on a CUDA device copies what it sends, receives, sums or saves between the device and
// the host, and counts those copies (their number, bytes and seconds go with each Round message
// into the report's "host_copies"). On the CPU nothing is copied and nothing is counted.
#include "worker_internal.hpp"

namespace asteroid::exec::detail {

// The job's accelerator for this device, or the worker's own --accelerator; refused (exit status
// 2) when this libtorch cannot reach it.
void Worker::select_accelerator() {
  std::string name = control_.options().accelerator;
  if (name.empty() && size_t(device_) < job_.accelerators.size()) name = job_.accelerators[size_t(device_)];
  if (name.empty() || name == "cpu") return;
  if (!torch::cuda::is_available())
    refuse("accelerator " + name + ": this libtorch sees no CUDA device (a CPU-only build, or no GPU here)");
  compute_ = torch::Device(name);
  if (!compute_.has_index()) compute_ = torch::Device(torch::kCUDA, 0);  // as tensors on it report it
  // Full FP32, as the traces and the boards compute (Jetsons' GPUs have no TF32), so that a CUDA
  // stage trains to the CPU's numbers.
  at::globalContext().setAllowTF32CuBLAS(false);
  at::globalContext().setAllowTF32CuDNN(false);
  if (compute_.has_index() && compute_.index() >= int(torch::cuda::device_count()))
    refuse("accelerator " + name + ": this host has " + std::to_string(torch::cuda::device_count()) +
           " CUDA devices");
}

Tensor Worker::to_host(const Tensor& t) {
  if (t.is_cpu()) return t.contiguous();
  const int64_t start = now_ns();
  Tensor host = t.to(torch::kCPU).contiguous();  // waits for the device's work on t
  count_copy(host.nbytes(), start);
  return host;
}

Tensor Worker::to_compute(const Tensor& t) {
  if (t.device() == compute_) return t;
  const int64_t start = now_ns();
  Tensor on = t.to(compute_);  // blocking (not non_blocking): done when it returns
  count_copy(on.nbytes(), start);
  return on;
}

void Worker::count_copy(size_t bytes, int64_t start_ns) {
  ++host_copies_.copies;
  host_copies_.bytes += double(bytes);
  host_copies_.seconds += double(now_ns() - start_ns) * 1e-9;
}

void Worker::send_tensor(const Tensor& t, int peer, int tag) {
  Tensor host = to_host(t);
  GlooMessage m = all_->send(host.data_ptr(), host.nbytes(), rank_of(peer), uint64_t(tag));
  sends_.push_back({host, std::move(m)});
}

Tensor Worker::recv_tensor(const std::vector<int64_t>& shape, int peer, int tag) {
  Tensor host = torch::empty(shape);
  all_->recv(host.data_ptr(), host.nbytes(), rank_of(peer), uint64_t(tag)).wait();
  return host;
}

void Worker::finish_sends() {
  for (Message& m : sends_) m.message.wait();
  sends_.clear();
}

// The stage group's gradients summed over its devices, in place (through host memory).
void Worker::all_reduce(Tensor& flat) {
  Tensor host = to_host(flat);
  group_->all_reduce_sum(host.data_ptr<float>(), size_t(host.numel()));
  flat = to_compute(host);
}

// The rows of `mine` (this device's samples) that `peer` of `peer_stage` also has, sent to it.
void Worker::send_slice(const Tensor& mine, int peer_stage, int peer, int tag) {
  Range o = overlap(mine_, range_of(peer_stage, peer));
  send_tensor(mine.narrow(0, o.lo - mine_.lo, o.hi - o.lo), peer, tag);
}

// The rows of `into` (this device's samples, one sample shaped `sample`) that `peer` of
// `peer_stage` has, received from it; `into` is allocated on the first message.
void Worker::recv_slice(Tensor& into, const std::vector<int64_t>& sample, int peer_stage, int peer, int tag) {
  Range o = overlap(mine_, range_of(peer_stage, peer));
  std::vector<int64_t> shape{mine_.hi - mine_.lo};
  shape.insert(shape.end(), sample.begin(), sample.end());
  if (!into.defined()) into = torch::zeros(shape, torch::TensorOptions().device(compute_));
  // Posted when the round started (post_receives): every RECV of the round's list is.
  auto posted = posted_.find({tag, peer});
  posted->second.message.wait();
  into.narrow(0, o.lo - mine_.lo, o.hi - o.lo).copy_(to_compute(posted->second.host));
  posted_.erase(posted);
}

// Every receive of the round's activations and gradients is posted before the round's first
// instruction. Gloo's transport writes a message only once its receiver has posted the receive
// (a small notice to the sender); posted as each RECV comes, that notice would queue behind this
// device's own outgoing messages on the link, and every transfer would wait one more trip. Costs
// the buffers of a round's incoming slices (the boundary activations and gradients of its M
// micro-batches), which the 1F1B memory bound of the stored activations does not count.
void Worker::post_receives(const std::vector<Instruction>& list) {
  for (const Instruction& ins : list) {
    const bool act = ins.op == Op::recv_activation, grad = ins.op == Op::recv_gradient;
    if (!act && !grad) continue;
    const int peer_stage = act ? stage_ - 1 : stage_ + 1;
    const int tag = ins.microbatch * 2 + (act ? 0 : 1);
    Range o = overlap(mine_, range_of(peer_stage, ins.peer));
    std::vector<int64_t> shape{o.hi - o.lo};
    const std::vector<int64_t>& sample = act ? in_shape_ : out_shape_[last_];
    shape.insert(shape.end(), sample.begin(), sample.end());
    Tensor host = torch::empty(shape);
    GlooMessage m = all_->recv(host.data_ptr(), host.nbytes(), rank_of(ins.peer), uint64_t(tag));
    posted_.insert_or_assign({tag, ins.peer}, Message{host, std::move(m)});
  }
}

}  // namespace asteroid::exec::detail
