// Torch-free view of the planner models: options, per-layer descriptions, measured profiles, and
// their JSON forms. Only exec/models/models.cpp, profiler.cpp, stage_state.cpp, archive.cpp and dispatch.cpp
// include libtorch.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace asteroid::exec {

struct ModelOptions {
  // CIFAR models: "cifar" (stride-1 stem, the default) or "imagenet" (stride-2 stem);
  // resnet50: only "imagenet"; bert_small: none. Empty: the model's default.
  std::string stem;
  int64_t seq_len = 128;    // BERT only: tokens per sample (1..512)
  int64_t num_classes = 0;  // 0: the model's default (10 CIFAR, 100 Mini-ImageNet, 2 BERT)
};

// Names accepted by make_model / describe_model / profile_model.
const std::vector<std::string>& model_names();
bool is_model_name(const std::string& name);
// The options that build built-in `model` for a scenario's `input` ("cifar10_32",
// "miniimagenet_224", "synthetic_seq128", ...); *ok false when the input cannot be built.
ModelOptions model_options_for(const std::string& model, const std::string& input, bool* ok);

// Per-sample description of one planner layer, computed from the real modules.
struct LayerDesc {
  std::string name;
  std::string layer_class;  // conv | dwconv | linear | norm | elementwise | attention | embedding
  double fwd_flops_per_sample = 0;
  double bwd_flops_per_sample = 0;
  int64_t param_bytes = 0;
  int64_t output_activation_bytes_per_sample = 0;
  int64_t stored_activation_bytes_per_sample = 0;
  double bytes_moved_per_sample = 0;             // activation traffic per sample + weight traffic of one pass
  int64_t kernels = 0;                           // primitive ops launched by one forward
  std::map<std::string, double> flops_by_class;  // forward FLOPs per sample
  std::map<std::string, double> bytes_by_class;  // parts of bytes_moved_per_sample
};

struct ModelDesc {
  std::string model;
  std::string input;  // e.g. "cifar10_32", "miniimagenet_224", "synthetic_seq128"
  std::vector<LayerDesc> layers;
};

// Builds the model and runs one forward layer by layer with the op recorder on (throws
// std::invalid_argument for an unknown name or bad options).
ModelDesc describe_model(const std::string& name, const ModelOptions& opt);

struct ProfileOptions {
  std::vector<int64_t> batch_sizes = {1, 2, 4, 8, 16, 32};
  int threads = 1;
  int repeats = 5;
  int warmup = 2;
  // progress(fraction done in [0,1], short label); may be empty
  std::function<void(double, const std::string&)> progress;
};

struct ProfileResult {
  ModelDesc desc;
  std::vector<int64_t> batch_sizes;
  std::vector<std::vector<double>> fwd_s;  // [layer][batch index], median seconds
  std::vector<std::vector<double>> bwd_s;
  std::vector<double> layer_sum_step_s;    // [batch index] sum over layers of fwd_s + bwd_s
  std::vector<double> whole_model_step_s;  // [batch index] unsplit forward+backward, median
  std::vector<int64_t> peak_rss_bytes;     // [batch index] peak RSS during one unsplit step
  // [optimizer token][layer]: one optimizer step over the layer's parameters (StageState::step,
  // what the workers run), median seconds; independent of the batch size.
  std::map<std::string, std::vector<double>> optimizer_step_s;
  // The conditions it ran under: /proc/loadavg's 1-minute load when it started and ended.
  double load_start = -1, load_end = -1;
  int64_t baseline_rss_bytes = 0;          // RSS with the model built, before any step
  int threads = 1;
  int repeats = 0;
  int warmup = 0;
  std::string libtorch_version;
  std::string imported_from;  // an imported model: its archive's source ("torchvision:resnet18")
};

// Times every layer (see exec/README.md). Throws std::invalid_argument on bad options.
ProfileResult profile_model(const std::string& name, const ModelOptions& opt, const ProfileOptions& popt);
// The same for an imported model's archive folder (docs/model_import.md); its description is the
// importer's. Throws std::invalid_argument on bad options or a bad archive.
ProfileResult profile_archive(const std::string& dir, const ProfileOptions& popt);

// An imported model's description (its archive's description.json, checked against the layers it
// loads). Throws std::invalid_argument naming the file and the problem.
ModelDesc describe_archive(const std::string& dir);

// A layer description read back (an imported model's description.json; `model` is the name it must
// carry). Throws std::invalid_argument naming the field.
ModelDesc desc_from_json(const nlohmann::json& j, const std::string& model);

// JSON forms. describe_json: {"schema_version":1,"model","input","layers":[...]}.
nlohmann::json describe_json(const ModelDesc& d);
// A measured trace in the format of docs/formats.md (device_type "local_cpu").
nlohmann::json measured_trace_json(const ProfileResult& r, const ModelOptions& opt);

// Eager-mode dispatch cost of libtorch on this machine's CPU (asteroid-profile --dispatch): the
// fixed CPU time per op that a framework spends whatever the op's size, measured on ops of one
// element. Chains of `ops` tiny ops (alternately multiply by a constant tensor and sigmoid, so that
// every op and every backward node is exactly one kernel), timed whole; the minimum over `repeats`
// timed chains after `warmup` untimed ones. Seconds per op.
struct DispatchOptions {
  int ops = 2000;
  int repeats = 20;
  int warmup = 3;
  int threads = 1;
};
struct DispatchResult {
  DispatchOptions options;
  double forward_no_grad_s = 0;   // per op, under NoGradGuard
  double forward_autograd_s = 0;  // per op, recording the autograd graph
  double backward_s = 0;          // per backward node (one kernel each), engine included
  std::string libtorch_version;
};
// Throws std::invalid_argument on bad options.
DispatchResult measure_dispatch(const DispatchOptions& opt);
// {"schema_version":1,"kind":"measured",...,"training_s_per_op"}: training_s_per_op is the mean of
// forward_autograd_s and backward_s, the CPU time per op (forward or backward) of a training step.
nlohmann::json dispatch_json(const DispatchResult& r);

// The 1-minute load average of /proc/loadavg (-1 when unreadable).
double load_average();

// Machine facts read from /proc (0 or "unknown" when unavailable).
struct MachineInfo {
  std::string hostname;
  std::string cpu;
  int64_t mem_total_bytes = 0;
  int64_t mem_available_bytes = 0;
  unsigned hardware_threads = 0;
};
MachineInfo machine_info();
// Current and peak resident set size of this process (bytes), and a reset of the peak.
int64_t current_rss_bytes();
int64_t peak_rss_bytes();
bool reset_peak_rss();

}  // namespace asteroid::exec
