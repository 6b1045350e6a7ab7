// The IDX format of the MNIST family (http://yann.lecun.com/exdb/mnist/, "file formats"): a 4-byte
// magic (two zero bytes, the element type, the number of dimensions), each dimension as a 32-bit
// big-endian count, then the elements in row-major order. Only unsigned bytes (type 0x08) are read:
// what Fashion-MNIST's images and labels are. Files may be gzip-compressed or plain (zlib tells them
// apart by the gzip magic). Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "asteroid/input/error.hpp"

namespace asteroid::exec {

struct IdxArray {
  std::vector<int64_t> dims;  // e.g. {60000, 28, 28} images, {60000} labels
  std::vector<uint8_t> data;  // product(dims) bytes, row-major
};

// The array in `bytes` (the file's decompressed contents). `rank` is the number of dimensions the
// caller expects (3: images, 1: labels). Errors name `file`, the field ("magic", "dims[1]",
// "data") and the problem: a wrong magic or type, a rank other than `rank`, a zero dimension,
// fewer or more bytes than the dimensions say. Pure; O(size).
Result<IdxArray> parse_idx(std::string_view bytes, const std::string& file, int rank);

// Reads `file` (gzip or plain) and parses it. A missing file, a corrupt or truncated gzip stream,
// or a file over 1 GiB decompressed is an Error naming the file.
Result<IdxArray> read_idx(const std::string& file, int rank);

}  // namespace asteroid::exec
