#include "asteroid/input/error.hpp"

namespace asteroid {

std::string Error::str() const {
  std::string out;
  if (!file.empty()) out += file + ": ";
  if (!path.empty()) out += path + ": ";
  out += message;
  return out;
}

}  // namespace asteroid
