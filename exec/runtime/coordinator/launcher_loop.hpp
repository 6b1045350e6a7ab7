// The launcher's state and steps (launcher.hpp), shared by the files that implement them:
// launcher.cpp (the generations and the watch loop), launcher_faults.cpp (the scenario's leaves
// and joins, and the Coordinator's decisions carried out) and launcher_batteries.cpp (batteries
// drained, departures). Internal to asteroid-exec. Torch-free.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "asteroid/planning/plan_energy.hpp"
#include "asteroid/run/round_book.hpp"
#include "eval_tally.hpp"
#include "exec_job.hpp"
#include "launcher.hpp"

namespace asteroid::exec::detail {

// A worker of the current generation, as the launcher sees it.
struct Peer {
  int device = 0;
  bool ready = false, done = false;
  bool killed = false;      // by the scenario's leave event
  bool lost = false;        // its control connection closed on its own
  bool restarting = false;  // told to stop; its fresh process has not said so yet
  bool peer_lost = false;   // it lost a Gloo peer (expected after a failure)
  bool gone() const { return killed || lost; }
};

class Launcher {
 public:
  Launcher(const Scenario& s, const CostModel& model, const Evaluation& first, const LaunchOptions& o,
           ControlServer& server, WorkerProcesses& processes, Console& console)
      : s_(s),
        model_(model),
        o_(o),
        coord_(model, first.plan, o.coordinator),
        server_(server),
        processes_(processes),
        console_(console) {}

  LaunchOutcome run();

 private:
  enum class End { finished, failed_over, stopped };

  // One generation: make the job of the Coordinator's current plan, hand it out, watch the workers.
  End generation();
  ExecJob make_job() const;
  bool restart_survivors();
  End watch();
  // Steps of watch(), each returning an End when the generation ends there.
  void handle(const ServerEvent& e, double now);
  void on_round(int device, const Round& r);
  void on_copy_landed(const CopyLanded& c);
  void announce_checkpoint();  // to every worker of the generation, when it moved
  void on_ready(double now);
  void inject_faults(double now);
  std::optional<End> carry_out(const std::vector<Action>& actions, double decided_s, double now);
  std::optional<End> check_end();
  void beat_for_the_silent(double now);
  bool bring_back(int device, double now);
  bool plan_stays(const std::vector<Action>& actions) const;

  // Batteries (launcher_batteries.cpp): each battery device's drain, a reported round at a time
  // (modelled from its spans, or its rail's measurement) and in between at the running plan's
  // predicted power; the floor ends its part (an energy departure); under the proactive policy the
  // Coordinator's forecast moves its work away first (a planned departure).
  void account_round(int device, const Round& r);
  double drawn_J(int device, double now);
  void drain_off(int device, double now, EventKind how);
  void drain_on(int device, double now);
  std::optional<End> watch_batteries(double now);
  void consider_departures(double now);
  void finish_departures(double now);
  void record_batteries();

  void stop_generation();  // every live worker restarts (its process may be stuck on a dead peer)
  void finish_all();       // every worker is told the run is over; waits for them to go
  void merge(int last_round);
  void progress(const RoundRecord& committed);  // the console's line for a committed round
  void check_prediction();
  int round_in_progress() const { return book_.next_round(); }  // the first round not committed
  Peer* peer(int device) {
    for (Peer& p : peers_)
      if (p.device == device) return &p;
    return nullptr;
  }
  // Seconds since training started, on the run's clock: real time, or real time / the time
  // dilation of an emulated run (the Coordinator, the events and the report all read this clock).
  double dilation() const { return o_.clock_scale(); }
  double t() const { return (now_s() - origin_s_ - training_start_) / dilation(); }
  double worker_t(int device, int64_t ns) const {
    return (server_.link(device).to_coordinator_s(ns) - origin_s_ - training_start_) / dilation();
  }
  const std::string& name(int d) const { return s_.devices[d].name; }
  RunEvent& event(double time, EventKind kind, const std::string& device, const std::string& detail,
                  double duration = 0) {
    if (kind != EventKind::stop)
      console_.line(fmt("%9.3f s  ", time) + to_string(kind) + "  " + (device.empty() ? "" : device + ": ") +
                    detail);
    return out_.report.add_event(time, kind, device, detail, duration);
  }
  // Calls the Coordinator; keeps what it decides, and how long deciding took, for the loop.
  template <class F>
  void decide(F&& f) {
    double t0 = now_s();
    std::vector<Action> a = f();
    if (a.empty()) return;
    decided_s_ = now_s() - t0;
    pending_.insert(pending_.end(), a.begin(), a.end());
  }
  bool interrupted() const { return o_.interrupted && *o_.interrupted; }
  End stop(const std::string& why, int status = 1) {
    if (out_.stop_why.empty()) {
      out_.stop_why = why;
      out_.status = status;
    }
    return End::stopped;
  }
  // Keeps the rounds every worker finished up to `last_round`, and stops.
  End stop_after(int last_round, const std::string& why, int status = 1) {
    merge(last_round);
    return stop(why, status);
  }

  const Scenario& s_;
  const CostModel& model_;
  const LaunchOptions& o_;
  Coordinator coord_;
  ControlServer& server_;
  WorkerProcesses& processes_;
  Console& console_;
  LaunchOutcome out_;
  const double origin_s_ = now_s();
  double training_start_ = 0;  // on the origin's clock: when generation 0 was ready
  double next_beat_ = 0;
  bool started_ = false, coordinating_ = false, all_ready_ = false, finishing_ = false;
  int generation_ = 0, start_round_ = 0;
  int generation_plan_ = 0;  // the plan id the current generation runs
  std::vector<JobTransfer> transfers_;
  double transfer_bytes_ = 0;  // of transfers_
  std::vector<Peer> peers_;
  std::vector<Span> spans_;  // this generation's
  std::set<size_t> faults_done_;
  std::set<int> returning_;  // devices whose worker was started again and has not joined yet
  RoundBook book_{s_.training.batch_size};  // which rounds are committed, which copy rounds whole
  int announced_checkpoint_ = -1;         // the last checkpoint the workers were told of
  EvalTally evals_{double(std::max<int64_t>(1, o_.train_samples / s_.training.batch_size))};
  int active_ = 0;                // workers with instructions this generation
  double recovery_started_ = -1;  // when the generation after a failure was started
  std::vector<Action> pending_;   // decided by the Coordinator, not yet carried out
  double decided_s_ = 0;
  std::optional<Failed> failed_;  // a worker that cannot go on, and its device
  int failed_device_ = -1;
  bool prediction_checked_ = false;
  std::vector<double> checkpoint_bytes_;  // per device, the most seen
  // A battery device's drain, on the run's clock (launcher_batteries.cpp).
  struct Drain {
    bool on = true;     // in the run (drawing); off once it left, until it joins again
    double J = 0;       // drawn up to `until`
    double until = 0;   // the end of its last reported round (or when it left or joined)
    double last_round_J = 0;  // its last reported round's energy, the wait before it included
    double last_W = 0;        // that over its time: its mean power in its last reported round
    int last_plan = -1;       // the plan that round ran
    bool measured = false;  // some of J is its rail's measurement
    std::optional<double> left_s;
    EventKind how = EventKind::energy_departure;
    bool asked = false;    // the forecast asked it to leave (once)
    bool leaving = false;  // its planned departure is under way
    std::string why;       // the forecast's figures
  };
  std::vector<std::optional<DevicePower>> power_;  // per device: its power model in its mode
  std::vector<Drain> drains_;
  PlanEnergy plan_energy_;    // the predicted energy of plan plan_energy_id_
  int plan_energy_id_ = -1;
};

}  // namespace asteroid::exec::detail
