#include "net.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "token.hpp"

namespace asteroid::exec {
namespace {

Result<sockaddr_in> resolve(const Endpoint& e) {
  addrinfo hints{}, *res = nullptr;
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  int rc = getaddrinfo(e.host.c_str(), nullptr, &hints, &res);
  if (rc != 0 || !res) return Error{"", "", e.host + ": unknown host (" + gai_strerror(rc) + ")"};
  sockaddr_in a = *reinterpret_cast<sockaddr_in*>(res->ai_addr);
  freeaddrinfo(res);
  a.sin_port = htons(uint16_t(e.port));
  return a;
}

std::string numeric(const sockaddr_in& a) {
  char buf[INET_ADDRSTRLEN] = "?";
  inet_ntop(AF_INET, &a.sin_addr, buf, sizeof buf);
  return buf;
}

}  // namespace

Result<Endpoint> parse_endpoint(const std::string& text, const std::string& what) {
  Endpoint e;
  auto colon = text.rfind(':');
  std::string port = colon == std::string::npos ? "0" : text.substr(colon + 1);
  e.host = colon == std::string::npos ? text : text.substr(0, colon);
  if (e.host.empty()) e.host = "127.0.0.1";
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p < 0 || p > 65535)
    return Error{"", "", what + ": expected ADDRESS:PORT with a port in 0..65535, found \"" + text + "\""};
  e.port = int(p);
  return e;
}

Result<int> listen_on(const Endpoint& at, Endpoint* bound) {
  auto addr = resolve(at);
  if (!addr) return Error{"", "", at.str() + ": cannot listen: " + addr.error().message};
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error{"", "", at.str() + ": cannot listen: " + std::strerror(errno)};
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = addr.value();
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 64) != 0) {
    std::string why = std::strerror(errno);
    close(fd);
    return Error{"", "", at.str() + ": cannot listen: " + why};
  }
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *bound = {numeric(a), ntohs(a.sin_port)};
  return fd;
}

Result<int> connect_to(const Endpoint& to, double wait_s) {
  auto addr = resolve(to);
  if (!addr) return addr.error();
  const double deadline = now_s() + wait_s;
  std::string last;
  for (;;) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Error{"", "", std::string("cannot make a socket: ") + std::strerror(errno)};
    // A bounded connect: a host that drops packets would otherwise hold us for minutes.
    timeval tv{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in a = addr.value();
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      timeval none{0, 0};
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      return fd;
    }
    last = errno == EINPROGRESS ? "no answer" : std::strerror(errno);
    close(fd);
    if (now_s() >= deadline)
      return Error{"", "",
                   "nothing answers at " + to.str() + " (" + last + ", tried for " +
                       std::to_string(int(wait_s + 0.5)) + " s)"};
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

std::string peer_address(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return "?";
  return numeric(a);
}

std::string local_address(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return "?";
  return numeric(a);
}

double now_s() { return double(now_ns()) * 1e-9; }

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

FramedConnection::~FramedConnection() {
  if (fd_ >= 0) close(fd_);
}

int FramedConnection::release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

void FramedConnection::authenticate(std::string key, bool coordinator, uint64_t sent, uint64_t received) {
  std::lock_guard<std::mutex> lock(write_mu_);
  key_ = std::move(key);
  out_dir_ = coordinator ? 'C' : 'W';
  in_dir_ = coordinator ? 'W' : 'C';
  sent_ = sent;
  received_ = received;
}

bool FramedConnection::send(const Message& m) {
  std::string f = encode(m);
  std::lock_guard<std::mutex> lock(write_mu_);
  if (!key_.empty()) f += frame_mac(key_, out_dir_, sent_++, f);
  size_t at = 0;
  while (at < f.size()) {
    ssize_t n = ::send(fd_, f.data() + at, f.size() - at, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {  // a non-blocking socket that is full
      pollfd p{fd_, POLLOUT, 0};
      if (poll(&p, 1, 5000) <= 0) return false;
      continue;
    }
    if (n <= 0) return false;
    at += size_t(n);
  }
  return true;
}

bool FramedConnection::fill(std::string* why) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      in_.append(buf, size_t(n));
      if (size_t(n) < sizeof buf) return true;
      continue;
    }
    if (n == 0) {
      if (why) *why = "closed";
      return false;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
    if (why) *why = std::strerror(errno);
    return false;
  }
}

Result<std::optional<Message>> FramedConnection::next() {
  auto size = frame_size(in_);
  if (!size) return size.error();
  const size_t whole = size.value() + (key_.empty() ? 0 : kFrameMacBytes);
  if (size.value() == 0 || in_.size() < whole) return std::optional<Message>();
  const std::string_view frame = std::string_view(in_).substr(0, size.value());
  if (!key_.empty()) {
    const std::string want = frame_mac(key_, in_dir_, received_, frame);
    if (!same_proof(want, in_.substr(size.value(), kFrameMacBytes)))
      return Error{"", "",
                   "frame " + std::to_string(received_) + " after the join fails its authentication (altered, "
                   "replayed, reordered, or not from the peer that joined)"};
    ++received_;
  }
  auto m = decode(frame);
  if (!m) return m.error();
  in_.erase(0, whole);
  return std::optional<Message>(std::move(m).value());
}

Result<std::optional<Message>> FramedConnection::receive(double timeout_s, std::string* why) {
  const double deadline = now_s() + timeout_s;
  for (;;) {
    auto m = next();
    if (!m || m.value()) return m;
    double left = deadline - now_s();
    if (left <= 0) {
      if (why) *why = "no answer";
      return std::optional<Message>();
    }
    pollfd p{fd_, POLLIN, 0};
    int rc = poll(&p, 1, int(left * 1000) + 1);
    if (rc < 0 && errno != EINTR) {
      if (why) *why = std::strerror(errno);
      return std::optional<Message>();
    }
    if (rc > 0) {
      // A blocking socket: read once (at least one byte is there).
      char buf[65536];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        if (why) *why = n == 0 ? "closed" : std::strerror(errno);
        return std::optional<Message>();
      }
      in_.append(buf, size_t(n));
    }
  }
}

}  // namespace asteroid::exec
