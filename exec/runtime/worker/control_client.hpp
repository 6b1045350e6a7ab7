// The worker's end of the control connection (exec/README.md, "Joining"): it joins the coordinator
// with its token's proof, answers the clock round trips, beats, carries the store requests of the
// Gloo rendezvous, and obeys the coordinator: a job starts a generation, `stop` restarts the process
// (a fresh image, on the same connection: whatever the old generation was blocked on is gone),
// `leave` kills it, `finish` ends it. When the coordinator goes away (the connection closes, or it
// is silent past the limit it set), the worker stops with one line. Torch-free.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "control_protocol.hpp"
#include "net.hpp"

namespace asteroid::exec {

struct WorkerOptions {
  Endpoint coordinator;
  std::string device;
  std::string token_file;         // "-": standard input
  std::string checkpoint_dir;     // absolute
  std::string address;            // advertised to Gloo peers; empty: the address it connects from
  double wait_s = 60;             // for the coordinator to answer
  int threads = 1;                // libtorch and OpenBLAS threads
  std::string accelerator;        // "cpu", "cuda", "cuda:N"; empty: the job's for this device
  bool quiet = false;             // local workers: no line of their own while the coordinator speaks
  std::vector<std::string> argv;  // to restart with
  // After a restart: the connection it keeps, and what the coordinator said at the join.
  int resume_fd = -1;
  int resume_auth_fd = -1;  // a pipe holding the connection's frame key and sequence numbers
  int resume_generation = -1;
  Welcome welcome;
};

class ControlClient {
 public:
  // Joins (or, after a restart, takes the connection back). Refused, unreachable, or a coordinator
  // that does not speak the protocol: one line on stderr and exit (2: refused; 1: unreachable).
  explicit ControlClient(WorkerOptions o);

  const Welcome& welcome() const { return o_.welcome; }
  const WorkerOptions& options() const { return o_; }
  std::string name() const { return o_.welcome.name.empty() ? o_.device : o_.welcome.name; }

  // Starts the reader and the heartbeat threads.
  void start();
  // Blocks until the coordinator sends a job (stop, leave and finish never come back here).
  nlohmann::json next_job();
  // Any thread. A broken connection is noticed by the reader, which ends the process.
  void send(const Message& m);
  // A store operation; throws std::runtime_error after timeout_s without an answer.
  StoreReply store(StoreRequest r, double timeout_s);
  // The last checkpoint the coordinator announced for `generation` (Checkpointed), or `otherwise`.
  int checkpoint(int generation, int otherwise) const;

  // One line on stderr ("asteroid-exec worker NAME: ...") and exit with `status`, telling the
  // coordinator first when it can still hear.
  [[noreturn]] void fail(const std::string& message, int status, int generation = -1);

 private:
  void join();
  void reader();
  void heart();
  [[noreturn]] void restart(int generation);
  [[noreturn]] void finish(bool keep_checkpoints);
  [[noreturn]] void gone(const std::string& why);

  WorkerOptions o_;
  std::unique_ptr<FramedConnection> conn_;
  std::thread reader_, heart_;
  std::atomic<int64_t> last_heard_ns_{0};
  mutable std::mutex mu_;
  Checkpointed checkpoint_{-1, -1};
  std::condition_variable cv_;
  std::deque<nlohmann::json> jobs_;
  std::map<int64_t, StoreReply> replies_;
  int64_t next_id_ = 1;
};

}  // namespace asteroid::exec
