// Strict reading of JSON input: every key must be known, every value of the right kind, every
// quantity with its unit. The first problem found becomes an Error naming the file and JSON path.
#pragma once

#include <nlohmann/json.hpp>

#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "asteroid/input/error.hpp"

namespace asteroid {

// Thrown only inside the loaders and caught at their boundary, where it becomes an Error value.
struct InputError {
  std::string path;
  std::string message;
};

// A view of one JSON value at a known path. Methods throw InputError; load functions catch it.
class JsonReader {
 public:
  JsonReader(const nlohmann::json& j, std::string path) : j_(j), path_(std::move(path)) {}

  const nlohmann::json& json() const { return j_; }
  const std::string& path() const { return path_; }

  // IMPORTANT: call once per object with every key it may have; any other key is an error.
  void allow_only(std::initializer_list<const char*> keys) const;
  // The same for keys known only at run time (a format whose writer's keys are its allow-list).
  void allow_only(const std::vector<std::string>& keys) const;
  bool has(const char* key) const;
  JsonReader at(const char* key) const;  // required key
  JsonReader at(size_t index) const;     // array element
  JsonReader at(int index) const { return at(size_t(index)); }
  size_t size() const;                    // array length (requires an array)
  std::vector<std::string> keys() const;  // object keys in file order (nlohmann sorts them)

  void require_object() const;
  void require_array() const;
  std::string string() const;
  double number() const;
  long long integer() const;           // whole number
  long long positive_integer() const;  // >= 1
  bool boolean() const;
  double bytes() const;                 // "4GiB"
  double seconds() const;               // "2ms"
  double bandwidth() const;             // "100Mbps", in bytes per second
  double power() const;                 // "10W", "850mW", in watts
  std::vector<double> numbers() const;  // array of numbers
  std::vector<long long> positive_integers() const;
  // Bounded readers (limits.hpp): the value, or an error naming the range, e.g. "must be in
  // [1, 4096], found 5000". integer_in needs hi <= INT_MAX and returns an int.
  int integer_in(long long lo, long long hi) const;
  double number_in(double lo, double hi) const;
  double bytes_in(double lo, double hi) const;
  double seconds_in(double lo, double hi) const;
  double bandwidth_in(double lo, double hi) const;  // bytes per second
  double power_in(double lo, double hi) const;      // watts
  double percent_in(double lo, double hi) const;    // "10%", as the fraction 0.1; lo, hi fractions
  size_t size_at_most(size_t max) const;            // array length, at most `max`
  // A string that must be one of a vocabulary's tokens (vocabulary.hpp); its value.
  template <class V>
  auto token(const V& vocabulary) const {
    std::string s = string();
    auto v = vocabulary.parse(s);
    if (!v) fail(vocabulary.must_be(s));
    return *v;
  }

  [[noreturn]] void fail(const std::string& message) const;

 private:
  const nlohmann::json& j_;
  std::string path_;
};

// Parses a file into JSON. Errors (missing file, syntax, a number beyond a double, nesting deeper
// than limits::kMaxJsonDepth) come back with the file name and where.
Result<nlohmann::json> read_json_file(const std::string& file);
// The same for text already in memory; `file` names it in messages.
Result<nlohmann::json> parse_json_text(const std::string& text, const std::string& file);

// Writes text to `file` whole: to a temporary file beside it, then rename.
Result<bool> write_file_atomically(const std::string& file, const std::string& text);

}  // namespace asteroid
