// The planner models (MobileNetV2, EfficientNet-B1, ResNet50, BERT-small, and LeNet-5, a small
// test model without batch norm), built from the recorded ops of recorded_ops.hpp so that
// describe() can count what every layer does.
#include "models.hpp"
#include "recorded_ops.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

namespace asteroid::exec {

using namespace recorded;

namespace {

using ops::Act;

// ---------------------------------------------------------------------------------------------
// Building blocks

struct ConvBNActImpl : nn::Module {
  nn::Conv2d conv{nullptr};
  nn::BatchNorm2d bn{nullptr};
  Act act;
  ConvBNActImpl(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t groups, Act a, double eps = 1e-5)
      : act(a) {
    conv = register_module(
        "conv",
        nn::Conv2d(
            nn::Conv2dOptions(in, out, k).stride(stride).padding((k - 1) / 2).groups(groups).bias(false)));
    bn = register_module("bn", nn::BatchNorm2d(nn::BatchNorm2dOptions(out).eps(eps)));
  }
  Tensor forward(Tensor x) { return ops::activation(ops::batchnorm(bn, ops::conv(conv, x)), act); }
};
TORCH_MODULE(ConvBNAct);

// global average pool + linear
struct PoolLinearImpl : nn::Module {
  nn::Linear fc{nullptr};
  PoolLinearImpl(int64_t in, int64_t classes) { fc = register_module("fc", nn::Linear(in, classes)); }
  Tensor forward(Tensor x) { return ops::linear(fc, ops::spatial_mean(x, false)); }
};
TORCH_MODULE(PoolLinear);

// MobileNetV2: expand 1x1 -> depthwise 3x3 -> project 1x1 (+ residual)
struct InvertedResidualImpl : nn::Module {
  ConvBNAct expand{nullptr}, dw{nullptr}, project{nullptr};
  bool use_res;
  InvertedResidualImpl(int64_t in, int64_t out, int64_t stride, int64_t t)
      : use_res(stride == 1 && in == out) {
    int64_t hid = in * t;
    if (t != 1) expand = register_module("expand", ConvBNAct(in, hid, 1, 1, 1, Act::ReLU6));
    dw = register_module("dw", ConvBNAct(hid, hid, 3, stride, hid, Act::ReLU6));
    project = register_module("project", ConvBNAct(hid, out, 1, 1, 1, Act::None));
  }
  Tensor forward(Tensor x) {
    Tensor y = expand.is_empty() ? x : expand(x);
    y = project(dw(y));
    return use_res ? ops::add(x, y) : y;
  }
};
TORCH_MODULE(InvertedResidual);

// EfficientNet: expand 1x1 -> depthwise kxk -> squeeze-excite -> project 1x1 (+ residual)
struct MBConvImpl : nn::Module {
  ConvBNAct expand{nullptr}, dw{nullptr}, project{nullptr};
  nn::Conv2d se_reduce{nullptr}, se_expand{nullptr};
  bool use_res;
  MBConvImpl(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t t)
      : use_res(stride == 1 && in == out) {
    const double eps = 1e-3;
    int64_t hid = in * t;
    int64_t squeeze = std::max<int64_t>(1, in / 4);
    if (t != 1) expand = register_module("expand", ConvBNAct(in, hid, 1, 1, 1, Act::SiLU, eps));
    dw = register_module("dw", ConvBNAct(hid, hid, k, stride, hid, Act::SiLU, eps));
    se_reduce = register_module("se_reduce", nn::Conv2d(nn::Conv2dOptions(hid, squeeze, 1)));
    se_expand = register_module("se_expand", nn::Conv2d(nn::Conv2dOptions(squeeze, hid, 1)));
    project = register_module("project", ConvBNAct(hid, out, 1, 1, 1, Act::None, eps));
  }
  Tensor forward(Tensor x) {
    Tensor y = expand.is_empty() ? x : expand(x);
    y = dw(y);
    Tensor s = ops::spatial_mean(y, true);
    s = ops::activation(ops::conv(se_reduce, s), Act::SiLU);
    s = ops::activation(ops::conv(se_expand, s), Act::Sigmoid);
    y = project(ops::mul(y, s));
    return use_res ? ops::add(x, y) : y;
  }
};
TORCH_MODULE(MBConv);

// ResNet stem: conv 7x7/2 + BN + ReLU + max-pool 3x3/2
struct ResNetStemImpl : nn::Module {
  ConvBNAct conv{nullptr};
  ResNetStemImpl() { conv = register_module("conv", ConvBNAct(3, 64, 7, 2, 1, Act::ReLU)); }
  Tensor forward(Tensor x) { return ops::maxpool3s2(conv(x)); }
};
TORCH_MODULE(ResNetStem);

// ResNet bottleneck (stride on the 3x3 conv)
struct BottleneckImpl : nn::Module {
  ConvBNAct c1{nullptr}, c2{nullptr}, c3{nullptr}, down{nullptr};
  BottleneckImpl(int64_t in, int64_t width, int64_t stride) {
    int64_t out = width * 4;
    c1 = register_module("conv1", ConvBNAct(in, width, 1, 1, 1, Act::ReLU));
    c2 = register_module("conv2", ConvBNAct(width, width, 3, stride, 1, Act::ReLU));
    c3 = register_module("conv3", ConvBNAct(width, out, 1, 1, 1, Act::None));
    if (stride != 1 || in != out)
      down = register_module("downsample", ConvBNAct(in, out, 1, stride, 1, Act::None));
  }
  Tensor forward(Tensor x) {
    Tensor identity = down.is_empty() ? x : down(x);
    Tensor y = c3(c2(c1(x)));
    return ops::activation(ops::add(y, identity), Act::ReLU);
  }
};
TORCH_MODULE(Bottleneck);

// LeNet-5: conv 5x5 (no padding) + tanh + average pool 2x2
struct ConvPoolImpl : nn::Module {
  nn::Conv2d conv{nullptr};
  ConvPoolImpl(int64_t in, int64_t out) {
    conv = register_module("conv", nn::Conv2d(nn::Conv2dOptions(in, out, 5)));
  }
  Tensor forward(Tensor x) { return ops::avgpool2s2(ops::activation(ops::conv(conv, x), Act::Tanh)); }
};
TORCH_MODULE(ConvPool);

// flatten (a view) + linear + activation
struct DenseImpl : nn::Module {
  nn::Linear fc{nullptr};
  Act act;
  DenseImpl(int64_t in, int64_t out, Act a) : act(a) { fc = register_module("fc", nn::Linear(in, out)); }
  Tensor forward(Tensor x) { return ops::activation(ops::linear(fc, x.flatten(1)), act); }
};
TORCH_MODULE(Dense);

// BERT
constexpr int64_t kBertVocab = 30522, kBertMaxPos = 512, kBertHidden = 512, kBertHeads = 8, kBertFFN = 2048,
                  kBertLayers = 4;
constexpr double kBertEps = 1e-12;

struct BertEmbeddingsImpl : nn::Module {
  nn::Embedding word{nullptr}, position{nullptr}, token_type{nullptr};
  nn::LayerNorm norm{nullptr};
  BertEmbeddingsImpl() {
    word = register_module("word", nn::Embedding(kBertVocab, kBertHidden));
    position = register_module("position", nn::Embedding(kBertMaxPos, kBertHidden));
    token_type = register_module("token_type", nn::Embedding(2, kBertHidden));
    norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({kBertHidden}).eps(kBertEps)));
  }
  Tensor forward(Tensor ids) {  // ids: [N, L] int64
    int64_t len = ids.size(1);
    Tensor pos_ids = torch::arange(len, ids.options()).unsqueeze(0);
    Tensor type_ids = torch::zeros_like(ids);  // one segment
    Tensor e = ops::add(ops::embedding(word, ids), ops::embedding(token_type, type_ids));
    e = ops::add(e, ops::embedding(position, pos_ids));
    return ops::layernorm(norm, e);
  }
};
TORCH_MODULE(BertEmbeddings);

// post-LN encoder layer: LN(x + MHA(x)), then LN(h + FFN(h)); no attention mask (all tokens real)
struct BertLayerImpl : nn::Module {
  nn::Linear q{nullptr}, k{nullptr}, v{nullptr}, o{nullptr}, ff1{nullptr}, ff2{nullptr};
  nn::LayerNorm ln1{nullptr}, ln2{nullptr};
  BertLayerImpl() {
    q = register_module("query", nn::Linear(kBertHidden, kBertHidden));
    k = register_module("key", nn::Linear(kBertHidden, kBertHidden));
    v = register_module("value", nn::Linear(kBertHidden, kBertHidden));
    o = register_module("attn_out", nn::Linear(kBertHidden, kBertHidden));
    ln1 = register_module("attn_norm", nn::LayerNorm(nn::LayerNormOptions({kBertHidden}).eps(kBertEps)));
    ff1 = register_module("ffn_in", nn::Linear(kBertHidden, kBertFFN));
    ff2 = register_module("ffn_out", nn::Linear(kBertFFN, kBertHidden));
    ln2 = register_module("ffn_norm", nn::LayerNorm(nn::LayerNormOptions({kBertHidden}).eps(kBertEps)));
  }
  Tensor forward(Tensor x) {  // x: [N, L, H]
    const int64_t n = x.size(0), len = x.size(1), d = kBertHidden / kBertHeads;
    auto heads = [&](const Tensor& t) {  // [N,L,H] -> [N,h,L,d]
      return ops::contiguous(t.view({n, len, kBertHeads, d}).transpose(1, 2));
    };
    Tensor qh = heads(ops::linear(q, x)), kh = heads(ops::linear(k, x)), vh = heads(ops::linear(v, x));
    Tensor scores =
        ops::scale(ops::matmul(qh, kh.transpose(-2, -1)), 1.0 / std::sqrt(double(d)), "attention");
    Tensor ctx = ops::matmul(ops::softmax(scores), vh);                      // [N,h,L,d]
    ctx = ops::contiguous(ctx.transpose(1, 2)).view({n, len, kBertHidden});  // [N,L,H]
    Tensor h = ops::layernorm(ln1, ops::add(x, ops::linear(o, ctx)));
    Tensor f = ops::linear(ff2, ops::activation(ops::linear(ff1, h), Act::GELU));
    return ops::layernorm(ln2, ops::add(h, f));
  }
};
TORCH_MODULE(BertLayer);

// pooler (dense + tanh on the [CLS] token) + classifier
struct BertHeadImpl : nn::Module {
  nn::Linear pooler{nullptr}, classifier{nullptr};
  explicit BertHeadImpl(int64_t classes) {
    pooler = register_module("pooler", nn::Linear(kBertHidden, kBertHidden));
    classifier = register_module("classifier", nn::Linear(kBertHidden, classes));
  }
  Tensor forward(Tensor x) {
    Tensor cls = x.select(1, 0);  // [N, H] view
    return ops::linear(classifier, ops::activation(ops::linear(pooler, cls), Act::Tanh));
  }
};
TORCH_MODULE(BertHead);

// ---------------------------------------------------------------------------------------------
// Model builders

template <typename M>
void add_layer(PlannerModel& pm, const std::string& name, M module) {
  pm.layer_names.push_back(name);
  pm.layers.emplace_back(std::move(module));
}

int64_t classes_or(const ModelOptions& opt, int64_t dflt) {
  if (opt.num_classes < 0) throw std::invalid_argument("num_classes must be positive");
  return opt.num_classes == 0 ? dflt : opt.num_classes;
}

bool cifar_stem(const std::string& model, const ModelOptions& opt) {
  if (opt.stem.empty() || opt.stem == "cifar") return true;
  if (opt.stem == "imagenet") return false;
  throw std::invalid_argument("stem for " + model + " must be \"cifar\" or \"imagenet\", not \"" + opt.stem +
                              "\"");
}

PlannerModel mobilenetv2(const ModelOptions& opt) {
  PlannerModel pm;
  pm.name = "mobilenetv2";
  pm.input = "cifar10_32";
  pm.sample_shape = {3, 32, 32};
  bool cifar = cifar_stem(pm.name, opt);
  int64_t classes = classes_or(opt, 10);
  add_layer(pm, "features.0", ConvBNAct(3, 32, 3, cifar ? 1 : 2, 1, Act::ReLU6));
  struct Cfg {
    int64_t t, c, n, s;
  };
  const Cfg cfg[] = {
      {1, 16, 1, 1}, {6, 24, 2, cifar ? 1 : 2}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2},
      {6, 320, 1, 1}};
  int64_t in = 32, idx = 1;
  for (const Cfg& c : cfg)
    for (int64_t i = 0; i < c.n; i++, idx++) {
      add_layer(pm, "features." + std::to_string(idx), InvertedResidual(in, c.c, i == 0 ? c.s : 1, c.t));
      in = c.c;
    }
  add_layer(pm, "features." + std::to_string(idx), ConvBNAct(in, 1280, 1, 1, 1, Act::ReLU6));
  add_layer(pm, "classifier", PoolLinear(1280, classes));
  return pm;
}

// LeNet-5 on CIFAR-sized input, as LeCun et al. (1998) built it: tanh and average pooling. No batch
// norm and no dropout, so every plan computes the update one device would; and no kink (ReLU,
// max-pool) whose side a rounding difference can flip, so plans whose sums run in different orders
// stay within rounding of each other for hundreds of rounds (with ReLU and max-pool they part after
// about 200). Small enough to train for hundreds of rounds in a test.
PlannerModel lenet5(const ModelOptions& opt) {
  PlannerModel pm;
  pm.name = "lenet5";
  pm.input = "cifar10_32";
  pm.sample_shape = {3, 32, 32};
  if (!opt.stem.empty()) throw std::invalid_argument("lenet5 has no stem option");
  int64_t classes = classes_or(opt, 10);
  add_layer(pm, "conv1", ConvPool(3, 6));   // -> 6x14x14
  add_layer(pm, "conv2", ConvPool(6, 16));  // -> 16x5x5
  add_layer(pm, "fc1", Dense(400, 120, Act::Tanh));
  add_layer(pm, "fc2", Dense(120, 84, Act::Tanh));
  add_layer(pm, "fc3", Dense(84, classes, Act::None));
  return pm;
}

PlannerModel efficientnet_b1(const ModelOptions& opt) {
  PlannerModel pm;
  pm.name = "efficientnet_b1";
  pm.input = "cifar10_32";
  pm.sample_shape = {3, 32, 32};
  bool cifar = cifar_stem(pm.name, opt);
  int64_t classes = classes_or(opt, 10);
  const double eps = 1e-3, depth = 1.1;  // B1: width 1.0, depth 1.1
  add_layer(pm, "features.0", ConvBNAct(3, 32, 3, cifar ? 1 : 2, 1, Act::SiLU, eps));
  struct Cfg {
    int64_t t, k, s, c, n;
  };  // B0 stages
  const Cfg cfg[] = {{1, 3, 1, 16, 1},  {6, 3, 2, 24, 2},  {6, 5, 2, 40, 2}, {6, 3, 2, 80, 3},
                     {6, 5, 1, 112, 3}, {6, 5, 2, 192, 4}, {6, 3, 1, 320, 1}};
  int64_t in = 32, stage = 1;
  for (const Cfg& c : cfg) {
    auto n = static_cast<int64_t>(std::ceil(double(c.n) * depth));
    for (int64_t i = 0; i < n; i++) {
      add_layer(pm, "features." + std::to_string(stage) + "." + std::to_string(i),
                MBConv(in, c.c, c.k, i == 0 ? c.s : 1, c.t));
      in = c.c;
    }
    stage++;
  }
  add_layer(pm, "features." + std::to_string(stage), ConvBNAct(in, 1280, 1, 1, 1, Act::SiLU, eps));
  add_layer(pm, "classifier", PoolLinear(1280, classes));
  return pm;
}

PlannerModel resnet50(const ModelOptions& opt) {
  PlannerModel pm;
  pm.name = "resnet50";
  pm.input = "miniimagenet_224";
  pm.sample_shape = {3, 224, 224};
  if (!opt.stem.empty() && opt.stem != "imagenet")
    throw std::invalid_argument("resnet50 has only the \"imagenet\" stem");
  int64_t classes = classes_or(opt, 100);
  add_layer(pm, "stem", ResNetStem());
  const int64_t blocks[] = {3, 4, 6, 3};
  int64_t in = 64;
  for (int s = 0; s < 4; s++) {
    int64_t width = 64 << s;
    for (int64_t i = 0; i < blocks[s]; i++) {
      add_layer(pm, "layer" + std::to_string(s + 1) + "." + std::to_string(i),
                Bottleneck(in, width, (i == 0 && s > 0) ? 2 : 1));
      in = width * 4;
    }
  }
  add_layer(pm, "fc", PoolLinear(2048, classes));
  return pm;
}

PlannerModel bert_small(const ModelOptions& opt) {
  PlannerModel pm;
  pm.name = "bert_small";
  if (!opt.stem.empty()) throw std::invalid_argument("bert_small has no stem option");
  if (opt.seq_len < 1 || opt.seq_len > kBertMaxPos)
    throw std::invalid_argument("seq_len must be in 1.." + std::to_string(kBertMaxPos));
  pm.input = "synthetic_seq" + std::to_string(opt.seq_len);
  pm.sample_shape = {opt.seq_len};
  pm.token_input = true;
  pm.vocab = kBertVocab;
  int64_t classes = classes_or(opt, 2);
  add_layer(pm, "embeddings", BertEmbeddings());
  for (int64_t i = 0; i < kBertLayers; i++) add_layer(pm, "encoder.layer." + std::to_string(i), BertLayer());
  add_layer(pm, "head", BertHead(classes));
  return pm;
}

const char* dominant_class(const std::vector<OpRecord>& ops) {
  // the class with the most forward FLOPs; a layer with a table lookup is "embedding" (its
  // backward writes a gradient as large as the table). flops_by_class / bytes_by_class keep the rest.
  std::map<std::string, double> flops;
  for (const OpRecord& op : ops) {
    if (std::string(op.cls) == "embedding") return "embedding";
    flops[op.cls] += op.flops;
  }
  const char* best = "elementwise";
  double best_flops = -1;
  for (const OpRecord& op : ops)
    if (flops[op.cls] > best_flops) {
      best_flops = flops[op.cls];
      best = op.cls;
    }
  return best;
}

}  // namespace

// -----------------------------------------------------------------------------------------------
// PlannerModel

Tensor PlannerModel::forward_range(Tensor x, size_t begin, size_t end) const {
  if (begin > end || end > layers.size()) throw std::out_of_range("bad layer range");
  for (size_t i = begin; i < end; i++) x = layers[i].forward(x);
  return x;
}

Tensor PlannerModel::make_input(int64_t batch) const {
  std::vector<int64_t> shape = {batch};
  shape.insert(shape.end(), sample_shape.begin(), sample_shape.end());
  if (token_input) return torch::randint(0, vocab, shape, torch::kLong);
  return torch::randn(shape);
}

std::vector<Tensor> PlannerModel::layer_parameters(size_t i) const {
  return layers.at(i).ptr()->parameters();
}

std::vector<Tensor> PlannerModel::parameters() const {
  std::vector<Tensor> all;
  for (size_t i = 0; i < layers.size(); i++) {
    auto p = layer_parameters(i);
    all.insert(all.end(), p.begin(), p.end());
  }
  return all;
}

int64_t PlannerModel::parameter_count() const {
  int64_t n = 0;
  for (const Tensor& p : parameters()) n += p.numel();
  return n;
}

void PlannerModel::train(bool on) const {
  for (const auto& l : layers) l.ptr()->train(on);
}

PlannerModel make_model(const std::string& name, const ModelOptions& opt) {
  if (name == "mobilenetv2") return mobilenetv2(opt);
  if (name == "efficientnet_b1") return efficientnet_b1(opt);
  if (name == "resnet50") return resnet50(opt);
  if (name == "bert_small") return bert_small(opt);
  if (name == "lenet5") return lenet5(opt);
  throw std::invalid_argument("unknown model \"" + name + "\"");
}

ModelDesc describe(const PlannerModel& m) {
  if (m.description) return *m.description;  // imported: its ops are not the recorder's
  const int64_t batch = 2;  // 2 so that batch norm in train mode also works on 1x1 maps
  const double b = double(batch);
  ModelDesc d;
  d.model = m.name;
  d.input = m.input;
  Tensor x = m.make_input(batch);
  for (size_t i = 0; i < m.size(); i++) {
    Recorder rec;
    Tensor in = x.is_floating_point() ? x.detach().requires_grad_(true) : x;
    Tensor out;
    {
      RecordScope scope(&rec);
      out = m.layers[i].forward(in);
    }
    LayerDesc l;
    l.name = m.layer_names[i];
    l.layer_class = dominant_class(rec.ops);
    double stored = rec.extra_saved;
    for (const auto& kv : rec.saved) stored += double(kv.second);
    for (const OpRecord& op : rec.ops) {
      double bytes = op.act_bytes / b + op.weight_bytes;
      l.fwd_flops_per_sample += op.flops / b;
      l.bwd_flops_per_sample += op.bwd_flops / b;
      l.bytes_moved_per_sample += bytes;
      l.flops_by_class[op.cls] += op.flops / b;
      l.bytes_by_class[op.cls] += bytes;
    }
    for (const Tensor& p : m.layer_parameters(i)) l.param_bytes += p.numel() * p.element_size();
    l.output_activation_bytes_per_sample = static_cast<int64_t>(nb(out) / b);
    l.stored_activation_bytes_per_sample = static_cast<int64_t>(std::llround(stored / b));
    l.kernels = static_cast<int64_t>(rec.ops.size());
    d.layers.push_back(std::move(l));
    x = out.detach();
  }
  return d;
}

ModelDesc describe_model(const std::string& name, const ModelOptions& opt) {
  PlannerModel m = make_model(name, opt);
  m.train(true);
  return describe(m);
}

}  // namespace asteroid::exec
