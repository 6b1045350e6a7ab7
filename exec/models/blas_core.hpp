// Which kernels OpenBLAS computes with (docs/toolchain-notes.md T7). OpenBLAS picks its kernels at
// load from the CPU's model number; a virtual machine that hides the model (its CPU reads
// "Intel(R) Xeon(R) Processor") gets the generic x86-64 kernels ("Prescott"), measured 3.7x slower
// on bert_small's layers than the AVX-512 ones the same CPU runs. Torch-free.
#pragma once

#include <string>

namespace asteroid::exec {

// The kernel family OpenBLAS chose ("Prescott", "Haswell", "SkylakeX", ...); "" when the process's
// BLAS is not OpenBLAS.
std::string openblas_core();

// The OPENBLAS_CORETYPE to set when OpenBLAS fell back to its generic kernels on a CPU that has
// better ones: "SkylakeX" with AVX-512 (F, CD, BW, DQ, VL), "Haswell" with AVX2 and FMA, from
// /proc/cpuinfo's flags; "" otherwise (OpenBLAS chose itself, or OPENBLAS_CORETYPE is set).
std::string better_openblas_core();

}  // namespace asteroid::exec
