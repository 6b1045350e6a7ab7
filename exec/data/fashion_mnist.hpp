// Fashion-MNIST (Xiao, Rasul, Vollgraf 2017; Debian package dataset-fashion-mnist): 60,000 training
// and 10,000 test images, 28x28 grey, 10 classes, in four IDX files (idx.hpp). Locating the
// installed files and loading them whole; torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "asteroid/input/error.hpp"

namespace asteroid::exec {

constexpr const char* kFashionMnistPackage = "dataset-fashion-mnist";
constexpr int kFashionMnistClasses = 10;

struct ImageSet {
  int64_t count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> pixels;  // count x rows x cols, 0..255
  std::vector<uint8_t> labels;  // count, each < kFashionMnistClasses
};

struct FashionMnist {
  std::string dir;
  ImageSet train, test;
  double mean = 0, stddev = 1;  // of the training pixels, scaled to 0..1
};

// The directory holding train-images-idx3-ubyte[.gz] and the three other files: `dir` when given
// (an Error when the files are not there), else the package's files as `dpkg -L` lists them, else
// the first of /usr/share/datasets/fashion-mnist, /usr/local/share/datasets/fashion-mnist and
// $XDG_DATA_HOME or ~/.local/share/datasets/fashion-mnist that has them. Not found: an Error naming
// the package to install and the override option.
Result<std::string> locate_fashion_mnist(const std::string& dir);

// Reads the four files of `dir` and checks them: counts of images and labels agree, images of at
// most 32x32 pixels, labels below kFashionMnistClasses (the Error names the file, the label's
// index and value). The training images are always read (their statistics normalise every image);
// `need_train` false drops their pixels afterwards, `need_test` false skips the test files.
// O(pixels); about 1 s for the whole set here.
Result<FashionMnist> load_fashion_mnist(const std::string& dir, bool need_train = true, bool need_test = true);

// A set smaller than one mini-batch cannot train: an Error naming the training images' count.
Result<bool> check_fits_batch(const FashionMnist& d, int64_t batch_size);

}  // namespace asteroid::exec
