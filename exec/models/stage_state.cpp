#include "stage_state.hpp"

#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace asteroid::exec {
namespace {

int buffers_of(Optimizer kind) {
  return kind == Optimizer::sgd ? 0 : kind == Optimizer::sgd_momentum ? 1 : 2;
}

constexpr double kMomentum = 0.9, kBeta1 = 0.9, kBeta2 = 0.999, kEps = 1e-8;

}  // namespace

StageState::StageState(const PlannerModel& net, int first, int last, Optimizer kind, double learning_rate)
    : kind_(kind), lr_(learning_rate), first_(first), last_(last) {
  for (int l = first; l <= last; ++l) {
    params_[l] = net.layer_parameters(size_t(l));
    for (const torch::Tensor& p : params_[l]) {
      if (buffers_of(kind) >= 1) m_[l].push_back(torch::zeros_like(p));
      if (buffers_of(kind) >= 2) v_[l].push_back(torch::zeros_like(p));
    }
  }
}

void StageState::step() {
  torch::NoGradGuard no_grad;
  steps_ += 1;
  for (auto& [l, ps] : params_)
    for (size_t i = 0; i < ps.size(); ++i) {
      torch::Tensor& p = ps[i];
      if (!p.grad().defined()) continue;
      const torch::Tensor& g = p.grad();
      switch (kind_) {
        case Optimizer::sgd: p.sub_(g, lr_); break;
        case Optimizer::sgd_momentum:
          m_[l][i].mul_(kMomentum).add_(g);
          p.sub_(m_[l][i], lr_);
          break;
        case Optimizer::adam: {
          m_[l][i].mul_(kBeta1).add_(g, 1 - kBeta1);
          v_[l][i].mul_(kBeta2).addcmul_(g, g, 1 - kBeta2);
          double c1 = 1 - std::pow(kBeta1, steps_), c2 = 1 - std::pow(kBeta2, steps_);
          p.addcdiv_(m_[l][i], (v_[l][i] / c2).sqrt_().add_(kEps), -lr_ / c1);
          break;
        }
      }
    }
}

void StageState::zero_grad() {
  for (auto& [l, ps] : params_)
    for (torch::Tensor& p : ps)
      if (p.grad().defined()) p.mutable_grad().zero_();
}

int64_t StageState::flat_size(const PlannerModel& net, int l, Optimizer kind) {
  int64_t n = 0;
  for (const torch::Tensor& p : net.layer_parameters(size_t(l))) n += p.numel();
  return n * (1 + buffers_of(kind)) + 1;
}

torch::Tensor StageState::flat(int l) const {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  for (const torch::Tensor& p : params_.at(l)) parts.push_back(p.detach().reshape(-1));
  if (m_.count(l))
    for (const torch::Tensor& b : m_.at(l)) parts.push_back(b.reshape(-1));
  if (v_.count(l))
    for (const torch::Tensor& b : v_.at(l)) parts.push_back(b.reshape(-1));
  // On the device of the layer's parameters (a layer without any: the host).
  parts.push_back(torch::full({1}, steps_, parts.empty() ? torch::TensorOptions() : parts[0].options()));
  return torch::cat(parts);
}

void StageState::load(int l, const torch::Tensor& flat) {
  torch::NoGradGuard no_grad;
  int64_t at = 0;
  auto take = [&](torch::Tensor& dst) {
    if (at + dst.numel() > flat.numel()) throw std::runtime_error("layer state too short");
    dst.copy_(flat.narrow(0, at, dst.numel()).view(dst.sizes()));
    at += dst.numel();
  };
  for (torch::Tensor& p : params_.at(l)) take(p);
  if (m_.count(l))
    for (torch::Tensor& b : m_.at(l)) take(b);
  if (v_.count(l))
    for (torch::Tensor& b : v_.at(l)) take(b);
  if (at + 1 != flat.numel()) throw std::runtime_error("layer state has the wrong size");
  steps_ = flat[at].item<double>();
}

void save_tensor(const torch::Tensor& t, const std::string& path) {
  std::string tmp = path + ".tmp";
  torch::save(t, tmp);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error("cannot write " + path);
}

torch::Tensor load_tensor(const std::string& path) {
  torch::Tensor t;
  torch::load(t, path);
  return t;
}

}  // namespace asteroid::exec
