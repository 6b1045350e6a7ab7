// The control protocol between asteroid-exec's coordinator and its workers (exec/README.md,
// "Control protocol"): length-prefixed frames over one TCP connection per worker. Torch-free, no
// I/O: encode() and decode() are pure functions of their arguments, so a fuzzer can drive decode()
// with arbitrary bytes.
//
// A frame is an 8-byte header, then a JSON object of `length` bytes:
//   bytes 0-1  'A' 'X'            magic: anything else is not this protocol
//   byte  2    kProtocolVersion
//   byte  3    the message type (MsgType)
//   bytes 4-7  length, big-endian, at most kMaxBodyBytes
// After the join (the welcome is the last frame without), each frame is followed by a 32-byte
// HMAC-SHA256 of its direction, its sequence number and the frame, under a key of the connection
// (token.hpp: frame_key, frame_mac; net.hpp adds and checks it).
// Every body is checked strictly: known keys only, each of the right kind (the rules of
// json_reader.hpp). Store values (bytes that Gloo's rendezvous exchanges) travel as hex strings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "asteroid/input/error.hpp"
#include "asteroid/input/json_reader.hpp"

namespace asteroid::exec {

// 2: the evaluation message; 3: copies in the background; 4: frames authenticated after the join;
// 5: measured energy in a round
constexpr uint8_t kProtocolVersion = 6;
constexpr size_t kHeaderBytes = 8;
constexpr size_t kMaxBodyBytes = 16u << 20;  // a job of 64 devices is about 100 kB

enum class MsgType : uint8_t {
  // coordinator -> worker
  challenge = 1,  // first frame on every connection
  welcome = 2,
  refuse = 3,
  clock_ping = 4,
  job = 5,
  store_reply = 6,
  stop = 7,
  leave = 8,
  finish = 9,
  checkpointed = 10,
  // worker -> coordinator
  hello = 20,
  clock_pong = 21,
  restarted = 22,
  store_request = 23,
  ready = 24,
  round = 25,
  done = 26,
  peer_lost = 27,
  failed = 28,
  evaluation = 29,
  copy_landed = 30,
  // both ways
  beat = 40,
};

// A message is written once: its struct, with MESSAGE(Struct, code) inside, and its place in the
// `Message` list below. From them follow its wire code (MsgType::code), its name ("code": the JSON
// paths of decoding errors, logs), and the dispatch of encode and decode; the struct's `body()`
// (its JSON) and `parse()` (strict: known keys only, each checked; throws InputError) are defined
// beside each other in control_protocol.cpp.
#define MESSAGE(Struct, code)                            \
  static constexpr MsgType kType = MsgType::code;        \
  static constexpr const char* kName = #code;            \
  nlohmann::json body() const;                           \
  static Struct parse(const JsonReader& r);

// --- coordinator -> worker ---
struct Challenge {    // the nonce a worker's proof covers (token.hpp)
  MESSAGE(Challenge, challenge)
  std::string nonce;  // 64 hex digits
};
struct Welcome {
  MESSAGE(Welcome, welcome)
  int device = 0;  // index in the scenario
  std::string name;
  double heartbeat_interval_s = 1;
  double silence_limit_s = 30;  // the worker stops when the coordinator is silent this long
};
struct Refuse {
  MESSAGE(Refuse, refuse)
  std::string reason;
};
struct ClockPing {
  MESSAGE(ClockPing, clock_ping)
  int id = 0;
  int64_t coordinator_ns = 0;  // the coordinator's steady clock when sent
};
// The checkpoint moved (exec/README.md, "Copies"): a recovery starts from `round` or later, so
// every worker may remove its files of earlier rounds.
struct Checkpointed {
  MESSAGE(Checkpointed, checkpointed)
  int generation = 0;
  int round = -1;  // -1: the initial weights
};
struct Job {
  MESSAGE(Job, job)
  nlohmann::json job;  // exec_job.hpp's form, checked by job_from_json
};
struct StoreReply {
  MESSAGE(StoreReply, store_reply)
  int64_t id = 0;
  bool ok = true;      // false: `error` says why (an unknown operation)
  std::string value;   // get: the value's bytes
  std::string error;
};
struct Stop {  // the generation ends: the worker restarts its process and waits for the next job
  MESSAGE(Stop, stop)
  int generation = 0;
};
struct Leave {  // the scenario's `leave` fault: the worker kills itself (SIGKILL)
  MESSAGE(Leave, leave)
};
struct Finish {   // the run is over
  MESSAGE(Finish, finish)
  bool keep_checkpoints = false;
};

// --- worker -> coordinator ---
struct Hello {
  MESSAGE(Hello, hello)
  std::string device;  // the name it claims
  std::string proof;   // 64 hex digits: HMAC-SHA256(token, nonce + device), token.hpp
  std::string host;    // its host name, for messages
  int64_t pid = 0;
  std::string address;  // where its Gloo peers reach it; empty: the address it connects from
  std::string checkpoint_dir;
};
struct ClockPong {
  MESSAGE(ClockPong, clock_pong)
  int id = 0;
  int64_t coordinator_ns = 0;  // echoed
  int64_t worker_ns = 0;       // the worker's steady clock when it answered
};
struct Restarted {  // a fresh process after Stop, on the same connection
  MESSAGE(Restarted, restarted)
  int generation = 0;
};
// What Gloo's rendezvous asks of a store (control_store.hpp): get and wait wait for their keys.
enum class StoreOp { set, get, wait };
struct StoreRequest {
  MESSAGE(StoreRequest, store_request)
  int64_t id = 0;
  StoreOp op = StoreOp::get;
  std::vector<std::string> keys;  // set/get: one; wait: any
  std::string value;              // set
};
struct Ready {  // state in place; the generation's rounds start
  MESSAGE(Ready, ready)
  int generation = 0;
  int64_t ready_ns = 0;  // worker clock
  double transfer_s = 0;
};
struct SpanRecord {
  std::string op;
  int stage = -1, microbatch = -1;
  int64_t start_ns = 0, end_ns = 0;  // worker clock
};
struct Round {
  MESSAGE(Round, round)
  int generation = 0;
  int round = 0;
  int64_t start_ns = 0, end_ns = 0;  // worker clock
  std::optional<double> loss;        // the last stage's devices: their part of the round's loss
  std::vector<SpanRecord> spans;
  double checkpoint_bytes = 0;  // on this worker's disk after the round
  double peak_rss_bytes = 0;
  // The most bytes libtorch's CPU allocator held at once during the round's instructions
  // (allocation_meter.hpp); 0: not metered.
  double peak_allocated_bytes = 0;
  // Emulated runs: compute steps with a budget, those over it, the longest overrun (real seconds).
  int budgeted = 0, over_budget = 0;
  double worst_overrun_s = 0;
  // A worker on an accelerator (CUDA): its copies between device and host memory since its last
  // Round message (messages, all-reduces, inputs, checkpoints), their bytes and seconds.
  long long host_copies = 0;
  double host_copy_bytes = 0, host_copy_s = 0;
  // A worker whose board has a readable input rail (power_rails.hpp), not emulated: the joules
  // measured over the round (start_ns..end_ns), the rail and how many samples fell in it.
  std::string power_rail;  // empty: not measured
  double measured_J = 0;
  long long power_samples = 0;
};
struct Done {
  MESSAGE(Done, done)
  int generation = 0;
};
struct PeerLost {  // a Gloo peer went away mid-round: expected after a failure
  MESSAGE(PeerLost, peer_lost)
  int generation = 0;
  std::string what;
};
struct Failed {  // the worker cannot go on
  MESSAGE(Failed, failed)
  int generation = 0;
  int status = 1;  // 2: it refused its input
  std::string message;
};
struct Beat {
  MESSAGE(Beat, beat)
};
// A backup saved a copy of `stage`'s state after `round` (weights and optimizer state, each layer
// in its checkpoint directory).
struct CopyLanded {
  MESSAGE(CopyLanded, copy_landed)
  int generation = 0;
  int round = 0;
  int stage = 0;
};
// A test-set evaluation (exec/README.md, "Real data"): a last-stage device's part, sent once it has
// run its rows of every evaluation batch through the pipeline in evaluation mode. The coordinator
// sums the parts of all last-stage devices.
struct EvalPart {
  MESSAGE(EvalPart, evaluation)
  int generation = 0;
  int round = 0;          // evaluated after this round's update
  double loss_sum = 0;    // cross-entropy summed over this device's samples
  int64_t correct = 0;    // of this device's samples, classified correctly
  int64_t samples = 0;    // this device's samples
  int64_t start_ns = 0, end_ns = 0;  // worker clock: the evaluation itself
};

using Message =
    std::variant<Challenge, Welcome, Refuse, ClockPing, Job, StoreReply, Stop, Leave, Finish, Hello,
                 ClockPong, Restarted, StoreRequest, Ready, Round, Done, PeerLost, Failed, Beat, EvalPart,
                 Checkpointed, CopyLanded>;

#undef MESSAGE

MsgType type_of(const Message& m);
const char* to_string(MsgType t);  // the message's name; "?" for a code no message has

// The frame of a message: header and body.
std::string encode(const Message& m);

// How many bytes the first frame of `buffer` has: 0 while its header is incomplete; an Error when
// the header is not this protocol's (wrong magic or version, unknown type, length over the limit).
// Pure. O(1).
Result<size_t> frame_size(std::string_view buffer);

// The message of exactly one frame (frame_size(frame) == frame.size()). An Error says what is wrong
// (header, JSON syntax, a missing or unknown key, a value of the wrong kind). Pure; never throws.
// O(frame size).
Result<Message> decode(std::string_view frame);

// Hex of bytes and back (nullopt: not an even-length string of hex digits).
std::string to_hex(std::string_view bytes);
std::optional<std::string> from_hex(std::string_view hex);

}  // namespace asteroid::exec
