// A worker's test-set evaluation (worker_internal.hpp): after the rounds the job names, the test set
// goes through the plan's stages in evaluation mode, in batches of the mini-batch size, split over
// each stage's devices as training splits its micro-batches.
#include <algorithm>

#include "worker_internal.hpp"

namespace asteroid::exec::detail {

bool Worker::evaluates_after(int round) const {
  if (!real_data_ || stage_ < 0) return false;
  const int64_t per_epoch = job_.train_samples / B_;
  return (job_.eval_every > 0 && (round + 1) % job_.eval_every == 0) || (round + 1) % per_epoch == 0 ||
         round == job_.rounds - 1;
}

// A device's rows of an evaluation batch of `rows` (at most B): its training range scaled from the
// micro-batch to the mini-batch, cut at `rows`. Every device computes the same ranges, so senders
// and receivers agree on the slices.
Range Worker::eval_range(int stage, int device, int64_t rows) const {
  Range r = range_of(stage, device);
  return {int(std::min<int64_t>(rows, int64_t(r.lo) * M_)), int(std::min<int64_t>(rows, int64_t(r.hi) * M_))};
}

// The test set in batches of B through the stages in evaluation mode (batch norm with each
// device's running statistics), activations sent as in training; the last stage's devices send
// their loss and correct counts to the coordinator (EvalPart), which sums them.
void Worker::evaluate(int round) {
  const int64_t start = now_ns();
  const HostCopyRecord training_copies = host_copies_;  // the report counts the rounds' copies only
  const int kEvalTag = 1 << 22;
  const int stages = plan_.num_stages();
  const int64_t n = job_.eval_samples > 0 ? std::min<int64_t>(job_.eval_samples, job_.test_samples) : job_.test_samples;
  torch::NoGradGuard no_grad;
  net_.train(false);
  double loss_sum = 0;
  int64_t correct = 0, samples = 0;
  for (int64_t c = 0; c * B_ < n; ++c) {
    const int64_t rows = std::min<int64_t>(B_, n - c * B_);
    const Range me = eval_range(stage_, device_, rows);
    if (me.hi <= me.lo) continue;  // no rows of this batch here
    Tensor x;
    if (stage_ == 0) {
      x = torch::empty({me.hi - me.lo, 3, kImageSide, kImageSide});
      auto test_index = [&](int64_t r) { return c * B_ + r; };
      fill_images(*set_, set_->test, test_index, me.lo, me.hi, false, 0, 0, x.data_ptr<float>());
      x = to_compute(x);
    } else {
      std::vector<int64_t> shape{me.hi - me.lo};
      shape.insert(shape.end(), in_shape_.begin(), in_shape_.end());
      x = torch::empty(shape, torch::TensorOptions().device(compute_));
      for (int peer : plan_.stages[stage_ - 1].devices) {
        Range o = overlap(me, eval_range(stage_ - 1, peer, rows));
        if (o.hi <= o.lo) continue;
        shape[0] = o.hi - o.lo;
        x.narrow(0, o.lo - me.lo, o.hi - o.lo).copy_(to_compute(recv_tensor(shape, peer, kEvalTag + int(c))));
      }
    }
    Tensor y = net_.forward_range(x, first_, last_ + 1);
    if (stage_ == stages - 1) {
      Tensor labels = torch::empty({me.hi - me.lo}, torch::kLong);
      auto test_index = [&](int64_t r) { return c * B_ + r; };
      fill_labels(set_->test, test_index, me.lo, me.hi, labels.data_ptr<int64_t>());
      labels = to_compute(labels);
      loss_sum += torch::nn::functional::cross_entropy(
                      y, labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                      .item<double>();
      correct += y.argmax(1).eq(labels).sum().item<int64_t>();
      samples += me.hi - me.lo;
      continue;
    }
    for (int peer : plan_.stages[stage_ + 1].devices) {
      Range o = overlap(me, eval_range(stage_ + 1, peer, rows));
      if (o.hi <= o.lo) continue;
      send_tensor(y.narrow(0, o.lo - me.lo, o.hi - o.lo), peer, kEvalTag + int(c));
    }
  }
  finish_sends();
  host_copies_ = training_copies;
  net_.train(true);
  if (stage_ == stages - 1)
    control_.send(EvalPart{job_.generation, round, loss_sum, correct, samples, start, now_ns()});
}

}  // namespace asteroid::exec::detail
