#include "power_rails.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "net.hpp"

namespace asteroid::exec {
namespace {

namespace fs = std::filesystem;

std::optional<std::string> first_line(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

std::optional<double> number_in(const std::string& file) {
  auto line = first_line(file);
  if (!line || line->empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(line->c_str(), &end);
  if (end == line->c_str() || *end != '\0') return std::nullopt;
  return v;
}

bool is_input_label(const std::string& label) {
  return label == "VDD_IN" || (label.size() > 3 && label.compare(label.size() - 3, 3, "_IN") == 0);
}

std::vector<fs::path> entries(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) out.push_back(it->path());
  std::sort(out.begin(), out.end());
  return out;
}

std::string root_from(const char* variable, const char* fallback) {
  const char* v = std::getenv(variable);
  return v && *v ? v : fallback;
}

}  // namespace

std::optional<InputRail> find_input_rail(std::string* why) {
  return find_input_rail(root_from("ASTEROID_HWMON_ROOT", "/sys/class/hwmon"),
                         root_from("ASTEROID_IIO_ROOT", "/sys/bus/i2c/drivers/ina3221x"), why);
}

std::optional<InputRail> find_input_rail(const std::string& hwmon_root, const std::string& iio_root,
                                         std::string* why) {
  std::vector<std::string> seen;
  // The kernel's hwmon driver (L4T 34 on, and mainline kernels).
  for (const fs::path& dev : entries(hwmon_root)) {
    if (first_line(dev / "name").value_or("") != "ina3221") continue;
    for (int c = 1; c <= 3; ++c) {
      const std::string n = std::to_string(c);
      auto label = first_line(dev / ("in" + n + "_label"));
      if (!label) continue;
      seen.push_back(*label);
      if (!is_input_label(*label)) continue;
      InputRail r;
      r.label = *label;
      r.how = "INA3221 via hwmon (" + dev.filename().string() + ")";
      r.millivolts_file = (dev / ("in" + n + "_input")).string();
      r.milliamps_file = (dev / ("curr" + n + "_input")).string();
      if (read_watts(r)) return r;
    }
  }
  // NVIDIA's ina3221x iio driver (L4T 32: JetPack 4 on Nano and TX2).
  for (const fs::path& chip : entries(iio_root))
    for (const fs::path& dev : entries(chip)) {
      if (dev.filename().string().rfind("iio:device", 0) != 0) continue;
      for (int c = 0; c <= 2; ++c) {
        const std::string n = std::to_string(c);
        auto label = first_line(dev / ("rail_name_" + n));
        if (!label) continue;
        seen.push_back(*label);
        if (!is_input_label(*label)) continue;
        InputRail r;
        r.label = *label;
        r.how = "INA3221 via iio (" + dev.filename().string() + ")";
        r.milliwatts_file = (dev / ("in_power" + n + "_input")).string();
        if (read_watts(r)) return r;
      }
    }
  if (why) {
    if (seen.empty()) {
      *why = "no INA3221 power monitor readable under " + hwmon_root + " or " + iio_root;
    } else {
      std::string list;
      for (const std::string& s : seen) list += (list.empty() ? "" : ", ") + s;
      *why = "INA3221 rails " + list + ": none is an input rail (VDD_IN, *_IN) that reads a number";
    }
  }
  return std::nullopt;
}

std::optional<double> read_watts(const InputRail& rail) {
  if (!rail.milliwatts_file.empty()) {
    auto mw = number_in(rail.milliwatts_file);
    if (!mw || *mw < 0) return std::nullopt;
    return *mw / 1e3;
  }
  auto mv = number_in(rail.millivolts_file), ma = number_in(rail.milliamps_file);
  if (!mv || !ma || *mv < 0 || *ma < 0) return std::nullopt;
  return *mv * *ma / 1e6;
}

PowerSampler::PowerSampler(InputRail rail, double period_s)
    : rail_(std::move(rail)), period_ns_(int64_t(period_s * 1e9)) {
  thread_ = std::thread([this] { loop(); });
}

PowerSampler::~PowerSampler() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void PowerSampler::loop() {
  while (!stop_) {
    const int64_t t = now_ns();
    if (auto w = read_watts(rail_)) {
      std::lock_guard<std::mutex> lock(mutex_);
      double e = 0;
      if (!samples_.empty()) {
        const Sample& p = samples_.back();
        e = p.joules + (p.watts + *w) / 2 * double(t - p.t_ns) / 1e9;
      }
      samples_.push_back({t, *w, e});
    }
    std::this_thread::sleep_for(std::chrono::nanoseconds(period_ns_));
  }
}

double PowerSampler::energy_at(int64_t t) const {
  if (samples_.empty() || t <= samples_.front().t_ns) return 0;
  const Sample& last = samples_.back();
  if (t >= last.t_ns) return last.joules + last.watts * double(t - last.t_ns) / 1e9;  // held
  auto after = std::upper_bound(samples_.begin(), samples_.end(), t,
                                [](int64_t x, const Sample& s) { return x < s.t_ns; });
  const Sample& b = *after;
  const Sample& a = *std::prev(after);
  const double f = double(t - a.t_ns) / double(b.t_ns - a.t_ns);
  const double w = a.watts + f * (b.watts - a.watts);
  return a.joules + (a.watts + w) / 2 * double(t - a.t_ns) / 1e9;
}

double PowerSampler::joules(int64_t start_ns, int64_t end_ns, long long* samples) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (samples) {
    auto lo = std::lower_bound(samples_.begin(), samples_.end(), start_ns,
                               [](const Sample& s, int64_t x) { return s.t_ns < x; });
    auto hi = std::upper_bound(samples_.begin(), samples_.end(), end_ns,
                               [](int64_t x, const Sample& s) { return x < s.t_ns; });
    *samples = hi > lo ? (long long)(hi - lo) : 0;
  }
  return std::max(0.0, energy_at(end_ns) - energy_at(start_ns));
}

}  // namespace asteroid::exec
