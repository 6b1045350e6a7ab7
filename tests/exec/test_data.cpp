// The data sets of asteroid-exec (exec/data): the IDX reader on good and broken files, gzip or
// plain; Fashion-MNIST's checks; the mini-batch sequence and the image layout. Torch-free.
#include <zlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>

#include "batches.hpp"
#include "fashion_mnist.hpp"
#include "idx.hpp"

using namespace asteroid;
using namespace asteroid::exec;
namespace fs = std::filesystem;

namespace {

std::string idx_bytes(std::vector<uint32_t> dims, const std::vector<uint8_t>& data) {
  std::string b{'\0', '\0', '\x08', char(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(char((d >> s) & 0xff));
  b.append(data.begin(), data.end());
  return b;
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("asteroid_data_" + std::to_string(::getpid()) + "_" +
                                               std::to_string(reinterpret_cast<uintptr_t>(this)));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

void write_plain(const std::string& f, const std::string& bytes) { std::ofstream(f, std::ios::binary) << bytes; }
void write_gz(const std::string& f, const std::string& bytes) {
  gzFile g = gzopen(f.c_str(), "wb");
  gzwrite(g, bytes.data(), unsigned(bytes.size()));
  gzclose(g);
}

// A small Fashion-MNIST look-alike: n training and m test images of 28x28, labels i mod 10.
void write_set(const TempDir& t, uint32_t n, uint32_t m, uint8_t bad_label = 0) {
  auto images = [](uint32_t k) {
    std::vector<uint8_t> px(size_t(k) * 28 * 28);
    for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t(i * 7 % 256);
    return px;
  };
  auto labels = [&](uint32_t k) {
    std::vector<uint8_t> l(k);
    for (uint32_t i = 0; i < k; ++i) l[i] = uint8_t(i % 10);
    if (bad_label) l[k - 1] = bad_label;
    return l;
  };
  write_gz(t.file("train-images-idx3-ubyte.gz"), idx_bytes({n, 28, 28}, images(n)));
  write_gz(t.file("train-labels-idx1-ubyte.gz"), idx_bytes({n}, labels(n)));
  write_plain(t.file("t10k-images-idx3-ubyte"), idx_bytes({m, 28, 28}, images(m)));
  write_plain(t.file("t10k-labels-idx1-ubyte"), idx_bytes({m}, labels(m)));
}

}  // namespace

TEST_CASE("idx: reads gzip and plain files alike", "[data]") {
  TempDir t;
  std::string b = idx_bytes({2, 3}, {1, 2, 3, 4, 5, 6});
  write_plain(t.file("a"), b);
  write_gz(t.file("a.gz"), b);
  for (const char* f : {"a", "a.gz"}) {
    auto a = read_idx(t.file(f), 2);
    REQUIRE(a.ok());
    CHECK(a->dims == std::vector<int64_t>{2, 3});
    CHECK(a->data == std::vector<uint8_t>{1, 2, 3, 4, 5, 6});
  }
}

TEST_CASE("idx: a wrong magic, rank or type, a truncated or oversized body are errors naming the field", "[data]") {
  auto field = [](std::string bytes, int rank) {
    auto a = parse_idx(bytes, "f", rank);
    REQUIRE(!a.ok());
    CHECK(a.error().file == "f");
    return a.error().path;
  };
  std::string good = idx_bytes({2, 3}, {1, 2, 3, 4, 5, 6});
  CHECK(field("PK\x03\x04....", 2) == "magic");
  std::string type = good;
  type[2] = 0x0d;  // float
  CHECK(field(type, 2) == "magic");
  CHECK(field(good, 3) == "magic");
  CHECK(field(good.substr(0, 7), 2) == "dims");
  CHECK(field(good.substr(0, good.size() - 1), 2) == "data");
  CHECK(field(good + "x", 2) == "data");
  CHECK(field(idx_bytes({0, 3}, {}), 2) == "dims[0]");
  CHECK(parse_idx(good, "f", 2).ok());
}

TEST_CASE("idx: a truncated or corrupt gzip stream is an error, never a short array", "[data]") {
  TempDir t;
  std::vector<uint8_t> data(5000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(i * 31 % 251);
  write_gz(t.file("a.gz"), idx_bytes({5000}, data));
  std::string gz;
  {
    std::ifstream in(t.file("a.gz"), std::ios::binary);
    gz.assign(std::istreambuf_iterator<char>(in), {});
  }
  write_plain(t.file("cut.gz"), gz.substr(0, gz.size() / 2));
  auto cut = read_idx(t.file("cut.gz"), 1);
  REQUIRE(!cut.ok());
  CHECK(cut.error().file == t.file("cut.gz"));
  std::string bad = gz;
  for (size_t i = 20; i < 60 && i < bad.size(); ++i) bad[i] = char(~bad[i]);
  write_plain(t.file("bad.gz"), bad);
  CHECK(!read_idx(t.file("bad.gz"), 1).ok());
  CHECK(read_idx(t.file("missing"), 1).error().message == "no such file");
}

TEST_CASE("fashion-mnist: loads a set, its statistics from the training images; bad labels and a set smaller than a mini-batch are errors", "[data]") {
  TempDir t;
  write_set(t, 50, 20);
  auto where = locate_fashion_mnist(t.path.string());
  REQUIRE(where.ok());
  auto d = load_fashion_mnist(*where);
  REQUIRE(d.ok());
  CHECK(d->train.count == 50);
  CHECK(d->test.count == 20);
  CHECK(d->mean > 0.4);
  CHECK(d->mean < 0.6);
  CHECK(check_fits_batch(*d, 50).ok());
  auto small = check_fits_batch(*d, 64);
  REQUIRE(!small.ok());
  CHECK(small.error().path == "dims[0]");
  CHECK(small.error().message.find("fewer than one mini-batch of 64") != std::string::npos);

  TempDir u;
  write_set(u, 30, 10, 12);
  auto bad = load_fashion_mnist(u.path.string());
  REQUIRE(!bad.ok());
  CHECK(bad.error().file == u.file("train-labels-idx1-ubyte.gz"));
  CHECK(bad.error().path == "data[29]");
  CHECK(bad.error().message == "label 12 outside the 10 classes");

  TempDir empty;
  auto none = locate_fashion_mnist(empty.path.string());
  REQUIRE(!none.ok());
  CHECK(none.error().file == empty.path.string());
}

TEST_CASE("batches: one shuffle per epoch, every sample once, the same sequence for every reader", "[data]") {
  BatchSequence a(7, 103, 10), b(7, 103, 10), c(8, 103, 10);
  CHECK(a.batches_per_epoch() == 10);
  for (int epoch = 0; epoch < 2; ++epoch) {
    std::set<int64_t> seen;
    for (int r = epoch * 10; r < epoch * 10 + 10; ++r)
      for (int row = 0; row < 10; ++row) seen.insert(a.sample(r, row));
    CHECK(seen.size() == 100);
  }
  // Another reader asking rows in another order (another plan's slices) gets the same samples.
  bool differs_from_other_seed = false, epochs_differ = false;
  for (int r = 19; r >= 0; --r)
    for (int row = 9; row >= 0; --row) {
      CHECK(b.sample(r, row) == a.sample(r, row));
      differs_from_other_seed |= c.sample(r, row) != a.sample(r, row);
    }
  for (int row = 0; row < 10; ++row) epochs_differ |= a.sample(0, row) != a.sample(10, row);
  CHECK(differs_from_other_seed);
  CHECK(epochs_differ);
}

TEST_CASE("batches: images are centred, repeated over 3 channels, normalised; crops and flips depend on (seed, round, row) only", "[data]") {
  FashionMnist d;
  d.mean = 0.25;
  d.stddev = 0.5;
  d.train.count = 1, d.train.rows = 28, d.train.cols = 28;
  d.train.pixels.assign(28 * 28, 255);
  d.train.labels = {3};
  std::vector<float> out(kImageFloats);
  auto first = [](int64_t) { return int64_t(0); };
  fill_images(d, d.train, first, 0, 1, false, 1, 0, out.data());
  const float bg = -0.5f, fg = 1.5f;
  CHECK(out[0] == Approx(bg));
  CHECK(out[2 * 32 + 2] == Approx(fg));
  CHECK(out[29 * 32 + 29] == Approx(fg));
  CHECK(out[30 * 32 + 30] == Approx(bg));
  for (int64_t i = 0; i < 1024; ++i) {
    CHECK(out[size_t(1024 + i)] == out[size_t(i)]);
    CHECK(out[size_t(2048 + i)] == out[size_t(i)]);
  }
  std::set<std::tuple<int, int, bool>> drawn;
  for (int row = 0; row < 200; ++row) {
    Augmentation x = augmentation(1, 5, row), y = augmentation(1, 5, row);
    CHECK((x.dx == y.dx && x.dy == y.dy && x.flip == y.flip));
    CHECK((x.dx >= 0 && x.dx <= 8 && x.dy >= 0 && x.dy <= 8));
    drawn.insert({x.dx, x.dy, x.flip});
  }
  CHECK(drawn.size() > 50);
  std::vector<int64_t> labels(1);
  fill_labels(d.train, first, 0, 1, labels.data());
  CHECK(labels[0] == 3);
}
