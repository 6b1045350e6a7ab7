// The Program (docs/method.md §1.1): per device, the ordered instructions of one HPP round under
// 1F1B. Both backends execute it; neither invents its own order of work.
//
// Choices that are ours (docs/method.md §1.1, "The Program"):
// - 1F1B with K = min(M, 2(P-p)-1) micro-batches in flight on stage p: K forwards, then backward i
//   followed by forward i+K. K is the cost model's in-flight count, which counts every
//   communication step as a pipeline step of its own, so the memory the cost model charges is the
//   memory the Program uses (peak_in_flight() derives it back from the instructions).
// - Samples of a micro-batch are numbered 0..beta-1; device i of a stage group takes the contiguous
//   range that starts after the shares of devices 0..i-1. A device sends to each device of the next
//   stage the activations of the samples their ranges share (and receives gradients for the same
//   slice), so every message carries exactly the overlapping slice.
// - Sends never wait for the receiver (the receiver's buffers are posted ahead); receives block.
// - Replicate / RecvReplica are asynchronous on both sides: they start the state copy after the
//   optimizer step and the device goes on; the copy lands in the background.
#pragma once

#include <string>
#include <vector>

#include "asteroid/model/cost_model.hpp"
#include "asteroid/input/error.hpp"
#include "asteroid/model/schedule.hpp"

namespace asteroid {

enum class Op {
  forward,          // "F"
  backward,         // "B"
  send_activation,  // "SEND_F": to a device of the next stage
  recv_activation,  // "RECV_F": from a device of the previous stage
  send_gradient,    // "SEND_B": to a device of the previous stage
  recv_gradient,    // "RECV_B": from a device of the next stage
  all_reduce,       // "ALLREDUCE": ring all-reduce of the stage's gradients within its group
  optimizer_step,   // "OPT"
  replicate,        // "REPLICATE": the stage's weights + optimizer state to a backup device
  recv_replica,     // "RECV_REPLICA": holds a replica of `stage` sent by `peer`
  // "RECOMPUTE": on a stage that recomputes its activations (cost_model.hpp), the micro-batch's
  // forward run again from its kept input, right before its backward (after its RECV_B); it
  // keeps the stored activations that backward frees. Last so the other values keep theirs.
  recompute,
};

const char* op_token(Op op);  // "F", "SEND_F", ...

struct Instruction {
  Op op = Op::forward;
  int stage = 0;        // sends/receives: the stage of the device that executes it
  int microbatch = -1;  // -1 for all_reduce, optimizer_step, replicate, recv_replica
  int peer = -1;        // device index of the other end; -1 for compute and collectives
  int samples = 0;      // compute: the device's share; messages: samples in the slice
  double bytes = 0;     // messages: payload; all_reduce: the stage's gradient bytes;
                        // replicate: weights + optimizer state
  double seconds = 0;   // forward/backward/recompute: compute time of the share on this device; optimizer_step:
                        // the step over the stage's layers on this device (0 where the trace has none)
};

// "2F0", "1SEND_F3@4" (to device 4), "0ALLREDUCE", "1REPLICATE@5". Parsed back by parse_instruction.
std::string to_string(const Instruction& i);
Result<Instruction> parse_instruction(const std::string& token);

// Which device keeps a copy of which stage's state (the Coordinator decides; see coordinator.hpp).
struct ReplicaAssignment {
  int stage = 0;
  int owner = 0;   // device that sends the copy
  int backup = 0;  // device that keeps it
};

struct Program {
  Plan plan;                                     // with shares filled in
  std::vector<std::vector<Instruction>> device;  // per cluster device (unused devices: empty)

  int num_devices() const { return int(device.size()); }
  std::vector<int> stage_of_device() const;  // -1 for devices not in the plan
};

// One round of `plan` (shares are filled in by Alg. 1 when missing) on `model`'s cluster, with the
// given replicas copied after the optimizer step. The plan must be feasible. O(devices x M).
Program make_program(const CostModel& model, const Plan& plan,
                     const std::vector<ReplicaAssignment>& replicas = {});

// Samples micro-batch slices [lo, hi) per device of a stage, in group order (schedule.hpp).
using schedule::sample_ranges;

// One line per device: "<index>: tok tok ...". Devices with no instructions are left out.
std::string program_to_text(const Program& p);
// Parses program_to_text's form (bytes and times are not in the text and come back as 0).
Result<std::vector<std::vector<Instruction>>> parse_program_text(const std::string& text, int num_devices);

// Checks pairing (every send has its receive with the same slice, and the reverse), per-device
// order (receive before compute before send, forward before backward of a micro-batch, all
// backwards before the all-reduce and the optimizer step, each micro-batch computed exactly once
// per device of the plan; a device that recomputes recomputes every micro-batch once, after its
// forward and before its backward). The error message holds a step x device grid with
// "<-- ERROR HERE".
Result<bool> validate_program(const std::vector<std::vector<Instruction>>& program);

// Executes the Program without time: sends never block, receives wait for their send, an
// all-reduce waits for its whole group. Returns the number of steps when every device finished,
// or an Error naming the blocked devices and what each waits for (a deadlock).
Result<int> dry_run(const std::vector<std::vector<Instruction>>& program);

// The most micro-batches a device has forwarded but not yet backwarded at any point of its list.
int peak_in_flight(const std::vector<Instruction>& list);

}  // namespace asteroid
