#include "launcher.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <thread>

#include "asteroid/json_reader.hpp"
#include "asteroid/strategies.hpp"
#include "exec_job.hpp"

namespace asteroid::exec {
namespace {

using Clock = std::chrono::steady_clock;

// A TCP port nobody listens on now (the store binds it a moment later).
int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  bool ok = fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
            getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  if (fd >= 0) close(fd);
  return ok ? ntohs(addr.sin_port) : 0;
}

struct Proc {
  int device = 0;
  pid_t pid = 0;
  int pipe = -1;
  std::string buffer;
  bool exited = false, killed = false, ready = false;
};

class Launcher {
 public:
  Launcher(const Scenario& s, const CostModel& model, const Evaluation& first, const LaunchOptions& o)
      : s_(s), model_(model), o_(o), coord_(model, first.plan, config(s, o)) {}

  LaunchOutcome run();

 private:
  static CoordinatorConfig config(const Scenario& s, const LaunchOptions& o) {
    CoordinatorConfig c;
    c.heartbeat_interval_s = s.faults.heartbeat_interval_s;
    c.missed_heartbeats = s.faults.missed_heartbeats;
    c.replication_interval_rounds = s.faults.replication_interval_rounds;
    c.replicate = !s.faults.events.empty();
    parse_recovery(s.faults.recovery, &c.recovery);
    c.planner = planner_options(s);
    c.rounds = o.rounds;
    return c;
  }

  enum class End { finished, failed_over, stopped };
  End generation();
  void spawn(const ExecJob& job, const std::string& job_file);
  void stop_all();
  void read_pipes(double t);
  void merge_logs(int generation, int last_round);
  double t() const {  // seconds since training started (before: since the launch)
    return std::chrono::duration<double>(Clock::now() - origin_).count() - training_start_;
  }
  void event(double time, const std::string& kind, const std::string& device, const std::string& detail,
             double duration = 0) {
    out_.report.events.push_back({time, kind, device, detail, duration});
  }
  // Calls the Coordinator; keeps what it decides, and how long deciding took, for the loop.
  template <class F>
  void decide(F&& f) {
    auto t0 = Clock::now();
    std::vector<Action> a = f();
    if (a.empty()) return;
    decided_s_ = std::chrono::duration<double>(Clock::now() - t0).count();
    pending_.insert(pending_.end(), a.begin(), a.end());
  }
  void stop(const std::string& why, int status = 1) {
    out_.stop_why = why;
    out_.status = status;
  }

  const Scenario& s_;
  const CostModel& model_;
  const LaunchOptions& o_;
  Coordinator coord_;
  LaunchOutcome out_;
  Clock::time_point origin_ = Clock::now();
  double training_start_ = 0;  // on the origin's clock: when generation 0 was ready
  bool coordinating_ = false;
  int generation_ = 0, start_round_ = 0;
  int generation_plan_ = 0;  // the plan id the current generation runs
  std::vector<JobTransfer> transfers_;
  std::vector<Proc> procs_;
  std::set<size_t> faults_done_;
  struct RoundSeen {
    int finishers = 0;  // active workers that reported it
    double end = 0;     // the last of their ends, from the start of training
    double loss = 0;    // summed over the last stage's devices
  };
  std::map<int, RoundSeen> rounds_seen_;  // this generation's rounds
  int active_ = 0;                        // workers with instructions this generation
  double recovery_started_ = -1;          // when the generation after a failure was started
  std::vector<nlohmann::json> failures_;
  std::vector<Action> pending_;  // decided by the Coordinator, not yet carried out
  double decided_s_ = 0;
  std::vector<std::pair<int, int>> kept_rounds_;  // (generation, last round kept from it)
};

void Launcher::spawn(const ExecJob& job, const std::string& job_file) {
  procs_.clear();
  for (int d : job.workers) {
    int fds[2];
    if (pipe(fds) != 0) {
      stop("cannot create a pipe");
      return;
    }
    pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      setenv("ASTEROID_EXEC_PIPE_FD", std::to_string(fds[1]).c_str(), 1);
      setenv("OPENBLAS_NUM_THREADS", "1", 1);
      setenv("OMP_NUM_THREADS", "1", 1);
      std::string dev = std::to_string(d);
      execl("/proc/self/exe", "asteroid-exec", "--worker", job_file.c_str(), dev.c_str(), (char*)nullptr);
      _exit(127);
    }
    close(fds[1]);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    Proc p;
    p.device = d;
    p.pid = pid;
    p.pipe = fds[0];
    procs_.push_back(p);
  }
}

void Launcher::stop_all() {
  for (Proc& p : procs_)
    if (!p.exited) kill(p.pid, SIGKILL);
  for (Proc& p : procs_) {
    if (!p.exited) waitpid(p.pid, nullptr, 0);
    p.exited = true;
    if (p.pipe >= 0) close(p.pipe);
    p.pipe = -1;
  }
}

void Launcher::read_pipes(double now) {
  for (Proc& p : procs_) {
    if (p.pipe < 0) continue;
    char buf[4096];
    ssize_t n;
    while ((n = read(p.pipe, buf, sizeof buf)) > 0) p.buffer.append(buf, size_t(n));
    size_t at;
    while ((at = p.buffer.find('\n')) != std::string::npos) {
      std::string line = p.buffer.substr(0, at);
      p.buffer.erase(0, at + 1);
      if (p.killed) continue;  // lines a killed worker left in its pipe
      if (line == "h") {
        // A beat may be what finds another device overdue: its actions are kept, not dropped.
        if (coordinating_) decide([&] { return coord_.heartbeat(p.device, now); });
      } else if (line == "s") {
        p.ready = true;
      } else if (line.rfind("r ", 0) == 0) {
        int r = 0;
        double end = 0;
        char loss[64] = "-";
        if (std::sscanf(line.c_str(), "r %d %lf %63s", &r, &end, loss) < 2) continue;
        RoundSeen& seen = rounds_seen_[r];
        seen.end = std::max(seen.end, end - training_start_);
        if (loss[0] != '-') seen.loss += std::atof(loss);
        if (++seen.finishers == active_ && coordinating_) {
          coord_.round_done(r, now);
          if (coord_.begin_copies(r)) coord_.copies_landed(r);  // copies are part of the round here
        }
      }
    }
  }
}

Launcher::End Launcher::generation() {
  // Every live device runs a worker: those in the plan train, backups receive copies, sources of
  // moving state send it, the rest only beat.
  ExecJob job;
  job.scenario = o_.scenario_path;
  job.plan = plan_to_json(coord_.plans().back().plan, model_.cluster());
  job.rounds = o_.rounds;
  job.learning_rate = o_.learning_rate;
  job.seed = o_.seed;
  job.store_port = free_port();
  job.timeout_s = std::max(30.0, std::min(o_.timeout_s, 300.0));
  job.out_dir = o_.out_dir;
  job.generation = generation_;
  job.start_round = start_round_;
  job.origin_ns = origin_.time_since_epoch().count();
  for (const StagePlan& sp : coord_.plan().stages)
    for (int d : sp.devices) job.workers.push_back(d);
  for (int d = 0; d < model_.num_devices(); ++d)
    if (coord_.alive(d) && std::find(job.workers.begin(), job.workers.end(), d) == job.workers.end())
      job.workers.push_back(d);
  job.replicas = coord_.replicas();
  job.replicate_every =
      coord_.config().replicate ? std::max(1, coord_.config().replication_interval_rounds) : 0;
  job.transfers = transfers_;
  job.heartbeat_interval_s = coord_.config().heartbeat_interval_s;
  job.survive_peer_failure = !s_.faults.events.empty();
  if (job.store_port == 0) {
    stop("cannot find a free TCP port on 127.0.0.1");
    return End::stopped;
  }
  std::string job_file = o_.out_dir + "/job.g" + std::to_string(generation_) + ".json";
  if (auto w = write_file_atomically(job_file, job_to_json(job).dump(1) + "\n"); !w) {
    stop(w.error().str());
    return End::stopped;
  }
  generation_plan_ = coord_.plan_id();
  Program program = make_program(model_, coord_.plan(), job.replicas);
  active_ = 0;
  for (int d : job.workers) active_ += program.device[d].empty() ? 0 : 1;
  rounds_seen_.clear();
  spawn(job, job_file);
  if (!out_.stop_why.empty()) return End::stopped;
  if (coordinating_)
    for (int d : job.workers)
      decide([&] { return coord_.heartbeat(d, t()); });  // their processes are starting

  auto deadline = origin_ + std::chrono::duration<double>(o_.timeout_s);
  bool all_ready = false;
  for (;;) {
    double now = t();
    read_pipes(now);
    // A worker still loading libtorch cannot beat yet; its process is running, so it is alive.
    if (coordinating_)
      for (const Proc& p : procs_)
        if (!p.ready && !p.exited && !p.killed) decide([&] { return coord_.heartbeat(p.device, now); });
    if (!all_ready &&
        std::all_of(procs_.begin(), procs_.end(), [](const Proc& p) { return p.ready || p.killed; })) {
      all_ready = true;
      if (generation_ == 0) {
        training_start_ = std::chrono::duration<double>(Clock::now() - origin_).count();
        now = t();
        coord_.start(now);
        for (const Proc& p : procs_) decide([&] { return coord_.heartbeat(p.device, now); });
        coordinating_ = true;
      } else {
        event(recovery_started_, "state_transfer", "",
              "workers restarted on plan " + std::to_string(coord_.plan_id()) + ", " +
                  std::to_string(transfers_.size()) + " layer ranges moved",
              now - recovery_started_);
        for (const Action& a : coord_.state_transferred(now))
          event(now, a.kind == ActionKind::replay_round ? "replay" : "resume", "", a.detail);
        if (!failures_.empty()) failures_.back()["restart_and_transfer_s"] = now - recovery_started_;
      }
    }
    // Faults: a leave event kills that device's worker.
    for (size_t i = 0; coordinating_ && i < s_.faults.events.size(); ++i) {
      const FaultEvent& f = s_.faults.events[i];
      if (faults_done_.count(i) || now < f.time_s) continue;
      faults_done_.insert(i);
      int d = s_.device_index(f.device);
      for (Proc& p : procs_)
        if (p.device == d && !p.exited) {
          kill(p.pid, SIGKILL);
          p.killed = true;
          event(now, "failure", f.device, "worker killed (leave)");
          failures_.push_back({{"device", f.device}, {"failure_s", now}});
        }
    }
    if (coordinating_) {
      decide([&] { return coord_.tick(now); });
      std::vector<Action> actions = std::move(pending_);
      pending_.clear();
      double decided = decided_s_;
      if (!actions.empty()) {
        for (const Action& a : actions) {
          if (a.kind == ActionKind::declare_failed) {
            event(now, "detection", s_.devices[a.device].name, a.detail);
            if (!failures_.empty())
              failures_.back()["detection_s"] = now - failures_.back()["failure_s"].get<double>();
          } else if (a.kind == ActionKind::replan) {
            event(now, "replan", "", a.detail, decided);
            if (!failures_.empty()) failures_.back()["replan_s"] = decided;
            if (a.plan_id < 0) {
              stop_all();
              merge_logs(generation_, coord_.last_checkpoint());
              stop("no plan fits on the survivors: " + a.detail);
              return End::stopped;
            }
          } else if (a.kind == ActionKind::move_layers) {
            event(now, "move_layers", "", a.detail);
          } else if (a.kind == ActionKind::transfer_state) {
            transfers_.clear();
            double bytes = 0;
            for (const StateTransfer& x : a.transfers) {
              if (x.from < 0) {
                stop_all();
                merge_logs(generation_, coord_.last_checkpoint());
                stop("layers " + std::to_string(x.first_layer) + "-" + std::to_string(x.last_layer) +
                     " have no copy on a live device: their trained weights are lost");
                return End::stopped;
              }
              transfers_.push_back({x.from, x.to, x.first_layer, x.last_layer});
              bytes += x.bytes;
            }
            if (!failures_.empty()) failures_.back()["state_transfer_bytes"] = bytes;
          }
        }
        // The survivors may be blocked on the dead peer: stop them and start over on the new plan.
        stop_all();
        merge_logs(generation_, coord_.last_checkpoint());
        if (!failures_.empty()) failures_.back()["replay_round"] = coord_.last_checkpoint() + 1;
        start_round_ = coord_.last_checkpoint() + 1;
        recovery_started_ = t();
        ++generation_;
        return End::failed_over;
      }
    }
    // Exits: every worker done ends the generation; any other exit is an error.
    int status = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
      for (Proc& p : procs_) {
        if (p.pid != pid) continue;
        p.exited = true;
        if (p.killed) break;
        if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
          std::string why = WIFEXITED(status) ? "exited with status " + std::to_string(WEXITSTATUS(status))
                                              : "was killed by signal " + std::to_string(WTERMSIG(status));
          stop_all();
          merge_logs(generation_, o_.rounds - 1);
          stop("worker " + s_.devices[p.device].name + " " + why + "; the other workers were stopped",
               WIFEXITED(status) && WEXITSTATUS(status) == 2 ? 2 : 1);
          return End::stopped;
        }
      }
    }
    if (std::all_of(procs_.begin(), procs_.end(), [](const Proc& p) { return p.exited; })) {
      read_pipes(t());
      for (Proc& p : procs_)
        if (p.pipe >= 0) close(p.pipe), p.pipe = -1;
      merge_logs(generation_, o_.rounds - 1);
      if (std::any_of(procs_.begin(), procs_.end(), [](const Proc& p) { return p.killed; }) &&
          int(out_.report.rounds.size()) < o_.rounds) {
        stop("a worker was killed and the others finished without it");
        return End::stopped;
      }
      return End::finished;
    }
    if (Clock::now() > deadline) {
      stop_all();
      merge_logs(generation_, o_.rounds - 1);
      stop("the run did not finish within " + std::to_string(int(o_.timeout_s)) +
           " s (--timeout); workers stopped");
      return End::stopped;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// Adds the rounds up to `last_round` that every active worker of `generation` reported finished,
// and the spans of the workers' logs (all of them: work thrown away by a failure is work done), to
// the report.
void Launcher::merge_logs(int generation, int last_round) {
  RunReport& rep = out_.report;
  int first_round = rep.rounds.empty() ? 0 : rep.rounds.back().round + 1;
  for (const Proc& p : procs_) {
    std::string file = worker_log_path(o_.out_dir, s_.devices[p.device].name, generation);
    auto j = read_json_file(file);
    if (!j) continue;
    auto w = worker_log_from_json(j.value(), file);
    if (!w) continue;
    rep.peak_memory_bytes[p.device] = std::max(rep.peak_memory_bytes[p.device], w->peak_rss_bytes);
    for (Span sp : w->spans) {
      sp.device = p.device;
      sp.start -= training_start_;
      sp.end -= training_start_;
      rep.spans.push_back(sp);
    }
    std::remove(file.c_str());
  }
  for (int r = first_round; r <= last_round; ++r) {
    auto it = rounds_seen_.find(r);
    if (it == rounds_seen_.end() || it->second.finishers < active_) break;
    double start = rep.rounds.empty() ? 0 : rep.rounds.back().end;
    rep.rounds.push_back({r, start, it->second.end, s_.training.batch_size, generation_plan_});
    out_.loss_per_round.push_back(it->second.loss);
  }
  std::remove((o_.out_dir + "/job.g" + std::to_string(generation) + ".json").c_str());
}

LaunchOutcome Launcher::run() {
  RunReport& rep = out_.report;
  rep.scenario = s_.name;
  rep.backend = "exec";
  for (const DeviceSpec& d : s_.devices) rep.devices.push_back(d.name);
  rep.peak_memory_bytes.assign(rep.devices.size(), 0);
  for (;;) {
    End e = generation();
    if (e != End::failed_over) break;
  }
  for (const Evaluation& ev : coord_.plans()) rep.plans.push_back(plan_to_json(ev.plan, model_.cluster()));
  out_.failures = failures_;
  return out_;
}

}  // namespace

LaunchOutcome launch(const Scenario& s, const CostModel& model, const Evaluation& first,
                     const LaunchOptions& o) {
  return Launcher(s, model, first, o).run();
}

}  // namespace asteroid::exec
