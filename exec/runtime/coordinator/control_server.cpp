#include "control_server.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "token.hpp"

namespace asteroid::exec {
namespace {

constexpr double kHelloWithin_s = 10;  // a connection that says nothing this long is dropped

void make_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

}  // namespace

ControlServer::~ControlServer() {
  if (listen_fd_ >= 0) close(listen_fd_);
}

Result<Endpoint> ControlServer::listen(const Endpoint& at) {
  Endpoint bound;
  auto fd = listen_on(at, &bound);
  if (!fd) return fd.error();
  listen_fd_ = fd.value();
  make_nonblocking(listen_fd_);
  return bound;
}

void ControlServer::accept_all() {
  for (;;) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    Pending p;
    p.conn = std::make_unique<FramedConnection>(fd);
    p.from = peer_address(fd);
    p.nonce = random_nonce();
    p.since = now_s();
    if (p.conn->send(Challenge{p.nonce})) pending_.push_back(std::move(p));
  }
}

void ControlServer::refuse(Pending& p, const std::string& reason, const std::string& log_line) {
  p.conn->send(Refuse{reason});
  o_.log(log_line);
}

bool ControlServer::on_pending(Pending& p, ServerEvent* joined) {
  std::string why;
  if (!p.conn->fill(&why)) {
    o_.log("a connection from " + p.from + " closed before joining");
    return false;
  }
  for (;;) {
    auto m = p.conn->next();
    if (!m) {
      o_.log("refused " + p.from + ": it does not speak asteroid-exec's control protocol (" +
             m.error().str() + ")");
      return false;
    }
    if (!m.value()) return true;
    const Message& msg = *m.value();
    if (p.device < 0) {
      const Hello* h = std::get_if<Hello>(&msg);
      if (!h) {
        o_.log("refused " + p.from + ": its first message was " + to_string(type_of(msg)) + ", not hello");
        return false;
      }
      if (!same_proof(h->proof, token_proof(o_.token, p.nonce, h->device))) {
        refuse(p,
               "wrong token: this worker's token file differs from the coordinator's (" + o_.token_file + ")",
               "refused a worker from " + p.from + " claiming " + h->device + ": wrong token");
        return false;
      }
      auto it = std::find(o_.devices.begin(), o_.devices.end(), h->device);
      if (it == o_.devices.end()) {
        std::string list;
        for (const std::string& d : o_.devices) list += (list.empty() ? "" : ", ") + d;
        refuse(p,
               "scenario " + o_.scenario + " has no device \"" + h->device + "\" (its devices: " + list + ")",
               "refused a worker from " + p.from + ": unknown device \"" + h->device + "\"");
        return false;
      }
      int d = int(it - o_.devices.begin());
      if (links_.count(d)) {
        const WorkerLink& l = links_.at(d);
        std::string where = l.host + " (" + l.from + "), pid " + std::to_string(l.pid);
        refuse(p,
               l.open ? "device " + h->device + " has already joined from " + where
                      : "device " + h->device + " has left this run",
               "refused a second worker for " + h->device + " from " + p.from +
                   (l.open ? ": it has already joined from " + where : ": it has left this run"));
        return false;
      }
      if (!joins_closed_.empty() && !reopened_.count(d)) {
        refuse(p, joins_closed_, "refused " + h->device + " from " + p.from + ": " + joins_closed_);
        return false;
      }
      p.device = d;
      p.hello = *h;
      if (!p.conn->send(Welcome{d, h->device, o_.heartbeat_interval_s, o_.silence_limit_s})) return false;
      // Every later frame, both ways, is authenticated (token.hpp): the welcome is the last without.
      p.conn->authenticate(frame_key(o_.token, p.nonce, h->device), /*coordinator=*/true);
      if (!p.conn->send(ClockPing{0, now_ns()})) return false;
      continue;
    }
    // Clock round trips, one after another; the one with the shortest round trip bounds the offset
    // best (the answer was written somewhere inside it).
    const ClockPong* pong = std::get_if<ClockPong>(&msg);
    if (!pong) {
      if (std::holds_alternative<Beat>(msg)) continue;
      o_.log("refused " + p.hello.device + " from " + p.from + ": sent " + to_string(type_of(msg)) +
             " while its clock was being read");
      return false;
    }
    const int64_t back = now_ns(), rtt = back - pong->coordinator_ns;
    if (pong->id != p.pings || rtt < 0) {
      o_.log("refused " + p.hello.device + " from " + p.from + ": a clock answer that matches no question");
      return false;
    }
    if (p.best_rtt < 0 || rtt < p.best_rtt) {
      p.best_rtt = rtt;
      p.best_offset = pong->worker_ns - (pong->coordinator_ns + back) / 2;
    }
    if (++p.pings < o_.clock_samples) {
      if (!p.conn->send(ClockPing{p.pings, now_ns()})) return false;
      continue;
    }
    WorkerLink l;
    l.device = p.device;
    l.from = p.from;
    l.address = p.hello.address.empty() ? p.from : p.hello.address;
    l.host = p.hello.host;
    l.pid = p.hello.pid;
    l.checkpoint_dir = p.hello.checkpoint_dir;
    l.clock_offset_ns = p.best_offset;
    l.clock_bound_ns = (p.best_rtt + 1) / 2;
    l.conn = std::move(p.conn);
    links_[p.device] = std::move(l);
    reopened_.erase(p.device);
    joined->kind = ServerEvent::Kind::joined;
    joined->device = p.device;
    return false;
  }
}

std::vector<ServerEvent> ControlServer::poll(double timeout_s) {
  std::vector<pollfd> fds;
  fds.push_back({listen_fd_, POLLIN, 0});
  for (const Pending& p : pending_) fds.push_back({p.conn->fd(), POLLIN, 0});
  for (auto& [d, l] : links_)
    if (l.open) fds.push_back({l.conn->fd(), POLLIN, 0});
  ::poll(fds.data(), fds.size(), std::max(0, int(timeout_s * 1000)));
  std::map<int, short> ready;  // fd -> revents
  for (const pollfd& f : fds)
    if (f.revents) ready[f.fd] = f.revents;

  std::vector<ServerEvent> events;
  // Joined workers.
  for (auto& [d, l] : links_)
    if (l.open && ready.count(l.conn->fd())) read_link(l, &events);
  // Handshakes (a connection accepted now is read on the next call).
  const double now = now_s();
  for (size_t i = 0; i < pending_.size();) {
    Pending& p = pending_[i];
    bool keep = true;
    ServerEvent joined;
    if (ready.count(p.conn->fd())) keep = on_pending(p, &joined);
    if (keep && now - p.since > kHelloWithin_s) {
      o_.log("dropped a connection from " + p.from + ": it did not join within " +
             std::to_string(int(kHelloWithin_s)) + " s");
      keep = false;
    }
    if (joined.device >= 0) {
      events.push_back(joined);
      drain(links_.at(joined.device), &events);  // what it sent after its last clock answer
    }
    if (keep)
      ++i;
    else
      pending_.erase(pending_.begin() + long(i));
  }
  if (ready.count(listen_fd_)) accept_all();
  answer_parked();
  return events;
}

void ControlServer::read_link(WorkerLink& l, std::vector<ServerEvent>* events) {
  std::string why;
  if (!l.conn->fill(&why)) {
    drain(l, events);
    if (!l.open) return;
    drop(l.device);
    events->push_back({ServerEvent::Kind::closed, l.device, Beat{}, why});
    return;
  }
  drain(l, events);
}

void ControlServer::drain(WorkerLink& l, std::vector<ServerEvent>* events) {
  while (l.open) {
    auto m = l.conn->next();
    if (!m) {
      o_.log(o_.devices[l.device] + " sent bytes that are not asteroid-exec's control protocol (" +
             m.error().str() + "); its connection is closed");
      drop(l.device);
      events->push_back({ServerEvent::Kind::closed, l.device, Beat{}, "garbage on the control connection"});
      return;
    }
    if (!m.value()) return;
    if (const StoreRequest* r = std::get_if<StoreRequest>(&*m.value())) {
      on_store(l.device, *r);
      continue;
    }
    if (std::holds_alternative<Restarted>(*m.value()) && l.restarting) {
      l.restarting = false;
      for (const Message& h : l.held) l.conn->send(h);
      l.held.clear();
    }
    events->push_back({ServerEvent::Kind::message, l.device, std::move(*m.value()), ""});
  }
}

bool ControlServer::send(int device, const Message& m) {
  auto it = links_.find(device);
  if (it == links_.end() || !it->second.open) return false;
  WorkerLink& l = it->second;
  if (l.restarting) {
    l.held.push_back(m);
    return true;
  }
  if (std::holds_alternative<Stop>(m)) {
    l.restarting = true;  // what its old process asked the store is void
    parked_.erase(
        std::remove_if(parked_.begin(), parked_.end(), [&](const auto& p) { return p.first == device; }),
        parked_.end());
  }
  return l.conn->send(m);
}

void ControlServer::drop(int device) {
  auto it = links_.find(device);
  if (it == links_.end() || !it->second.open) return;
  it->second.open = false;
  it->second.conn.reset();
  parked_.erase(
      std::remove_if(parked_.begin(), parked_.end(), [&](const auto& p) { return p.first == device; }),
      parked_.end());
}

void ControlServer::clear_store() {
  store_.clear();
  parked_.clear();
}

void ControlServer::beat_all() {
  for (auto& [d, l] : links_)
    if (l.open && !l.restarting) l.conn->send(Beat{});
}

void ControlServer::on_store(int device, const StoreRequest& r) {
  StoreReply a;
  a.id = r.id;
  switch (r.op) {
    case StoreOp::set: store_[r.keys[0]] = r.value; break;
    case StoreOp::get:
    case StoreOp::wait: parked_.push_back({device, r}); return;  // answered by answer_parked
  }
  send(device, a);
}

void ControlServer::answer_parked() {
  for (size_t i = 0; i < parked_.size();) {
    const auto& [device, r] = parked_[i];
    bool ready =
        std::all_of(r.keys.begin(), r.keys.end(), [&](const std::string& k) { return store_.count(k) > 0; });
    if (!ready) {
      ++i;
      continue;
    }
    StoreReply a;
    a.id = r.id;
    if (r.op == StoreOp::get) a.value = store_.at(r.keys[0]);
    send(device, a);
    parked_.erase(parked_.begin() + long(i));
  }
}

}  // namespace asteroid::exec
