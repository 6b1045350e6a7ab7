#include "worker_processes.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "blas_core.hpp"

namespace asteroid::exec {
namespace {

std::string quoted(const std::string& s) {  // for the remote shell
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string status_text(int status) {
  return WIFEXITED(status) ? "exited with status " + std::to_string(WEXITSTATUS(status))
                           : "was killed by signal " + std::to_string(WTERMSIG(status));
}

}  // namespace

bool WorkerProcesses::start(const WorkerCommand& c, const std::string& device, const std::string& host,
                            std::string* why) {
  std::vector<std::string> args;
  int token_pipe[2] = {-1, -1};
  if (host.empty()) {
    args = {"asteroid-exec", "worker",
            "--coordinator", c.coordinator.str(),
            "--device",      device,
            "--token-file",  c.token_file,
            "--checkpoints", c.checkpoint_dir + "/" + device,
            "--quiet"};
  } else {
    // The token goes through ssh's standard input, never on a command line.
    if (pipe(token_pipe) != 0) {
      *why = std::string("cannot make a pipe: ") + std::strerror(errno);
      return false;
    }
    std::string remote = quoted(c.remote_exec) + " worker --coordinator " + quoted(c.coordinator.str()) +
                         " --device " + quoted(device) + " --token-file -";
    args = {c.ssh, "-o", "BatchMode=yes", host, remote};
  }
  // OpenBLAS's kernels for this CPU, as the worker would choose them (docs/toolchain-notes.md T7):
  // set here, so that a local worker does not start itself over to set them.
  const std::string blas_core = host.empty() ? better_openblas_core() : "";
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    *why = std::string("cannot fork: ") + std::strerror(errno);
    return false;
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // the coordinator's death ends its workers
    if (getppid() != parent) _exit(1);
    if (token_pipe[0] >= 0) {
      dup2(token_pipe[0], 0);
      close(token_pipe[0]);
      close(token_pipe[1]);
    }
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (host.empty()) {
      // One thread each (the worker's default): set before the libraries load, or the worker
      // starts itself over to set it.
      setenv("OPENBLAS_NUM_THREADS", "1", 1);
      setenv("OMP_NUM_THREADS", "1", 1);
      if (!blas_core.empty()) setenv("OPENBLAS_CORETYPE", blas_core.c_str(), 1);
      execv("/proc/self/exe", argv.data());
    } else
      execvp(argv[0], argv.data());
    _exit(127);
  }
  if (token_pipe[1] >= 0) {
    close(token_pipe[0]);
    std::string line = c.token + "\n";
    ssize_t n = write(token_pipe[1], line.data(), line.size());
    (void)n;
    close(token_pipe[1]);
  }
  procs_.push_back({device, host, pid, false});
  return true;
}

std::vector<std::string> WorkerProcesses::reap() {
  std::vector<std::string> lines;
  for (Proc& p : procs_) {
    int status = 0;
    if (p.exited || waitpid(p.pid, &status, WNOHANG) != p.pid) continue;
    p.exited = true;
    p.status = status;
    lines.push_back(p.device + (p.host.empty() ? " (local worker) " : " (ssh to " + p.host + ") ") +
                    status_text(status));
  }
  return lines;
}

int WorkerProcesses::finish(double grace_s) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(grace_s);
  for (;;) {
    reap();
    bool all = true;
    for (const Proc& p : procs_) all = all && p.exited;
    if (all) return 0;
    if (std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  int killed = 0;
  for (Proc& p : procs_)
    if (!p.exited) {
      kill(p.pid, SIGKILL);
      waitpid(p.pid, nullptr, 0);
      p.exited = true;
      ++killed;
    }
  return killed;
}

void WorkerProcesses::kill_all() { finish(0); }

WorkerProcesses::Proc* WorkerProcesses::local(const std::string& device) {
  // The latest: a device that left and returned has had two processes.
  for (auto p = procs_.rbegin(); p != procs_.rend(); ++p)
    if (p->device == device && p->host.empty()) return &*p;
  return nullptr;
}

std::string WorkerProcesses::killed_by_signal(const std::string& device, double wait_s) {
  Proc* p = local(device);
  if (!p) return "";
  // Its control connection closes as the process dies, a moment before the process can be reaped.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(wait_s);
  while (!p->exited && std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
      p->exited = true;
      p->status = status;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  if (!p->exited || !WIFSIGNALED(p->status)) return "";
  return "worker died (signal " + std::to_string(WTERMSIG(p->status)) + ")";
}

bool WorkerProcesses::running(const std::string& device) const {
  for (auto it = procs_.rbegin(); it != procs_.rend(); ++it) {  // the latest process of the device
    const Proc& p = *it;
    if (p.device != device || !p.host.empty()) continue;
    if (p.exited) return false;
    FILE* f = std::fopen(("/proc/" + std::to_string(p.pid) + "/stat").c_str(), "r");
    if (!f) return false;
    char buf[512];
    size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    buf[n] = '\0';
    const char* close = std::strrchr(buf, ')');  // the state is the field after the command name
    return close && close[1] == ' ' && std::strchr("RSD", close[2]) != nullptr;
  }
  return false;
}

void WorkerProcesses::kill_worker(const std::string& device) {
  Proc* p = local(device);
  if (p && !p->exited) ::kill(p->pid, SIGKILL);
}

}  // namespace asteroid::exec
