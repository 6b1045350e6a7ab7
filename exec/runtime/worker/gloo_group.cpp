#include "gloo_group.hpp"

#include <type_traits>

#include <gloo/allreduce.h>
#include <gloo/barrier.h>
#include <gloo/common/error.h>
#include <gloo/common/logging.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/prefix_store.h>
#include <gloo/transport/tcp/device.h>
#include <gloo/transport/unbound_buffer.h>

namespace asteroid::exec {

GlooMessage::GlooMessage(std::unique_ptr<gloo::transport::UnboundBuffer> buffer, bool is_send,
                         std::chrono::milliseconds timeout)
    : buffer_(std::move(buffer)), is_send_(is_send), timeout_(timeout) {}
GlooMessage::GlooMessage(GlooMessage&&) noexcept = default;
GlooMessage& GlooMessage::operator=(GlooMessage&&) noexcept = default;
GlooMessage::~GlooMessage() = default;

namespace {

struct Aborted : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Gloo's rendezvous takes the store by reference in older releases (Debian 12's libgloo-dev, 2022)
// and by shared_ptr in newer ones (upstream's, built from source: docs/jetson.md). Either way the
// store is the caller's and outlives the rendezvous.
template <class Prefixed = gloo::rendezvous::PrefixStore>
void connect_full_mesh(gloo::rendezvous::Context& context, gloo::rendezvous::Store& store, const std::string& prefix,
                       std::shared_ptr<gloo::transport::Device>& device) {
  if constexpr (std::is_constructible_v<Prefixed, const std::string&, gloo::rendezvous::Store&>) {
    Prefixed scoped(prefix, store);
    context.connectFullMesh(scoped, device);
  } else {
    std::shared_ptr<gloo::rendezvous::Store> unowned(&store, [](gloo::rendezvous::Store*) {});
    auto scoped = std::make_shared<Prefixed>(prefix, unowned);
    context.connectFullMesh(scoped, device);
  }
}

}  // namespace

void GlooMessage::wait() {
  if (done_) return;
  // false only when aborted, which nothing here does; a timeout or a closed peer throws
  if (!(is_send_ ? buffer_->waitSend(timeout_) : buffer_->waitRecv(timeout_)))
    throw Aborted(is_send_ ? "a send was aborted" : "a receive was aborted");
  done_ = true;
}

bool is_transport_error(const std::exception& e) {
  return dynamic_cast<const gloo::IoException*>(&e) || dynamic_cast<const gloo::EnforceNotMet*>(&e) ||
         dynamic_cast<const Aborted*>(&e);
}

std::shared_ptr<gloo::transport::Device> GlooGroup::device_for(const std::string& address) {
  gloo::transport::tcp::attr attr;
  attr.hostname = address;
  return gloo::transport::tcp::CreateDevice(attr);
}

GlooGroup::GlooGroup(gloo::rendezvous::Store& store, const std::string& prefix, int rank, int size,
                     std::shared_ptr<gloo::transport::Device> device, std::chrono::milliseconds timeout)
    : timeout_(timeout) {
  auto context = std::make_shared<gloo::rendezvous::Context>(rank, size);
  context->setTimeout(timeout);
  connect_full_mesh(*context, store, prefix, device);
  context_ = std::move(context);
}

GlooGroup::~GlooGroup() = default;

GlooMessage GlooGroup::send(const void* data, size_t bytes, int peer, uint64_t slot) {
  // Gloo's buffers take a non-const pointer for both directions; a send only reads it.
  auto buffer = context_->createUnboundBuffer(const_cast<void*>(data), bytes);
  buffer->send(peer, slot);
  return GlooMessage(std::move(buffer), true, timeout_);
}

GlooMessage GlooGroup::recv(void* data, size_t bytes, int peer, uint64_t slot) {
  auto buffer = context_->createUnboundBuffer(data, bytes);
  buffer->recv(peer, slot);
  return GlooMessage(std::move(buffer), false, timeout_);
}

void GlooGroup::all_reduce_sum(float* data, size_t elements) {
  if (context_->size == 1) return;
  gloo::AllreduceOptions options(context_);
  options.setOutput(data, elements);  // no input: the sum is taken in place
  options.setReduceFunction(
      static_cast<void (*)(void*, const void*, const void*, size_t)>(&gloo::sum<float>));
  options.setTimeout(timeout_);
  gloo::allreduce(options);
}

void GlooGroup::barrier() {
  gloo::BarrierOptions options(context_);
  options.setTimeout(timeout_);
  gloo::barrier(options);
}

int GlooGroup::rank() const { return context_->rank; }
int GlooGroup::size() const { return context_->size; }

}  // namespace asteroid::exec
