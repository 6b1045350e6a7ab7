#include "control_protocol.hpp"

#include "asteroid/json_reader.hpp"

namespace asteroid::exec {
namespace {

using nlohmann::json;

template <class... F>
struct Overload : F... {
  using F::operator()...;
};
template <class... F>
Overload(F...) -> Overload<F...>;

const char* op_name(StoreOp op) {
  switch (op) {
    case StoreOp::set: return "set";
    case StoreOp::get: return "get";
    case StoreOp::wait: return "wait";
  }
  return "?";
}

json body(const Message& m) {
  return std::visit(
      Overload{
          [](const Challenge& x) -> json {
            return {{"nonce", x.nonce}};
          },
          [](const Welcome& x) -> json {
            return {{"device", x.device},
                    {"name", x.name},
                    {"heartbeat_interval_s", x.heartbeat_interval_s},
                    {"silence_limit_s", x.silence_limit_s}};
          },
          [](const Refuse& x) -> json {
            return {{"reason", x.reason}};
          },
          [](const ClockPing& x) -> json {
            return {{"id", x.id}, {"coordinator_ns", x.coordinator_ns}};
          },
          [](const Job& x) -> json {
            return {{"job", x.job}};
          },
          [](const StoreReply& x) -> json {
            return {{"id", x.id},
                    {"ok", x.ok},
                    {"value", to_hex(x.value)},
                    {"error", x.error}};
          },
          [](const Stop& x) -> json {
            return {{"generation", x.generation}};
          },
          [](const Leave&) -> json { return json::object(); },
          [](const Checkpointed& x) -> json {
            return {{"generation", x.generation}, {"round", x.round}};
          },
          [](const CopyLanded& x) -> json {
            return {{"generation", x.generation}, {"round", x.round}, {"stage", x.stage}};
          },
          [](const Finish& x) -> json {
            return {{"keep_checkpoints", x.keep_checkpoints}};
          },
          [](const Hello& x) -> json {
            return {{"device", x.device}, {"proof", x.proof},     {"host", x.host},
                    {"pid", x.pid},       {"address", x.address}, {"checkpoint_dir", x.checkpoint_dir}};
          },
          [](const ClockPong& x) -> json {
            return {{"id", x.id}, {"coordinator_ns", x.coordinator_ns}, {"worker_ns", x.worker_ns}};
          },
          [](const Restarted& x) -> json {
            return {{"generation", x.generation}};
          },
          [](const StoreRequest& x) -> json {
            return {{"id", x.id},
                    {"op", op_name(x.op)},
                    {"keys", x.keys},
                    {"value", to_hex(x.value)}};
          },
          [](const Ready& x) -> json {
            return {{"generation", x.generation}, {"ready_ns", x.ready_ns}, {"transfer_s", x.transfer_s}};
          },
          [](const Round& x) -> json {
            json spans = json::array();
            for (const SpanRecord& s : x.spans)
              spans.push_back(json::array({s.op, s.stage, s.microbatch, s.start_ns, s.end_ns}));
            json j = {{"generation", x.generation},
                      {"round", x.round},
                      {"start_ns", x.start_ns},
                      {"end_ns", x.end_ns},
                      {"spans", spans},
                      {"checkpoint_bytes", x.checkpoint_bytes},
                      {"peak_rss_bytes", x.peak_rss_bytes}};
            if (x.loss) j["loss"] = *x.loss;
            if (x.budgeted > 0)
              j["emulation"] = {x.budgeted, x.over_budget, x.worst_overrun_s};
            if (x.host_copies > 0) j["host_copies"] = {x.host_copies, x.host_copy_bytes, x.host_copy_s};
            return j;
          },
          [](const Done& x) -> json {
            return {{"generation", x.generation}};
          },
          [](const PeerLost& x) -> json {
            return {{"generation", x.generation}, {"what", x.what}};
          },
          [](const Failed& x) -> json {
            return {{"generation", x.generation}, {"status", x.status}, {"message", x.message}};
          },
          [](const Beat&) -> json { return json::object(); },
          [](const EvalPart& x) -> json {
            return {{"generation", x.generation}, {"round", x.round},   {"loss_sum", x.loss_sum},
                    {"correct", x.correct},       {"samples", x.samples}, {"start_ns", x.start_ns},
                    {"end_ns", x.end_ns}};
          },
      },
      m);
}

int64_t int64_of(const JsonReader& r) { return int64_t(r.integer()); }

int small_int(const JsonReader& r) {
  long long v = r.integer();
  if (v < -(1LL << 30) || v > (1LL << 30)) r.fail("out of range");
  return int(v);
}

std::string hex_of(const JsonReader& r) {
  auto v = from_hex(r.string());
  if (!v) r.fail("expected a string of hex digits");
  return *v;
}

// The message of type t from its body; throws InputError.
Message parse(MsgType t, const JsonReader& r) {
  r.require_object();
  switch (t) {
    case MsgType::challenge: {
      r.allow_only({"nonce"});
      Challenge x;
      x.nonce = r.at("nonce").string();
      if (x.nonce.size() != 64 || !from_hex(x.nonce)) r.at("nonce").fail("expected 64 hex digits");
      return x;
    }
    case MsgType::welcome: {
      r.allow_only({"device", "name", "heartbeat_interval_s", "silence_limit_s"});
      Welcome x;
      x.device = small_int(r.at("device"));
      x.name = r.at("name").string();
      x.heartbeat_interval_s = r.at("heartbeat_interval_s").number();
      x.silence_limit_s = r.at("silence_limit_s").number();
      if (x.device < 0) r.at("device").fail("must be >= 0");
      if (!(x.heartbeat_interval_s > 0)) r.at("heartbeat_interval_s").fail("must be > 0");
      if (!(x.silence_limit_s > 0)) r.at("silence_limit_s").fail("must be > 0");
      return x;
    }
    case MsgType::refuse: {
      r.allow_only({"reason"});
      return Refuse{r.at("reason").string()};
    }
    case MsgType::clock_ping: {
      r.allow_only({"id", "coordinator_ns"});
      return ClockPing{small_int(r.at("id")), int64_of(r.at("coordinator_ns"))};
    }
    case MsgType::job: {
      r.allow_only({"job"});
      r.at("job").require_object();
      return Job{r.at("job").json()};
    }
    case MsgType::store_reply: {
      r.allow_only({"id", "ok", "value", "error"});
      StoreReply x;
      x.id = int64_of(r.at("id"));
      x.ok = r.at("ok").boolean();
      x.value = hex_of(r.at("value"));
      x.error = r.at("error").string();
      return x;
    }
    case MsgType::stop: {
      r.allow_only({"generation"});
      return Stop{small_int(r.at("generation"))};
    }
    case MsgType::leave: r.allow_only({}); return Leave{};
    case MsgType::finish: {
      r.allow_only({"keep_checkpoints"});
      return Finish{r.at("keep_checkpoints").boolean()};
    }
    case MsgType::checkpointed: {
      r.allow_only({"generation", "round"});
      Checkpointed x{small_int(r.at("generation")), small_int(r.at("round"))};
      if (x.round < -1) r.at("round").fail("expected a round, or -1");
      return x;
    }
    case MsgType::copy_landed: {
      r.allow_only({"generation", "round", "stage"});
      CopyLanded x{small_int(r.at("generation")), small_int(r.at("round")), small_int(r.at("stage"))};
      if (x.round < 0) r.at("round").fail("expected a round");
      if (x.stage < 0) r.at("stage").fail("expected a stage");
      return x;
    }
    case MsgType::hello: {
      r.allow_only({"device", "proof", "host", "pid", "address", "checkpoint_dir"});
      Hello x;
      x.device = r.at("device").string();
      x.proof = r.at("proof").string();
      x.host = r.at("host").string();
      x.pid = int64_of(r.at("pid"));
      x.address = r.at("address").string();
      x.checkpoint_dir = r.at("checkpoint_dir").string();
      return x;
    }
    case MsgType::clock_pong: {
      r.allow_only({"id", "coordinator_ns", "worker_ns"});
      return ClockPong{small_int(r.at("id")), int64_of(r.at("coordinator_ns")), int64_of(r.at("worker_ns"))};
    }
    case MsgType::restarted: {
      r.allow_only({"generation"});
      return Restarted{small_int(r.at("generation"))};
    }
    case MsgType::store_request: {
      r.allow_only({"id", "op", "keys", "value"});
      StoreRequest x;
      x.id = int64_of(r.at("id"));
      std::string op = r.at("op").string();
      bool known = false;
      for (StoreOp o : {StoreOp::set, StoreOp::get, StoreOp::wait})
        if (op == op_name(o)) x.op = o, known = true;
      if (!known) r.at("op").fail("unknown store operation \"" + op + "\"");
      JsonReader keys = r.at("keys");
      for (size_t i = 0; i < keys.size(); ++i) x.keys.push_back(keys.at(i).string());
      const bool one = x.op == StoreOp::set || x.op == StoreOp::get;
      if (one && x.keys.size() != 1) keys.fail("this operation takes exactly one key");
      x.value = hex_of(r.at("value"));
      return x;
    }
    case MsgType::ready: {
      r.allow_only({"generation", "ready_ns", "transfer_s"});
      return Ready{small_int(r.at("generation")), int64_of(r.at("ready_ns")), r.at("transfer_s").number()};
    }
    case MsgType::round: {
      r.allow_only({"generation", "round", "start_ns", "end_ns", "loss", "spans", "checkpoint_bytes",
                    "peak_rss_bytes", "emulation", "host_copies"});
      Round x;
      x.generation = small_int(r.at("generation"));
      x.round = small_int(r.at("round"));
      x.start_ns = int64_of(r.at("start_ns"));
      x.end_ns = int64_of(r.at("end_ns"));
      if (r.has("loss")) x.loss = r.at("loss").number();
      JsonReader spans = r.at("spans");
      for (size_t i = 0; i < spans.size(); ++i) {
        JsonReader s = spans.at(i);
        if (s.size() != 5) s.fail("a span is [op, stage, microbatch, start_ns, end_ns]");
        x.spans.push_back(
            {s.at(0).string(), small_int(s.at(1)), small_int(s.at(2)), int64_of(s.at(3)), int64_of(s.at(4))});
      }
      x.checkpoint_bytes = r.at("checkpoint_bytes").number();
      x.peak_rss_bytes = r.at("peak_rss_bytes").number();
      if (r.has("emulation")) {
        JsonReader e = r.at("emulation");
        if (e.size() != 3) e.fail("expected [budgeted, over_budget, worst_overrun_s]");
        x.budgeted = small_int(e.at(0));
        x.over_budget = small_int(e.at(1));
        x.worst_overrun_s = e.at(2).number();
        if (x.budgeted < 0 || x.over_budget < 0 || x.over_budget > x.budgeted || !(x.worst_overrun_s >= 0))
          e.fail("counts out of order or a negative overrun");
      }
      if (r.has("host_copies")) {
        JsonReader c = r.at("host_copies");
        if (c.size() != 3) c.fail("expected [copies, bytes, seconds]");
        x.host_copies = int64_of(c.at(0));
        x.host_copy_bytes = c.at(1).number();
        x.host_copy_s = c.at(2).number();
        if (x.host_copies < 0 || !(x.host_copy_bytes >= 0) || !(x.host_copy_s >= 0))
          c.fail("expected non-negative counts, bytes and seconds");
      }
      return x;
    }
    case MsgType::done: {
      r.allow_only({"generation"});
      return Done{small_int(r.at("generation"))};
    }
    case MsgType::peer_lost: {
      r.allow_only({"generation", "what"});
      return PeerLost{small_int(r.at("generation")), r.at("what").string()};
    }
    case MsgType::failed: {
      r.allow_only({"generation", "status", "message"});
      return Failed{small_int(r.at("generation")), small_int(r.at("status")), r.at("message").string()};
    }
    case MsgType::beat: r.allow_only({}); return Beat{};
    case MsgType::evaluation: {
      r.allow_only({"generation", "round", "loss_sum", "correct", "samples", "start_ns", "end_ns"});
      EvalPart x;
      x.generation = small_int(r.at("generation"));
      x.round = small_int(r.at("round"));
      x.loss_sum = r.at("loss_sum").number();
      x.correct = int64_of(r.at("correct"));
      x.samples = int64_of(r.at("samples"));
      if (x.correct < 0 || x.samples < 0 || x.correct > x.samples) r.fail("correct must lie in 0..samples");
      x.start_ns = int64_of(r.at("start_ns"));
      x.end_ns = int64_of(r.at("end_ns"));
      return x;
    }
  }
  throw InputError{"", "unknown message type"};
}

bool known_type(uint8_t t) { return (t >= 1 && t <= 10) || (t >= 20 && t <= 30) || t == 40; }

}  // namespace

MsgType type_of(const Message& m) {
  static constexpr MsgType kTypes[] = {
      MsgType::challenge,   MsgType::welcome,   MsgType::refuse,        MsgType::clock_ping, MsgType::job,
      MsgType::store_reply, MsgType::stop,      MsgType::leave,         MsgType::finish,     MsgType::hello,
      MsgType::clock_pong,  MsgType::restarted, MsgType::store_request, MsgType::ready,      MsgType::round,
      MsgType::done,        MsgType::peer_lost, MsgType::failed,        MsgType::beat,       MsgType::evaluation,
      MsgType::checkpointed, MsgType::copy_landed};
  static_assert(std::size(kTypes) == std::variant_size_v<Message>, "one type per message");
  return kTypes[m.index()];
}

const char* to_string(MsgType t) {
  switch (t) {
    case MsgType::challenge: return "challenge";
    case MsgType::welcome: return "welcome";
    case MsgType::refuse: return "refuse";
    case MsgType::clock_ping: return "clock_ping";
    case MsgType::job: return "job";
    case MsgType::store_reply: return "store_reply";
    case MsgType::stop: return "stop";
    case MsgType::leave: return "leave";
    case MsgType::finish: return "finish";
    case MsgType::hello: return "hello";
    case MsgType::clock_pong: return "clock_pong";
    case MsgType::restarted: return "restarted";
    case MsgType::store_request: return "store_request";
    case MsgType::ready: return "ready";
    case MsgType::round: return "round";
    case MsgType::done: return "done";
    case MsgType::peer_lost: return "peer_lost";
    case MsgType::failed: return "failed";
    case MsgType::beat: return "beat";
    case MsgType::evaluation: return "evaluation";
    case MsgType::checkpointed: return "checkpointed";
    case MsgType::copy_landed: return "copy_landed";
  }
  return "?";
}

std::string encode(const Message& m) {
  std::string b = body(m).dump();
  std::string f(kHeaderBytes, '\0');
  f[0] = 'A';
  f[1] = 'X';
  f[2] = char(kProtocolVersion);
  f[3] = char(uint8_t(type_of(m)));
  uint32_t n = uint32_t(b.size());
  for (int i = 0; i < 4; ++i) f[4 + i] = char((n >> (24 - 8 * i)) & 0xff);
  return f + b;
}

Result<size_t> frame_size(std::string_view buf) {
  if (buf.size() >= 1 && buf[0] != 'A') return Error{"", "", "not an asteroid-exec frame (bad magic)"};
  if (buf.size() >= 2 && buf[1] != 'X') return Error{"", "", "not an asteroid-exec frame (bad magic)"};
  if (buf.size() >= 3 && uint8_t(buf[2]) != kProtocolVersion)
    return Error{"", "",
                 "protocol version " + std::to_string(uint8_t(buf[2])) + ", this asteroid-exec speaks " +
                     std::to_string(kProtocolVersion)};
  if (buf.size() >= 4 && !known_type(uint8_t(buf[3])))
    return Error{"", "", "unknown message type " + std::to_string(uint8_t(buf[3]))};
  if (buf.size() < kHeaderBytes) return size_t(0);
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n = (n << 8) | uint8_t(buf[4 + i]);
  if (n > kMaxBodyBytes)
    return Error{
        "", "",
        "a frame of " + std::to_string(n) + " bytes (the limit is " + std::to_string(kMaxBodyBytes) + ")"};
  return kHeaderBytes + n;
}

Result<Message> decode(std::string_view frame) {
  auto size = frame_size(frame);
  if (!size) return size.error();
  if (size.value() == 0 || size.value() != frame.size())
    return Error{"", "",
                 "a frame of " + std::to_string(frame.size()) + " bytes whose header says " +
                     std::to_string(size.value() ? size.value() : kHeaderBytes)};
  const MsgType t = MsgType(uint8_t(frame[3]));
  const std::string_view text = frame.substr(kHeaderBytes);
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Error{"", to_string(t), "the body is not JSON"};
  try {
    return parse(t, JsonReader(j, to_string(t)));
  } catch (const InputError& e) {
    return Error{"", e.path, e.message};
  } catch (const std::exception& e) {  // nlohmann's own, should a check above miss one
    return Error{"", to_string(t), e.what()};
  }
}

std::string to_hex(std::string_view bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    s += kDigits[c >> 4];
    s += kDigits[c & 15];
  }
  return s;
}

std::optional<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2) return std::nullopt;
  auto digit = [](char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
  };
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = digit(hex[2 * i]), lo = digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = char(hi * 16 + lo);
  }
  return out;
}

}  // namespace asteroid::exec
