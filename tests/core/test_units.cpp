#include <catch2/catch.hpp>

#include "asteroid/input/profile.hpp"
#include "asteroid/input/units.hpp"

using namespace asteroid;

TEST_CASE("units: sizes, durations and bandwidths parse to SI base values", "[units]") {
  std::string why;
  CHECK(*units::parse_bytes("4GiB", &why) == 4.0 * 1024 * 1024 * 1024);
  CHECK(*units::parse_bytes("512 MB", &why) == 512e6);
  CHECK(*units::parse_seconds("2ms", &why) == Approx(0.002));
  CHECK(*units::parse_seconds("1.5min", &why) == Approx(90));
  CHECK(*units::parse_bandwidth("100Mbps", &why) == Approx(12.5e6));
  CHECK(*units::parse_bandwidth("1Gbps", &why) == Approx(125e6));
  CHECK(*units::parse_bandwidth("10MBps", &why) == Approx(10e6));
}

TEST_CASE("units: a number without a unit, or with an unknown one, is refused with a reason", "[units]") {
  std::string why;
  CHECK_FALSE(units::parse_bytes("4096", &why));
  CHECK(why.find("no unit") != std::string::npos);
  CHECK_FALSE(units::parse_bandwidth("100Mbit", &why));
  CHECK(why.find("unknown bandwidth unit") != std::string::npos);
  CHECK_FALSE(units::parse_seconds("-2ms", &why));
  CHECK_FALSE(units::parse_bandwidth("0Mbps", &why));
  CHECK_FALSE(units::parse_seconds("fast", &why));
}

TEST_CASE("units: powers and energies parse to watts and joules; no unit or a negative value is refused",
          "[units][energy]") {
  std::string why;
  CHECK(*units::parse_power("10W", &why) == 10.0);
  CHECK(*units::parse_power("850mW", &why) == Approx(0.85));
  CHECK(*units::parse_power("7.5 W", &why) == 7.5);
  CHECK(*units::parse_energy("1Wh", &why) == 3600.0);
  CHECK(*units::parse_energy("250mWh", &why) == Approx(900.0));
  CHECK(*units::parse_energy("3.5kJ", &why) == 3500.0);
  CHECK_FALSE(units::parse_power("10", &why));
  CHECK(why.find("no unit") != std::string::npos);
  CHECK_FALSE(units::parse_power("-1W", &why));
  CHECK(why.find("non-negative power") != std::string::npos);
  CHECK_FALSE(units::parse_power("10J", &why));
  CHECK(why.find("unknown power unit") != std::string::npos);
  CHECK(units::format_power(7.5) == "7.50 W");
  CHECK(units::format_energy(12345.0) == "12.35 kJ");
}

TEST_CASE("profile: times interpolate linearly, scale below the first point, extend above the last",
          "[profile]") {
  std::vector<double> bs = {2, 4, 8};
  std::vector<double> t = {1.0, 1.5, 3.5};
  CHECK(interpolate_time(bs, t, 1) == Approx(0.5));
  CHECK(interpolate_time(bs, t, 3) == Approx(1.25));
  CHECK(interpolate_time(bs, t, 8) == Approx(3.5));
  CHECK(interpolate_time(bs, t, 12) == Approx(5.5));
  CHECK(interpolate_time(bs, t, 0) == 0);
}
