// Quantities with units, as written in scenario files: "100Mbps", "4GiB", "2ms".
// Every parser returns SI base values: bytes, seconds, bytes per second, watts, joules.
#pragma once

#include <optional>
#include <string>

namespace asteroid::units {

// "4GiB", "512MB", "1.5 GB", "1024B". Decimal (kB, MB, GB, TB) and binary (KiB, MiB, GiB, TiB).
// Returns bytes, or nullopt with *why set.
std::optional<double> parse_bytes(const std::string& text, std::string* why);

// "2ms", "1.5s", "100us", "3min", "1h". Returns seconds.
std::optional<double> parse_seconds(const std::string& text, std::string* why);

// "100Mbps", "1Gbps", "500kbps", "12.5MBps" (bytes per second, capital B). Returns BYTES per second.
std::optional<double> parse_bandwidth(const std::string& text, std::string* why);

// "10W", "7.5 W", "850mW", "0.01kW". Returns watts (power models, docs/formats.md "Power model").
std::optional<double> parse_power(const std::string& text, std::string* why);

// "12J", "3.5kJ", "1Wh", "250mWh", "2kWh". Returns joules (1 Wh = 3600 J).
std::optional<double> parse_energy(const std::string& text, std::string* why);

// "10%", "0.5 %": a share, written as a percentage. Returns the fraction (0.1), never negative.
std::optional<double> parse_percent(const std::string& text, std::string* why);

// Human-readable forms for reports.
std::string format_bytes(double bytes);
std::string format_seconds(double seconds);
std::string format_bandwidth(double bytes_per_s);
std::string format_power(double watts);    // "7.50 W", "850 mW"
std::string format_energy(double joules);  // "12.3 J", "4.56 kJ", "1.23 MJ"


}  // namespace asteroid::units
