#include "asteroid/input/near_match.hpp"

#include <algorithm>
#include <cctype>

namespace asteroid {

int edit_distance(std::string_view a, std::string_view b) {
  auto low = [](char c) { return char(std::tolower(static_cast<unsigned char>(c))); };
  const size_t n = a.size(), m = b.size();
  // d[i][j]: distance between a's first i characters and b's first j; three rows suffice.
  std::vector<int> before(m + 1), prev(m + 1), cur(m + 1);
  for (size_t j = 0; j <= m; ++j) prev[j] = int(j);
  for (size_t i = 1; i <= n; ++i) {
    cur[0] = int(i);
    for (size_t j = 1; j <= m; ++j) {
      const int cost = low(a[i - 1]) == low(b[j - 1]) ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && low(a[i - 1]) == low(b[j - 2]) && low(a[i - 2]) == low(b[j - 1]))
        cur[j] = std::min(cur[j], before[j - 2] + 1);  // two neighbours swapped
    }
    before.swap(prev);
    prev.swap(cur);
  }
  return prev[m];
}

std::optional<std::string> nearest_name(std::string_view word, const std::vector<std::string>& names) {
  std::optional<std::string> best;
  int best_d = 0;
  for (const std::string& name : names) {
    if (name == word) return std::nullopt;
    const int d = edit_distance(word, name);
    const int limit = std::max<int>(1, int(std::max(word.size(), name.size())) / 3);
    if (d <= limit && (!best || d < best_d)) best = name, best_d = d;
  }
  return best;
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& names) {
  auto n = nearest_name(word, names);
  return n ? "; did you mean \"" + *n + "\"?" : "";
}

}  // namespace asteroid
