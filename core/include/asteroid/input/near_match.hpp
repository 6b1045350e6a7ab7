// "Did you mean ...?" for a name a user mistyped: the closest of the names the field accepts, by
// edit distance (insertions, deletions, substitutions and swaps of neighbours, case ignored), when
// it is close enough to be a typo: at most a third of the longer name's length in edits, and at
// least one. Used by every "unknown X" message (vocabulary.hpp, scenario.cpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace asteroid {

// The optimal-string-alignment distance between a and b, ASCII case folded. O(|a| |b|).
int edit_distance(std::string_view a, std::string_view b);

// The closest of `names` to `word` within the typo limit above (the first of equals), or nullopt
// (none close enough, or `word` is one of them).
std::optional<std::string> nearest_name(std::string_view word, const std::vector<std::string>& names);

// "; did you mean \"x\"?" for nearest_name's answer, else "".
std::string did_you_mean(std::string_view word, const std::vector<std::string>& names);

}  // namespace asteroid
