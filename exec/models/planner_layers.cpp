// JSON forms of layer descriptions and measured traces, and machine facts from /proc. No libtorch.
#include "planner_layers.hpp"

#include "asteroid/input/json_reader.hpp"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>

#include "blas_core.hpp"

namespace asteroid::exec {

const std::vector<std::string>& model_names() {
  static const std::vector<std::string> names = {"efficientnet_b1", "mobilenetv2", "resnet50", "bert_small",
                                                 "lenet5"};
  return names;
}

bool is_model_name(const std::string& name) {
  const auto& n = model_names();
  return std::find(n.begin(), n.end(), name) != n.end();
}

ModelOptions model_options_for(const std::string& model, const std::string& input, bool* ok) {
  ModelOptions o;
  *ok = true;
  const std::string seq = "synthetic_seq";
  if (model == "bert_small" && input.rfind(seq, 0) == 0) {
    o.seq_len = std::atoll(input.c_str() + seq.size());
    *ok = o.seq_len >= 1 && o.seq_len <= 512;
  } else if (input.find("224") != std::string::npos && model != "resnet50") {
    o.stem = "imagenet";
  }
  return o;
}

namespace {

// shortest decimal form with about 6 significant digits
double round_sig(double v, int digits = 6) {
  if (v == 0 || !std::isfinite(v)) return v;
  double scale = std::pow(10.0, digits - 1 - static_cast<int>(std::floor(std::log10(std::fabs(v)))));
  return std::round(v * scale) / scale;
}

nlohmann::json by_class(const std::map<std::string, double>& m) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : m) j[k] = round_sig(v, 9);
  return j;
}

nlohmann::json layer_json(const LayerDesc& l) {
  return {{"name", l.name},
          {"class", l.layer_class},
          {"fwd_flops_per_sample", round_sig(l.fwd_flops_per_sample, 9)},
          {"bwd_flops_per_sample", round_sig(l.bwd_flops_per_sample, 9)},
          {"param_bytes", l.param_bytes},
          {"output_activation_bytes_per_sample", l.output_activation_bytes_per_sample},
          {"stored_activation_bytes_per_sample", l.stored_activation_bytes_per_sample},
          {"bytes_moved_per_sample", round_sig(l.bytes_moved_per_sample, 9)},
          {"kernels", l.kernels},
          {"flops_by_class", by_class(l.flops_by_class)},
          {"bytes_by_class", by_class(l.bytes_by_class)}};
}

std::string iso_date_utc() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// a "Key:   123 kB" line of /proc/meminfo or /proc/self/status, in bytes (0 if absent)
int64_t proc_kb_field(const char* file, const std::string& key) {
  std::ifstream f(file);
  std::string line;
  while (std::getline(f, line)) {
    if (line.compare(0, key.size() + 1, key + ":") != 0) continue;
    std::istringstream is(line.substr(key.size() + 1));
    int64_t kb = 0;
    is >> kb;
    return kb * 1024;
  }
  return 0;
}

// the BLAS that libtorch's libblas.so.3 resolves to (it serves linear layers, and 1x1
// convolutions when oneDNN is not chosen)
std::string blas_library() {
  char buf[PATH_MAX];
  if (realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3", buf) == nullptr) return "unknown";
  return buf;
}

}  // namespace

nlohmann::json describe_json(const ModelDesc& d) {
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerDesc& l : d.layers) layers.push_back(layer_json(l));
  return {{"schema_version", 1}, {"model", d.model}, {"input", d.input}, {"layers", layers}};
}

ModelDesc desc_from_json(const nlohmann::json& j, const std::string& model) {
  ModelDesc d;
  JsonReader r(j, "");
  try {
    r.allow_only({"schema_version", "model", "input", "layers", "unpriced_ops"});
    d.model = r.at("model").string();
    if (d.model != model) r.at("model").fail("is \"" + d.model + "\", the archive's model is \"" + model + "\"");
    d.input = r.at("input").string();
    JsonReader layers = r.at("layers");
    for (size_t i = 0; i < layers.size(); ++i) {
      JsonReader l = layers.at(i);
      l.allow_only({"name", "class", "fwd_flops_per_sample", "bwd_flops_per_sample", "param_bytes",
                    "output_activation_bytes_per_sample", "stored_activation_bytes_per_sample",
                    "bytes_moved_per_sample", "kernels", "flops_by_class", "bytes_by_class"});
      LayerDesc ld;
      ld.name = l.at("name").string();
      ld.layer_class = l.at("class").string();
      ld.fwd_flops_per_sample = l.at("fwd_flops_per_sample").number_in(0, 1e18);
      ld.bwd_flops_per_sample = l.at("bwd_flops_per_sample").number_in(0, 1e18);
      ld.param_bytes = l.at("param_bytes").integer();
      ld.output_activation_bytes_per_sample = l.at("output_activation_bytes_per_sample").integer();
      ld.stored_activation_bytes_per_sample = l.at("stored_activation_bytes_per_sample").integer();
      ld.bytes_moved_per_sample = l.at("bytes_moved_per_sample").number_in(0, 1e18);
      ld.kernels = l.at("kernels").integer();
      for (const char* key : {"flops_by_class", "bytes_by_class"}) {
        JsonReader m = l.at(key);
        auto& out = std::string(key) == "flops_by_class" ? ld.flops_by_class : ld.bytes_by_class;
        for (const std::string& c : m.keys()) out[c] = m.at(c.c_str()).number_in(0, 1e18);
      }
      d.layers.push_back(std::move(ld));
    }
  } catch (const InputError& e) {
    throw std::invalid_argument("description.json: " + (e.path.empty() ? "" : e.path + ": ") + e.message);
  }
  return d;
}

nlohmann::json measured_trace_json(const ProfileResult& r, const ModelOptions& opt) {
  MachineInfo mi = machine_info();
  nlohmann::json layers = nlohmann::json::array();
  for (size_t i = 0; i < r.desc.layers.size(); i++) {
    nlohmann::json l = layer_json(r.desc.layers[i]);
    nlohmann::json f = nlohmann::json::array(), b = nlohmann::json::array();
    for (double t : r.fwd_s[i]) f.push_back(round_sig(t));
    for (double t : r.bwd_s[i]) b.push_back(round_sig(t));
    l["fwd_s"] = f;
    l["bwd_s"] = b;
    for (const auto& [kind, times] : r.optimizer_step_s)
      if (i < times.size()) l["optimizer_step_s"][kind] = round_sig(times[i]);
    layers.push_back(l);
  }
  auto rounded = [](const std::vector<double>& v) {
    nlohmann::json a = nlohmann::json::array();
    for (double x : v) a.push_back(round_sig(x));
    return a;
  };
  std::string stem = opt.stem;
  if (stem.empty()) stem = r.desc.model == "resnet50" ? "imagenet" : "cifar";
  nlohmann::json options = {{"stem", stem}};
  if (r.desc.model == "bert_small") options = {{"seq_len", opt.seq_len}};
  if (!r.imported_from.empty()) options = {{"imported_from", r.imported_from}};
  nlohmann::json provenance = {
      {"kind", "measured"},
      {"machine", mi.hostname},
      {"cpu", mi.cpu},
      {"threads", r.threads},
      {"libtorch", r.libtorch_version},
      {"date", iso_date_utc()},
      {"method",
       "asteroid-profile: libtorch on the CPU, train mode (batch norm on batch statistics). Each "
       "planner layer runs alone on the detached output of the previous one (requires_grad, except "
       "the model input); forward, then backward from a fixed random output gradient, timed "
       "separately per layer with a steady clock. " +
           std::to_string(r.warmup) + " warm-up iterations discarded, median of " +
           std::to_string(r.repeats) +
           " per batch size. Parameter gradients are reset to none before each iteration. Loss "
           "and optimizer step are not in fwd_s/bwd_s. optimizer_step_s: per layer and optimizer, "
           "one step of exec's StageState (the workers' optimizers) over the layer's parameters on "
           "random gradients, median of the same number after the same warm-up. whole_model_step_s: median of the same number of "
           "unsplit forward+backward steps. libtorch's own choices apply: with one thread and a "
           "batch below 16 it runs 1x1 convolutions by im2col + BLAS rather than oneDNN, and linear "
           "layers always use BLAS (see blas)."},
      {"blas", blas_library()},
      {"model_options", options},
      {"repeats", r.repeats},
      {"warmup", r.warmup},
      {"layer_sum_step_s", rounded(r.layer_sum_step_s)},
      {"whole_model_step_s", rounded(r.whole_model_step_s)},
      {"memory",
       {{"method",
         "peak resident set size (VmHWM, reset through /proc/self/clear_refs after malloc_trim) "
         "during one unsplit forward+backward per batch size; includes the baseline (libraries, "
         "weights, buffers) and the parameter gradients, not optimizer state"},
        {"baseline_rss_bytes", r.baseline_rss_bytes},
        {"peak_rss_bytes", r.peak_rss_bytes}}},
      {"conditions",
       {{"load_average_1min_start", r.load_start},
        {"load_average_1min_end", r.load_end},
        {"online_cpus", int(std::thread::hardware_concurrency())},
        {"openblas_num_threads", std::getenv("OPENBLAS_NUM_THREADS") ? std::getenv("OPENBLAS_NUM_THREADS") : "unset"},
        {"openblas_core", openblas_core()},
        {"note", "the load the profile ran beside (other processes on these CPUs); a trace is faithful to "
                 "runs under the same conditions: one worker per core at most, each with these threads"}}},
      {"usable_memory_note",
       "device.usable_memory_bytes is MemAvailable of /proc/meminfo when the profile was taken"}};
  std::ostringstream desc;
  desc << "this machine's CPU (" << mi.cpu << ", " << mi.hardware_threads << " hardware threads), libtorch "
       << r.libtorch_version << " with " << r.threads << " thread(s)";
  int64_t total = mi.mem_total_bytes, usable = std::min(mi.mem_available_bytes, total);
  return {{"schema_version", 1},
          {"device_type", "local_cpu"},
          {"device", {{"memory_bytes", total}, {"usable_memory_bytes", usable}, {"description", desc.str()}}},
          {"model", r.desc.model},
          {"input", r.desc.input},
          {"provenance", provenance},
          {"batch_sizes", r.batch_sizes},
          {"layers", layers}};
}

nlohmann::json dispatch_json(const DispatchResult& r) {
  MachineInfo mi = machine_info();
  const DispatchOptions& o = r.options;
  return {{"schema_version", 1},
          {"kind", "measured"},
          {"what", "eager-mode dispatch cost per op of libtorch on this machine's CPU"},
          {"machine", mi.hostname},
          {"cpu", mi.cpu},
          {"hardware_threads", mi.hardware_threads},
          {"threads", o.threads},
          {"libtorch", r.libtorch_version},
          {"date", iso_date_utc()},
          {"method", "asteroid-profile --dispatch: CPU tensors of one element; a chain of " +
                         std::to_string(o.ops) +
                         " ops alternating multiply by a constant tensor and sigmoid (each op and each "
                         "backward node launches exactly one kernel), timed whole with a steady clock: "
                         "forward under NoGradGuard, forward recording the autograd graph from a leaf that "
                         "requires grad, then backward of that chain. Per op = chain time / ops. " +
                         std::to_string(o.warmup) + " untimed chains, then the minimum over " +
                         std::to_string(o.repeats) + " timed ones (timings on a loaded machine only grow)."},
          {"ops_per_chain", o.ops},
          {"repeats", o.repeats},
          {"warmup", o.warmup},
          {"statistic", "minimum over repeats"},
          {"forward_no_grad_s_per_op", round_sig(r.forward_no_grad_s, 4)},
          {"forward_autograd_s_per_op", round_sig(r.forward_autograd_s, 4)},
          {"backward_s_per_op", round_sig(r.backward_s, 4)},
          {"training_s_per_op", round_sig(0.5 * (r.forward_autograd_s + r.backward_s), 4)}};
}

double load_average() {
  std::ifstream f("/proc/loadavg");
  double load = -1;
  if (!(f >> load)) return -1;
  return load;
}

MachineInfo machine_info() {
  MachineInfo mi;
  char host[256] = {0};
  mi.hostname = gethostname(host, sizeof host - 1) == 0 ? host : "unknown";
  mi.cpu = "unknown";
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string v = line.substr(colon + 1);
    v.erase(0, v.find_first_not_of(" \t"));
    mi.cpu = v;
    break;
  }
  mi.mem_total_bytes = proc_kb_field("/proc/meminfo", "MemTotal");
  mi.mem_available_bytes = proc_kb_field("/proc/meminfo", "MemAvailable");
  mi.hardware_threads = std::thread::hardware_concurrency();
  return mi;
}

int64_t current_rss_bytes() { return proc_kb_field("/proc/self/status", "VmRSS"); }
int64_t peak_rss_bytes() { return proc_kb_field("/proc/self/status", "VmHWM"); }

bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  if (!f) return false;
  f << "5";
  return static_cast<bool>(f.flush());
}

}  // namespace asteroid::exec
