// The worker processes the coordinator starts itself (exec/README.md, "Across hosts"): on this
// machine for devices without a `host`, and over ssh for devices whose scenario entry names one.
// Either way the worker joins over the network like any other (control_client.hpp); these are only
// its processes. A local worker dies with the coordinator (PR_SET_PDEATHSIG), and an ssh session
// ends with it; a remote worker also stops on its own when its control connection closes.
// Torch-free.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "net.hpp"

namespace asteroid::exec {

struct WorkerCommand {
  Endpoint coordinator;
  std::string token_file;      // local workers read it; ssh workers get the token on standard input
  std::string token;           // for ssh workers
  std::string checkpoint_dir;  // local workers: a directory per device under it
  std::string remote_exec = "asteroid-exec";  // the program on a remote host
  std::string ssh = "ssh";                    // $ASTEROID_SSH, for tests
};

class WorkerProcesses {
 public:
  ~WorkerProcesses() { kill_all(); }

  // Starts `asteroid-exec worker ... --device NAME` here, or on `host` through ssh (host non-empty).
  // False (and `why`) when the process cannot be made.
  bool start(const WorkerCommand& c, const std::string& device, const std::string& host, std::string* why);

  // Reaps exited processes; for each newly exited one, a line: "cpu1 (local worker) exited with
  // status 2".
  std::vector<std::string> reap();
  // Waits up to `grace_s` for every process to exit, then kills the rest (SIGKILL). The number
  // killed.
  int finish(double grace_s);
  void kill_all();

  // How `device`'s local worker process ended, waiting up to `wait_s` for it to end: "worker died
  // (signal N)" when a signal killed it (from outside: a crash, an OOM kill), else "" (it exited
  // on its own, still runs, or is an ssh worker, whose end this machine does not see).
  std::string killed_by_signal(const std::string& device, double wait_s);
  // Whether `device`'s local worker process runs or waits (not stopped, not dead), from
  // /proc/PID/stat's state; false for an ssh worker.
  bool running(const std::string& device) const;
  // Kills `device`'s local worker process (SIGKILL): a paused process cannot obey a Leave.
  void kill_worker(const std::string& device);

 private:
  struct Proc {
    std::string device, host;
    pid_t pid = 0;
    bool exited = false;
    int status = 0;  // once exited
  };
  Proc* local(const std::string& device);
  std::vector<Proc> procs_;
};

}  // namespace asteroid::exec
