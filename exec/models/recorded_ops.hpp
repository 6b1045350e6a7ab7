// The op recorder behind ModelDesc: every primitive op of a planner model goes through one of the
// helpers in `ops`, which runs the op and, while a Recorder is active, notes its FLOPs, memory
// traffic and the tensors autograd saves for it. Included by models.cpp only (torch is kept in few
// translation units). Counting rules: exec/README.md.
#pragma once

#include <torch/torch.h>

#include <map>
#include <vector>

namespace asteroid::exec::recorded {

using torch::Tensor;
namespace nn = torch::nn;

// ---------------------------------------------------------------------------------------------
// Op recorder

struct OpRecord {
  const char* cls;
  double flops;         // forward, whole batch
  double bwd_flops;     // backward, whole batch
  double act_bytes;     // activation bytes read + written, whole batch
  double weight_bytes;  // parameter/buffer bytes read
};

struct Recorder {
  std::vector<OpRecord> ops;
  std::map<const void*, int64_t> saved;  // storage -> bytes, tensors autograd keeps for backward
  std::vector<Tensor> keep;              // keeps saved storages alive so addresses stay unique
  double extra_saved = 0;                // saved tensors not visible here (indices, statistics)

  void save(const Tensor& t) {
    if (!t.defined()) return;
    const void* key = t.storage().unsafeGetStorageImpl();
    saved[key] = static_cast<int64_t>(t.storage().nbytes());
    keep.push_back(t);
  }
};

inline thread_local Recorder* g_rec = nullptr;

struct RecordScope {
  explicit RecordScope(Recorder* r) { g_rec = r; }
  ~RecordScope() { g_rec = nullptr; }
  RecordScope(const RecordScope&) = delete;
  RecordScope& operator=(const RecordScope&) = delete;
};

inline double nb(const Tensor& t) { return double(t.numel()) * double(t.element_size()); }
inline double elems(const Tensor& t) { return double(t.numel()); }

inline void note(const char* cls, double flops, double bwd_flops, double act_bytes, double weight_bytes) {
  g_rec->ops.push_back({cls, flops, bwd_flops, act_bytes, weight_bytes});
}

// ---------------------------------------------------------------------------------------------
// Instrumented primitive ops. FLOPs: a multiply-add counts 2. Per-element costs of the
// element-wise ops are conventions, listed in exec/README.md.
namespace ops {

inline Tensor conv(nn::Conv2d& m, const Tensor& x) {
  Tensor y = m->forward(x);
  if (g_rec) {
    const Tensor& w = m->weight;
    bool bias = m->bias.defined();
    double macs = elems(y) * double(w.size(1)) * double(w.size(2) * w.size(3));
    double flops = 2 * macs + (bias ? elems(y) : 0);
    double wbytes = nb(w) + (bias ? nb(m->bias) : 0);
    int64_t groups = m->options.groups();
    bool depthwise = groups > 1 && groups == x.size(1);
    note(depthwise ? "dwconv" : "conv", flops, 2 * flops, nb(x) + nb(y), wbytes);
    g_rec->save(x);
  }
  return y;
}

inline Tensor batchnorm(nn::BatchNorm2d& m, const Tensor& x) {
  Tensor y = m->forward(x);
  if (g_rec) {
    double wbytes = nb(m->weight) + nb(m->bias) + nb(m->running_mean) + nb(m->running_var);
    note("norm", 7 * elems(x), 10 * elems(x), nb(x) + nb(y), wbytes);
    g_rec->save(x);
    g_rec->extra_saved += 2 * nb(m->running_mean);  // saved mean and inverse std
  }
  return y;
}

inline Tensor layernorm(nn::LayerNorm& m, const Tensor& x) {
  Tensor y = m->forward(x);
  if (g_rec) {
    note("norm", 7 * elems(x), 10 * elems(x), nb(x) + nb(y), nb(m->weight) + nb(m->bias));
    g_rec->save(x);
    double rows = elems(x) / double(x.size(-1));
    g_rec->extra_saved += 2 * rows * 4;  // saved mean and rstd
  }
  return y;
}

inline Tensor linear(nn::Linear& m, const Tensor& x) {
  Tensor y = m->forward(x);
  if (g_rec) {
    const Tensor& w = m->weight;
    bool bias = m->bias.defined();
    double rows = elems(x) / double(w.size(1));
    double flops = 2 * rows * double(w.size(0)) * double(w.size(1)) + (bias ? elems(y) : 0);
    note("linear", flops, 2 * flops, nb(x) + nb(y), nb(w) + (bias ? nb(m->bias) : 0));
    g_rec->save(x);
  }
  return y;
}

inline Tensor embedding(nn::Embedding& m, const Tensor& ids) {
  Tensor y = m->forward(ids);
  if (g_rec) {
    // a gather: reads the selected rows (as large as the output) and the ids, writes the output;
    // backward scatter-adds one value per output element
    note("embedding", 0, elems(y), nb(ids) + 2 * nb(y), 0);
    g_rec->save(ids);
  }
  return y;
}

enum class Act { None, ReLU, ReLU6, SiLU, Sigmoid, Tanh, GELU };

inline Tensor activation(const Tensor& x, Act a) {
  Tensor y;
  double per_elem = 0;
  bool saves_output = false;
  switch (a) {
    case Act::None: return x;
    case Act::ReLU:
      y = torch::relu(x);
      per_elem = 1;
      saves_output = true;
      break;
    case Act::ReLU6:
      y = torch::hardtanh(x, 0.0, 6.0);
      per_elem = 2;
      break;
    case Act::SiLU:
      y = torch::silu(x);
      per_elem = 5;
      break;
    case Act::Sigmoid:
      y = torch::sigmoid(x);
      per_elem = 4;
      saves_output = true;
      break;
    case Act::Tanh:
      y = torch::tanh(x);
      per_elem = 6;
      saves_output = true;
      break;
    case Act::GELU:
      y = torch::gelu(x);
      per_elem = 8;
      break;
  }
  if (g_rec) {
    note("elementwise", per_elem * elems(x), elems(x), nb(x) + nb(y), 0);
    g_rec->save(saves_output ? y : x);
  }
  return y;
}

inline Tensor add(const Tensor& a, const Tensor& b) {
  Tensor y = a + b;
  if (g_rec) note("elementwise", elems(y), elems(y), nb(a) + nb(b) + nb(y), 0);
  return y;
}

// a * b where both need gradients (squeeze-excite scaling)
inline Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor y = a * b;
  if (g_rec) {
    note("elementwise", elems(y), 2 * elems(y), nb(a) + nb(b) + nb(y), 0);
    g_rec->save(a);
    g_rec->save(b);
  }
  return y;
}

inline Tensor scale(const Tensor& x, double s, const char* cls) {
  Tensor y = x * s;
  if (g_rec) note(cls, elems(x), elems(x), nb(x) + nb(y), 0);
  return y;
}

// mean over H and W: [N,C,H,W] -> [N,C] (or [N,C,1,1] with keepdim)
inline Tensor spatial_mean(const Tensor& x, bool keepdim) {
  Tensor y = x.mean({2, 3}, keepdim);
  if (g_rec) note("elementwise", elems(x), elems(x), nb(x) + nb(y), 0);
  return y;
}

inline Tensor maxpool3s2(const Tensor& x) {
  Tensor y = torch::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
  if (g_rec) {
    note("elementwise", 9 * elems(y), elems(y), nb(x) + nb(y), 0);
    g_rec->save(x);
    g_rec->extra_saved += elems(y) * 8;  // int64 indices of the maxima
  }
  return y;
}

inline Tensor avgpool2s2(const Tensor& x) {
  Tensor y = torch::avg_pool2d(x, {2, 2}, {2, 2});
  if (g_rec) note("elementwise", 4 * elems(y), elems(x), nb(x) + nb(y), 0);  // backward saves nothing
  return y;
}

inline Tensor matmul(const Tensor& a, const Tensor& b) {  // attention products
  Tensor y = torch::matmul(a, b);
  if (g_rec) {
    double flops = 2 * elems(y) * double(a.size(-1));
    note("attention", flops, 2 * flops, nb(a) + nb(b) + nb(y), 0);
    g_rec->save(a);
    g_rec->save(b);
  }
  return y;
}

inline Tensor softmax(const Tensor& x) {
  Tensor y = torch::softmax(x, -1);
  if (g_rec) {
    note("attention", 5 * elems(x), 4 * elems(x), nb(x) + nb(y), 0);
    g_rec->save(y);
  }
  return y;
}

inline Tensor contiguous(const Tensor& x) {  // a copy kernel when x is a strided view
  if (x.is_contiguous()) return x;
  Tensor y = x.contiguous();
  if (g_rec) note("elementwise", 0, 0, nb(x) + nb(y), 0);
  return y;
}

}  // namespace ops

}  // namespace asteroid::exec::recorded
