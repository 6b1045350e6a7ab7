#include "simulation.hpp"

#include <simgrid/Exception.hpp>

#include <algorithm>

#include "asteroid/input/units.hpp"
#include "messages.hpp"

namespace sg4 = simgrid::s4u;

namespace asteroid::sim {

Simulation::Simulation(SimInput in)
    : in_(std::move(in)),
      platform_(build_platform(in_.model->cluster(), in_.faults)),
      coord_(*in_.model, in_.plan, in_.coordinator),
      ledger_(in_.model->num_devices(), in_.model->num_layers()),
      book_(in_.model->options().batch_size) {
  const int n = in_.model->num_devices();
  host_on_.assign(n, true);
  for (int d : in_.coordinator.absent) host_on_[d] = false;
  failure_recorded_.assign(n, false);
  drain_.assign(n, Drain{});
  for (int d = 0; d < n; ++d) drain_[d].on = host_on_[d];
  asked_to_leave_.assign(n, false);
  leaving_.assign(n, false);
  leave_reason_.assign(n, "");
  queues_.resize(n);
  // The initial weights come from the run's seed: every device (and the coordinator) can make them.
  for (int d = 0; d <= n; ++d) ledger_.add(d, 0, in_.model->num_layers() - 1, 0);
  result_.report.scenario = in_.name;
  result_.report.backend = "sim";
  result_.report.rounds_planned = in_.rounds;
  for (const Device& d : in_.model->cluster().devices) result_.report.devices.push_back(d.name);
}

const Program& Simulation::program(int plan_id, int round) const {
  return coord_.replicates_after(round) ? replicated_.at(plan_id) : plain_.at(plan_id);
}

void Simulation::span(int device, const std::string& op, int stage, int mb, int round, double start) {
  if (!in_.record_spans) return;
  result_.report.spans.push_back({device, op, stage, mb, round, start, sg4::Engine::get_clock()});
}

sg4::ActorPtr Simulation::spawn(const std::string& name, sg4::Host* host, int epoch,
                                std::function<void()> body) {
  return sg4::Actor::create(name, host, [this, epoch, body = std::move(body)] {
    if (sg4::this_actor::get_host()->is_on() && (epoch < 0 || epoch == epoch_)) body();
  });
}

void Simulation::start_workers(int plan_id, int first_round) {
  // Programs of a new plan are made when it is first used; the coordinator's replicas are the
  // ones of its newest plan.
  while (int(plain_.size()) <= plan_id) {
    const Plan& p = coord_.plans()[plain_.size()].plan;
    plain_.push_back(make_program(*in_.model, p));
    replicated_.push_back(make_program(*in_.model, p, coord_.replicas()));
  }
  const int epoch = epoch_;
  // Every device with work runs: the plan's devices, and an idle device that keeps a copy. A host
  // already off (its device left and is not declared yet) runs nothing: the round cannot finish
  // without it, and the coordinator's detection aborts it.
  int workers = 0;
  copy_gates_.clear();  // CopyGate holds an atomic: built in place
  for (int d = 0; d < in_.model->num_devices(); ++d) copy_gates_.emplace_back();
  for (int d = 0; d < in_.model->num_devices(); ++d)
    if (!plain_[plan_id].device[d].empty() || !replicated_[plan_id].device[d].empty()) {
      ++workers;
      if (!platform_.hosts[d]->is_on()) continue;
      for (auto& q : queues_[d]) {
        q = std::make_shared<SendQueue>();
        workers_.push_back(spawn("sender", platform_.hosts[d], epoch, [this, q] { sender(q); }));
      }
      workers_.push_back(
          spawn("worker_" + in_.model->cluster().devices[d].name, platform_.hosts[d], epoch,
                [this, d, epoch, plan_id, first_round] { worker(d, epoch, plan_id, first_round); }));
    }
  book_.start(plan_id, workers, int(coord_.replicas().size()), first_round);
}

void Simulation::device_round_done(int, int epoch, int round) {
  if (epoch != epoch_ || finished_) return;
  commit(book_.finished(round, sg4::Engine::get_clock()));
}

void Simulation::replica_landed(int epoch, int round, int backup, int stage, int plan_id) {
  if (epoch != epoch_) return;  // a copy of an aborted round is discarded
  const StagePlan& sp = coord_.plans()[plan_id].plan.stages[stage];
  ledger_.add(backup, sp.first_layer, sp.last_layer, round + 1);
  if (!book_.copy_landed(round)) return;
  const int before = coord_.last_checkpoint();
  std::vector<Action> decided = coord_.copies_landed(round, sg4::Engine::get_clock());
  if (coord_.last_checkpoint() != before) checkpointed();
  if (!decided.empty()) {
    ControlMessage m;
    m.kind = ControlKind::decided, m.actions = std::move(decided);
    post_control(-1, std::move(m));
  }
}

void Simulation::checkpointed() {
  const int version = coord_.last_checkpoint() + 1;
  if (coord_.config().recovery == Recovery::restart)
    ledger_.add(ledger_.coordinator(), 0, in_.model->num_layers() - 1, version);  // sim/README.md
  ledger_.prune(version);
  // The ledger, kept from what the devices did, must agree with the Coordinator at every checkpoint.
  std::vector<int> missing = ledger_.missing(version, host_on_);
  if (!missing.empty()) {
    stop("ledger check at the checkpoint of round " + std::to_string(coord_.last_checkpoint()) + ": " +
         layer_list_text(missing) + " have no live copy");
    return;
  }
  consider_departures();
  // Recorded on the committed round that became the checkpoint (the report's rounds at the end).
  const int copies = ledger_.min_copies(version, host_on_);
  auto [it, added] = checkpoint_copies_.emplace(coord_.last_checkpoint(), copies);
  if (!added) it->second = std::min(it->second, copies);
}

void Simulation::commit(const std::vector<RoundRecord>& committed) {
  for (const RoundRecord& record : committed) {
    progress_s_ = std::max(progress_s_, record.end);
    const int before = coord_.last_checkpoint();
    std::vector<Action> decided = coord_.round_done(record.round, record.end);
    if (coord_.last_checkpoint() != before) checkpointed();
    if (!decided.empty()) {  // a join weighed at this checkpoint: the coordinator actor carries it out
      ControlMessage m;
      m.kind = ControlKind::decided, m.actions = std::move(decided);
      post_control(-1, std::move(m));
    }
    if (finished_) return;
    if (book_.next_round() >= in_.rounds) {
      finished_ = true;
      result_.report.end_s = record.end;
      return;
    }
  }
}

void Simulation::fault_script() {
  std::vector<FaultEvent> events = in_.faults.events;
  std::stable_sort(events.begin(), events.end(),
                   [](const FaultEvent& a, const FaultEvent& b) { return a.time_s < b.time_s; });
  const Cluster& c = in_.model->cluster();
  for (const FaultEvent& e : events) {
    sg4::this_actor::sleep_until(e.time_s);
    if (finished_) return;
    const int d = c.index_of(e.device);
    RunEvent ev;
    ev.time = e.time_s;
    ev.device = e.device;
    switch (e.kind) {
      case FaultKind::leave:
        ev.kind = EventKind::failure;
        if (host_on_[d]) device_gone(d, e.time_s, "leaves");
        continue;  // device_gone records the failure
      case FaultKind::join: {
        ev.kind = EventKind::join;
        if (host_on_[d]) continue;  // still there: nothing to do
        // Gone but not yet declared failed: it comes back once the Coordinator has declared its
        // departure, as asteroid-exec starts a returning worker only then. Back before that, its
        // heartbeats would hide the failure while the round in progress waits for it forever.
        while (coord_.alive(d) && !finished_)
          sg4::this_actor::sleep_for(coord_.config().heartbeat_interval_s / 8);
        if (finished_) return;
        ev.time = sg4::Engine::get_clock();
        platform_.hosts[d]->turn_on();
        host_on_[d] = true;
        drain_on(d, true);
        failure_recorded_[d] = false;
        if (coord_.last_checkpoint() < 0) ledger_.add(d, 0, in_.model->num_layers() - 1, 0);  // the seed's
        ev.detail = e.device + " joins" + (ev.time > e.time_s ? " (at " + units::format_seconds(e.time_s) +
                                                                 ", taken once its departure was declared)"
                                                               : std::string());
        spawn("heartbeat", platform_.hosts[d], -1, [this, d] { heartbeats(d); })->daemonize();
        ControlMessage m;
        m.kind = ControlKind::join, m.device = d, m.sent_s = ev.time;
        post_control(-1, m);
        break;
      }
      case FaultKind::slowdown:
        ev.kind = EventKind::slowdown;  // applied by the host's speed profile (platform.cpp)
        ev.detail = e.device + " runs at x" + std::to_string(e.factor);
        break;
      case FaultKind::link_slowdown: {
        ev.kind = EventKind::link_slowdown;
        ev.detail = e.device + "'s link at " + std::to_string(e.bandwidth_Bps * 8 / 1e6) + " Mbps";
        sg4::Link* l = platform_.links[d];
        if (auto* sd = dynamic_cast<sg4::SplitDuplexLink*>(l)) {
          sd->get_link_up()->set_bandwidth(e.bandwidth_Bps);
          sd->get_link_down()->set_bandwidth(e.bandwidth_Bps);
        } else {
          l->set_bandwidth(e.bandwidth_Bps);
        }
        break;
      }
    }
    result_.report.events.push_back(ev);
  }
}

void Simulation::device_gone(int d, double now, const std::string& why, EventKind kind) {
  drain_on(d, false);  // before its actors die: nothing it was doing draws any more
  drain_[d].left_s = now;
  drain_[d].how = to_string(kind);
  platform_.hosts[d]->turn_off();  // its actors die, its transfers fail
  host_on_[d] = false;
  ledger_.clear(d);
  if (failure_recorded_[d]) return;
  failure_recorded_[d] = true;
  RunEvent& ev =
      event(now, kind, result_.report.devices[d], result_.report.devices[d] + " " + why);
  ev.round = book_.next_round();  // the round in progress
  ev.lost_layers = ledger_.missing(coord_.last_checkpoint() + 1, host_on_);
  ev.detail += ev.lost_layers.empty() ? "; every layer's checkpoint is on a survivor"
                                      : "; no live copy of " + layer_list_text(ev.lost_layers);
}

SimResult Simulation::run() {
  sg4::Actor::create("coordinator", platform_.coordinator, [this] { coordinator_actor(); });
  for (int d = 0; d < int(platform_.hosts.size()); ++d) {
    if (!host_on_[d]) {  // joins later
      platform_.hosts[d]->turn_off();
      continue;
    }
    sg4::Actor::create("heartbeat", platform_.hosts[d], [this, d] { heartbeats(d); })->daemonize();
  }
  if (!in_.faults.events.empty())
    sg4::Actor::create("faults", platform_.coordinator, [this] { fault_script(); })->daemonize();
  for (int d = 0; d < int(in_.batteries.size()); ++d)
    if (in_.batteries[d])
      sg4::Actor::create("battery", platform_.coordinator, [this, d] { battery_monitor(d); })->daemonize();
  start_workers(0, 0);
  sg4::Engine::get_instance()->run();
  record_batteries();

  RunReport& rep = result_.report;
  rep.rounds = book_.records();
  for (RoundRecord& r : rep.rounds)
    if (auto it = checkpoint_copies_.find(r.round); it != checkpoint_copies_.end()) r.checkpoint_copies = it->second;
  const Cluster& c = in_.model->cluster();
  rep.peak_memory_bytes.assign(c.size(), 0);
  for (size_t id = 0; id < coord_.plans().size(); ++id) {
    const Evaluation& ev = coord_.plans()[id];
    rep.plans.push_back({ev.plan, ev.round_latency_s, ev.throughput_samples_per_s, ev.schedule_latency_s});
    for (const DeviceUse& u : ev.devices)
      rep.peak_memory_bytes[u.device] = std::max(rep.peak_memory_bytes[u.device], u.peak_memory_bytes);
  }
  // A device that keeps a copy holds that stage's weights and optimizer state besides its own.
  for (size_t id = 0; id < replicated_.size(); ++id) {
    std::vector<double> extra(c.size(), 0);
    for (const auto& list : replicated_[id].device)
      for (const Instruction& in : list)
        if (in.op == Op::replicate) extra[in.peer] += in.bytes;
    for (const DeviceUse& u : coord_.plans()[id].devices)
      rep.peak_memory_bytes[u.device] =
          std::max(rep.peak_memory_bytes[u.device], u.peak_memory_bytes + extra[u.device]);
  }
  return result_;
}

}  // namespace asteroid::sim
