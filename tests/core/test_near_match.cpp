// "Did you mean ...?" (near_match.hpp): the edit distance, the typo limit, and the messages that use it.
#include <catch2/catch.hpp>

#include "asteroid/input/near_match.hpp"
#include "asteroid/input/vocabulary.hpp"

using namespace asteroid;

TEST_CASE("near match: the edit distance counts insertions, deletions, substitutions and swaps, case folded",
          "[near_match]") {
  CHECK(edit_distance("jetson_nano", "jetson_nano") == 0);
  CHECK(edit_distance("Jetson_Nano", "jetson_nano") == 0);
  CHECK(edit_distance("jetson_nan", "jetson_nano") == 1);    // one deleted
  CHECK(edit_distance("jetson_nanoo", "jetson_nano") == 1);  // one inserted
  CHECK(edit_distance("jetson_tx1", "jetson_tx2") == 1);     // one substituted
  CHECK(edit_distance("jetosn_nano", "jetson_nano") == 1);   // two neighbours swapped
  CHECK(edit_distance("", "abc") == 3);
  CHECK(edit_distance("kitten", "sitting") == 3);
}

TEST_CASE("near match: the closest name within a third of its length, none for a stranger or an exact one",
          "[near_match]") {
  const std::vector<std::string> types = {"jetson_nano", "jetson_tx2", "jetson_xavier_nx", "local_cpu"};
  CHECK(nearest_name("jetson_nanno", types) == std::optional<std::string>("jetson_nano"));
  CHECK(nearest_name("jetson_xaviernx", types) == std::optional<std::string>("jetson_xavier_nx"));
  CHECK(nearest_name("raspberry_pi", types) == std::nullopt);
  CHECK(nearest_name("jetson_nano", types) == std::nullopt);
  CHECK(did_you_mean("local_cpux", types) == "; did you mean \"local_cpu\"?");
  CHECK(did_you_mean("gpu", types).empty());
}

TEST_CASE("near match: an unknown vocabulary token is answered with the closest one", "[near_match]") {
  const std::string m = kRecoveries.must_be("lightweigth");
  CHECK(m.find("must be") != std::string::npos);
  CHECK(m.find("did you mean \"lightweight\"?") != std::string::npos);
  CHECK(kRecoveries.must_be("zzz").find("did you mean") == std::string::npos);
}
