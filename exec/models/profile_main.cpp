// asteroid-profile: describes a planner model (--describe), times its layers on this machine and
// writes a measured trace (docs/formats.md), or measures libtorch's fixed cost per op (--dispatch).
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>

#include "blas_core.hpp"
#include "planner_layers.hpp"

namespace ax = asteroid::exec;

namespace {

const char* kUsage =
    "usage: asteroid-profile (--model NAME | --archive DIR) [--describe] [-o FILE]\n"
    "         [--batch-sizes 1,2,4,8,16,32] [--threads N] [--repeats R] [--warmup W]\n"
    "         [--stem cifar|imagenet] [--seq-len N]\n"
    "       asteroid-profile --dispatch [--repeats R] [--warmup W] [--threads N] [-o FILE]\n"
    "  NAME: efficientnet_b1 | mobilenetv2 | resnet50 | bert_small | lenet5\n"
    "  --archive    an imported model's archive (tools/import_model/import_model.py)\n"
    "  --describe   write the layer list (FLOPs, bytes) instead of timing\n"
    "  --dispatch   measure the eager-mode CPU cost per op on tiny tensors (JSON; no model;\n"
    "               --repeats defaults to 20 there, the minimum is kept)\n"
    "  -o FILE      output file (default: standard output)\n"
    "  --threads    libtorch intra-op threads (default 1)\n"
    "  --repeats    timed iterations per batch size, the median is kept (default 5)\n"
    "  --warmup     discarded iterations per batch size (default 2)\n"
    "  --stem       CIFAR models: cifar (stride-1 stem, default) or imagenet\n"
    "  --seq-len    bert_small tokens per sample (default 128, at most 512)\n";

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

int64_t parse_int(const std::string& what, const std::string& s) {
  size_t pos = 0;
  long long v = 0;
  try {
    v = std::stoll(s, &pos);
  } catch (const std::exception&) {
    pos = 0;
  }
  if (s.empty() || pos != s.size()) throw UsageError(what + " must be an integer, not \"" + s + "\"");
  return v;
}

std::vector<int64_t> parse_batches(const std::string& s) {
  std::vector<int64_t> out;
  size_t start = 0;
  while (true) {
    size_t comma = s.find(',', start);
    std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    int64_t b = parse_int("each batch size", item);
    if (b < 1) throw UsageError("batch sizes must be positive, got " + item);
    if (!out.empty() && b <= out.back())
      throw UsageError("batch sizes must be strictly increasing: \"" + s + "\"");
    out.push_back(b);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

class ProgressBar {
 public:
  ProgressBar() : tty_(isatty(STDERR_FILENO) != 0) {}
  void update(double frac, const std::string& label) {
    int pct = static_cast<int>(frac * 100.0);
    if (tty_) {
      const int width = 30;
      int fill = static_cast<int>(frac * width);
      std::string bar(fill, '#');
      bar.resize(width, ' ');
      std::fprintf(stderr, "\r[%s] %3d%% %-28.28s", bar.c_str(), pct, label.c_str());
      std::fflush(stderr);
    } else if (pct / 10 != last_ / 10) {  // not a terminal: one line per 10%
      std::fprintf(stderr, "%3d%% %s\n", pct, label.c_str());
    }
    last_ = pct;
  }
  void finish() {
    if (tty_) std::fprintf(stderr, "\n");
  }

 private:
  bool tty_;
  int last_ = -1;
};

void write_whole(const std::string& path, const std::string& text) {
  if (path.empty() || path == "-") {
    std::cout << text;
    std::cout.flush();
    return;
  }
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw std::runtime_error("cannot write " + tmp + ": " + std::strerror(errno));
    f << text;
    f.flush();
    if (!f) throw std::runtime_error("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string err = std::strerror(errno);
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot rename " + tmp + " to " + path + ": " + err);
  }
}

}  // namespace

int main(int argc, char** argv) {
  // OpenBLAS's generic kernels on a CPU with better ones (a VM that hides its model): start over
  // once with the better ones, so that the trace measures what the workers compute with (they do
  // the same; docs/toolchain-notes.md T7).
  const std::string core = ax::better_openblas_core();
  if (!core.empty()) {
    setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
    execv("/proc/self/exe", argv);
  }
  std::string model, archive, out;
  bool describe = false, dispatch = false, repeats_given = false;
  ax::ModelOptions mopt;
  ax::ProfileOptions popt;
  bool seq_given = false;
  try {
    for (int i = 1; i < argc; i++) {
      std::string a = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw UsageError(a + " needs a value");
        return argv[++i];
      };
      if (a == "-h" || a == "--help") {
        std::cout << kUsage;
        return 0;
      } else if (a == "--model") {
        model = value();
      } else if (a == "--archive") {
        archive = value();
      } else if (a == "--describe") {
        describe = true;
      } else if (a == "--dispatch") {
        dispatch = true;
      } else if (a == "-o" || a == "--output") {
        out = value();
      } else if (a == "--batch-sizes") {
        popt.batch_sizes = parse_batches(value());
      } else if (a == "--threads") {
        popt.threads = static_cast<int>(parse_int("--threads", value()));
        if (popt.threads < 1 || popt.threads > 1024) throw UsageError("--threads must be 1..1024");
      } else if (a == "--repeats") {
        popt.repeats = static_cast<int>(parse_int("--repeats", value()));
        repeats_given = true;
        if (popt.repeats < 1 || popt.repeats > 10000) throw UsageError("--repeats must be 1..10000");
      } else if (a == "--warmup") {
        popt.warmup = static_cast<int>(parse_int("--warmup", value()));
        if (popt.warmup < 0 || popt.warmup > 10000) throw UsageError("--warmup must be 0..10000");
      } else if (a == "--seq-len") {
        mopt.seq_len = parse_int("--seq-len", value());
        seq_given = true;
        if (mopt.seq_len < 1 || mopt.seq_len > 512) throw UsageError("--seq-len must be 1..512");
      } else if (a == "--stem") {
        mopt.stem = value();
        if (mopt.stem != "cifar" && mopt.stem != "imagenet")
          throw UsageError("--stem must be cifar or imagenet, not \"" + mopt.stem + "\"");
      } else {
        throw UsageError("unknown argument \"" + a + "\" (see --help)");
      }
    }
    if (dispatch && (describe || !model.empty() || !archive.empty()))
      throw UsageError("--dispatch measures no model: leave out --model, --archive and --describe");
    if (!model.empty() && !archive.empty()) throw UsageError("--model and --archive exclude each other");
    if (!archive.empty() && (seq_given || !mopt.stem.empty()))
      throw UsageError("--stem and --seq-len apply to built-in models; an archive is imported with its input");
    if (model.empty() && archive.empty() && !dispatch)
      throw UsageError("--model NAME or --archive DIR is required (see --help)");
    if (!dispatch && archive.empty() && !ax::is_model_name(model))
      throw UsageError("unknown model \"" + model +
                       "\" (known: efficientnet_b1, mobilenetv2, resnet50, bert_small, lenet5)");
    if (!mopt.stem.empty() && model != "mobilenetv2" && model != "efficientnet_b1" &&
        !(model == "resnet50" && mopt.stem == "imagenet"))
      throw UsageError("--stem does not apply to " + model);
    if (seq_given && model != "bert_small") throw UsageError("--seq-len applies to bert_small only");
  } catch (const UsageError& e) {
    std::cerr << "asteroid-profile: " << e.what() << "\n";
    return 2;
  }

  try {
    nlohmann::json j;
    if (dispatch) {
      ax::DispatchOptions dopt;
      dopt.threads = popt.threads;
      dopt.warmup = popt.warmup;
      if (repeats_given) dopt.repeats = popt.repeats;
      j = ax::dispatch_json(ax::measure_dispatch(dopt));
    } else if (describe && !archive.empty()) {
      j = ax::describe_json(ax::describe_archive(archive));
    } else if (describe) {
      j = ax::describe_json(ax::describe_model(model, mopt));
    } else {
      // OpenBLAS sizes its thread pool when it is loaded, before --threads is read: say so when
      // the two differ, as the times would then include both pools competing for the cores.
      const char* ob = std::getenv("OPENBLAS_NUM_THREADS");
      if (!ob || std::atoi(ob) != popt.threads)
        std::cerr << "asteroid-profile: warning: OPENBLAS_NUM_THREADS is " << (ob ? ob : "unset")
                  << ", --threads is " << popt.threads << "; set them equal for steady timings\n";
      ProgressBar bar;
      const std::string shown = archive.empty() ? model : archive;
      popt.progress = [&bar, &shown](double f, const std::string& label) {
        bar.update(f, shown + " " + label);
      };
      ax::ProfileResult r = archive.empty() ? ax::profile_model(model, mopt, popt) : ax::profile_archive(archive, popt);
      bar.finish();
      j = ax::measured_trace_json(r, mopt);
    }
    write_whole(out, j.dump(1) + "\n");
  } catch (const std::invalid_argument& e) {
    std::cerr << "asteroid-profile: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::string msg = e.what();
    std::cerr << "asteroid-profile: error: " << msg.substr(0, msg.find('\n')) << "\n";
    return 1;
  }
  return 0;
}
