// The device actors: one round of the Program, instruction by instruction.
#include <simgrid/Exception.hpp>

#include "messages.hpp"
#include "simulation.hpp"

namespace sg4 = simgrid::s4u;

namespace asteroid::sim {

void Simulation::worker(int d, int epoch, int plan_id, int first_round) {
  for (int r = first_round; r < in_.rounds; ++r) {
    if (epoch != epoch_) return;
    run_round(d, epoch, plan_id, r, program(plan_id, r).device[d]);
    device_round_done(d, epoch, r);
  }
  for (auto& q : queues_[d]) {
    q->items.push_back({"", 0});
    q->ready->release();
  }
}

void Simulation::run_round(int d, int epoch, int plan_id, int r, const std::vector<Instruction>& list) {
  // Receives are posted first: data moves as soon as its sender sends it.
  std::vector<sg4::CommPtr> posted(list.size());
  std::vector<char*> sinks(list.size(), nullptr);
  for (size_t k = 0; k < list.size(); ++k) {
    const Instruction& in = list[k];
    if (in.op == Op::recv_activation || in.op == Op::recv_gradient)
      posted[k] = sg4::Mailbox::by_name(message_name(epoch, r, d, in))->get_async<char>(&sinks[k]);
  }
  const StagePlan* sp = nullptr;
  for (const Instruction& in : list)
    if (in.op == Op::forward) sp = &program(plan_id, r).plan.stages[in.stage];

  for (size_t k = 0; k < list.size(); ++k) {
    const Instruction& in = list[k];
    const double t0 = sg4::Engine::get_clock();
    switch (in.op) {
      case Op::forward:
      case Op::backward:
      case Op::recompute:  // the forward again, a compute span of its own ("RECOMPUTE")
        if (in.seconds > 0) {
          Busy busy(this, d, Activity::compute);
          sg4::this_actor::execute(in.seconds * kHostSpeed);
        }
        span(d, op_token(in.op), in.stage, in.microbatch, r, t0);
        break;
      case Op::send_activation:
      case Op::send_gradient: {
        auto& q = *queues_[d][in.op == Op::send_activation ? 0 : 1];
        q.items.push_back({message_name(epoch, r, d, in), uint64_t(in.bytes)});
        q.ready->release();
        break;
      }
      case Op::recv_activation:
      case Op::recv_gradient:
        {
          Busy busy(this, d, Activity::communication);
          wait_recv(posted[k], d, in.peer);
        }
        if (sg4::Engine::get_clock() > t0) span(d, op_token(in.op), in.stage, in.microbatch, r, t0);
        break;
      case Op::all_reduce:
        {
          Busy busy(this, d, Activity::communication);
          all_reduce(epoch, plan_id, r, in);
        }
        span(d, op_token(in.op), in.stage, -1, r, t0);
        break;
      case Op::optimizer_step:
        // The trace's optimizer step over the stage's layers for this device (0 where it has none);
        // the round's weights exist once it is done.
        if (in.seconds > 0) {
          Busy busy(this, d, Activity::compute);
          sg4::this_actor::execute(in.seconds * kHostSpeed);
        }
        if (sp) ledger_.add(d, sp->first_layer, sp->last_layer, r + 1);
        span(d, op_token(in.op), in.stage, -1, r, t0);
        break;
      case Op::replicate:
        // Each owner's own rule (round_book.hpp): skipped while its previous copy is in flight.
        if (copy_gates_[size_t(d)].begin()) replicate(d, epoch, r, in);
        break;
      case Op::recv_replica: receive_replica(d, epoch, r, in); break;
    }
  }
}

void Simulation::wait_recv(const sg4::CommPtr& comm, int d, int peer) {
  const double overdue = coord_.config().missed_heartbeats * coord_.config().heartbeat_interval_s;
  auto notice = [&] {
    ControlMessage m;
    m.kind = ControlKind::overdue, m.device = d, m.peer = peer, m.sent_s = sg4::Engine::get_clock();
    post_control(d, m);
  };
  std::vector<sg4::CommPtr> one = {comm};
  for (;;) {
    try {
      if (sg4::Comm::wait_any_for(one, overdue) >= 0) return;
    } catch (const simgrid::NetworkFailureException&) {
      // The sender died mid-transfer: nothing will come; wait for the coordinator's verdict.
      for (;;) {
        notice();
        sg4::this_actor::sleep_for(overdue);
      }
    }
    notice();
  }
}

void Simulation::sender(std::shared_ptr<SendQueue> q) {
  for (;;) {
    q->ready->acquire();
    auto [name, bytes] = q->items.front();
    q->items.pop_front();
    if (name.empty()) return;
    try {
      sg4::Mailbox::by_name(name)->put(&kToken, bytes, kTransferTimeout);
    } catch (const simgrid::Exception&) {
      // The receiver left; the coordinator will abort this round.
    }
  }
}

void Simulation::all_reduce(int epoch, int plan_id, int r, const Instruction& in) {
  // Ring all-reduce: 2(n-1) ring steps (reduce-scatter, then all-gather), in each of which every
  // member sends 1/n of the gradients to the next member. The members wait for the last of them to
  // arrive; it runs each ring step as one set of n concurrent transfers host to host, waited for
  // together, and the next step when all of them landed (as the cost model prices it): one actor
  // and n flows per step instead of 2n actors' mailbox messages.
  // SUBTLE: a ring of more than kRingBatches + 1 steps runs them in kRingBatches batches of k steps,
  // each batch one transfer of k chunks per member after k - 1 of the ring's largest latency: the
  // same time as k steps when nothing else crosses the ring's links, and a group of 1024 devices
  // is 64 x 1024 transfers instead of 2 million (sim/README.md).
  constexpr int kRingBatches = 64;
  const std::vector<int>& g = program(plan_id, r).plan.stages[in.stage].devices;
  const int n = int(g.size());
  const uint64_t chunk = uint64_t(in.bytes / n);
  if (chunk == 0) return;
  const auto key = std::make_tuple(epoch, r, in.stage);
  RingState& ring = rings_[key];
  if (++ring.arrived < n) {
    sg4::SemaphorePtr done = ring.done;
    done->acquire();  // a failure aborts the round: this actor is killed, as is the ring's
    return;
  }
  sg4::SemaphorePtr done = ring.done;
  rings_.erase(key);
  const Cluster& c = in_.model->cluster();
  double latency = 0;
  for (int i = 0; i < n; ++i) latency = std::max(latency, c.latency_s[g[i]][g[(i + 1) % n]]);
  const int steps = 2 * (n - 1), per_batch = (steps + kRingBatches - 1) / kRingBatches;
  std::vector<sg4::CommPtr> batch(n);
  ring_steps_.insert(&batch);
  struct Forget {
    std::set<std::vector<sg4::CommPtr>*>& steps;
    std::vector<sg4::CommPtr>* mine;
    ~Forget() { steps.erase(mine); }
  } forget{ring_steps_, &batch};
  auto stall = [&] {
    // A member left: nothing more will come; the coordinator aborts the round.
    const double overdue = coord_.config().missed_heartbeats * coord_.config().heartbeat_interval_s;
    for (;;) sg4::this_actor::sleep_for(overdue);
  };
  for (int k = 0; k < steps; k += per_batch) {
    const int m = std::min(per_batch, steps - k);
    try {
      if (m > 1) sg4::this_actor::sleep_for((m - 1) * latency);
      // A member already off (it left before its turn, not declared yet) takes no transfer:
      // SimGrid refuses to start one to a host that is off.
      for (int i = 0; i < n; ++i)
        if (!platform_.hosts[g[i]]->is_on()) stall();
      for (int i = 0; i < n; ++i)
        batch[i] = sg4::Comm::sendto_async(platform_.hosts[g[i]], platform_.hosts[g[(i + 1) % n]], m * chunk);
      sg4::Comm::wait_all(batch);
    } catch (const simgrid::Exception&) {
      stall();
    }
  }
  for (int i = 1; i < n; ++i) done->release();
}

void Simulation::replicate(int d, int epoch, int r, const Instruction& in) {
  // Asynchronous: a helper on this host carries the copy while the device goes on.
  std::string name = message_name(epoch, r, d, in);
  auto bytes = uint64_t(in.bytes);
  int stage = in.stage;
  spawn("replicate", platform_.hosts[d], -1, [this, name, bytes, d, stage, r, epoch] {
    const double t0 = sg4::Engine::get_clock();
    try {
      {
        Busy busy(this, d, Activity::communication);
        sg4::Mailbox::by_name(name)->put(&kToken, bytes, kTransferTimeout);
      }
      span(d, "REPLICATE", stage, -1, r, t0);
      if (epoch == epoch_) copy_gates_[size_t(d)].through();  // a later epoch's gates are new
    } catch (const simgrid::Exception&) {
      // The backup left: the copy is lost, and the round does not commit with it; no later copy
      // goes out in this epoch (as on a worker, whose copy thread stops).
    }
  })->daemonize();
}

void Simulation::receive_replica(int d, int epoch, int r, const Instruction& in) {
  std::string name = message_name(epoch, r, d, in);
  int stage = in.stage, plan_id = coord_.plan_id();
  spawn("receive_replica", platform_.hosts[d], -1, [this, name, epoch, r, d, stage, plan_id] {
    try {
      sg4::Mailbox::by_name(name)->get<char>(kTransferTimeout);
      replica_landed(epoch, r, d, stage, plan_id);
    } catch (const simgrid::Exception&) {
    }
  })->daemonize();
}

}  // namespace asteroid::sim
