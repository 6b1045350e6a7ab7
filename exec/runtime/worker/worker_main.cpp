// asteroid-exec worker --coordinator ADDR:PORT --device NAME [--token-file F] [--checkpoints DIR]
//                      [--address ADDR] [--wait SECONDS] [--threads N] [--accelerator A] [--quiet]
// One device's worker, on that device's host: joins the coordinator (control_client.hpp), then runs
// each job it is given (worker.hpp) until the coordinator says the run is over. Torch-free; the
// generations run in worker.cpp.
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "asteroid/input/cli_args.hpp"
#include "blas_core.hpp"
#include "control_client.hpp"
#include "exec_job.hpp"
#include "token.hpp"
#include "worker.hpp"

namespace asteroid::exec {
namespace {

const char* kWorkerUsage =
    "usage: asteroid-exec worker --coordinator ADDRESS:PORT --device NAME [--token-file FILE]\n"
    "                            [--checkpoints DIR] [--address ADDRESS] [--wait SECONDS] [--threads N]\n"
    "                            [--accelerator cpu|cuda|cuda:N] [--quiet]\n"
    "  --token-file   the coordinator's token (default ~/.config/asteroid/token; - reads standard input)\n"
    "  --checkpoints  where this device keeps its checkpoints (default ./asteroid-checkpoints/NAME)\n"
    "  --address      the address other workers reach this one at (default: the one it connects from)\n"
    "  --wait         how long to keep trying to reach the coordinator (default 60)\n"
    "  --threads      libtorch and OpenBLAS threads (default 1)\n"
    "  --accelerator  where this worker computes (default: the device's \"accelerator\" in the\n"
    "                 scenario, else cpu); cuda needs a libtorch built with CUDA (exec/README.md)\n";

[[noreturn]] void usage_error(const std::string& m) {
  std::cerr << "asteroid-exec worker: " << m << "\n";
  std::exit(2);
}

// "fd:auth_fd:generation:device:heartbeat:silence:name", written by ControlClient::restart (the name
// last: it is the scenario's, and may hold anything but a newline; auth_fd -1: no frame key).
void parse_resume(const std::string& s, WorkerOptions* o) {
  int used = 0;
  if (std::sscanf(s.c_str(), "%d:%d:%d:%d:%lf:%lf:%n", &o->resume_fd, &o->resume_auth_fd, &o->resume_generation,
                  &o->welcome.device, &o->welcome.heartbeat_interval_s, &o->welcome.silence_limit_s,
                  &used) != 6 ||
      used == 0)
    usage_error("--resume: malformed");
  o->welcome.name = s.substr(size_t(used));
}

}  // namespace

int worker_main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // a write into a reset socket must be an error, not a death
  WorkerOptions o;
  std::string coordinator, resume;
  CliArgs args(argc - 1, argv + 1, usage_error);
  while (args.next()) {
    const std::string& s = args.arg();
    if (s == "--coordinator")
      coordinator = args.value();
    else if (s == "--device")
      o.device = args.value();
    else if (s == "--token-file")
      o.token_file = args.value();
    else if (s == "--checkpoints")
      o.checkpoint_dir = args.value();
    else if (s == "--address")
      o.address = args.value();
    else if (s == "--wait")
      o.wait_s = args.number(0);
    else if (s == "--threads")
      o.threads = int(args.number(1, true));
    else if (s == "--accelerator") {
      o.accelerator = args.value();
      if (!is_accelerator_name(o.accelerator)) usage_error("--accelerator: expected cpu, cuda or cuda:N");
    } else if (s == "--quiet")
      o.quiet = true;
    else if (s == "--resume")
      resume = args.value();
    else if (s == "-h" || s == "--help") {
      std::cout << kWorkerUsage;
      return 0;
    } else
      usage_error("unknown argument " + s + " (see --help)");
  }
  if (coordinator.empty()) usage_error("--coordinator ADDRESS:PORT is required");
  if (o.device.empty()) usage_error("--device NAME is required");
  auto at = parse_endpoint(coordinator, "--coordinator");
  if (!at) usage_error(at.error().str());
  o.coordinator = at.value();
  if (o.token_file.empty()) o.token_file = default_token_file();
  if (o.checkpoint_dir.empty()) o.checkpoint_dir = "asteroid-checkpoints/" + o.device;
  o.checkpoint_dir = std::filesystem::absolute(o.checkpoint_dir).lexically_normal().string();
  for (int i = 0; i < argc; ++i)
    if (std::string(argv[i]) == "--resume")
      ++i;  // a restart appends its own
    else
      o.argv.push_back(argv[i]);

  // OpenBLAS sizes its thread pool and picks its kernels when it is loaded (docs/toolchain-notes.md
  // T4, T7): set both, and start over once so that the libraries load with them.
  const std::string threads = std::to_string(o.threads);
  const char* blas = std::getenv("OPENBLAS_NUM_THREADS");
  const std::string core = better_openblas_core();
  if (!blas || threads != blas || !core.empty()) {
    setenv("OPENBLAS_NUM_THREADS", threads.c_str(), 1);
    setenv("OMP_NUM_THREADS", threads.c_str(), 1);
    if (!core.empty()) setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
    execv("/proc/self/exe", argv);
  }
  if (!resume.empty()) parse_resume(resume, &o);

  ControlClient control(o);
  control.start();
  for (;;) {
    auto job = job_from_json(control.next_job(), "the coordinator's job");
    if (!job) control.fail(job.error().str(), 2);
    run_generation(job.value(), control);  // returns after its rounds; then a stop or the finish comes
  }
}

}  // namespace asteroid::exec
