#include "control_protocol.hpp"

#include "asteroid/input/json_reader.hpp"

namespace asteroid::exec {
namespace {

using nlohmann::json;

const char* op_name(StoreOp op) {
  switch (op) {
    case StoreOp::set: return "set";
    case StoreOp::get: return "get";
    case StoreOp::wait: return "wait";
  }
  return "?";
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

// The list of messages, walked at compile time: a message's code, name and parser come from its
// struct (MESSAGE in control_protocol.hpp), so no second table can fall out of step.
template <class V>
struct Messages;
template <class... M>
struct Messages<std::variant<M...>> {
  static constexpr bool distinct_codes() {
    const MsgType codes[] = {M::kType...};
    for (size_t i = 0; i < sizeof...(M); ++i)
      for (size_t j = i + 1; j < sizeof...(M); ++j)
        if (codes[i] == codes[j]) return false;
    return true;
  }
  static bool known(uint8_t t) { return ((uint8_t(M::kType) == t) || ...); }
  static const char* name(MsgType t) {
    const char* n = "?";
    (void)((M::kType == t ? (n = M::kName, true) : false) || ...);  // the first match, if any
    return n;
  }
  static Message parse(MsgType t, const JsonReader& r) {
    std::optional<Message> out;
    (void)((M::kType == t ? (out.emplace(M::parse(r)), true) : false) || ...);
    if (!out) throw InputError{"", "unknown message type"};
    return std::move(*out);
  }
};
using Table = Messages<Message>;
static_assert(Table::distinct_codes(), "two messages share a wire code");

}  // namespace

// Each message's body and its strict reading, in the order of the Message list.
json Challenge::body() const {
  return {{"nonce", nonce}};
}
Challenge Challenge::parse(const JsonReader& r) {
  r.allow_only({"nonce"});
  Challenge x;
  x.nonce = r.at("nonce").string();
  if (x.nonce.size() != 64 || !from_hex(x.nonce)) r.at("nonce").fail("expected 64 hex digits");
  return x;
}

json Welcome::body() const {
  return {{"device", device},
          {"name", name},
          {"heartbeat_interval_s", heartbeat_interval_s},
          {"silence_limit_s", silence_limit_s}};
}
Welcome Welcome::parse(const JsonReader& r) {
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

json Refuse::body() const {
  return {{"reason", reason}};
}
Refuse Refuse::parse(const JsonReader& r) {
  r.allow_only({"reason"});
  return Refuse{r.at("reason").string()};
}

json ClockPing::body() const {
  return {{"id", id}, {"coordinator_ns", coordinator_ns}};
}
ClockPing ClockPing::parse(const JsonReader& r) {
  r.allow_only({"id", "coordinator_ns"});
  return ClockPing{small_int(r.at("id")), int64_of(r.at("coordinator_ns"))};
}

json Job::body() const {
  return {{"job", job}};
}
Job Job::parse(const JsonReader& r) {
  r.allow_only({"job"});
  r.at("job").require_object();
  return Job{r.at("job").json()};
}

json StoreReply::body() const {
  return {{"id", id},
          {"ok", ok},
          {"value", to_hex(value)},
          {"error", error}};
}
StoreReply StoreReply::parse(const JsonReader& r) {
  r.allow_only({"id", "ok", "value", "error"});
  StoreReply x;
  x.id = int64_of(r.at("id"));
  x.ok = r.at("ok").boolean();
  x.value = hex_of(r.at("value"));
  x.error = r.at("error").string();
  return x;
}

json Stop::body() const {
  return {{"generation", generation}};
}
Stop Stop::parse(const JsonReader& r) {
  r.allow_only({"generation"});
  return Stop{small_int(r.at("generation"))};
}

json Leave::body() const { return json::object(); }
Leave Leave::parse(const JsonReader& r) {
r.allow_only({});
return Leave{};
}

json Checkpointed::body() const {
  return {{"generation", generation}, {"round", round}};
}
Checkpointed Checkpointed::parse(const JsonReader& r) {
  r.allow_only({"generation", "round"});
  Checkpointed x{small_int(r.at("generation")), small_int(r.at("round"))};
  if (x.round < -1) r.at("round").fail("expected a round, or -1");
  return x;
}

json CopyLanded::body() const {
  return {{"generation", generation}, {"round", round}, {"stage", stage}};
}
CopyLanded CopyLanded::parse(const JsonReader& r) {
  r.allow_only({"generation", "round", "stage"});
  CopyLanded x{small_int(r.at("generation")), small_int(r.at("round")), small_int(r.at("stage"))};
  if (x.round < 0) r.at("round").fail("expected a round");
  if (x.stage < 0) r.at("stage").fail("expected a stage");
  return x;
}

json Finish::body() const {
  return {{"keep_checkpoints", keep_checkpoints}};
}
Finish Finish::parse(const JsonReader& r) {
  r.allow_only({"keep_checkpoints"});
  return Finish{r.at("keep_checkpoints").boolean()};
}

json Hello::body() const {
  return {{"device", device}, {"proof", proof},     {"host", host},
          {"pid", pid},       {"address", address}, {"checkpoint_dir", checkpoint_dir}};
}
Hello Hello::parse(const JsonReader& r) {
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

json ClockPong::body() const {
  return {{"id", id}, {"coordinator_ns", coordinator_ns}, {"worker_ns", worker_ns}};
}
ClockPong ClockPong::parse(const JsonReader& r) {
  r.allow_only({"id", "coordinator_ns", "worker_ns"});
  return ClockPong{small_int(r.at("id")), int64_of(r.at("coordinator_ns")), int64_of(r.at("worker_ns"))};
}

json Restarted::body() const {
  return {{"generation", generation}};
}
Restarted Restarted::parse(const JsonReader& r) {
  r.allow_only({"generation"});
  return Restarted{small_int(r.at("generation"))};
}

json StoreRequest::body() const {
  return {{"id", id},
          {"op", op_name(op)},
          {"keys", keys},
          {"value", to_hex(value)}};
}
StoreRequest StoreRequest::parse(const JsonReader& r) {
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

json Ready::body() const {
  return {{"generation", generation}, {"ready_ns", ready_ns}, {"transfer_s", transfer_s}};
}
Ready Ready::parse(const JsonReader& r) {
  r.allow_only({"generation", "ready_ns", "transfer_s"});
  return Ready{small_int(r.at("generation")), int64_of(r.at("ready_ns")), r.at("transfer_s").number()};
}

json Round::body() const {
  json rows = json::array();
  for (const SpanRecord& s : spans)
    rows.push_back(json::array({s.op, s.stage, s.microbatch, s.start_ns, s.end_ns}));
  json j = {{"generation", generation},
            {"round", round},
            {"start_ns", start_ns},
            {"end_ns", end_ns},
            {"spans", rows},
            {"checkpoint_bytes", checkpoint_bytes},
            {"peak_rss_bytes", peak_rss_bytes}};
  if (loss) j["loss"] = *loss;
  if (peak_allocated_bytes > 0) j["peak_allocated_bytes"] = peak_allocated_bytes;
  if (budgeted > 0)
    j["emulation"] = {budgeted, over_budget, worst_overrun_s};
  if (host_copies > 0) j["host_copies"] = {host_copies, host_copy_bytes, host_copy_s};
  if (!power_rail.empty()) j["measured_energy"] = {power_rail, measured_J, power_samples};
  return j;
}
Round Round::parse(const JsonReader& r) {
  r.allow_only({"generation", "round", "start_ns", "end_ns", "loss", "spans", "checkpoint_bytes",
                "peak_rss_bytes", "peak_allocated_bytes", "emulation", "host_copies", "measured_energy"});
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
  if (r.has("peak_allocated_bytes")) x.peak_allocated_bytes = r.at("peak_allocated_bytes").number_in(0, 1e15);
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
  if (r.has("measured_energy")) {
    JsonReader m = r.at("measured_energy");
    if (m.size() != 3) m.fail("expected [rail, joules, samples]");
    x.power_rail = m.at(0).string();
    x.measured_J = m.at(1).number();
    x.power_samples = int64_of(m.at(2));
    if (x.power_rail.empty() || !(x.measured_J >= 0) || x.power_samples < 0)
      m.fail("expected a rail's name, non-negative joules and a sample count");
  }
  return x;
}

json Done::body() const {
  return {{"generation", generation}};
}
Done Done::parse(const JsonReader& r) {
  r.allow_only({"generation"});
  return Done{small_int(r.at("generation"))};
}

json PeerLost::body() const {
  return {{"generation", generation}, {"what", what}};
}
PeerLost PeerLost::parse(const JsonReader& r) {
  r.allow_only({"generation", "what"});
  return PeerLost{small_int(r.at("generation")), r.at("what").string()};
}

json Failed::body() const {
  return {{"generation", generation}, {"status", status}, {"message", message}};
}
Failed Failed::parse(const JsonReader& r) {
  r.allow_only({"generation", "status", "message"});
  return Failed{small_int(r.at("generation")), small_int(r.at("status")), r.at("message").string()};
}

json Beat::body() const { return json::object(); }
Beat Beat::parse(const JsonReader& r) {
r.allow_only({});
return Beat{};
}

json EvalPart::body() const {
  return {{"generation", generation}, {"round", round},   {"loss_sum", loss_sum},
          {"correct", correct},       {"samples", samples}, {"start_ns", start_ns},
          {"end_ns", end_ns}};
}
EvalPart EvalPart::parse(const JsonReader& r) {
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


MsgType type_of(const Message& m) {
  return std::visit([](const auto& x) { return std::decay_t<decltype(x)>::kType; }, m);
}

const char* to_string(MsgType t) { return Table::name(t); }

std::string encode(const Message& m) {
  std::string b = std::visit([](const auto& x) { return x.body(); }, m).dump();
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
  if (buf.size() >= 4 && !Table::known(uint8_t(buf[3])))
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
    return Table::parse(t, JsonReader(j, to_string(t)));
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
