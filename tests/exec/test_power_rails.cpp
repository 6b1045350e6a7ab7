// The board power reader (exec/runtime/worker/power_rails.hpp) on fake sysfs trees: the kernel's hwmon
// ina3221 layout and NVIDIA's older ina3221x iio layout, the choice of the input rail, and the
// sampler's integral of a known power over a known time.
#include <unistd.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "control_protocol.hpp"
#include "net.hpp"
#include "power_rails.hpp"

using namespace asteroid::exec;
namespace fs = std::filesystem;
using Catch::Matchers::WithinRel;

namespace {

struct TempTree {
  fs::path root;
  TempTree() {
    root = fs::temp_directory_path() / ("asteroid-rails-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    fs::create_directories(root);
  }
  ~TempTree() { fs::remove_all(root); }
  void put(const std::string& file, const std::string& text) const {
    fs::create_directories((root / file).parent_path());
    std::ofstream(root / file) << text << "\n";
  }
};

}  // namespace

TEST_CASE("power rails: the hwmon ina3221 input rail is found and read as volts x amps", "[power]") {
  TempTree t;
  t.put("hwmon/hwmon0/name", "cpu_thermal");  // another monitor: passed over
  t.put("hwmon/hwmon1/name", "ina3221");
  t.put("hwmon/hwmon1/in1_label", "VDD_CPU_GPU_CV");  // inside the module: never the one read
  t.put("hwmon/hwmon1/in1_input", "5000");
  t.put("hwmon/hwmon1/curr1_input", "900");
  t.put("hwmon/hwmon1/in2_label", "VDD_IN");
  t.put("hwmon/hwmon1/in2_input", "5000");   // mV
  t.put("hwmon/hwmon1/curr2_input", "2000");  // mA
  std::string why;
  auto rail = find_input_rail((t.root / "hwmon").string(), (t.root / "none").string(), &why);
  REQUIRE(rail);
  CHECK(rail->label == "VDD_IN");
  CHECK(rail->how == "INA3221 via hwmon (hwmon1)");
  REQUIRE(read_watts(*rail));
  CHECK_THAT(*read_watts(*rail), WithinRel(10.0, 1e-12));
}

TEST_CASE("power rails: the ina3221x iio layout (L4T 32) is read in milliwatts", "[power]") {
  TempTree t;
  t.put("iio/6-0040/iio:device0/rail_name_0", "POM_5V_IN");
  t.put("iio/6-0040/iio:device0/in_power0_input", "7500");
  t.put("iio/6-0040/iio:device0/rail_name_1", "POM_5V_GPU");
  t.put("iio/6-0040/iio:device0/in_power1_input", "3000");
  auto rail = find_input_rail((t.root / "none").string(), (t.root / "iio").string(), nullptr);
  REQUIRE(rail);
  CHECK(rail->label == "POM_5V_IN");
  CHECK_THAT(*read_watts(*rail), WithinRel(7.5, 1e-12));
}

TEST_CASE("power rails: none found says why; an unreadable value is no reading", "[power]") {
  TempTree t;
  std::string why;
  CHECK_FALSE(find_input_rail((t.root / "a").string(), (t.root / "b").string(), &why));
  CHECK(why.find("no INA3221 power monitor") != std::string::npos);
  t.put("hwmon/hwmon0/name", "ina3221");
  t.put("hwmon/hwmon0/in1_label", "VDD_SOC");
  t.put("hwmon/hwmon0/in1_input", "5000");
  t.put("hwmon/hwmon0/curr1_input", "100");
  CHECK_FALSE(find_input_rail((t.root / "hwmon").string(), (t.root / "b").string(), &why));
  CHECK(why.find("VDD_SOC") != std::string::npos);
  t.put("hwmon/hwmon0/in2_label", "VDD_IN");
  t.put("hwmon/hwmon0/in2_input", "garbage");
  t.put("hwmon/hwmon0/curr2_input", "100");
  CHECK_FALSE(find_input_rail((t.root / "hwmon").string(), (t.root / "b").string(), &why));
}

TEST_CASE("power rails: the sampler integrates a constant 10 W to 10 J per second of any window", "[power]") {
  TempTree t;
  t.put("hwmon/hwmon0/name", "ina3221");
  t.put("hwmon/hwmon0/in1_label", "VDD_IN");
  t.put("hwmon/hwmon0/in1_input", "5000");
  t.put("hwmon/hwmon0/curr1_input", "2000");
  auto rail = find_input_rail((t.root / "hwmon").string(), "", nullptr);
  REQUIRE(rail);
  PowerSampler s(*rail, 0.01);
  const int64_t t0 = now_ns();
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  long long samples = 0;
  const double j = s.joules(t0 + 100'000'000, t0 + 300'000'000, &samples);
  CHECK_THAT(j, WithinRel(2.0, 1e-6));  // 10 W x 0.2 s, whatever the sample times
  CHECK(samples >= 5);
  CHECK(s.joules(t0 + 300'000'000, t0 + 100'000'000) == 0);  // an empty window
}

TEST_CASE("power rails: a round's measured energy travels in the Round message", "[power][message]") {
  Round r;
  r.generation = 1, r.round = 2, r.start_ns = 10, r.end_ns = 20;
  r.power_rail = "VDD_IN, INA3221 via hwmon (hwmon1)";
  r.measured_J = 12.5;
  r.power_samples = 40;
  auto back = decode(encode(r));
  REQUIRE(back.ok());
  const Round& x = std::get<Round>(back.value());
  CHECK(x.power_rail == r.power_rail);
  CHECK(x.measured_J == 12.5);
  CHECK(x.power_samples == 40);
}
