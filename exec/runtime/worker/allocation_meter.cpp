// The counting CPU allocator (allocation_meter.hpp). Each block is the default allocator's, a
// header in front of it holding its size, so that the data pointer stays the context (libtorch's
// raw_allocate requires it) and freeing needs no table or lock. The header is one alignment unit,
// so the data keeps the default allocator's alignment.
#include "allocation_meter.hpp"

#include <c10/core/CPUAllocator.h>

#include <atomic>

namespace asteroid::exec {
namespace {

constexpr size_t kHeader = 64;  // c10's CPU alignment (gAlignment): the data stays aligned to it

std::atomic<int64_t> g_current{0}, g_peak{0};
std::atomic<bool> g_installed{false};
c10::Allocator* g_base = nullptr;

void raise_peak(int64_t now) {
  int64_t p = g_peak.load(std::memory_order_relaxed);
  while (now > p && !g_peak.compare_exchange_weak(p, now, std::memory_order_relaxed)) {
  }
}

void counted_free(void* data) {
  if (!data) return;
  char* block = static_cast<char*>(data) - kHeader;
  const auto n = *reinterpret_cast<int64_t*>(block);
  g_current.fetch_sub(n, std::memory_order_relaxed);
  g_base->raw_deleter()(block);
}

struct CountingAllocator final : c10::Allocator {
  c10::DataPtr allocate(size_t n) const override {
    if (n == 0) return g_base->allocate(0);
    c10::DataPtr inner = g_base->allocate(n + kHeader);
    char* block = static_cast<char*>(inner.release_context());
    *reinterpret_cast<int64_t*>(block) = int64_t(n);
    raise_peak(g_current.fetch_add(int64_t(n), std::memory_order_relaxed) + int64_t(n));
    void* data = block + kHeader;
    return {data, data, &counted_free, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &counted_free; }
};

}  // namespace

void install_allocation_meter() {
  if (g_installed.exchange(true)) return;
  g_base = c10::GetDefaultCPUAllocator();
  static CountingAllocator counting;
  c10::SetCPUAllocator(&counting, /*priority=*/1);  // above the default's 0
}

bool allocation_meter_installed() { return g_installed.load(); }
int64_t allocated_bytes() { return g_current.load(std::memory_order_relaxed); }
int64_t peak_allocated_bytes() { return g_peak.load(std::memory_order_relaxed); }
void reset_peak_allocated_bytes() { g_peak.store(g_current.load(std::memory_order_relaxed), std::memory_order_relaxed); }

}  // namespace asteroid::exec
