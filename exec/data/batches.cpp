#include "batches.hpp"

#include <cassert>
#include <numeric>
#include <random>

namespace asteroid::exec {

namespace {

// SplitMix64: a well-mixed 64-bit hash, so neighbouring (seed, round, row) draw unrelated values.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

BatchSequence::BatchSequence(uint64_t seed, int64_t n, int64_t batch) : seed_(seed), n_(n), batch_(batch) {
  assert(batch >= 1 && batch <= n && "BatchSequence: batch must be 1..n");
}

int64_t BatchSequence::sample(int64_t round, int64_t row) {
  const int64_t e = epoch_of(round);
  if (e != epoch_) {
    order_.resize(size_t(n_));
    std::iota(order_.begin(), order_.end(), 0);
    // Fisher-Yates with our own draws: std::shuffle's algorithm differs between standard libraries.
    std::mt19937_64 g(mix(seed_ ^ mix(uint64_t(e))));
    for (int64_t i = n_ - 1; i > 0; --i) std::swap(order_[size_t(i)], order_[size_t(g() % uint64_t(i + 1))]);
    epoch_ = e;
  }
  return order_[size_t((round % batches_per_epoch()) * batch_ + row)];
}

Augmentation augmentation(uint64_t seed, int64_t round, int64_t row) {
  uint64_t h = mix(mix(mix(seed) ^ uint64_t(round)) ^ uint64_t(row));
  return {int(h % 9), int((h >> 8) % 9), ((h >> 16) & 1) != 0};
}

void write_image(const FashionMnist& d, const ImageSet& set, int64_t sample, int64_t top, int64_t left, bool flip,
                 float* out) {
  const float background = float((0.0 - d.mean) / d.stddev);
  const float scale = float(1.0 / (255.0 * d.stddev)), shift = float(-d.mean / d.stddev);
  float* plane = out;
  std::fill(plane, plane + kImageSide * kImageSide, background);
  const uint8_t* px = set.pixels.data() + sample * set.rows * set.cols;
  for (int64_t y = 0; y < set.rows; ++y) {
    const int64_t oy = top + y;
    if (oy < 0 || oy >= kImageSide) continue;
    for (int64_t x = 0; x < set.cols; ++x) {
      int64_t ox = left + x;
      if (flip) ox = kImageSide - 1 - ox;
      if (ox < 0 || ox >= kImageSide) continue;
      plane[oy * kImageSide + ox] = float(px[y * set.cols + x]) * scale + shift;
    }
  }
  std::copy(plane, plane + kImageSide * kImageSide, plane + kImageSide * kImageSide);
  std::copy(plane, plane + kImageSide * kImageSide, plane + 2 * kImageSide * kImageSide);
}

}  // namespace asteroid::exec
