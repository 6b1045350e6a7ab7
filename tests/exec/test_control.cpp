// The control protocol of asteroid-exec (exec/runtime/control/control_protocol.hpp), the job it carries and
// the join token: torch-free, so these build and run without libtorch's cost.
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "control_protocol.hpp"
#include "eval_tally.hpp"
#include "exec_job.hpp"
#include "net.hpp"
#include "token.hpp"

using namespace asteroid;
using namespace asteroid::exec;

namespace {

std::vector<Message> one_of_each() {
  Round r;
  r.generation = 2;
  r.round = 7;
  r.start_ns = 123456789012345;
  r.end_ns = 123456799012345;
  r.loss = 2.25;
  r.spans = {{"F", 0, 1, 10, 20}, {"ALLREDUCE", 1, -1, 30, 40}};
  r.checkpoint_bytes = 1e6;
  r.peak_rss_bytes = 3e8;
  r.budgeted = 8;
  r.over_budget = 1;
  r.worst_overrun_s = 0.002;
  r.host_copies = 12;
  r.host_copy_bytes = 4.5e6;
  r.host_copy_s = 0.003;
  StoreRequest q;
  q.id = 9;
  q.op = StoreOp::set;
  q.keys = {"g0/all/0"};
  q.value = std::string("\0\x01\xff binary", 10);
  StoreReply a;
  a.id = 9;
  a.value = std::string("\0\x02", 2);
  return {Challenge{std::string(64, 'a')},
          Welcome{1, "cpu1", 0.5, 30},
          Refuse{"wrong token"},
          ClockPing{3, 42},
          Job{nlohmann::json{{"x", 1}}},
          a,
          Stop{4},
          Leave{},
          Finish{true},
          Hello{"cpu1", std::string(64, '0'), "host", 77, "10.0.0.2", "/tmp/c"},
          ClockPong{3, 42, 43},
          Restarted{4},
          q,
          Ready{1, 5, 0.25},
          r,
          Done{1},
          PeerLost{1, "Connection reset by peer"},
          Failed{1, 2, "no such model"},
          Beat{},
          EvalPart{3, 99, 12.5, 7, 10, 100, 200},
          Checkpointed{3, 5},
          CopyLanded{3, 7, 1}};
}

}  // namespace

TEST_CASE("every message survives encode and decode") {
  for (const Message& m : one_of_each()) {
    std::string f = encode(m);
    auto size = frame_size(f);
    REQUIRE(size.ok());
    CHECK(size.value() == f.size());
    auto back = decode(f);
    INFO(to_string(type_of(m)));
    REQUIRE(back.ok());
    CHECK(back->index() == m.index());
    CHECK(encode(back.value()) == f);  // every field came back
  }
}

TEST_CASE("a frame is read only when whole") {
  std::string f = encode(Hello{"cpu0", std::string(64, 'f'), "h", 1, "", "/c"});
  for (size_t n = 0; n < kHeaderBytes; ++n) {
    auto size = frame_size(std::string_view(f).substr(0, n));
    REQUIRE(size.ok());
    CHECK(size.value() == 0);
  }
  CHECK(frame_size(std::string_view(f).substr(0, kHeaderBytes)).value() == f.size());
  CHECK_FALSE(decode(std::string_view(f).substr(0, f.size() - 1)).ok());
}

TEST_CASE("bytes that are not the protocol are refused with a reason") {
  CHECK(frame_size("GET / HTTP/1.1\r\n").error().message.find("magic") != std::string::npos);
  std::string f = encode(Beat{});
  f[2] = 9;
  CHECK(frame_size(f).error().message.find("protocol version 9") != std::string::npos);
  f = encode(Beat{});
  f[3] = 99;
  CHECK(frame_size(f).error().message.find("unknown message type") != std::string::npos);
  f = encode(Beat{});
  f[4] = char(0x7f);  // a body of 2 GB
  CHECK_FALSE(frame_size(f).ok());

  auto frame = [](MsgType t, const std::string& body) {
    std::string h = {'A', 'X', char(kProtocolVersion), char(uint8_t(t)), 0, 0, 0, 0};
    for (int i = 0; i < 4; ++i) h[4 + i] = char((body.size() >> (24 - 8 * i)) & 0xff);
    return h + body;
  };
  CHECK(decode(frame(MsgType::beat, "{")).error().message == "the body is not JSON");
  CHECK(decode(frame(MsgType::beat, "[]")).error().message.find("object") != std::string::npos);
  CHECK(decode(frame(MsgType::stop, "{}")).error().path == "stop.generation");
  CHECK(decode(frame(MsgType::stop, R"({"generation":1,"x":2})")).error().path == "stop.x");
  CHECK(decode(frame(MsgType::stop, R"({"generation":"1"})")).error().path == "stop.generation");
  CHECK_FALSE(decode(frame(MsgType::challenge, R"({"nonce":"xyz"})")).ok());
  CHECK_FALSE(
      decode(frame(MsgType::store_request, R"({"id":1,"op":"get","keys":["a","b"],"value":""})"))
          .ok());
  CHECK_FALSE(
      decode(frame(MsgType::store_request, R"({"id":1,"op":"nuke","keys":[],"value":""})")).ok());
  CHECK_FALSE(
      decode(frame(MsgType::store_request, R"({"id":1,"op":"set","keys":["k"],"value":"0g"})"))
          .ok());
  CHECK_FALSE(
      decode(frame(MsgType::round, R"({"generation":0,"round":0,"start_ns":0,"end_ns":0,"spans":[[1]],)"
                                   R"("checkpoint_bytes":0,"peak_rss_bytes":0})"))
          .ok());
}

TEST_CASE("hex round trip") {
  std::string all;
  for (int i = 0; i < 256; ++i) all += char(i);
  CHECK(from_hex(to_hex(all)).value() == all);
  CHECK_FALSE(from_hex("abc"));
  CHECK_FALSE(from_hex("zz"));
}

TEST_CASE("the token file: made private once, proofs bind nonce and device") {
  auto dir = std::filesystem::temp_directory_path() / ("asteroid_token_test_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::string file = (dir / "sub" / "token").string();
  auto t = load_or_create_token(file);
  REQUIRE(t.ok());
  CHECK(t->size() == 64);
  struct stat st;
  REQUIRE(stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(load_or_create_token(file).value() == t.value());  // an existing token is kept
  CHECK(load_token(file).value() == t.value());
  chmod(file.c_str(), 0644);
  CHECK(load_token(file).error().message.find("chmod 600") != std::string::npos);
  chmod(file.c_str(), 0600);
  { std::ofstream(file) << "not a token\n"; }
  CHECK_FALSE(load_token(file).ok());
  CHECK_FALSE(load_token((dir / "absent").string()).ok());

  std::string n1 = random_nonce(), n2 = random_nonce();
  CHECK(n1 != n2);
  std::string p = token_proof(t.value(), n1, "cpu0");
  CHECK(p.size() == 64);
  CHECK(same_proof(p, token_proof(t.value(), n1, "cpu0")));
  CHECK_FALSE(same_proof(p, token_proof(t.value(), n2, "cpu0")));
  CHECK_FALSE(same_proof(p, token_proof(t.value(), n1, "cpu1")));
  CHECK_FALSE(same_proof(p, token_proof(std::string(64, '0'), n1, "cpu0")));
  std::filesystem::remove_all(dir);
}

TEST_CASE("a job survives its JSON form, and a bad one is refused") {
  ExecJob j;
  j.devices = {"a", "b"};
  j.model = "bert_small";
  j.input = "synthetic_seq128";
  j.optimizer = Optimizer::adam;
  j.batch_size = 8;
  j.num_layers = 6;
  j.plan.microbatch_size = 4;
  j.plan.microbatches = 2;
  j.plan.stages = {{0, 2, {0}, {4}}, {3, 5, {1}, {4}}};
  auto f = parse_instruction("0F0"), s = parse_instruction("0SEND_F0@1");
  REQUIRE(f.ok());
  REQUIRE(s.ok());
  j.program = {{f.value(), s.value()}, {}};
  j.program_with_copies = j.program;
  j.addresses = {"10.0.0.1", "10.0.0.2"};
  j.accelerators = {"cpu", "cuda:1"};
  j.workers = {0, 1};
  j.replicas = {{0, 0, 1}};
  j.transfers = {{1, 0, 3, 5}};
  j.survive_peer_failure = true;
  j.time_dilation = 3;
  j.budgets = {{0.04, 0.08, 0.001}, {0.01, 0.02, 0}};
  nlohmann::json text = job_to_json(j);
  auto back = job_from_json(text, "job");
  REQUIRE(back.ok());
  CHECK(job_to_json(back.value()) == text);

  nlohmann::json bad = text;
  bad["workers"] = {0, 5};
  CHECK(job_from_json(bad, "job").error().path == "workers[1]");
  bad = text;
  bad["plan"]["stages"][1]["last_layer"] = 6;  // past the model
  CHECK_FALSE(job_from_json(bad, "job").ok());
  bad = text;
  bad["program"][0][0] = "0XYZ0";
  CHECK_FALSE(job_from_json(bad, "job").ok());
  bad = text;
  bad["replicas"][0]["stage"] = 2;
  CHECK_FALSE(job_from_json(bad, "job").ok());
  bad = text;
  bad["plan"]["stages"][1]["shares"][0] = 3;  // 3 of a micro-batch of 4
  CHECK(job_from_json(bad, "job").error().path == "plan.stages[1].shares");
  bad["plan"]["stages"][1]["shares"][0] = -1;
  CHECK(job_from_json(bad, "job").error().path == "plan.stages[1].shares[0]");
  // Emulation: a dilation below 1, a budget per device, no negative times.
  bad = text;
  bad["time_dilation"] = 0.5;
  CHECK(job_from_json(bad, "job").error().path == "time_dilation");
  bad = text;
  bad["budgets"].erase(1);
  CHECK(job_from_json(bad, "job").error().path == "budgets");
  bad = text;
  bad["budgets"][1][0] = -0.01;
  CHECK(job_from_json(bad, "job").error().path == "budgets[1]");
  // Accelerators: one per device (or none), each a name asteroid-exec knows.
  bad = text;
  bad["accelerators"][1] = "tpu";
  CHECK(job_from_json(bad, "job").error().path == "accelerators[1]");
  bad["accelerators"] = {"cpu"};
  CHECK(job_from_json(bad, "job").error().path == "accelerators");

  // A device with share 0 holds its stage but none of the samples (a group larger than the
  // micro-batch): accepted.
  j.devices = {"a", "b", "c"};
  j.addresses.push_back("10.0.0.3");
  j.accelerators.push_back("cpu");
  j.workers = {0, 1, 2};
  j.program.push_back({});
  j.program_with_copies = j.program;
  j.budgets.push_back({});
  j.plan.stages[1] = {3, 5, {1, 2}, {4, 0}};
  auto idle = job_from_json(job_to_json(j), "job");
  REQUIRE(idle.ok());
  CHECK(idle.value().plan.stages[1].shares == std::vector<int>{4, 0});
}

TEST_CASE("evaluations: whole when every last-stage device sent its part; time leaves evaluations out") {
  EvalTally tally(10);  // 10 rounds per epoch
  tally.start_generation(2);
  CHECK_FALSE(tally.add(EvalPart{0, 4, 3.0, 5, 8, 0, 0}, 10.0, 12.0));
  auto whole = tally.add(EvalPart{0, 4, 1.0, 1, 2, 0, 0}, 10.5, 13.0);
  REQUIRE(whole);
  CHECK(whole->accuracy == Approx(0.6));
  CHECK(whole->loss == Approx(0.4));
  CHECK(whole->samples == 10);
  CHECK(whole->epoch == Approx(0.5));
  CHECK_FALSE(tally.add(EvalPart{0, 9, 2.0, 4, 5, 0, 0}, 30.0, 31.0));  // one part of two: not whole
  std::vector<RoundRecord> rounds(10);
  for (int r = 0; r < 10; ++r) rounds[size_t(r)].round = r, rounds[size_t(r)].end = 2.0 * (r + 1) + (r >= 5 ? 3 : 0);
  auto evs = tally.evaluations(rounds);
  REQUIRE(evs.size() == 1);
  CHECK(evs[0].time_s == Approx(10.0));
  // A replayed round (a new generation) replaces the earlier evaluation; the one of round 4 took
  // 3 s (from its round's end at 10 s to 13 s), left out of round 9's time.
  tally.start_generation(1);
  REQUIRE(tally.add(EvalPart{1, 9, 1.0, 3, 4, 0, 0}, 23.0, 24.0));
  evs = tally.evaluations(rounds);
  REQUIRE(evs.size() == 2);
  CHECK(evs[1].round == 9);
  CHECK(evs[1].accuracy == Approx(0.75));
  CHECK(evs[1].time_s == Approx(23.0 - 3.0));
}

namespace {

// Both ends of a connected pair of sockets, authenticated as after a join.
struct Pair {
  std::unique_ptr<FramedConnection> coordinator, worker;
  Pair() {
    int fds[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    coordinator = std::make_unique<FramedConnection>(fds[0]);
    worker = std::make_unique<FramedConnection>(fds[1]);
    const std::string key = frame_key(std::string(64, 'a'), std::string(64, 'b'), "cpu0");
    coordinator->authenticate(key, true);
    worker->authenticate(key, false);
  }
};

// The next frame on `c`, waiting up to a second.
Result<std::optional<Message>> read_one(FramedConnection& c) {
  std::string why;
  return c.receive(1.0, &why);
}

}  // namespace

TEST_CASE("frames after the join are authenticated: altered, replayed, reflected and unsigned frames are refused") {
  CHECK(frame_key("t", "n", "cpu0") != frame_key("t", "n", "cpu1"));
  CHECK(frame_key("t", "n", "cpu0") != frame_key("u", "n", "cpu0"));
  CHECK(frame_key("t", "n", "cpu0").size() == kFrameMacBytes);
  {
    Pair p;  // both ways, in order: accepted
    REQUIRE(p.coordinator->send(Beat{}));
    REQUIRE(p.coordinator->send(Stop{3}));
    REQUIRE(p.worker->send(Restarted{3}));
    auto a = read_one(*p.worker), b = read_one(*p.worker), c = read_one(*p.coordinator);
    REQUIRE(a);
    REQUIRE(a.value());
    CHECK(std::holds_alternative<Beat>(*a.value()));
    REQUIRE(b);
    REQUIRE(b.value());
    CHECK(std::get<Stop>(*b.value()).generation == 3);
    REQUIRE(c);
    REQUIRE(c.value());
    CHECK(std::get<Restarted>(*c.value()).generation == 3);
    CHECK(p.coordinator->frames_sent() == 2);
    CHECK(p.worker->frames_received() == 2);
  }
  auto wire = [](const std::string& key, char dir, uint64_t seq, const Message& m) {
    std::string f = encode(m);
    return f + frame_mac(key, dir, seq, f);
  };
  const std::string key = frame_key(std::string(64, 'a'), std::string(64, 'b'), "cpu0");
  auto refused = [&](const std::string& bytes, int good_before) {
    Pair p;
    const int fd = p.coordinator->release();
    REQUIRE(write(fd, bytes.data(), bytes.size()) == ssize_t(bytes.size()));
    for (int i = 0; i < good_before; ++i) {
      auto m = read_one(*p.worker);
      REQUIRE(m);
      REQUIRE(m.value());
    }
    auto m = read_one(*p.worker);
    close(fd);
    REQUIRE_FALSE(m);
    INFO(m.error().str());
    CHECK(m.error().str().find("fails its authentication") != std::string::npos);
  };
  std::string first = wire(key, 'C', 0, Stop{1});
  SECTION("a frame altered on the way") {
    std::string bad = first;
    bad[kHeaderBytes + 2] ^= 1;  // a byte of the body
    refused(bad, 0);
  }
  SECTION("a frame replayed") { refused(first + first, 1); }
  SECTION("frames reordered") { refused(wire(key, 'C', 1, Beat{}) + first, 0); }
  SECTION("a worker's own frame reflected back to it") { refused(wire(key, 'W', 0, Stop{1}), 0); }
  SECTION("a frame without its MAC, or under another connection's key") {
    refused(wire(frame_key(std::string(64, 'a'), std::string(64, 'c'), "cpu0"), 'C', 0, Stop{1}), 0);
    std::string bare = encode(Stop{1}) + encode(Beat{}) + std::string(kFrameMacBytes, '\0');
    refused(bare, 0);
  }
}
