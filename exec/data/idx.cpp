#include "idx.hpp"

#include <zlib.h>

#include <filesystem>

namespace asteroid::exec {

namespace {

constexpr size_t kMaxBytes = size_t(1) << 30;

uint32_t big_endian32(std::string_view b, size_t at) {
  return uint32_t(uint8_t(b[at])) << 24 | uint32_t(uint8_t(b[at + 1])) << 16 | uint32_t(uint8_t(b[at + 2])) << 8 |
         uint32_t(uint8_t(b[at + 3]));
}

}  // namespace

Result<IdxArray> parse_idx(std::string_view bytes, const std::string& file, int rank) {
  auto error = [&](const std::string& field, const std::string& what) { return Error{file, field, what}; };
  if (bytes.size() < 4) return error("magic", "file of " + std::to_string(bytes.size()) + " bytes, too short for an IDX header");
  if (bytes[0] != 0 || bytes[1] != 0)
    return error("magic", "not an IDX file (its first two bytes are not zero)");
  if (uint8_t(bytes[2]) != 0x08)
    return error("magic", "element type 0x" + std::to_string(uint8_t(bytes[2])) + ", only unsigned bytes (0x08) are read");
  if (int(uint8_t(bytes[3])) != rank)
    return error("magic", std::to_string(uint8_t(bytes[3])) + " dimensions, expected " + std::to_string(rank));
  const size_t header = 4 + 4 * size_t(rank);
  if (bytes.size() < header) return error("dims", "truncated header (" + std::to_string(bytes.size()) + " bytes)");
  IdxArray a;
  uint64_t count = 1;
  for (int i = 0; i < rank; ++i) {
    uint32_t d = big_endian32(bytes, 4 + 4 * size_t(i));
    if (d == 0) return error("dims[" + std::to_string(i) + "]", "zero");
    a.dims.push_back(d);
    count *= d;
    if (count > kMaxBytes) return error("dims", "more than 1 GiB of elements");
  }
  const size_t have = bytes.size() - header;
  if (have < count)
    return error("data", "truncated: " + std::to_string(have) + " bytes, the dimensions say " + std::to_string(count));
  if (have > count)
    return error("data", std::to_string(have - count) + " bytes after the " + std::to_string(count) + " the dimensions say");
  a.data.assign(bytes.begin() + long(header), bytes.end());
  return a;
}

Result<IdxArray> read_idx(const std::string& file, int rank) {
  if (!std::filesystem::is_regular_file(file)) return Error{file, "", "no such file"};
  gzFile f = gzopen(file.c_str(), "rb");
  if (!f) return Error{file, "", "cannot open"};
  std::string bytes;
  char buf[1 << 16];
  for (;;) {
    int n = gzread(f, buf, sizeof buf);
    if (n < 0) {
      int code = 0;
      std::string why = gzerror(f, &code);
      gzclose(f);
      return Error{file, "gzip", "corrupt compressed data (" + why + ")"};
    }
    if (n == 0) break;
    bytes.append(buf, size_t(n));
    if (bytes.size() > kMaxBytes) {
      gzclose(f);
      return Error{file, "", "over 1 GiB decompressed"};
    }
  }
  // A gzip stream cut short reads as its available part; zlib reports it only here.
  int code = gzclose(f);
  if (code != Z_OK) return Error{file, "gzip", "truncated or corrupt compressed data (zlib code " + std::to_string(code) + ")"};
  return parse_idx(bytes, file, rank);
}

}  // namespace asteroid::exec
