#include "control_client.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "token.hpp"

namespace asteroid::exec {
namespace {

constexpr double kAnswerWithin_s = 10;  // for the challenge and the verdict on the hello

void line(const std::string& who, const std::string& message) {
  std::cerr << "asteroid-exec worker " << who << ": " << message << "\n" << std::flush;
}

std::string host_name() {
  char buf[256] = "?";
  gethostname(buf, sizeof buf - 1);
  return buf;
}

}  // namespace

ControlClient::ControlClient(WorkerOptions o) : o_(std::move(o)) {
  if (o_.resume_fd >= 0) {
    conn_ = std::make_unique<FramedConnection>(o_.resume_fd);
    fcntl(o_.resume_fd, F_SETFD, FD_CLOEXEC);
    if (o_.resume_auth_fd >= 0) {  // what the old image left in the pipe (restart)
      char buf[kFrameMacBytes + 16];
      size_t got = 0;
      for (ssize_t n = 1; got < sizeof buf && n > 0;) {
        n = read(o_.resume_auth_fd, buf + got, sizeof buf - got);
        if (n > 0) got += size_t(n);
        if (n < 0 && errno == EINTR) n = 1;
      }
      close(o_.resume_auth_fd);
      if (got != sizeof buf) fail("cannot restart itself: the connection's key did not come through", 1);
      uint64_t counts[2] = {0, 0};
      for (int k = 0; k < 2; ++k)
        for (int i = 0; i < 8; ++i) counts[k] = (counts[k] << 8) | uint8_t(buf[kFrameMacBytes + 8 * k + i]);
      conn_->authenticate(std::string(buf, kFrameMacBytes), /*coordinator=*/false, counts[0], counts[1]);
    }
    last_heard_ns_ = now_ns();
    send(Restarted{o_.resume_generation});
    return;
  }
  join();
}

void ControlClient::join() {
  auto token = load_token(o_.token_file);
  if (!token) fail(token.error().str(), 2);
  auto fd = connect_to(o_.coordinator, o_.wait_s);
  if (!fd) fail("cannot reach the coordinator: " + fd.error().str(), 1);
  conn_ = std::make_unique<FramedConnection>(fd.value());
  const std::string at = o_.coordinator.str();
  std::string why;
  auto expect = [&](const char* what) -> Message {
    auto m = conn_->receive(kAnswerWithin_s, &why);
    if (!m) fail(at + " does not speak asteroid-exec's control protocol (" + m.error().str() + ")", 2);
    if (!m.value()) fail(at + " sent no " + what + " (" + why + "); is it an asteroid-exec coordinator?", 1);
    return *m.value();
  };
  Message first = expect("challenge");
  const Challenge* c = std::get_if<Challenge>(&first);
  if (!c) fail(at + " opened with " + to_string(type_of(first)) + ", not a challenge", 2);
  Hello h;
  h.device = o_.device;
  h.proof = token_proof(token.value(), c->nonce, o_.device);
  h.host = host_name();
  h.pid = getpid();
  h.address = o_.address;
  h.checkpoint_dir = o_.checkpoint_dir;
  if (!conn_->send(h)) fail("the coordinator at " + at + " closed the connection", 1);
  Message verdict = expect("welcome");
  if (const Refuse* r = std::get_if<Refuse>(&verdict))
    fail("refused by the coordinator at " + at + ": " + r->reason, 2);
  const Welcome* w = std::get_if<Welcome>(&verdict);
  if (!w) fail(at + " answered the hello with " + to_string(type_of(verdict)), 2);
  o_.welcome = *w;
  // Every later frame, both ways, is authenticated (token.hpp): the welcome was the last without.
  conn_->authenticate(frame_key(token.value(), c->nonce, o_.device), /*coordinator=*/false);
  last_heard_ns_ = now_ns();
  if (!o_.quiet)
    line(o_.device, "joined the coordinator at " + at + " (checkpoints in " + o_.checkpoint_dir + ")");
}

void ControlClient::start() {
  reader_ = std::thread([this] { reader(); });
  heart_ = std::thread([this] { heart(); });
}

void ControlClient::send(const Message& m) { conn_->send(m); }

nlohmann::json ControlClient::next_job() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !jobs_.empty(); });
  nlohmann::json j = std::move(jobs_.front());
  jobs_.pop_front();
  return j;
}

StoreReply ControlClient::store(StoreRequest r, double timeout_s) {
  std::unique_lock<std::mutex> lock(mu_);
  r.id = next_id_++;
  const int64_t id = r.id;
  lock.unlock();
  send(r);
  lock.lock();
  if (!cv_.wait_for(lock, std::chrono::duration<double>(timeout_s), [&] { return replies_.count(id) > 0; })) {
    std::string keys;
    for (const std::string& k : r.keys) keys += (keys.empty() ? "" : ", ") + k;
    throw std::runtime_error("the coordinator's store did not answer within " +
                             std::to_string(int(timeout_s)) + " s (keys " + keys + ")");
  }
  StoreReply a = std::move(replies_.at(id));
  replies_.erase(id);
  if (!a.ok) throw std::runtime_error("the coordinator's store refused: " + a.error);
  return a;
}

int ControlClient::checkpoint(int generation, int otherwise) const {
  std::lock_guard<std::mutex> lock(mu_);
  return checkpoint_.generation == generation ? checkpoint_.round : otherwise;
}

void ControlClient::reader() {
  for (;;) {
    std::string why;
    auto m = conn_->receive(1.0, &why);
    if (!m)
      gone("the coordinator sent bytes that are not asteroid-exec's control protocol (" + m.error().str() +
           ")");
    if (!m.value()) {
      if (why == "no answer") continue;  // silence is the heart's business
      // A coordinator killed with our beats unread resets the connection rather than closing it.
      const bool closed = why == "closed" || why == std::strerror(ECONNRESET);
      gone(closed ? "the coordinator closed the connection" : "the control connection broke (" + why + ")");
    }
    last_heard_ns_ = now_ns();
    Message& msg = *m.value();
    if (const ClockPing* p = std::get_if<ClockPing>(&msg)) {
      send(ClockPong{p->id, p->coordinator_ns, now_ns()});
    } else if (Job* j = std::get_if<Job>(&msg)) {
      std::lock_guard<std::mutex> lock(mu_);
      jobs_.push_back(std::move(j->job));
      cv_.notify_all();
    } else if (StoreReply* r = std::get_if<StoreReply>(&msg)) {
      std::lock_guard<std::mutex> lock(mu_);
      replies_[r->id] = std::move(*r);  // an answer to a request of a restarted process is never read
      cv_.notify_all();
    } else if (const Checkpointed* c = std::get_if<Checkpointed>(&msg)) {
      std::lock_guard<std::mutex> lock(mu_);
      checkpoint_ = *c;
    } else if (const Stop* s = std::get_if<Stop>(&msg)) {
      restart(s->generation);
    } else if (std::holds_alternative<Leave>(msg)) {
      raise(SIGKILL);  // the scenario's device leaves: as abrupt as a power cut
    } else if (const Finish* f = std::get_if<Finish>(&msg)) {
      finish(f->keep_checkpoints);
    } else if (const Refuse* r = std::get_if<Refuse>(&msg)) {
      fail("refused by the coordinator: " + r->reason, 2);
    } else if (!std::holds_alternative<Beat>(msg)) {
      gone(std::string("the coordinator sent a ") + to_string(type_of(msg)) +
           " message, which workers never get");
    }
  }
}

void ControlClient::heart() {
  const auto every = std::chrono::duration<double>(o_.welcome.heartbeat_interval_s / 4);
  for (;;) {
    send(Beat{});
    double silent = double(now_ns() - last_heard_ns_) * 1e-9;
    if (silent > o_.welcome.silence_limit_s)
      gone("the coordinator has been silent for " + std::to_string(int(silent)) + " s");
    std::this_thread::sleep_for(every);
  }
}

// A fresh process image on the same connection: Gloo's threads, sockets and any operation blocked
// on a dead peer are gone at once, which no in-process teardown of a broken group guarantees
// (docs/toolchain-notes.md G4).
void ControlClient::restart(int generation) {
  std::unique_lock<std::mutex> hold(conn_->write_mutex());  // no frame is half written; never released
  const int keep = conn_->fd();
  fcntl(keep, F_SETFD, 0);
  // The frame key and the sequence numbers go to the new image through a pipe, not its arguments,
  // which every user of the host can read: 32 bytes of key, then frames sent and received (8 bytes
  // each, big-endian). Far below a pipe's buffer, so the write never blocks.
  int auth[2] = {-1, -1};
  if (conn_->authenticated()) {
    std::string state = conn_->key();
    for (uint64_t n : {conn_->frames_sent(), conn_->frames_received()})
      for (int i = 0; i < 8; ++i) state += char(uint8_t(n >> (56 - 8 * i)));
    if (pipe(auth) != 0 || write(auth[1], state.data(), state.size()) != ssize_t(state.size())) {
      line(name(), std::string("cannot restart itself: ") + std::strerror(errno));
      _exit(1);
    }
    close(auth[1]);
    fcntl(auth[0], F_SETFD, 0);
  }
  // Every other descriptor closes with the old image, at execv, not before: Gloo's threads still
  // use theirs, and one that finds its epoll descriptor closed under it aborts the process.
  std::vector<int> others;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d)) {
      int fd = std::atoi(e->d_name);
      if (fd > 2 && fd != keep && fd != auth[0] && fd != dirfd(d)) others.push_back(fd);
    }
    closedir(d);
  }
  for (int fd : others) fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
  std::vector<std::string> args = o_.argv;
  char state[512];
  std::snprintf(state, sizeof state, "%d:%d:%d:%d:%.17g:%.17g:%s", keep, auth[0], generation, o_.welcome.device,
                o_.welcome.heartbeat_interval_s, o_.welcome.silence_limit_s, o_.welcome.name.c_str());
  args.push_back("--resume");
  args.push_back(state);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(nullptr);
  execv("/proc/self/exe", argv.data());
  line(name(), std::string("cannot restart itself: ") + std::strerror(errno));
  _exit(1);
}

void ControlClient::finish(bool keep_checkpoints) {
  std::error_code ec;
  if (!keep_checkpoints) std::filesystem::remove_all(o_.checkpoint_dir, ec);
  if (!o_.quiet)
    line(name(), std::string("the run is over; checkpoints ") +
                     (keep_checkpoints ? "kept in " + o_.checkpoint_dir : "removed"));
  std::fflush(nullptr);
  _exit(0);
}

void ControlClient::gone(const std::string& why) {
  if (!o_.quiet) line(name(), why + "; stopping");  // a local worker: the coordinator speaks for it
  _exit(1);
}

void ControlClient::fail(const std::string& message, int status, int generation) {
  // A worker this coordinator started (quiet) shares its terminal: the coordinator prints the
  // reason once, unless it cannot hear it.
  if (!o_.quiet || !conn_) line(name(), message);
  if (conn_) {
    conn_->send(Failed{generation, status, message});
    shutdown(conn_->fd(), SHUT_RDWR);
  }
  std::fflush(nullptr);
  _exit(status);
}

}  // namespace asteroid::exec
