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
#include <optional>
#include <set>
#include <thread>

#include "asteroid/json_reader.hpp"
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
      : s_(s), model_(model), o_(o), coord_(model, first.plan, o.coordinator) {}

  LaunchOutcome run();

 private:
  enum class End { finished, failed_over, stopped };

  // One generation: make the job of the Coordinator's current plan, start its workers, watch them.
  End generation();
  ExecJob make_job() const;
  void spawn(const ExecJob& job, const std::string& job_file);
  End watch();
  // Steps of watch(), each returning an End when the generation ends there.
  void on_ready(double now);
  void inject_faults(double now);
  std::optional<End> carry_out(const std::vector<Action>& actions, double decided_s, double now);
  std::optional<End> reap_exits();

  void stop_all();
  void read_pipes(double t);
  void merge_logs(int generation, int last_round);
  int round_in_progress() const;  // the first round not every active worker has reported
  double t() const {              // seconds since training started (before: since the launch)
    return std::chrono::duration<double>(Clock::now() - origin_).count() - training_start_;
  }
  RunEvent& event(double time, EventKind kind, const std::string& device, const std::string& detail,
                  double duration = 0) {
    return out_.report.add_event(time, kind, device, detail, duration);
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
  End stop(const std::string& why, int status = 1) {
    out_.stop_why = why;
    out_.status = status;
    return End::stopped;
  }
  // Stops the generation's workers, keeps the rounds they all finished up to `last_round`, stops.
  End stop_after(int last_round, const std::string& why, int status = 1) {
    stop_all();
    merge_logs(generation_, last_round);
    return stop(why, status);
  }

  const Scenario& s_;
  const CostModel& model_;
  const LaunchOptions& o_;
  Coordinator coord_;
  LaunchOutcome out_;
  Clock::time_point origin_ = Clock::now();
  double training_start_ = 0;  // on the origin's clock: when generation 0 was ready
  bool coordinating_ = false;
  bool all_ready_ = false;
  int generation_ = 0, start_round_ = 0;
  int generation_plan_ = 0;  // the plan id the current generation runs
  std::vector<JobTransfer> transfers_;
  double transfer_bytes_ = 0;  // of transfers_
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
  std::vector<Action> pending_;           // decided by the Coordinator, not yet carried out
  double decided_s_ = 0;
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

int Launcher::round_in_progress() const {
  int r = start_round_;
  for (auto it = rounds_seen_.find(r); it != rounds_seen_.end() && it->second.finishers >= active_;
       it = rounds_seen_.find(++r)) {
  }
  return r;
}

// Every live device runs a worker: those in the plan train, backups receive copies, sources of
// moving state send it, the rest only beat.
ExecJob Launcher::make_job() const {
  ExecJob job;
  job.scenario = o_.scenario_path;
  job.plan = plan_to_json(coord_.plan(), model_.cluster());
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
  return job;
}

Launcher::End Launcher::generation() {
  ExecJob job = make_job();
  if (job.store_port == 0) return stop("cannot find a free TCP port on 127.0.0.1");
  std::string job_file = o_.out_dir + "/job.g" + std::to_string(generation_) + ".json";
  if (auto w = write_file_atomically(job_file, job_to_json(job).dump(1) + "\n"); !w)
    return stop(w.error().str());
  generation_plan_ = coord_.plan_id();
  Program program = make_program(model_, coord_.plan(), job.replicas);
  active_ = 0;
  for (int d : job.workers) active_ += program.device[d].empty() ? 0 : 1;
  rounds_seen_.clear();
  all_ready_ = false;
  spawn(job, job_file);
  if (!out_.stop_why.empty()) return End::stopped;
  if (coordinating_)
    for (int d : job.workers)
      decide([&] { return coord_.heartbeat(d, t()); });  // their processes are starting
  return watch();
}

Launcher::End Launcher::watch() {
  auto deadline = origin_ + std::chrono::duration<double>(o_.timeout_s);
  for (;;) {
    double now = t();
    read_pipes(now);
    // A worker still loading libtorch cannot beat yet; its process is running, so it is alive.
    if (coordinating_)
      for (const Proc& p : procs_)
        if (!p.ready && !p.exited && !p.killed) decide([&] { return coord_.heartbeat(p.device, now); });
    if (!all_ready_ &&
        std::all_of(procs_.begin(), procs_.end(), [](const Proc& p) { return p.ready || p.killed; }))
      on_ready(now);
    now = t();
    inject_faults(now);
    if (coordinating_) {
      decide([&] { return coord_.tick(now); });
      std::vector<Action> actions = std::move(pending_);
      pending_.clear();
      if (!actions.empty()) return carry_out(actions, decided_s_, now).value_or(End::failed_over);
    }
    if (auto end = reap_exits()) return *end;
    if (Clock::now() > deadline)
      return stop_after(o_.rounds - 1, "the run did not finish within " + std::to_string(int(o_.timeout_s)) +
                                           " s (--timeout); workers stopped");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// Every worker of the generation has its state in place: training starts (generation 0) or
// resumes after a recovery.
void Launcher::on_ready(double now) {
  all_ready_ = true;
  if (generation_ == 0) {
    training_start_ = std::chrono::duration<double>(Clock::now() - origin_).count();
    now = t();
    coord_.start(now);
    for (const Proc& p : procs_) decide([&] { return coord_.heartbeat(p.device, now); });
    coordinating_ = true;
    return;
  }
  event(recovery_started_, EventKind::state_transfer, "",
        "workers restarted on plan " + std::to_string(coord_.plan_id()) + ", " +
            std::to_string(transfers_.size()) + " layer ranges moved",
        now - recovery_started_)
      .bytes = transfer_bytes_;
  for (const Action& a : coord_.state_transferred(now)) {
    if (a.kind == ActionKind::replay_round)
      event(now, EventKind::replay, "", a.detail).round = a.round;
    else
      event(now, EventKind::resume, "", a.detail);
  }
}

// A leave event of the scenario kills that device's worker at its time.
void Launcher::inject_faults(double now) {
  for (size_t i = 0; coordinating_ && i < s_.faults.events.size(); ++i) {
    const FaultEvent& f = s_.faults.events[i];
    if (faults_done_.count(i) || now < f.time_s) continue;
    faults_done_.insert(i);
    int d = s_.device_index(f.device);
    for (Proc& p : procs_)
      if (p.device == d && !p.exited) {
        kill(p.pid, SIGKILL);
        p.killed = true;
        event(now, EventKind::failure, f.device, "worker killed (leave)").round = round_in_progress();
      }
  }
}

// The Coordinator's actions, as asteroid-sim carries them out (sim/src/recovery.cpp). A failure
// ends the generation: the survivors may be blocked on the dead peer, so they are stopped and the
// next generation starts on the new plan.
std::optional<Launcher::End> Launcher::carry_out(const std::vector<Action>& actions, double decided_s,
                                                 double now) {
  for (const Action& a : actions) {
    switch (a.kind) {
      case ActionKind::declare_failed:
        event(now, EventKind::detection, s_.devices[a.device].name, a.detail);
        break;
      case ActionKind::replan:
        event(now, EventKind::replan, "", a.detail, decided_s);
        if (a.plan_id < 0)
          return stop_after(coord_.last_checkpoint(), "no plan fits on the survivors: " + a.detail);
        break;
      case ActionKind::move_layers: event(now, EventKind::move_layers, "", a.detail); break;
      case ActionKind::transfer_state:
        transfers_.clear();
        transfer_bytes_ = 0;
        for (const StateTransfer& x : a.transfers) {
          if (x.from < 0)
            return stop_after(coord_.last_checkpoint(),
                              "layers " + std::to_string(x.first_layer) + "-" + std::to_string(x.last_layer) +
                                  " have no copy on a live device: their trained weights are lost");
          transfers_.push_back({x.from, x.to, x.first_layer, x.last_layer});
          transfer_bytes_ += x.bytes;
        }
        break;
      case ActionKind::replay_round:  // the next generation's workers load the checkpoint and replay
      case ActionKind::resume:        // they resume when their state is in place (on_ready)
        break;
    }
  }
  stop_all();
  merge_logs(generation_, coord_.last_checkpoint());
  start_round_ = coord_.last_checkpoint() + 1;
  recovery_started_ = t();
  ++generation_;
  return std::nullopt;
}

// Exits: every worker done ends the generation; any other exit is an error.
std::optional<Launcher::End> Launcher::reap_exits() {
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
        return stop_after(
            o_.rounds - 1,
            "worker " + s_.devices[p.device].name + " " + why + "; the other workers were stopped",
            WIFEXITED(status) && WEXITSTATUS(status) == 2 ? 2 : 1);
      }
    }
  }
  if (!std::all_of(procs_.begin(), procs_.end(), [](const Proc& p) { return p.exited; })) return std::nullopt;
  read_pipes(t());
  for (Proc& p : procs_)
    if (p.pipe >= 0) close(p.pipe), p.pipe = -1;
  merge_logs(generation_, o_.rounds - 1);
  if (std::any_of(procs_.begin(), procs_.end(), [](const Proc& p) { return p.killed; }) &&
      int(out_.report.rounds.size()) < o_.rounds)
    return stop("a worker was killed and the others finished without it");
  return End::finished;
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
    RoundRecord record;
    record.round = r;
    record.start = start;
    record.end = it->second.end;
    record.samples = s_.training.batch_size;
    record.plan_id = generation_plan_;
    record.loss = it->second.loss;
    rep.rounds.push_back(record);
  }
  std::remove((o_.out_dir + "/job.g" + std::to_string(generation) + ".json").c_str());
}

LaunchOutcome Launcher::run() {
  RunReport& rep = out_.report;
  rep.scenario = s_.name;
  rep.backend = "exec";
  for (const DeviceSpec& d : s_.devices) rep.devices.push_back(d.name);
  rep.peak_memory_bytes.assign(rep.devices.size(), 0);
  rep.rounds_planned = o_.rounds;
  while (generation() == End::failed_over) {
  }
  for (const Evaluation& ev : coord_.plans())
    rep.plans.push_back({ev.plan, ev.round_latency_s, ev.throughput_samples_per_s, ev.schedule_latency_s});
  rep.end_s = rep.rounds.empty() ? 0 : rep.rounds.back().end;
  if (!out_.stop_why.empty()) {
    rep.end_s = std::max(rep.end_s, t());
    event(rep.end_s, EventKind::stop, "", out_.stop_why);
  }
  return out_;
}

}  // namespace

LaunchOutcome launch(const Scenario& s, const CostModel& model, const Evaluation& first,
                     const LaunchOptions& o) {
  return Launcher(s, model, first, o).run();
}

}  // namespace asteroid::exec
