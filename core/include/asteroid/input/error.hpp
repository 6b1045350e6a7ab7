// Errors as values. Bad input is never an exception that escapes and never an exit() in a library:
// loaders return an Error naming the file, the JSON path and the problem; only main() turns it into
// a one-line message and exit status 2.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace asteroid {

struct Error {
  std::string file;     // may be empty when the input did not come from a file
  std::string path;     // JSON path such as "cluster.devices[2].memory"; may be empty
  std::string message;  // what is wrong, lower case, no trailing period

  // "file: path: message", omitting empty parts.
  std::string str() const;
};

// A value or an Error. Small on purpose: the project needs nothing more.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  const T& value() const& {
    assert(ok() && "Result::value() on an error");
    return std::get<T>(v_);
  }
  T& value() & {
    assert(ok() && "Result::value() on an error");
    return std::get<T>(v_);
  }
  T&& value() && {
    assert(ok() && "Result::value() on an error");
    return std::get<T>(std::move(v_));
  }
  const Error& error() const {
    assert(!ok() && "Result::error() on a value");
    return std::get<Error>(v_);
  }
  const T* operator->() const { return &value(); }
  const T& operator*() const { return value(); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace asteroid
