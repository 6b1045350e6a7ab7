// One simulated training run: the platform, one actor per device that interprets its Program, a
// heartbeat actor per device, the coordinator actor that drives the core Coordinator with simulated
// time, and the fault script. IMPORTANT: one Simulation per process (SimGrid keeps global state,
// docs/toolchain-notes.md S3); the sg4::Engine must exist, configured, before the Simulation is built.
//
// Semantics that are ours (sim/README.md):
// - Receives are posted when a device starts a round, so a message moves as soon as it is sent
//   (the receiver's buffers wait for it), and a send never waits for the receiver.
// - A round of the run is committed when every device of the plan finished it and its copies
//   (Replicate) landed; the Coordinator's checkpoint is the last committed round it replicated.
// - A device keeps its stage's state of the last checkpoint until the next one (a snapshot), so
//   that an interrupted round can be replayed on every survivor from the same weights.
#pragma once

#include <simgrid/s4u.hpp>

#include <array>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "asteroid/input/battery.hpp"
#include "asteroid/run/coordinator.hpp"
#include "asteroid/report/energy.hpp"
#include "asteroid/run/round_book.hpp"
#include "asteroid/report/run_report.hpp"
#include "asteroid/run/weight_ledger.hpp"
#include "messages.hpp"
#include "platform.hpp"

namespace asteroid::sim {

struct SimInput {
  std::string name;
  const CostModel* model = nullptr;
  Plan plan;
  FaultSpec faults;
  CoordinatorConfig coordinator;
  int rounds = 1;
  bool record_spans = true;
  // Per device (empty: none): its power model in its mode (backend_setup.hpp, device_powers) and
  // its battery (none: on mains). A battery drains by the power (battery.cpp).
  std::vector<std::optional<DevicePower>> power;
  std::vector<std::optional<BatterySpec>> batteries;
};

// What the run did; its summary is summarize_run(report) (run_summary.hpp).
struct SimResult {
  RunReport report;
};

class Simulation {
 public:
  explicit Simulation(SimInput in);
  SimResult run();

 private:
  // Messages of one direction (activations downstream, gradients upstream) leave a device one at a
  // time, in program order: the cost model's communication step is a FIFO channel per direction.
  struct SendQueue {
    std::deque<std::pair<std::string, uint64_t>> items;  // (mailbox, bytes); empty name: stop
    simgrid::s4u::SemaphorePtr ready = simgrid::s4u::Semaphore::create(0);
  };

  // One stage's all-reduce of one round: its members arrive, the last one runs the ring.
  struct RingState {
    int arrived = 0;
    simgrid::s4u::SemaphorePtr done = simgrid::s4u::Semaphore::create(0);
  };

  // Creates an actor that may be killed before its first turn, in the instant it is created: its
  // host turned off, or (epoch >= 0) the actors of its epoch aborted. SimGrid 3.32 still runs such
  // an actor and never answers its first blocking call; left blocked (and no daemon when its
  // creator died before daemonize()), it keeps the engine going after the run, to a "Deadlock
  // detected" (a device that leaves as its heartbeat sends). So its body ends at once, before any
  // SimGrid call.
  simgrid::s4u::ActorPtr spawn(const std::string& name, simgrid::s4u::Host* host, int epoch,
                               std::function<void()> body);

  // worker.cpp
  void worker(int device, int epoch, int plan_id, int first_round);
  void run_round(int device, int epoch, int plan_id, int round, const std::vector<Instruction>& list);
  void all_reduce(int epoch, int plan_id, int round, const Instruction& in);
  void wait_recv(const simgrid::s4u::CommPtr& comm, int device, int peer);
  void replicate(int device, int epoch, int round, const Instruction& in);
  void receive_replica(int device, int epoch, int round, const Instruction& in);
  void sender(std::shared_ptr<SendQueue> q);

  // simulation.cpp
  void device_round_done(int device, int epoch, int round);
  void replica_landed(int epoch, int round, int backup, int stage, int plan_id);
  void commit(const std::vector<RoundRecord>& committed);  // the round book's newly committed rounds
  void checkpointed();  // the Coordinator's checkpoint moved: prune, check and count the copies
  void start_workers(int plan_id, int first_round);
  void span(int device, const std::string& op, int stage, int mb, int round, double start);
  RunEvent& event(double time, EventKind kind, const std::string& device, const std::string& detail,
                  double duration_s = 0) {
    return result_.report.add_event(time, kind, device, detail, duration_s);
  }
  void fault_script();
  // A device goes away (leave, fence): its host off, its state gone; a failure event unless one
  // is already recorded since it (re)joined.
  void device_gone(int device, double now, const std::string& why, EventKind kind = EventKind::failure);
  const Program& program(int plan_id, int round) const;

  // control.cpp: the control path (heartbeats, notices, the coordinator actor)
  void coordinator_actor();
  void handle(ControlMessage& m);
  void heartbeats(int device);
  // Sends `m` from `device`'s host to the coordinator: it arrives after the control path's transit
  // time, unless the host goes off on the way. device < 0: from the coordinator host, at once.
  void post_control(int device, ControlMessage m);
  double control_transit_s(int device) const;
  // Stops the run: the reason as a stop event (and on the console, via the summary); exit status 1.
  void stop(const std::string& reason);

  // battery.cpp: each device's draw, by energy.hpp's activities, as the run goes
  struct Drain {
    int compute = 0, communication = 0;  // activities under way (overlapping ones count once)
    double since = 0;                    // when the draw last changed
    double used_J = 0;                   // drawn from the start to `since`
    bool on = true;                      // there (drawing); off once it left
    double left_s = 0;                   // when it last left (while off)
    std::string how;                     // the event it left by
  };
  // Marks an activity of `device` under way for its scope (the instruction's span).
  struct Busy {
    Simulation* sim;
    int device;
    Activity activity;
    Busy(Simulation* s, int d, Activity a) : sim(s), device(d), activity(a) { sim->busy(d, a, +1); }
    ~Busy() { sim->busy(device, activity, -1); }
    Busy(const Busy&) = delete;
    Busy& operator=(const Busy&) = delete;
  };
  void busy(int device, Activity a, int delta);
  void settle(int device);               // draws up to now at the present activity
  double drawn_J(int device) const;      // from the start of the run to now
  double watts(int device) const;        // at its present activity (0 when gone or no power model)
  void drain_on(int device, bool on);    // it arrives (joins) or leaves
  void battery_monitor(int device);      // leaves (energy_departure) when the charge reaches the floor
  void consider_departures();            // the proactive policy, at a checkpoint
  void finish_departures();              // switches off the devices whose planned departure is done
  void record_batteries();               // RunReport::batteries at the end
  std::vector<Drain> drain_;
  std::vector<bool> asked_to_leave_;     // the proactive policy asked for its departure once
  std::vector<bool> leaving_;            // a planned departure under way
  std::vector<std::string> leave_reason_;

  // recovery.cpp
  void carry_out(const std::vector<Action>& actions, double planning_wall_s);
  void rollback();
  // Kills every worker and state-transfer actor of the current epoch and starts a new epoch.
  void abort_round_actors();
  void transfer_state(const std::vector<StateTransfer>& transfers);

  SimInput in_;
  Platform platform_;
  Coordinator coord_;
  WeightLedger ledger_;
  std::vector<Program> plain_, replicated_;                        // by plan id
  std::vector<simgrid::s4u::ActorPtr> workers_;                    // device actors and their senders
  std::vector<std::array<std::shared_ptr<SendQueue>, 2>> queues_;  // per device: [0] F, [1] B
  std::vector<bool> host_on_;
  std::vector<bool> failure_recorded_;  // per device: a failure event since it (re)joined
  std::deque<ControlMessage> control_;  // arrived at the coordinator, not yet handled
  simgrid::s4u::MutexPtr control_mutex_ = simgrid::s4u::Mutex::create();
  simgrid::s4u::ConditionVariablePtr control_cv_ = simgrid::s4u::ConditionVariable::create();
  std::vector<simgrid::s4u::ActorPtr> transfer_actors_;  // of the state transfer under way
  // The ring steps in flight of every all-reduce: an aborted round cancels them before it kills
  // their actors (SimGrid prints a backtrace for a transfer freed while it runs).
  std::set<std::vector<simgrid::s4u::CommPtr>*> ring_steps_;
  size_t transfer_event_ = 0;                     // its state_transfer event
  std::set<std::pair<int, int>> overdue_logged_;  // (device, peer) notices already in the report
  double progress_s_ = 0;  // the last commit or resume: the stall timeout counts from it
  int epoch_ = 0;
  RoundBook book_;                 // which rounds are committed, which copy rounds whole (round_book.hpp)
  std::deque<CopyGate> copy_gates_;  // per device, of the current epoch: its copy in flight
  std::map<int, int> checkpoint_copies_;  // committed round that became a checkpoint -> fewest live copies
  std::map<std::tuple<int, int, int>, RingState> rings_;  // (epoch, round, stage) of an all-reduce under way
  bool finished_ = false;
  SimResult result_;
};

}  // namespace asteroid::sim
