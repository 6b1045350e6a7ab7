// The launcher (launcher.hpp): generations of workers, and the loop that watches each one. The
// faults and the Coordinator's decisions are carried out in launcher_faults.cpp.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "asteroid/run/backend_setup.hpp"
#include "joins.hpp"
#include "launcher_loop.hpp"

namespace asteroid::exec::detail {

// Every live device runs a worker: those in the plan train, backups receive copies, sources of
// moving state send it, the rest only beat.
ExecJob Launcher::make_job() const {
  ExecJob job;
  for (const DeviceSpec& d : s_.devices) job.devices.push_back(d.name);
  job.model = s_.model;
  job.input = s_.input;
  job.model_archive = s_.model_archive;
  job.optimizer = s_.training.optimizer;
  job.batch_size = s_.training.batch_size;
  job.num_layers = model_.num_layers();
  job.rounds = o_.rounds;
  job.learning_rate = o_.learning_rate;
  job.seed = o_.seed;
  job.data = o_.data;
  job.data_dir = o_.data_dir;
  job.augment = o_.augment;
  job.eval_every = o_.eval_every;
  job.eval_samples = o_.eval_samples;
  job.train_samples = o_.train_samples;
  job.test_samples = o_.test_samples;
  job.replicas = coord_.replicas();
  Program plain = make_program(model_, coord_.plan());
  Program copies = make_program(model_, coord_.plan(), job.replicas);
  job.plan = plain.plan;
  job.program = plain.device;
  job.program_with_copies = copies.device;
  job.timeout_s = std::max(30.0, std::min(o_.timeout_s, 300.0 * o_.clock_scale()));
  job.generation = generation_;
  job.start_round = start_round_;
  for (const StagePlan& sp : coord_.plan().stages)
    for (int d : sp.devices) job.workers.push_back(d);
  // A device leaving as planned is out of the plan but sends its state (its transfers) first.
  bool leaving = false;
  for (int d = 0; d < model_.num_devices(); ++d) {
    leaving = leaving || coord_.leaving(d);
    if ((coord_.alive(d) || coord_.leaving(d)) &&
        std::find(job.workers.begin(), job.workers.end(), d) == job.workers.end())
      job.workers.push_back(d);
  }
  job.addresses.assign(s_.devices.size(), "");
  for (int d : job.workers) job.addresses[size_t(d)] = server_.link(d).address;
  for (const DeviceSpec& d : s_.devices) job.accelerators.push_back(d.accelerator);
  job.replicate_every =
      coord_.config().replicate ? std::max(1, coord_.config().replication_interval_rounds) : 0;
  job.transfers = transfers_;
  // A worker that loses a Gloo peer waits for the next plan instead of failing the run: after a
  // failure (copies to recover from), and wherever a battery may take a device out (a planned
  // departure restarts every worker, whose peers then vanish under them; a leaving device stops
  // once its state is out).
  const bool batteries = std::any_of(s_.devices.begin(), s_.devices.end(), [](const DeviceSpec& d) { return d.battery; });
  job.survive_peer_failure = coord_.config().replicate || leaving || batteries;
  if (o_.time_dilation > 0) {
    // Every micro-batch of a device has the same share: its first Forward and Backward say it.
    job.time_dilation = o_.time_dilation;
    job.budgets.assign(s_.devices.size(), ComputeBudget{});
    for (size_t d = 0; d < plain.device.size(); ++d)
      for (const Instruction& i : plain.device[d]) {
        ComputeBudget& b = job.budgets[d];
        if (i.op == Op::forward && b.forward_s == 0) b.forward_s = i.seconds;
        if (i.op == Op::backward && b.backward_s == 0) b.backward_s = i.seconds;
        if (i.op == Op::optimizer_step) b.optimizer_s = i.seconds;
      }
  }
  return job;
}

// The survivors of a failure restart their processes; the next job waits for all of them.
bool Launcher::restart_survivors() {
  const double deadline = now_s() + 60;
  for (;;) {
    std::vector<ServerEvent> events = server_.poll(0.005);
    for (const ServerEvent& e : events) handle(e, t());
    beat_for_the_silent(t());
    if (std::none_of(peers_.begin(), peers_.end(), [](const Peer& p) { return p.restarting; })) return true;
    for (const Peer& p : peers_)
      if (p.restarting && !server_.joined(p.device))
        return stop("worker " + name(p.device) + " was lost while the workers restarted"), false;
    if (now_s() > deadline) return stop("the workers did not restart within 60 s"), false;
    if (interrupted()) return stop("interrupted while the workers restarted"), false;
  }
}

Launcher::End Launcher::generation() {
  if (generation_ > 0 && !restart_survivors()) return End::stopped;
  ExecJob job = make_job();
  generation_plan_ = coord_.plan_id();
  active_ = 0;
  evals_.start_generation(int(job.plan.stages.back().devices.size()));
  for (int d : job.workers)
    active_ += job.program[size_t(d)].empty() && job.program_with_copies[size_t(d)].empty() ? 0 : 1;
  book_.start(generation_plan_, active_, int(coord_.replicas().size()), start_round_);
  announced_checkpoint_ = coord_.last_checkpoint();
  spans_.clear();
  all_ready_ = false;
  failed_.reset();
  peers_.clear();
  server_.clear_store();
  const nlohmann::json j = job_to_json(job);
  for (int d : job.workers) {
    peers_.push_back({});
    peers_.back().device = d;
    if (server_.send(d, Job{j})) continue;
    if (!coordinating_) return stop("the control connection to " + name(d) + " broke");
    // A worker that died since the plan was made (a second death close behind the first): a lost
    // device, as its silence would show, not the end of the run. The Coordinator plans without it.
    peers_.back().lost = true;
    event(t(), EventKind::failure, name(d), "its control connection broke before its job was sent").round =
        round_in_progress();
    decide([&] { return coord_.lost(d, "its control connection broke", t()); });
  }
  if (coordinating_)
    for (int d : job.workers) coord_.record_heartbeat(d, t());
  if (!pending_.empty()) {
    std::vector<Action> actions = std::move(pending_);
    pending_.clear();
    return carry_out(actions, decided_s_, t()).value_or(End::failed_over);
  }
  return watch();
}

void Launcher::beat_for_the_silent(double now) {
  if (now_s() < next_beat_) return;
  server_.beat_all();
  next_beat_ = now_s() + o_.coordinator.heartbeat_interval_s * dilation();
  // A worker whose process is restarting cannot beat; its connection is open, so it is alive. So is
  // a local worker whose process runs, even when its beats are late (on saturated cores a heartbeat
  // thread may wait seconds for a core); a paused (stopped) or dead one is not: its silence is seen.
  // Recorded once per heartbeat interval, as its own beats would be, so that a failure is detected
  // between (missed - 1) and missed intervals after it, by where it falls between two beats.
  if (coordinating_) {
    for (const Peer& p : peers_)
      if (!p.gone() && (p.restarting || processes_.running(name(p.device))))
        coord_.record_heartbeat(p.device, now);
    // A device that came back and waits for the next generation.
    for (int d = 0; d < int(s_.devices.size()); ++d)
      if (!peer(d) && coord_.alive(d) && server_.joined(d) && processes_.running(name(d)))
        coord_.record_heartbeat(d, now);
  }
}

// Only decisions to keep the running plan (a device joined; switching would not finish sooner):
// the generation goes on.
bool Launcher::plan_stays(const std::vector<Action>& actions) const {
  return std::all_of(actions.begin(), actions.end(), [&](const Action& a) {
    return a.kind == ActionKind::replan && a.plan_id >= 0 && a.plan_id == generation_plan_;
  });
}

Launcher::End Launcher::watch() {
  for (;;) {
    // Beats are timed when they are read, not before the wait: a coordinator that was not scheduled
    // for a while must not take its own delay for its workers' silence.
    std::vector<ServerEvent> events = server_.poll(0.005);
    double now = t();
    for (const ServerEvent& e : events) handle(e, now);
    beat_for_the_silent(now);
    if (!all_ready_ &&
        std::all_of(peers_.begin(), peers_.end(), [](const Peer& p) { return p.ready || p.gone(); })) {
      on_ready(now);
      now = t();  // generation 0: the clock now counts from the start of training
    }
    // Beats read in a batch are all taken in first, and overdue devices looked for at the time they
    // were read: one device's beat never finds the others overdue after a pause of the coordinator.
    const double beats_read = now;
    now = t();
    inject_faults(now);
    if (auto end = watch_batteries(now)) return *end;
    if (coordinating_) {
      decide([&] { return coord_.tick(beats_read); });
      std::vector<Action> actions = std::move(pending_);
      pending_.clear();
      if (plan_stays(actions)) {
        for (const Action& a : actions)
          event(now, EventKind::replan, "", a.detail, decided_s_).plan_id = a.plan_id;
      } else if (!actions.empty()) {
        return carry_out(actions, decided_s_, now).value_or(End::failed_over);
      }
    }
    if (auto end = check_end()) return *end;
    if (now_s() - origin_s_ > o_.timeout_s)
      return stop_after(o_.rounds - 1, "the run did not finish within " + std::to_string(int(o_.timeout_s)) +
                                           " s (--timeout); workers stopped");
    if (interrupted()) return stop_after(o_.rounds - 1, "interrupted; workers stopped");
  }
}

void Launcher::handle(const ServerEvent& e, double now) {
  Peer* p = peer(e.device);
  if (e.kind == ServerEvent::Kind::joined) {  // a device that returns (bring_back)
    if (returning_.erase(e.device) == 0 || !coordinating_) return;
    console_.line(fmt("%9.3f s  ", now) + name(e.device) + ": its worker joined");
    decide([&] { return coord_.join(e.device, now); });
    return;
  }
  if (e.kind == ServerEvent::Kind::closed) {
    if (!p || p->gone() || finishing_) return;
    p->lost = true;
    if (p->done || p->restarting) return;  // finished its part; or lost while restarting (restart_survivors)
    // A local worker killed from outside (a crash, an OOM kill) is seen dead at once from its exit.
    const std::string died = processes_.killed_by_signal(name(e.device), 0.5);
    event(now, EventKind::failure, name(e.device),
          died.empty() ? "its worker is gone (the control connection " + e.detail + ")" : died)
        .round = round_in_progress();
    if (!died.empty() && coordinating_) decide([&] { return coord_.lost(e.device, died, now); });
    return;
  }
  if (e.kind != ServerEvent::Kind::message) return;
  const Message& m = e.message;
  if (!p) {  // a device that came back, between generations
    if (coordinating_ && std::holds_alternative<Beat>(m) && coord_.alive(e.device))
      coord_.record_heartbeat(e.device, now);
    return;
  }
  auto current = [&](int generation) { return generation == generation_; };
  if (std::holds_alternative<Beat>(m)) {
    if (coordinating_ && !p->gone())
      coord_.record_heartbeat(e.device, now);  // watch() checks after the batch
  } else if (const Ready* r = std::get_if<Ready>(&m)) {
    if (current(r->generation)) p->ready = true;
  } else if (const Round* r = std::get_if<Round>(&m)) {
    if (current(r->generation)) on_round(e.device, *r);
  } else if (const CopyLanded* c = std::get_if<CopyLanded>(&m)) {
    if (current(c->generation)) on_copy_landed(*c);
  } else if (const EvalPart* x = std::get_if<EvalPart>(&m)) {
    if (!current(x->generation)) return;
    const double start = worker_t(e.device, x->start_ns), end = worker_t(e.device, x->end_ns);
    if (auto t = evals_.add(*x, start, end)) {
      char line[200];
      std::snprintf(line, sizeof line,
                    "round %d (epoch %.2f): test accuracy %.2f%%, loss %.4f (%d test images)", t->round,
                    t->epoch, 100 * t->accuracy, t->loss, t->samples);
      console_.line(line);
    }
  } else if (const Done* d = std::get_if<Done>(&m)) {
    if (current(d->generation)) p->done = true;
  } else if (const PeerLost* l = std::get_if<PeerLost>(&m)) {
    if (!current(l->generation) || p->peer_lost) return;
    p->peer_lost = true;
    console_.line(fmt("%9.3f s  ", now) + name(e.device) +
                  ": lost a Gloo peer mid-round (expected when a device fails); it waits for the new plan" +
                  (l->what.empty() ? "" : " (" + l->what + ")"));
  } else if (const Failed* f = std::get_if<Failed>(&m)) {
    if (!failed_) failed_ = *f, failed_device_ = e.device;
  } else if (std::holds_alternative<Restarted>(m)) {
    p->restarting = false;
  }
}

void Launcher::on_round(int d, const Round& r) {
  account_round(d, r);
  out_.budgeted += r.budgeted;
  out_.over_budget += r.over_budget;
  out_.worst_overrun_s = std::max(out_.worst_overrun_s, r.worst_overrun_s / dilation());
  out_.host_copies.copies += r.host_copies;
  out_.host_copies.bytes += r.host_copy_bytes;
  out_.host_copies.seconds += r.host_copy_s;
  if (!r.power_rail.empty()) {  // the board's own measurement (power_rails.hpp)
    auto& measured = out_.report.measured_energy;
    if (measured.empty()) measured.assign(s_.devices.size(), std::nullopt);
    auto& m = measured[size_t(d)];
    if (!m) m = MeasuredEnergy{r.power_rail};
    m->J += r.measured_J;
    m->seconds += double(r.end_ns - r.start_ns) / 1e9;
    m->samples += r.power_samples;
  }
  for (const SpanRecord& x : r.spans) {
    Span sp;
    sp.device = d;
    sp.op = x.op;
    sp.stage = x.stage;
    sp.microbatch = x.microbatch;
    sp.round = r.round;
    sp.start = worker_t(d, x.start_ns);
    sp.end = worker_t(d, x.end_ns);
    spans_.push_back(sp);
  }
  auto& memory = out_.report.peak_memory_bytes[size_t(d)];
  memory = std::max(memory, r.peak_rss_bytes);
  auto& allocated = out_.report.peak_allocated_bytes[size_t(d)];
  allocated = std::max(allocated, r.peak_allocated_bytes);
  if (r.checkpoint_bytes > 0 && checkpoint_bytes_[size_t(d)] == 0) {
    const WorkerLink& l = server_.link(d);
    console_.line("checkpoints: " + name(d) + " keeps its layers in " + l.host + ":" + l.checkpoint_dir +
                  " (" + bytes_text(r.checkpoint_bytes) + ", the rounds from the checkpoint on" +
                  (o_.keep_checkpoints ? ", kept at the end)" : ", removed at the end)"));
  }
  checkpoint_bytes_[size_t(d)] = std::max(checkpoint_bytes_[size_t(d)], r.checkpoint_bytes);
  for (const RoundRecord& committed : book_.finished(r.round, worker_t(d, r.end_ns), r.loss)) {
    if (coordinating_) {
      decide([&] { return coord_.round_done(committed.round, t()); });
      announce_checkpoint();
    }
    progress(committed);
  }
}

// Progress: the round's rate (the run's clock: emulated seconds under --emulate), and the time
// left at the mean of the generation's last rounds, in wall-clock seconds (what the user waits).
void Launcher::progress(const RoundRecord& c) {
  const auto& records = book_.records();
  double recent = 0;
  int n = 0;
  for (int k = int(records.size()) - 1; n < 5 && k > 0 && records[size_t(k - 1)].round >= book_.first_round();
       --k, ++n)
    recent += records[size_t(k)].end - records[size_t(k - 1)].end;
  const double took = c.end - c.start, mean = n > 0 ? recent / n : took;
  console_.progress(c.round, o_.rounds, took > 0 ? c.samples / took : 0, c.loss,
                    mean * (o_.rounds - c.round - 1) * dilation());  // wall-clock seconds left
  if (!prediction_checked_ && generation_ == 0 && c.round >= 3) check_prediction();
}

// Copies go in the background (exec/README.md, "Copies"): each device sends its next copy once its
// previous one is through (a round's copy is skipped while an earlier one is in flight), and a
// round's copies count once every backup has saved its copy of that round. Rounds some device
// skipped never count; the checkpoint is the last round whose copies all landed.
void Launcher::on_copy_landed(const CopyLanded& c) {
  if (!book_.copy_landed(c.round) || !coordinating_) return;
  decide([&] { return coord_.copies_landed(c.round, t()); });
  announce_checkpoint();
}

void Launcher::announce_checkpoint() {
  if (coord_.last_checkpoint() <= announced_checkpoint_) return;
  announced_checkpoint_ = coord_.last_checkpoint();
  for (const Peer& p : peers_)
    if (!p.gone()) server_.send(p.device, Checkpointed{generation_, announced_checkpoint_});
  consider_departures(t());
}

// Rounds far from the cost model's prediction are worth a word, with the likely reason.
void Launcher::check_prediction() {
  prediction_checked_ = true;
  const double measured = (*book_.end_of(3) - *book_.end_of(0)) / 3;  // round 0 warms up
  const double predicted = coord_.plans()[size_t(generation_plan_)].predicted_round_s();
  const std::string warning = prediction_warning(s_, o_.local_workers, o_.links_shaped, measured, predicted);
  if (!warning.empty()) console_.line(warning);
}

// Every worker of the generation has its state in place: training starts (generation 0) or
// resumes after a recovery.
void Launcher::on_ready(double now) {
  all_ready_ = true;
  if (generation_ == 0) {
    training_start_ = now_s() - origin_s_;
    now = t();
    coord_.start(now);
    for (const Peer& p : peers_) coord_.record_heartbeat(p.device, now);
    coordinating_ = true;
    console_.line("training: " + std::to_string(o_.rounds) + " rounds");
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
      event(now, EventKind::resume, "", "plan " + std::to_string(a.plan_id)).plan_id = a.plan_id;
  }
  finish_departures(now);
}

// A worker that cannot go on stops the run; every worker done ends the generation.
std::optional<Launcher::End> Launcher::check_end() {
  if (failed_) {
    const bool after_loss = std::any_of(peers_.begin(), peers_.end(), [](const Peer& p) { return p.gone(); });
    if (after_loss) {
      std::string lost;
      for (const Peer& p : peers_)
        if (p.gone()) lost += (lost.empty() ? "" : ", ") + name(p.device);
      return stop_after(o_.rounds - 1, name(failed_device_) + " could not go on after " + lost +
                                           " was lost (no copies to recover from: --replicate keeps them)");
    }
    return stop_after(o_.rounds - 1, "worker " + name(failed_device_) + " failed: " + failed_->message,
                      failed_->status == 2 ? 2 : 1);
  }
  // Every round committed while a worker is gone (a device outside the plan left, or one whose
  // part was done): the survivors may be stuck on it at their end, but the training is whole and
  // every worker has saved its last round. Nothing to recover; the run is over.
  const bool trained = round_in_progress() >= o_.rounds;
  const bool someone_gone =
      std::any_of(peers_.begin(), peers_.end(), [](const Peer& p) { return p.gone() || p.peer_lost; });
  if (trained && someone_gone) {
    merge(o_.rounds - 1);
    return End::finished;
  }
  if (!std::all_of(peers_.begin(), peers_.end(), [](const Peer& p) { return p.done || p.gone(); }))
    return std::nullopt;
  merge(o_.rounds - 1);
  if (std::any_of(peers_.begin(), peers_.end(), [](const Peer& p) { return p.gone(); }) &&
      int(book_.records().size()) < o_.rounds)
    return stop("a worker was lost and the others finished without it");
  return End::finished;
}

void Launcher::stop_generation() {
  for (Peer& p : peers_)
    if (!p.gone()) {
      server_.send(p.device, Stop{generation_});
      p.restarting = true;
    }
}

void Launcher::finish_all() {
  finishing_ = true;
  for (int d = 0; d < int(s_.devices.size()); ++d) server_.send(d, Finish{o_.keep_checkpoints});
  const double deadline = now_s() + 10;
  auto any_open = [&] {
    for (int d = 0; d < int(s_.devices.size()); ++d)
      if (server_.joined(d)) return true;
    return false;
  };
  while (any_open() && now_s() < deadline) server_.poll(0.02);
  for (int d = 0; d < int(s_.devices.size()); ++d) server_.drop(d);
  int killed = processes_.finish(5);
  if (killed > 0) console_.line(std::to_string(killed) + " worker processes did not stop when told; killed");
}

// Keeps the committed rounds up to `last_round` (those after it are run again, or the run stops),
// and adds the generation's spans (all of them: work thrown away by a failure is work done) to the
// report.
void Launcher::merge(int last_round) {
  RunReport& rep = out_.report;
  rep.spans.insert(rep.spans.end(), spans_.begin(), spans_.end());
  spans_.clear();
  if (last_round + 1 < book_.next_round()) book_.roll_back(last_round + 1);
}

LaunchOutcome Launcher::run() {
  RunReport& rep = out_.report;
  rep.scenario = s_.name;
  rep.backend = "exec";
  for (const DeviceSpec& d : s_.devices) rep.devices.push_back(d.name);
  rep.peak_memory_bytes.assign(rep.devices.size(), 0);
  rep.peak_allocated_bytes.assign(rep.devices.size(), 0);
  power_ = device_powers(s_);
  drains_.assign(rep.devices.size(), Drain{});
  checkpoint_bytes_.assign(rep.devices.size(), 0);
  rep.rounds_planned = o_.rounds;
  const std::string not_joined =
      wait_for_joins(s_, o_, server_, processes_, console_, origin_s_, &next_beat_);
  if (!not_joined.empty()) {
    stop(not_joined);
  } else {
    started_ = true;
    server_.close_joins("the run has started: devices join before it starts");
    for (int d = 0; d < int(s_.devices.size()); ++d)  // 0 for a device that joins later
      rep.clock_offset_bound_s.push_back(server_.joined(d) ? double(server_.link(d).clock_bound_ns) * 1e-9
                                                           : 0);
    while (generation() == End::failed_over) continue;  // each failure starts a new generation
  }
  console_.done();
  finish_all();
  rep.rounds = book_.records();
  rep.evaluations = evals_.evaluations(rep.rounds);
  double most = *std::max_element(checkpoint_bytes_.begin(), checkpoint_bytes_.end());
  if (most > 0)
    console_.line(std::string("checkpoints: ") + (o_.keep_checkpoints ? "kept" : "removed") + " (at most " +
                  bytes_text(most) + " on one worker)");
  for (const Evaluation& ev : coord_.plans())
    rep.plans.push_back({ev.plan, ev.round_latency_s, ev.throughput_samples_per_s, ev.schedule_latency_s});
  rep.end_s = rep.rounds.empty() ? 0 : rep.rounds.back().end;
  if (!out_.stop_why.empty()) {
    rep.end_s = std::max(rep.end_s, t());
    event(rep.end_s, EventKind::stop, "", out_.stop_why);
  }
  record_batteries();
  // In time order: a recovery's state transfer is recorded from when it started, after events that
  // came meanwhile (a join).
  std::stable_sort(rep.events.begin(), rep.events.end(),
                   [](const RunEvent& a, const RunEvent& b) { return a.time < b.time; });
  return out_;
}

}  // namespace asteroid::exec::detail

namespace asteroid::exec {

LaunchOutcome launch(const Scenario& s, const CostModel& model, const Evaluation& first,
                     const LaunchOptions& o, ControlServer& server, WorkerProcesses& processes,
                     Console& console) {
  return detail::Launcher(s, model, first, o, server, processes, console).run();
}

}  // namespace asteroid::exec
