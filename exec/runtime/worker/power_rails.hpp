// A board's measured power, read from its INA3221 power monitor in sysfs (docs/jetson.md,
// "Measured power"). Jetson modules carry an INA3221 whose first channel is the module's input
// rail (VDD_IN on Xavier NX and Orin, POM_5V_IN on Nano and TX2): the whole module, the CPU and GPU
// rails being inside it, so only that rail is read, never a sum of rails. Torch-free; the worker
// samples it in a thread of its own (PowerSampler) and reports joules per round.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace asteroid::exec {

// One readable input rail.
struct InputRail {
  std::string label;  // "VDD_IN", "POM_5V_IN"
  std::string how;    // "INA3221 via hwmon (hwmon3)" or "INA3221 via iio (iio:device0)"
  // hwmon: bus voltage in mV and current in mA (the kernel's ina3221 driver); iio (L4T 32, the
  // ina3221x driver): power in mW. The unused ones are empty.
  std::string millivolts_file, milliamps_file, milliwatts_file;
};

// The input rail under `hwmon_root` (/sys/class/hwmon: devices whose `name` is ina3221, channels
// in[123]_label, in[123]_input, curr[123]_input) or else `iio_root`
// (/sys/bus/i2c/drivers/ina3221x: */iio:device*/rail_name_N, in_power{N}_input). A label is an
// input rail when it is VDD_IN or ends in _IN (POM_5V_IN, VDD_5V_IN). nullopt when there is none,
// with *why saying what was found (no monitor; monitors whose rails are only these labels).
// Environment: ASTEROID_HWMON_ROOT and ASTEROID_IIO_ROOT replace the roots (tests).
std::optional<InputRail> find_input_rail(std::string* why);
std::optional<InputRail> find_input_rail(const std::string& hwmon_root, const std::string& iio_root,
                                         std::string* why);

// Watts now; nullopt when a file cannot be read or holds no number.
std::optional<double> read_watts(const InputRail& rail);

// Samples a rail every `period_s` in a thread and integrates power over time (trapezoids), on the
// steady clock of net.hpp's now_ns(). Between two samples power is interpolated, after the last
// one it is held.
class PowerSampler {
 public:
  explicit PowerSampler(InputRail rail, double period_s = 0.02);
  ~PowerSampler();
  PowerSampler(const PowerSampler&) = delete;
  PowerSampler& operator=(const PowerSampler&) = delete;

  const InputRail& rail() const { return rail_; }
  // Joules from `start_ns` to `end_ns` (steady-clock nanoseconds; clipped to the sampled time) and
  // how many samples fell in it.
  double joules(int64_t start_ns, int64_t end_ns, long long* samples = nullptr) const;

 private:
  struct Sample {
    int64_t t_ns;
    double watts;
    double joules;  // cumulative from the first sample
  };
  double energy_at(int64_t t_ns) const;  // cumulative joules at t, with mutex_ held
  void loop();

  InputRail rail_;
  int64_t period_ns_;
  mutable std::mutex mutex_;
  std::vector<Sample> samples_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace asteroid::exec
