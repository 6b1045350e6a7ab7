#include "asteroid/input/json_reader.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "asteroid/input/limits.hpp"
#include "asteroid/input/units.hpp"

namespace asteroid {
namespace {

const char* kind_of(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::object: return "an object";
    case nlohmann::json::value_t::array: return "an array";
    case nlohmann::json::value_t::string: return "a string";
    case nlohmann::json::value_t::boolean: return "a boolean";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float: return "a number";
    default: return "an unsupported value";
  }
}

std::string child(const std::string& path, const char* key) {
  return path.empty() ? std::string(key) : path + "." + key;
}

}  // namespace

void JsonReader::fail(const std::string& message) const { throw InputError{path_, message}; }

void JsonReader::require_object() const {
  if (!j_.is_object()) fail(std::string("expected an object, found ") + kind_of(j_));
}

void JsonReader::require_array() const {
  if (!j_.is_array()) fail(std::string("expected an array, found ") + kind_of(j_));
}

void JsonReader::allow_only(std::initializer_list<const char*> keys) const {
  allow_only(std::vector<std::string>(keys.begin(), keys.end()));
}

void JsonReader::allow_only(const std::vector<std::string>& keys) const {
  require_object();
  for (const auto& item : j_.items()) {
    if (std::find(keys.begin(), keys.end(), item.key()) != keys.end()) continue;
    std::string list;
    for (const std::string& k : keys) list += (list.empty() ? "" : ", ") + k;
    throw InputError{child(path_, item.key().c_str()), "unknown key (allowed here: " + list + ")"};
  }
}

bool JsonReader::has(const char* key) const {
  require_object();
  return j_.contains(key);
}

JsonReader JsonReader::at(const char* key) const {
  require_object();
  auto it = j_.find(key);
  if (it == j_.end()) throw InputError{child(path_, key), "missing (required)"};
  return JsonReader(*it, child(path_, key));
}

JsonReader JsonReader::at(size_t index) const {
  require_array();
  return JsonReader(j_.at(index), path_ + "[" + std::to_string(index) + "]");
}

size_t JsonReader::size() const {
  require_array();
  return j_.size();
}

std::vector<std::string> JsonReader::keys() const {
  require_object();
  std::vector<std::string> out;
  for (const auto& item : j_.items()) out.push_back(item.key());
  return out;
}

std::string JsonReader::string() const {
  if (!j_.is_string()) fail(std::string("expected a string, found ") + kind_of(j_));
  return j_.get<std::string>();
}

double JsonReader::number() const {
  if (!j_.is_number()) fail(std::string("expected a number, found ") + kind_of(j_));
  double v = j_.get<double>();
  if (!std::isfinite(v)) fail("expected a finite number");
  return v;
}

long long JsonReader::integer() const {
  if (!j_.is_number_integer() && !j_.is_number_unsigned()) {
    if (j_.is_number()) fail("expected a whole number, found " + j_.dump());
    fail(std::string("expected a whole number, found ") + kind_of(j_));
  }
  if (j_.is_number_unsigned() && j_.get<unsigned long long>() > (unsigned long long)LLONG_MAX)
    fail("whole number too large: " + j_.dump());
  return j_.get<long long>();
}

namespace {

std::string number_text(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.10g", v);
  return b;
}

}  // namespace

int JsonReader::integer_in(long long lo, long long hi) const {
  long long v = integer();
  if (v < lo || v > hi)
    fail("must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], found " + std::to_string(v));
  return int(v);
}

double JsonReader::number_in(double lo, double hi) const {
  double v = number();
  if (!(v >= lo && v <= hi))
    fail("must be in [" + number_text(lo) + ", " + number_text(hi) + "], found " + number_text(v));
  return v;
}

double JsonReader::bytes_in(double lo, double hi) const {
  double v = bytes();
  if (!(v >= lo && v <= hi))
    fail("must be in [" + units::format_bytes(lo) + ", " + units::format_bytes(hi) + "], found " +
         j_.get<std::string>());
  return v;
}

double JsonReader::seconds_in(double lo, double hi) const {
  double v = seconds();
  if (!(v >= lo && v <= hi))
    fail("must be in [" + units::format_seconds(lo) + ", " + units::format_seconds(hi) + "], found " +
         j_.get<std::string>());
  return v;
}

double JsonReader::bandwidth_in(double lo, double hi) const {
  double v = bandwidth();
  if (!(v >= lo && v <= hi))
    fail("must be in [" + units::format_bandwidth(lo) + ", " + units::format_bandwidth(hi) + "], found " +
         j_.get<std::string>());
  return v;
}

double JsonReader::power_in(double lo, double hi) const {
  double v = power();
  if (!(v >= lo && v <= hi))
    fail("must be in [" + units::format_power(lo) + ", " + units::format_power(hi) + "], found " +
         j_.get<std::string>());
  return v;
}

size_t JsonReader::size_at_most(size_t max) const {
  size_t n = size();
  if (n > max) fail("at most " + std::to_string(max) + " entries, found " + std::to_string(n));
  return n;
}

long long JsonReader::positive_integer() const {
  long long v = integer();
  if (v < 1) fail("must be at least 1, found " + std::to_string(v));
  return v;
}

bool JsonReader::boolean() const {
  if (!j_.is_boolean()) fail(std::string("expected true or false, found ") + kind_of(j_));
  return j_.get<bool>();
}

static std::string unit_hint(const nlohmann::json& j, const char* example) {
  if (j.is_number())
    return "a bare number has no unit; write it as a string with a unit, e.g. \"" + j.dump() + example + "\"";
  return std::string("expected a string with a unit, found ") + kind_of(j);
}

double JsonReader::bytes() const {
  if (!j_.is_string()) fail(unit_hint(j_, "GiB"));
  std::string why;
  auto v = units::parse_bytes(j_.get<std::string>(), &why);
  if (!v) fail(why);
  return *v;
}

double JsonReader::seconds() const {
  if (!j_.is_string()) fail(unit_hint(j_, "s"));
  std::string why;
  auto v = units::parse_seconds(j_.get<std::string>(), &why);
  if (!v) fail(why);
  return *v;
}

double JsonReader::bandwidth() const {
  if (!j_.is_string()) fail(unit_hint(j_, "Mbps"));
  std::string why;
  auto v = units::parse_bandwidth(j_.get<std::string>(), &why);
  if (!v) fail(why);
  return *v;
}

double JsonReader::power() const {
  if (!j_.is_string()) fail(unit_hint(j_, "W"));
  std::string why;
  auto v = units::parse_power(j_.get<std::string>(), &why);
  if (!v) fail(why);
  return *v;
}

double JsonReader::percent_in(double lo, double hi) const {
  if (!j_.is_string()) fail(unit_hint(j_, "%"));
  std::string why;
  auto v = units::parse_percent(j_.get<std::string>(), &why);
  if (!v) fail(why);
  if (!(*v >= lo && *v <= hi))
    fail("must be in [" + std::to_string(lo * 100) + "%, " + std::to_string(hi * 100) + "%], found " +
         j_.get<std::string>());
  return *v;
}

std::vector<double> JsonReader::numbers() const {
  std::vector<double> out;
  for (size_t i = 0; i < size(); ++i) out.push_back(at(i).number());
  return out;
}

std::vector<long long> JsonReader::positive_integers() const {
  std::vector<long long> out;
  for (size_t i = 0; i < size(); ++i) out.push_back(at(i).positive_integer());
  return out;
}

namespace {

struct TooDeep {};

}  // namespace

Result<nlohmann::json> parse_json_text(const std::string& text, const std::string& file) {
  auto where = [&](size_t byte) {
    // Line and column rather than nlohmann's byte offset.
    size_t line = 1, col = 1;
    for (size_t i = 0; i < byte && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    return "line " + std::to_string(line) + ", column " + std::to_string(col);
  };
  try {
    // Nesting is bounded as it is read: deep documents would overflow the stack of the recursive
    // copies and dumps downstream.
    return nlohmann::json::parse(text, [](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
      if (depth > limits::kMaxJsonDepth) throw TooDeep{};
      return true;
    });
  } catch (const TooDeep&) {
    return Error{file, "", "JSON nested deeper than " + std::to_string(limits::kMaxJsonDepth) + " levels"};
  } catch (const nlohmann::json::parse_error& e) {
    std::string what = e.what();
    auto pos = what.find("syntax error");
    if (pos != std::string::npos) what = what.substr(pos);
    return Error{file, "", "malformed JSON at " + where(e.byte) + ": " + what};
  } catch (const nlohmann::json::out_of_range& e) {
    // A number beyond a double ("1e400").
    std::string what = e.what();
    auto pos = what.find("] ");
    return Error{file, "", "malformed JSON: " + (pos == std::string::npos ? what : what.substr(pos + 2))};
  } catch (const nlohmann::json::exception& e) {
    return Error{file, "", std::string("malformed JSON: ") + e.what()};
  }
}

Result<nlohmann::json> read_json_file(const std::string& file) {
  std::ifstream in(file);
  if (!in) return Error{file, "", "cannot open file"};
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Error{file, "", "cannot read file"};
  return parse_json_text(ss.str(), file);
}

Result<bool> write_file_atomically(const std::string& file, const std::string& text) {
  std::string tmp = file + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Error{file, "", "cannot write file"};
    out << text;
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      return Error{file, "", "write failed"};
    }
  }
  if (std::rename(tmp.c_str(), file.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Error{file, "", "cannot rename temporary file into place"};
  }
  return true;
}

}  // namespace asteroid
