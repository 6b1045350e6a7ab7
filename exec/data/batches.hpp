// Which samples each round trains on, and their pixels as the CIFAR networks take them; torch-free.
// The sequence of mini-batches depends on the seed and the batch size only, never on the plan: round
// r is mini-batch r mod P of epoch r / P (P = floor(N / batch) mini-batches per epoch, the rest of
// each epoch's shuffle left out), and every device asks for its own rows of it. The random crop and
// flip of a sample are drawn from (seed, round, row), so a sample looks the same whichever device
// reads it.
#pragma once

#include <cstdint>
#include <vector>

#include "fashion_mnist.hpp"

namespace asteroid::exec {

// Images become 3 x 32 x 32 floats: the 28x28 grey image centred (2 pixels of background each
// side), repeated over the three channels, normalised with the training set's mean and deviation.
constexpr int64_t kImageSide = 32;
constexpr int64_t kImageFloats = 3 * kImageSide * kImageSide;

class BatchSequence {
 public:
  // `n` training samples, mini-batches of `batch` (1 <= batch <= n).
  BatchSequence(uint64_t seed, int64_t n, int64_t batch);

  int64_t batches_per_epoch() const { return n_ / batch_; }
  int64_t epoch_of(int64_t round) const { return round / batches_per_epoch(); }
  // The training index of row `row` (0 <= row < batch) of round `round`'s mini-batch. O(1) once the
  // round's epoch is shuffled (O(n) per new epoch).
  int64_t sample(int64_t round, int64_t row);

 private:
  uint64_t seed_;
  int64_t n_, batch_;
  int64_t epoch_ = -1;
  std::vector<int64_t> order_;
};

// Writes rows [lo, hi) of a batch as images (kImageFloats each) into `out`: `index(row)` gives the
// sample of `set`; with `augment`, a random crop of the image padded by 4 and a horizontal flip with
// probability 1/2, drawn from (seed, round, row).
template <typename IndexOf>
void fill_images(const FashionMnist& d, const ImageSet& set, IndexOf index, int64_t lo, int64_t hi, bool augment,
                 uint64_t seed, int64_t round, float* out);

// Labels of rows [lo, hi) as int64 into `out`.
template <typename IndexOf>
void fill_labels(const ImageSet& set, IndexOf index, int64_t lo, int64_t hi, int64_t* out) {
  for (int64_t r = lo; r < hi; ++r) out[r - lo] = set.labels[size_t(index(r))];
}

// One image: `sample` of `set` placed with its top-left corner at (top, left) of the 32x32 canvas,
// optionally mirrored, into out (kImageFloats).
void write_image(const FashionMnist& d, const ImageSet& set, int64_t sample, int64_t top, int64_t left, bool flip,
                 float* out);

// The crop offset (0..8 per axis, 4 = centred) and flip of (seed, round, row).
struct Augmentation {
  int dy = 4, dx = 4;
  bool flip = false;
};
Augmentation augmentation(uint64_t seed, int64_t round, int64_t row);

template <typename IndexOf>
void fill_images(const FashionMnist& d, const ImageSet& set, IndexOf index, int64_t lo, int64_t hi, bool augment,
                 uint64_t seed, int64_t round, float* out) {
  const int64_t top0 = (kImageSide - set.rows) / 2, left0 = (kImageSide - set.cols) / 2;
  for (int64_t r = lo; r < hi; ++r) {
    Augmentation a = augment ? augmentation(seed, round, r) : Augmentation{};
    write_image(d, set, index(r), top0 + 4 - a.dy, left0 + 4 - a.dx, a.flip, out + (r - lo) * kImageFloats);
  }
}

}  // namespace asteroid::exec
