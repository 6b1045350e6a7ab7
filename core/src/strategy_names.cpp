#include "asteroid/strategy_names.hpp"

#include <algorithm>

namespace asteroid {

const std::vector<std::string>& strategy_names() {
  static const std::vector<std::string> names = {"asteroid",  "device", "dp",   "pp",
                                                 "pipedream", "dapple", "alpa", "hetpipe"};
  return names;
}

bool is_strategy_name(const std::string& name) {
  const auto& n = strategy_names();
  return std::find(n.begin(), n.end(), name) != n.end();
}

std::string strategy_name_list() {
  std::string out;
  for (const auto& n : strategy_names()) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace asteroid
