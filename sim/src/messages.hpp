// Mailbox names and control messages of the simulated run. Every data mailbox name carries the
// epoch (incremented at each recovery) and the round, so that a message of an aborted round can
// never be taken for one of its replay.
#pragma once

#include <string>
#include <vector>

#include "asteroid/run/coordinator.hpp"
#include "asteroid/program/program.hpp"

namespace asteroid::sim {

// Data messages carry no payload, only a simulated size; they all point at this byte.
inline char kToken = 0;

constexpr double kControlBytes = 64;       // a heartbeat or an overdue notice on the wire
constexpr double kTransferTimeout = 3600;  // data and copies: a bound, so that no put/get waits forever
constexpr double kStallTimeout = 600;      // no round committed (or state moved) for this long: stuck

// What reaches the coordinator actor (control.cpp).
enum class ControlKind {
  heartbeat,      // device: alive at sent_s
  overdue,        // device waited past the deadline for peer
  join,           // device joined or returned (the fault script)
  transfer_done,  // the state transfer of `epoch` ended (ok: every part landed)
  decided,        // actions the Coordinator returned to a worker (a checkpoint that weighed a join)
};
struct ControlMessage {
  ControlKind kind = ControlKind::heartbeat;
  int device = -1;              // the sender
  int peer = -1;                // overdue: the device the message was expected from
  double sent_s = 0;            // simulated time it was sent: a heartbeat proves the device alive then, even
                                // if the coordinator reads it later (it may be busy re-planning)
  int epoch = 0;                // transfer_done
  bool ok = true;               // transfer_done
  std::vector<Action> actions;  // decided
};

// The mailbox of one message of `in`, executed by `device`: the same name on both ends.
inline std::string message_name(int epoch, int round, int device, const Instruction& in) {
  char channel = '?';
  int from = device, to = in.peer, stage = in.stage;
  switch (in.op) {
    case Op::send_activation: channel = 'F'; break;
    case Op::send_gradient: channel = 'B'; break;
    case Op::replicate: channel = 'R'; break;
    case Op::recv_activation: channel = 'F', from = in.peer, to = device, stage = in.stage - 1; break;
    case Op::recv_gradient: channel = 'B', from = in.peer, to = device, stage = in.stage + 1; break;
    case Op::recv_replica: channel = 'R', from = in.peer, to = device; break;
    default: break;
  }
  return "e" + std::to_string(epoch) + "/r" + std::to_string(round) + "/" + channel +
         std::to_string(in.microbatch) + "/s" + std::to_string(stage) + "/" + std::to_string(from) + ">" +
         std::to_string(to);
}

}  // namespace asteroid::sim
