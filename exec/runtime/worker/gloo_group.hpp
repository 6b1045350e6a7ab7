// A group of workers that exchange messages and sum tensors with Gloo, used directly (no c10d):
// NVIDIA's Jetson builds of libtorch have shipped without its distributed library, so the
// transport needs only Gloo's own small library (Debian's libgloo-dev) and works on host buffers.
// Torch-free: callers pass pointers and byte counts (worker_transport.cpp and worker_copies.cpp pass
// host tensors' storage, which must stay alive until the message's wait() returns).
//
// Every member throws (Gloo's exceptions, std::exception's subclasses, whose what() names the
// peer and the cause) when a peer closes its connection, the transport fails or `timeout` passes:
// that is how a worker learns that a peer failed (worker.hpp).
#pragma once

#include <chrono>
#include <exception>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace gloo {
class Context;
namespace rendezvous {
class Store;
}
namespace transport {
class Device;
class UnboundBuffer;
}  // namespace transport
}  // namespace gloo

namespace asteroid::exec {

// A point-to-point message in flight; wait() returns once its buffer may be reused (a send) or
// holds the data (a receive).
class GlooMessage {
 public:
  GlooMessage(std::unique_ptr<gloo::transport::UnboundBuffer> buffer, bool is_send,
              std::chrono::milliseconds timeout);
  GlooMessage(GlooMessage&&) noexcept;
  GlooMessage& operator=(GlooMessage&&) noexcept;
  ~GlooMessage();
  void wait();

 private:
  std::unique_ptr<gloo::transport::UnboundBuffer> buffer_;
  bool is_send_ = false, done_ = false;
  std::chrono::milliseconds timeout_;
};

// Whether `e` came from the transport (a peer closed, a timeout, an aborted wait), as opposed to
// anything else a caller did.
bool is_transport_error(const std::exception& e);

class GlooGroup {
 public:
  // The TCP device of this worker, bound to `address` (a host name or IP address of its host).
  static std::shared_ptr<gloo::transport::Device> device_for(const std::string& address);

  // Meets the group's other `size` - 1 members through `store` under `prefix` (every member gives
  // the same prefix and its own rank in [0, size)) and connects to each of them.
  GlooGroup(gloo::rendezvous::Store& store, const std::string& prefix, int rank, int size,
            std::shared_ptr<gloo::transport::Device> device, std::chrono::milliseconds timeout);
  ~GlooGroup();

  // `bytes` at `data` to / from `peer`; messages between two members match by `slot` (a tag).
  GlooMessage send(const void* data, size_t bytes, int peer, uint64_t slot);
  GlooMessage recv(void* data, size_t bytes, int peer, uint64_t slot);
  void all_reduce_sum(float* data, size_t elements);  // in place, over every member
  void barrier();

  int rank() const;
  int size() const;

 private:
  std::shared_ptr<gloo::Context> context_;
  std::chrono::milliseconds timeout_;
};

}  // namespace asteroid::exec
