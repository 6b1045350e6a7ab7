// Per-layer timing of a planner model on this machine's CPU (see exec/README.md).
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include <torch/version.h>

#include "asteroid/input/model_archive.hpp"
#include "models.hpp"
#include "stage_state.hpp"

namespace asteroid::exec {

namespace {

using torch::Tensor;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void clear_grads(const std::vector<Tensor>& params) {
  for (const Tensor& p : params) p.mutable_grad() = Tensor();
}

}  // namespace

namespace {

void check_options(const ProfileOptions& popt) {
  if (popt.batch_sizes.empty()) throw std::invalid_argument("no batch sizes");
  for (size_t i = 0; i < popt.batch_sizes.size(); i++) {
    if (popt.batch_sizes[i] < 1) throw std::invalid_argument("batch sizes must be positive");
    if (i > 0 && popt.batch_sizes[i] <= popt.batch_sizes[i - 1])
      throw std::invalid_argument("batch sizes must increase");
  }
  if (popt.threads < 1) throw std::invalid_argument("threads must be at least 1");
  if (popt.repeats < 1) throw std::invalid_argument("repeats must be at least 1");
  if (popt.warmup < 0) throw std::invalid_argument("warmup must not be negative");

}

// Times the built model m (training mode: batch norm uses batch statistics and updates running stats).
ProfileResult profile_built(PlannerModel m, const ProfileOptions& popt, double load_start) {
  m.train(true);

  ProfileResult r;
  r.desc = describe(m);
  r.batch_sizes = popt.batch_sizes;
  r.threads = popt.threads;
  r.repeats = popt.repeats;
  r.warmup = popt.warmup;
  r.libtorch_version = TORCH_VERSION;
  const size_t nl = m.size(), nb = popt.batch_sizes.size();
  r.fwd_s.assign(nl, std::vector<double>(nb, 0));
  r.bwd_s.assign(nl, std::vector<double>(nb, 0));
  r.layer_sum_step_s.assign(nb, 0);
  r.whole_model_step_s.assign(nb, 0);
  r.peak_rss_bytes.assign(nb, 0);
  const std::vector<Tensor> params = m.parameters();
  malloc_trim(0);
  r.baseline_rss_bytes = current_rss_bytes();

  // progress is counted in samples processed: every iteration of batch b counts b
  const int iters = popt.warmup + popt.repeats;
  double total = 0, done = 0;
  for (int64_t b : popt.batch_sizes) total += double(b) * (iters + popt.repeats + 1);
  auto progress = [&](double add, const std::string& label) {
    done += add;
    if (popt.progress) popt.progress(std::min(1.0, done / total), label);
  };

  for (size_t bi = 0; bi < nb; bi++) {
    const int64_t batch = popt.batch_sizes[bi];
    const std::string tag = "b=" + std::to_string(batch);
    torch::manual_seed(static_cast<uint64_t>(1000 + bi));
    Tensor x = m.make_input(batch);
    Tensor grad_out;
    {
      torch::NoGradGuard no_grad;
      grad_out = torch::randn_like(m.forward(x));
    }

    // 1. layer by layer on detached inputs
    std::vector<std::vector<double>> fwd(nl), bwd(nl);
    for (int it = 0; it < iters; it++) {
      clear_grads(params);
      std::vector<Tensor> ins(nl), outs(nl);
      for (size_t i = 0; i < nl; i++) {
        // the model input needs no gradient (as in the first stage of a pipeline)
        ins[i] = i == 0 ? x : outs[i - 1].detach().requires_grad_(true);
        auto t0 = Clock::now();
        outs[i] = m.layers[i].forward(ins[i]);
        double t = seconds_since(t0);
        if (it >= popt.warmup) fwd[i].push_back(t);
      }
      Tensor g = grad_out;
      for (size_t i = nl; i-- > 0;) {
        auto t0 = Clock::now();
        outs[i].backward(g);
        double t = seconds_since(t0);
        if (it >= popt.warmup) bwd[i].push_back(t);
        if (i > 0) g = ins[i].grad();
      }
      progress(double(batch), tag + " layers " + std::to_string(it + 1) + "/" + std::to_string(iters));
    }
    for (size_t i = 0; i < nl; i++) {
      r.fwd_s[i][bi] = median(fwd[i]);
      r.bwd_s[i][bi] = median(bwd[i]);
      r.layer_sum_step_s[bi] += r.fwd_s[i][bi] + r.bwd_s[i][bi];
    }

    // 2. the unsplit model, for comparison with the sum of the layers (the same kernels ran in
    // step 1, so no warm-up)
    std::vector<double> whole;
    for (int it = 0; it < popt.repeats; it++) {
      clear_grads(params);
      auto t0 = Clock::now();
      m.forward(x).backward(grad_out);
      whole.push_back(seconds_since(t0));
      progress(double(batch), tag + " whole " + std::to_string(it + 1) + "/" + std::to_string(popt.repeats));
    }
    r.whole_model_step_s[bi] = median(whole);

    // 3. peak resident memory of one unsplit training step (weights, gradients, activations)
    clear_grads(params);
    malloc_trim(0);
    reset_peak_rss();
    m.forward(x).backward(grad_out);
    r.peak_rss_bytes[bi] = peak_rss_bytes();
    progress(double(batch), tag + " memory");
  }
  clear_grads(params);

  // 4. One optimizer step per layer and optimizer, as the workers run it (stage_state.hpp), on
  // random gradients; the weights it changes are not used again.
  for (Optimizer kind : {Optimizer::sgd, Optimizer::sgd_momentum, Optimizer::adam}) {
    std::vector<double>& out = r.optimizer_step_s[to_string(kind)];
    for (size_t i = 0; i < nl; i++) {
      StageState state(m, int(i), int(i), kind, 0.01);
      for (const Tensor& p : m.layer_parameters(i)) p.mutable_grad() = torch::randn_like(p);
      std::vector<double> times;
      for (int it = 0; it < iters; it++) {
        auto t0 = Clock::now();
        state.step();
        double t = seconds_since(t0);
        if (it >= popt.warmup) times.push_back(t);
      }
      out.push_back(median(times));
    }
    progress(0, std::string("optimizer ") + to_string(kind));
  }
  clear_grads(params);
  r.load_start = load_start;
  r.load_end = load_average();
  return r;
}

}  // namespace

ProfileResult profile_model(const std::string& name, const ModelOptions& opt, const ProfileOptions& popt) {
  check_options(popt);
  at::set_num_threads(popt.threads);
  torch::manual_seed(0);
  const double load_start = load_average();
  return profile_built(make_model(name, opt), popt, load_start);
}

ProfileResult profile_archive(const std::string& dir, const ProfileOptions& popt) {
  check_options(popt);
  at::set_num_threads(popt.threads);
  const double load_start = load_average();
  ProfileResult r = profile_built(load_archive(dir), popt, load_start);
  auto a = read_model_archive(dir);
  r.imported_from = a ? a->source : dir;
  return r;
}

}  // namespace asteroid::exec
