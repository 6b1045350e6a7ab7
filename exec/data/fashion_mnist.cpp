#include "fashion_mnist.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "idx.hpp"

namespace asteroid::exec {

namespace fs = std::filesystem;

namespace {

const char* const kFiles[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                              "t10k-labels-idx1-ubyte"};

// The file `name` or `name.gz` in dir; empty when neither exists.
std::string find_file(const std::string& dir, const std::string& name) {
  for (const std::string& f : {dir + "/" + name + ".gz", dir + "/" + name})
    if (fs::is_regular_file(f)) return f;
  return "";
}

bool has_all(const std::string& dir) {
  for (const char* f : kFiles)
    if (find_file(dir, f).empty()) return false;
  return true;
}

// The directory of the package's training images as dpkg lists them; empty without dpkg or package.
std::string from_dpkg() {
  FILE* p = popen("dpkg -L dataset-fashion-mnist 2>/dev/null", "r");
  if (!p) return "";
  std::string found;
  char line[4096];
  while (fgets(line, sizeof line, p)) {
    std::string s(line);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    if (found.empty() && s.find("train-images-idx3-ubyte") != std::string::npos)
      found = fs::path(s).parent_path().string();
  }
  pclose(p);
  return found;
}

Result<ImageSet> load_pair(const std::string& dir, const char* images_name, const char* labels_name) {
  std::string fi = find_file(dir, images_name), fl = find_file(dir, labels_name);
  if (fi.empty()) return Error{dir + "/" + images_name + "[.gz]", "", "no such file"};
  if (fl.empty()) return Error{dir + "/" + labels_name + "[.gz]", "", "no such file"};
  auto images = read_idx(fi, 3);
  if (!images) return images.error();
  auto labels = read_idx(fl, 1);
  if (!labels) return labels.error();
  ImageSet s;
  s.count = images->dims[0];
  s.rows = images->dims[1];
  s.cols = images->dims[2];
  if (s.rows > 32 || s.cols > 32)
    return Error{fi, "dims", std::to_string(s.rows) + "x" + std::to_string(s.cols) + " images, at most 32x32 fit the models"};
  if (labels->dims[0] != s.count)
    return Error{fl, "dims[0]", std::to_string(labels->dims[0]) + " labels for " + std::to_string(s.count) + " images"};
  for (size_t i = 0; i < labels->data.size(); ++i)
    if (labels->data[i] >= kFashionMnistClasses)
      return Error{fl, "data[" + std::to_string(i) + "]", "label " + std::to_string(labels->data[i]) + " outside the " +
                                                              std::to_string(kFashionMnistClasses) + " classes"};
  s.pixels = std::move(images.value().data);
  s.labels = std::move(labels.value().data);
  return s;
}

}  // namespace

Result<std::string> locate_fashion_mnist(const std::string& dir) {
  if (!dir.empty()) {
    if (has_all(dir)) return dir;
    return Error{dir, "", "no Fashion-MNIST here (train-images-idx3-ubyte[.gz] and the three other IDX files)"};
  }
  std::vector<std::string> candidates{from_dpkg(), "/usr/share/datasets/fashion-mnist",
                                      "/usr/local/share/datasets/fashion-mnist"};
  if (const char* x = std::getenv("XDG_DATA_HOME"))
    candidates.push_back(std::string(x) + "/datasets/fashion-mnist");
  else if (const char* h = std::getenv("HOME"))
    candidates.push_back(std::string(h) + "/.local/share/datasets/fashion-mnist");
  for (const std::string& c : candidates)
    if (!c.empty() && has_all(c)) return c;
  return Error{"fashion-mnist", "",
               std::string("data set not installed: install the Debian package ") + kFashionMnistPackage +
                   " (apt-get install " + kFashionMnistPackage + ") or give --data-dir DIR"};
}

Result<FashionMnist> load_fashion_mnist(const std::string& dir, bool need_train, bool need_test) {
  FashionMnist d;
  d.dir = dir;
  // The statistics come from the training images, whoever needs them.
  auto train = load_pair(dir, kFiles[0], kFiles[1]);
  if (!train) return train.error();
  d.train = std::move(train.value());
  double sum = 0, sq = 0;
  for (uint8_t p : d.train.pixels) {
    double v = p / 255.0;
    sum += v;
    sq += v * v;
  }
  const double n = double(d.train.pixels.size());
  d.mean = sum / n;
  d.stddev = std::sqrt(std::max(1e-12, sq / n - d.mean * d.mean));
  if (need_test) {
    auto test = load_pair(dir, kFiles[2], kFiles[3]);
    if (!test) return test.error();
    d.test = std::move(test.value());
  }
  if (!need_train) d.train.pixels.clear(), d.train.pixels.shrink_to_fit();
  return d;
}

Result<bool> check_fits_batch(const FashionMnist& d, int64_t batch_size) {
  if (d.train.count >= batch_size) return true;
  return Error{find_file(d.dir, kFiles[0]), "dims[0]",
               std::to_string(d.train.count) + " training images, fewer than one mini-batch of " +
                   std::to_string(batch_size)};
}

}  // namespace asteroid::exec
