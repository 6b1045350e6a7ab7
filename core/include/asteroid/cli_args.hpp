// The command-line loop the programs share: each argument in turn, flag values, and numbers with
// a lower bound, with problems reported through the program's own one-line fail().
#pragma once

#include <cstdlib>
#include <string>

namespace asteroid {

class CliArgs {
 public:
  using Fail = void (*)(const std::string& message);  // must not return

  CliArgs(int argc, char** argv, Fail fail) : argc_(argc), argv_(argv), fail_(fail) {}

  // Moves to the next argument; false after the last.
  bool next() { return ++i_ < argc_ && (arg_ = argv_[i_], true); }
  const std::string& arg() const { return arg_; }
  bool is_option() const { return !arg_.empty() && arg_[0] == '-'; }

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
  // The value after the current flag as a number >= lo (whole, if `whole`).
  double number(double lo, bool whole = false) {
    std::string flag = arg_, v = value();
    char* end = nullptr;
    double x = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || !(x >= lo) || (whole && x != double((long long)x)))
      fail_(flag + ": expected " + (whole ? "a whole number" : "a number") + " >= " + trimmed(lo) +
            ", found \"" + v + "\"");
    return x;
  }

 private:
  static std::string trimmed(double x) {
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
