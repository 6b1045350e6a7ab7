#include "dilation_choice.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <stdexcept>
#include <thread>

#include "planner_layers.hpp"

namespace asteroid::exec {
namespace {

// A device's compute per micro-batch: its stage, share and the budgets the traces give it.
struct Work {
  int device = -1;
  int stage = -1;
  int samples = 0;
  double budget_s = 0;  // Forward + Backward of one micro-batch, from the Program
};

std::vector<Work> local_work(const Scenario& s, const Program& p) {
  std::vector<Work> out;
  for (size_t d = 0; d < p.device.size() && d < s.devices.size(); ++d) {
    if (!s.devices[d].host.empty()) continue;
    Work w;
    w.device = int(d);
    bool forward = false, backward = false;
    for (const Instruction& i : p.device[d]) {
      if (i.op == Op::forward && !forward) forward = true, w.stage = i.stage, w.samples = i.samples, w.budget_s += i.seconds;
      if (i.op == Op::backward && !backward) backward = true, w.budget_s += i.seconds;
    }
    if (forward && w.samples > 0 && w.budget_s > 0) out.push_back(w);
  }
  return out;
}

std::string fixed(const char* format, double v) {
  char b[64];
  std::snprintf(b, sizeof b, format, v);
  return b;
}

}  // namespace

DilationChoice choose_time_dilation(const Scenario& s, const Program& program, int threads) {
  DilationChoice c;
  const std::vector<Work> work = local_work(s, program);
  if (work.empty()) {
    c.explanation = "time dilation 1: no worker computes on this machine (pass --time-dilation F to stretch "
                    "the remote devices' budgets)";
    return c;
  }
  ProfileOptions popt;
  popt.threads = threads;
  popt.repeats = 3;
  popt.warmup = 1;
  std::set<int64_t> sizes;
  for (const Work& w : work) sizes.insert(w.samples);
  popt.batch_sizes.assign(sizes.begin(), sizes.end());
  const auto t0 = std::chrono::steady_clock::now();
  ProfileResult r;
  if (!s.model_archive.empty()) {
    r = profile_archive(s.model_archive, popt);
  } else {
    bool ok = false;
    const ModelOptions mo = model_options_for(s.model, s.input, &ok);
    if (!ok || !is_model_name(s.model))
      throw std::invalid_argument("model " + s.model + " (" + s.input + ") is not built by asteroid-exec");
    r = profile_model(s.model, mo, popt);
  }
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  double worst = 0;
  std::string worst_device;
  for (const Work& w : work) {
    const size_t bi = size_t(std::find(r.batch_sizes.begin(), r.batch_sizes.end(), w.samples) - r.batch_sizes.begin());
    const StagePlan& sp = program.plan.stages[size_t(w.stage)];
    double here = 0;
    for (int l = sp.first_layer; l <= sp.last_layer; ++l) here += r.fwd_s[size_t(l)][bi] + r.bwd_s[size_t(l)][bi];
    const double ratio = here / w.budget_s;
    if (ratio > worst) worst = ratio, worst_device = s.devices[size_t(w.device)].name;
  }
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const double sharing = std::max(1.0, double(work.size()) * threads / cores);
  constexpr double kMargin = 1.25;
  c.factor = std::max(1.0, std::ceil(worst * sharing * kMargin - 1e-9));
  c.explanation = "time dilation " + fixed("%g", c.factor) + " (chosen; --time-dilation F sets it): this machine takes " +
                  fixed("%.2f", worst) + "x the trace's time for " + worst_device + "'s Forward and Backward, x " +
                  fixed("%.2f", sharing) + " for " + std::to_string(work.size()) + " worker(s) of " +
                  std::to_string(threads) + " thread(s) on " + std::to_string(cores) + " cores, x " +
                  fixed("%.2f", kMargin) + " margin (measured in " + fixed("%.1f", took) + " s)";
  int remote = 0;
  for (const DeviceSpec& d : s.devices) remote += !d.host.empty();
  if (remote > 0) c.explanation += "; " + std::to_string(remote) + " device(s) on other hosts not measured";
  return c;
}

}  // namespace asteroid::exec
