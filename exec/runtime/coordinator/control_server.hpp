// The coordinator's end of the control connections (exec/README.md, "Joining"): it listens, proves
// each worker's token (token.hpp), refuses strangers, unknown devices and second claims to a device,
// measures each worker's clock against its own, and serves the key-value store the workers' Gloo
// groups meet through. What it hears from joined workers goes to the launcher as events.
// Single-threaded (poll); torch-free.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "control_protocol.hpp"
#include "net.hpp"

namespace asteroid::exec {

// A worker that has joined: who it is, where, and how its clock reads against the coordinator's.
struct WorkerLink {
  int device = -1;
  std::unique_ptr<FramedConnection> conn;
  std::string from;     // the address it connected from
  std::string address;  // where its Gloo peers reach it
  std::string host;     // its host name
  int64_t pid = 0;
  std::string checkpoint_dir;
  int64_t clock_offset_ns = 0;  // its steady clock minus the coordinator's, best of the round trips
  int64_t clock_bound_ns = 0;   // |true offset - clock_offset_ns| <= this (half the best round trip)
  bool open = true;
  // Between a `stop` and the `restarted` of the fresh process, messages wait here: the old process
  // must read nothing past the stop.
  bool restarting = false;
  std::vector<Message> held;
  // A worker's time on the coordinator's steady clock, in seconds.
  double to_coordinator_s(int64_t worker_ns) const { return double(worker_ns - clock_offset_ns) * 1e-9; }
};

struct ServerEvent {
  enum class Kind { joined, message, closed };
  Kind kind = Kind::message;
  int device = -1;
  Message message;     // kind message
  std::string detail;  // kind closed: why
};

class ControlServer {
 public:
  struct Options {
    std::vector<std::string> devices;  // the scenario's, by index
    std::string scenario;              // its name, for messages
    std::string token;
    std::string token_file;  // for messages
    double heartbeat_interval_s = 1;
    double silence_limit_s = 30;
    int clock_samples = 8;
    std::function<void(const std::string&)> log;  // one line, no newline
  };
  explicit ControlServer(Options o) : o_(std::move(o)) {}
  ~ControlServer();

  // Listens on `at` (port 0: a free one); the address really bound.
  Result<Endpoint> listen(const Endpoint& at);

  // Waits up to timeout_s for something to happen; returns joins, the messages of joined workers
  // and closed connections. Handshakes, clock round trips and store requests are answered here.
  std::vector<ServerEvent> poll(double timeout_s);

  // A `stop` holds later messages until the worker's `restarted` (WorkerLink::held).
  bool send(int device, const Message& m);
  bool joined(int device) const { return links_.count(device) && links_.at(device).open; }
  const WorkerLink& link(int device) const { return links_.at(device); }
  // Stops listening to a worker (it failed, or the run is over): its connection is closed.
  void drop(int device);
  // Forgets a worker that left before the run started: its device may join again.
  void forget(int device) { drop(device), links_.erase(device); }
  // Forgets every key (a new generation rendezvouses under new names anyway).
  void clear_store();
  // Refuses later joins with this reason (empty: accept them).
  void close_joins(const std::string& reason) { joins_closed_ = reason; }
  // A device that left comes back (a scenario's join): it is forgotten and may join once more,
  // joins closed or not.
  void reopen(int device) { forget(device), reopened_.insert(device); }
  // Says "beat" to every joined worker: they stop when the coordinator is silent too long.
  void beat_all();

 private:
  struct Pending {  // a connection whose worker has not joined yet
    std::unique_ptr<FramedConnection> conn;
    std::string from;
    std::string nonce;
    double since = 0;
    int device = -1;  // after a valid hello: clock round trips in progress
    Hello hello;
    int pings = 0;
    int64_t best_rtt = -1, best_offset = 0;
  };
  void accept_all();
  // False when the pending connection is finished with (joined or refused).
  bool on_pending(Pending& p, ServerEvent* joined);
  void refuse(Pending& p, const std::string& reason, const std::string& log_line);
  void read_link(WorkerLink& l, std::vector<ServerEvent>* events);
  void drain(WorkerLink& l, std::vector<ServerEvent>* events);
  void on_store(int device, const StoreRequest& r);
  void answer_parked();

  Options o_;
  int listen_fd_ = -1;
  std::vector<Pending> pending_;
  std::map<int, WorkerLink> links_;
  std::string joins_closed_;
  std::set<int> reopened_;  // devices that may join although joins are closed
  std::map<std::string, std::string> store_;
  std::vector<std::pair<int, StoreRequest>> parked_;  // get and wait requests whose keys are missing
};

}  // namespace asteroid::exec
