// The command-line loop the programs share: each argument in turn, flag values, and numbers with
// a lower bound, with problems reported through the program's own one-line fail().
#pragma once

#include <cerrno>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "asteroid/input/units.hpp"

namespace asteroid {

class CliArgs {
 public:
  using Fail = void (*)(const std::string& message);  // must not return

  CliArgs(int argc, char** argv, Fail fail) : argc_(argc), argv_(argv), fail_(fail) {}

  // Moves to the next argument; false after the last.
  bool next() { return ++i_ < argc_ && (arg_ = argv_[i_], true); }
  const std::string& arg() const { return arg_; }
  bool is_option() const { return !arg_.empty() && arg_[0] == '-'; }

  // The last branches of a program's option loop, after its own flags: -h / --help prints `usage`
  // and exits 0; another option is unknown; else the one positional argument, the scenario.
  void help_or_scenario(std::string& scenario, const std::string& usage) {
    if (arg_ == "-h" || arg_ == "--help") {
      std::fputs(usage.c_str(), stdout);
      std::exit(0);
    }
    if (is_option()) fail_("unknown option " + arg_ + " (see --help)");
    if (!scenario.empty()) fail_("more than one scenario given (\"" + scenario + "\" and \"" + arg_ + "\")");
    scenario = arg_;
  }

  // The value after the current flag without taking it ("" when there is none).
  std::string peek() const { return i_ + 1 < argc_ ? argv_[i_ + 1] : ""; }
  // The value after the current flag.
  std::string value() {
    if (i_ + 1 >= argc_) fail_(arg_ + " needs a value");
    return argv_[++i_];
  }
  // The value after the current flag as one of a vocabulary's tokens (vocabulary.hpp).
  template <class V>
  auto token(const V& vocabulary) {
    std::string flag = arg_, v = value();
    auto t = vocabulary.parse(v);
    if (!t) fail_(flag + ": " + vocabulary.must_be(v));
    return *t;
  }
  // The value after the current flag as a percentage ("10%"), returned as a fraction in [0, hi]:
  // a value without "%" or negative is refused.
  double percent(double hi) {
    std::string flag = arg_, v = value(), why;
    auto x = units::parse_percent(v, &why);
    if (!x) fail_(flag + ": " + why);
    if (*x > hi) fail_(flag + ": \"" + v + "\" is above " + trimmed(hi * 100) + "%");
    return *x;
  }
  // The value after the current flag as a positive time with its unit ("10min"), in seconds, at
  // most hi: a value without a unit, zero or negative is refused.
  double positive_seconds(double hi) {
    std::string flag = arg_, v = value(), why;
    auto x = units::parse_seconds(v, &why);
    if (!x) fail_(flag + ": " + why);
    if (*x <= 0) fail_(flag + ": \"" + v + "\" must be a positive time");
    if (*x > hi) fail_(flag + ": \"" + v + "\" is above " + trimmed(hi) + " s");
    return *x;
  }
  // The value after the current flag as a number in [lo, hi] (whole, if `whole`). A whole number is
  // at most INT_MAX unless `hi` says otherwise, so that it fits the int it is stored in.
  double number(double lo, bool whole = false, double hi = -1) {
    if (hi < 0) hi = whole ? double(INT_MAX) : DBL_MAX;
    std::string flag = arg_, v = value();
    char* end = nullptr;
    errno = 0;
    double x = std::strtod(v.c_str(), &end);
    bool ok = !v.empty() && *end == '\0' && errno != ERANGE && x >= lo && x <= hi && (!whole || x == std::floor(x));
    if (!ok)
      fail_(flag + ": expected " + (whole ? "a whole number" : "a number") + " in [" + trimmed(lo) + ", " +
            trimmed(hi) + "], found \"" + v + "\"");
    return x;
  }

 private:
  static std::string trimmed(double x) {
    if (x >= 1e15) {
      char b[32];
      std::snprintf(b, sizeof b, "%g", x);
      return b;
    }
    std::string s = std::to_string(x);
    s.erase(s.find_last_not_of('0') + 1);
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
  }

  int argc_;
  char** argv_;
  Fail fail_;
  int i_ = 0;
  std::string arg_;
};

}  // namespace asteroid
