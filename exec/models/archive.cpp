// An imported model's layers in libtorch: each planner layer is the TorchScript module the importer
// wrote (docs/model_import.md), wrapped as an nn::Module so that the workers train it as a built-in
// layer: its parameters and buffers are registered under the wrapper (the same tensors, so the
// optimizer, the state copies and .to(device) reach the scripted module's own), and train()/eval()
// reach the scripted module (batch norm, dropout). Autograd runs through the scripted forward.
#include <openssl/evp.h>
#include <torch/script.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>

#include "asteroid/input/json_reader.hpp"
#include "asteroid/input/model_archive.hpp"
#include "models.hpp"

namespace asteroid::exec {
namespace {

std::string file_sha256(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument(path + ": cannot be read");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) EVP_DigestUpdate(ctx.get(), buf, size_t(in.gcount()));
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned int i = 0; i < len; ++i) s += {hex[md[i] >> 4], hex[md[i] & 15]};
  return s;
}

// '.' separates submodules in nn::Module names; the scripted module's qualified names use it too.
std::string flat(const std::string& name) {
  std::string s = name;
  for (char& c : s)
    if (c == '.') c = '_';
  return s;
}

class ScriptedLayerImpl : public torch::nn::Module {
 public:
  explicit ScriptedLayerImpl(torch::jit::Module m) : m_(std::move(m)) {
    for (const auto& p : m_.named_parameters(/*recurse=*/true)) register_parameter(flat(p.name), p.value);
    for (const auto& b : m_.named_buffers(/*recurse=*/true)) register_buffer(flat(b.name), b.value);
  }
  torch::Tensor forward(torch::Tensor x) { return m_.forward({std::move(x)}).toTensor(); }
  void train(bool on = true) override {
    torch::nn::Module::train(on);
    m_.train(on);
  }

 private:
  torch::jit::Module m_;
};
TORCH_MODULE(ScriptedLayer);

}  // namespace

PlannerModel load_archive(const std::string& dir) {
  auto a = read_model_archive(dir);
  if (!a) throw std::invalid_argument(a.error().str());
  PlannerModel pm;
  pm.name = a->model;
  pm.input = a->input;
  pm.sample_shape = a->sample_shape;
  pm.token_input = a->input_dtype == "int64";
  pm.vocab = a->vocab;
  for (const ArchiveLayer& l : a->layers) {
    if (file_sha256(l.file) != l.sha256)
      throw std::invalid_argument(l.file + ": its SHA-256 differs from the archive's model.json (a changed or "
                                  "partly copied archive)");
    torch::jit::Module m;
    try {
      m = torch::jit::load(l.file, torch::kCPU);
    } catch (const c10::Error& e) {
      throw std::invalid_argument(l.file + ": not a TorchScript module libtorch can load");
    }
    pm.layer_names.push_back(l.name);
    pm.layers.emplace_back(ScriptedLayer(std::move(m)));
  }
  auto desc = read_json_file((std::filesystem::path(dir) / "description.json").string());
  if (!desc) throw std::invalid_argument(desc.error().str());
  pm.description = std::make_shared<const ModelDesc>(desc_from_json(*desc, a->model));
  if (pm.description->layers.size() != pm.layers.size())
    throw std::invalid_argument(dir + "/description.json: " + std::to_string(pm.description->layers.size()) +
                                " layers, model.json " + std::to_string(pm.layers.size()));
  return pm;
}

ModelDesc describe_archive(const std::string& dir) { return *load_archive(dir).description; }

}  // namespace asteroid::exec
