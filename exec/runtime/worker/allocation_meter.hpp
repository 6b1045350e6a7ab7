// The bytes libtorch holds on the CPU, as its allocator sees them: a worker's current and peak
// tensor memory (weights, gradients, optimizer state, activations kept for backward, messages),
// without the process's code, libraries and allocator caches that its resident size also counts.
// What the cost model's memory check predicts (docs/method.md §3.5) is compared with this peak
// (exec/README.md, "Memory"). Installed once per worker process, before its first tensor; tensors
// made before that are not counted (they are freed as they were allocated).
#pragma once

#include <cstdint>

namespace asteroid::exec {

// Puts the counting allocator in front of libtorch's default CPU allocator (c10::SetCPUAllocator).
// Idempotent.
void install_allocation_meter();
bool allocation_meter_installed();

// Bytes allocated through it and not yet freed.
int64_t allocated_bytes();
// The most allocated at once since the last reset_peak_allocated_bytes (or the install).
int64_t peak_allocated_bytes();
// Starts a new peak from what is allocated now.
void reset_peak_allocated_bytes();

}  // namespace asteroid::exec
