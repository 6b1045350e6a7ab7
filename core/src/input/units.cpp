#include "asteroid/input/units.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

namespace asteroid::units {
namespace {

using UnitTable = std::vector<std::pair<const char*, double>>;

// Splits "12.5 MiB" into 12.5 and "MiB"; the number must be finite and not negative.
std::optional<double> parse_with(const std::string& text, const UnitTable& table, const char* kind,
                                 std::string* why) {
  const char* s = text.c_str();
  char* end = nullptr;
  double number = std::strtod(s, &end);
  if (end == s) {
    *why = "\"" + text + "\" is not a number with a unit (for example " + table.front().first + ")";
    return std::nullopt;
  }
  while (*end == ' ') ++end;
  std::string unit(end);
  if (unit.empty()) {
    *why = "\"" + text + "\" has no unit; write the " + kind + " with a unit such as \"" + std::string(text) +
           table.front().first + "\"";
    return std::nullopt;
  }
  if (!std::isfinite(number) || number < 0) {
    *why = "\"" + text + "\" must be a finite, non-negative " + kind;
    return std::nullopt;
  }
  for (const auto& [name, scale] : table)
    if (unit == name) {
      if (!std::isfinite(number * scale)) {
        *why = "\"" + text + "\" is too large";
        return std::nullopt;
      }
      return number * scale;
    }
  std::string known;
  for (const auto& [name, scale] : table) known += (known.empty() ? "" : ", ") + std::string(name);
  *why = "unknown " + std::string(kind) + " unit \"" + unit + "\" (known: " + known + ")";
  return std::nullopt;
}

}  // namespace

std::optional<double> parse_bytes(const std::string& text, std::string* why) {
  static const UnitTable table = {{"GiB", 1073741824.0},
                                  {"MiB", 1048576.0},
                                  {"KiB", 1024.0},
                                  {"TiB", 1099511627776.0},
                                  {"B", 1.0},
                                  {"kB", 1e3},
                                  {"KB", 1e3},
                                  {"MB", 1e6},
                                  {"GB", 1e9},
                                  {"TB", 1e12}};
  return parse_with(text, table, "size", why);
}

std::optional<double> parse_seconds(const std::string& text, std::string* why) {
  static const UnitTable table = {{"ms", 1e-3}, {"s", 1.0},    {"us", 1e-6},
                                  {"ns", 1e-9}, {"min", 60.0}, {"h", 3600.0}};
  return parse_with(text, table, "duration", why);
}

std::optional<double> parse_bandwidth(const std::string& text, std::string* why) {
  static const UnitTable table = {{"Mbps", 1e6 / 8}, {"Gbps", 1e9 / 8}, {"kbps", 1e3 / 8}, {"bps", 1.0 / 8},
                                  {"MBps", 1e6},     {"GBps", 1e9},     {"kBps", 1e3},     {"Bps", 1.0}};
  auto v = parse_with(text, table, "bandwidth", why);
  if (v && *v <= 0) {
    *why = "\"" + text + "\" must be a positive bandwidth";
    return std::nullopt;
  }
  return v;
}

std::optional<double> parse_power(const std::string& text, std::string* why) {
  static const UnitTable table = {{"W", 1.0}, {"mW", 1e-3}, {"kW", 1e3}};
  return parse_with(text, table, "power", why);
}

std::optional<double> parse_percent(const std::string& text, std::string* why) {
  static const UnitTable table = {{"%", 1e-2}};
  return parse_with(text, table, "percentage", why);
}

std::optional<double> parse_energy(const std::string& text, std::string* why) {
  static const UnitTable table = {{"J", 1.0},        {"kJ", 1e3},     {"MJ", 1e6},
                                  {"Wh", 3600.0},    {"mWh", 3.6},    {"kWh", 3.6e6}};
  return parse_with(text, table, "energy", why);
}

std::string format_bytes(double bytes) {
  char buf[64];
  if (bytes >= 1073741824.0)
    std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / 1073741824.0);
  else if (bytes >= 1048576.0)
    std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / 1048576.0);
  else if (bytes >= 1024.0)
    std::snprintf(buf, sizeof buf, "%.1f KiB", bytes / 1024.0);
  else
    std::snprintf(buf, sizeof buf, "%.0f B", bytes);
  return buf;
}

std::string format_seconds(double s) {
  char buf[64];
  if (s >= 1.0 || s == 0.0)
    std::snprintf(buf, sizeof buf, "%.3f s", s);
  else if (s >= 1e-3)
    std::snprintf(buf, sizeof buf, "%.3f ms", s * 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.1f us", s * 1e6);
  return buf;
}

std::string format_bandwidth(double bytes_per_s) {
  char buf[64];
  double bits = bytes_per_s * 8;
  if (bits >= 1e9)
    std::snprintf(buf, sizeof buf, "%.3g Gbps", bits / 1e9);
  else
    std::snprintf(buf, sizeof buf, "%.3g Mbps", bits / 1e6);
  return buf;
}

std::string format_power(double watts) {
  char buf[64];
  if (watts >= 1.0 || watts == 0.0)
    std::snprintf(buf, sizeof buf, "%.2f W", watts);
  else
    std::snprintf(buf, sizeof buf, "%.0f mW", watts * 1e3);
  return buf;
}

std::string format_energy(double joules) {
  char buf[64];
  if (joules >= 1e6)
    std::snprintf(buf, sizeof buf, "%.2f MJ", joules / 1e6);
  else if (joules >= 1e4)
    std::snprintf(buf, sizeof buf, "%.2f kJ", joules / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.1f J", joules);
  return buf;
}

}  // namespace asteroid::units
