// asteroid-profile --dispatch: libtorch's fixed CPU cost per op on this machine (see
// planner_layers.hpp, DispatchOptions). It is the measured part of the per-kernel fixed cost of the
// derived Jetson traces (tools/calibrate/README.md).
#include <algorithm>
#include <chrono>
#include <limits>
#include <stdexcept>

#include <torch/torch.h>
#include <torch/version.h>

#include "planner_layers.hpp"

namespace asteroid::exec {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// ops tiny ops: x * c, sigmoid, x * c, sigmoid, ... (sigmoid keeps the value in (0, 1))
torch::Tensor chain(torch::Tensor x, const torch::Tensor& c, int ops) {
  for (int i = 0; i < ops; i += 2) {
    x = x.mul(c);
    x = x.sigmoid();
  }
  return x;
}

}  // namespace

DispatchResult measure_dispatch(const DispatchOptions& opt) {
  if (opt.ops < 2 || opt.ops % 2 != 0) throw std::invalid_argument("ops must be even and at least 2");
  if (opt.repeats < 1) throw std::invalid_argument("repeats must be at least 1");
  if (opt.warmup < 0) throw std::invalid_argument("warmup must not be negative");
  if (opt.threads < 1) throw std::invalid_argument("threads must be at least 1");
  at::set_num_threads(opt.threads);
  const torch::Tensor c = torch::full({1}, 1.0001f);
  const double inf = std::numeric_limits<double>::infinity();
  double fwd_plain = inf, fwd_grad = inf, bwd = inf;
  for (int it = 0; it < opt.warmup + opt.repeats; it++) {
    const bool timed = it >= opt.warmup;
    {
      torch::NoGradGuard no_grad;
      auto t0 = Clock::now();
      torch::Tensor y = chain(torch::ones({1}), c, opt.ops);
      double t = seconds_since(t0);
      if (timed) fwd_plain = std::min(fwd_plain, t);
    }
    torch::Tensor leaf = torch::ones({1}, torch::requires_grad());
    auto t0 = Clock::now();
    torch::Tensor y = chain(leaf, c, opt.ops);
    double tf = seconds_since(t0);
    t0 = Clock::now();
    y.backward();
    double tb = seconds_since(t0);
    if (timed) {
      fwd_grad = std::min(fwd_grad, tf);
      bwd = std::min(bwd, tb);
    }
  }
  DispatchResult r;
  r.options = opt;
  r.forward_no_grad_s = fwd_plain / opt.ops;
  r.forward_autograd_s = fwd_grad / opt.ops;
  r.backward_s = bwd / opt.ops;
  r.libtorch_version = TORCH_VERSION;
  return r;
}

}  // namespace asteroid::exec
