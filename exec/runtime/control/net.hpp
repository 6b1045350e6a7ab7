// TCP plumbing for the control connection (control_protocol.hpp): addresses, listening, connecting
// with retries, and a connection that reads and writes whole frames. IPv4 and host names; POSIX
// sockets. Torch-free.
#pragma once

#include <mutex>
#include <optional>
#include <string>

#include "asteroid/input/error.hpp"
#include "control_protocol.hpp"

namespace asteroid::exec {

struct Endpoint {
  std::string host;  // an IPv4 address or a host name
  int port = 0;      // 0 when listening: a free port
  std::string str() const { return host + ":" + std::to_string(port); }
};

// "ADDR:PORT", "ADDR" (port 0) or ":PORT" (127.0.0.1). An Error names `what` (the option).
Result<Endpoint> parse_endpoint(const std::string& text, const std::string& what);

// A listening socket on `at` (port 0: a free one); `bound` gets the real port. One-line Errors
// ("127.0.0.1:5000: cannot listen: Address already in use").
Result<int> listen_on(const Endpoint& at, Endpoint* bound);

// Connects to `to`, retrying while nothing answers (refused, unreachable, timed out) until `wait_s`
// has passed. The Error says what the last attempt met.
Result<int> connect_to(const Endpoint& to, double wait_s);

// The numeric address of the other end of a connected socket, and of this end.
std::string peer_address(int fd);
std::string local_address(int fd);

// Seconds on the steady clock (CLOCK_MONOTONIC), and the same in nanoseconds.
double now_s();
int64_t now_ns();

// One control connection: whole frames out (any thread; a mutex keeps frames whole) and in (one
// reader).
class FramedConnection {
 public:
  explicit FramedConnection(int fd) : fd_(fd) {}
  ~FramedConnection();
  FramedConnection(const FramedConnection&) = delete;
  FramedConnection& operator=(const FramedConnection&) = delete;

  int fd() const { return fd_; }
  // Writes the frame whole (blocking); false when the connection is broken.
  bool send(const Message& m);
  // Reads what the socket has (non-blocking sockets: what is there now; blocking: at least one
  // byte). False at end of stream or on an error (`why` says which).
  bool fill(std::string* why);
  // The next whole frame read so far: nullopt when none is complete; an Error when the bytes are
  // not this protocol (the connection is then useless).
  Result<std::optional<Message>> next();
  // Reads until one whole frame is there or `timeout_s` passes (blocking socket). nullopt on a
  // timeout or a closed connection (`why` says which); an Error on garbage.
  Result<std::optional<Message>> receive(double timeout_s, std::string* why);
  // The write lock, for a caller that must keep anyone from starting a frame (before exec).
  std::mutex& write_mutex() { return write_mu_; }
  // Gives the descriptor up without closing it.
  int release();

  // From now on every frame sent carries frame_mac(key, this end's direction, frames sent since
  // the join, frame) after it, and every frame read must carry the other end's, or next() answers
  // an Error naming the frame (token.hpp). `coordinator`: which end this is. `sent`, `received`:
  // the sequence numbers so far (a restarted worker's process goes on where its old one stopped).
  void authenticate(std::string key, bool coordinator, uint64_t sent = 0, uint64_t received = 0);
  bool authenticated() const { return !key_.empty(); }
  const std::string& key() const { return key_; }
  uint64_t frames_sent() const { return sent_; }  // with write_mutex() held, for a stable answer
  uint64_t frames_received() const { return received_; }

 private:
  int fd_;
  std::string in_;
  std::mutex write_mu_;
  std::string key_;  // empty: before the join, frames carry no MAC
  char out_dir_ = 'C', in_dir_ = 'W';
  uint64_t sent_ = 0, received_ = 0;
};

}  // namespace asteroid::exec
