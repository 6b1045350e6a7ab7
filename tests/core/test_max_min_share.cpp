// The max-min fair sharing of both 1F1B replays (max_min_share.hpp), on cases worked by hand.
#include <catch2/catch.hpp>

#include <limits>
#include <vector>

#include "model/max_min_share.hpp"

using namespace asteroid;

namespace {

// Flows given by their channel lists (kept alive here, as SharedFlow borrows them).
struct Problem {
  std::vector<std::vector<int>> routes;
  std::vector<double> penalty, max_rate;
  std::vector<double> solve(const std::vector<double>& capacity) const {
    std::vector<SharedFlow> flows(routes.size());
    for (size_t i = 0; i < routes.size(); ++i) {
      flows[i].channels = routes[i].data();
      flows[i].num_channels = int(routes[i].size());
      if (i < penalty.size()) flows[i].penalty = penalty[i];
      if (i < max_rate.size()) flows[i].max_rate = max_rate[i];
    }
    std::vector<double> rates;
    max_min_rates(flows, capacity, rates);
    return rates;
  }
};

constexpr double kNone = std::numeric_limits<double>::infinity();

}  // namespace

TEST_CASE("max-min sharing: two flows on one link split it evenly") {
  auto r = Problem{{{0}, {0}}, {}, {}}.solve({10});
  REQUIRE(r.size() == 2);
  CHECK(r[0] == Approx(5));
  CHECK(r[1] == Approx(5));
}

TEST_CASE("max-min sharing: no flows, no rates") {
  CHECK(Problem{}.solve({10, 3}).empty());
}

TEST_CASE("max-min sharing: links of different capacity") {
  // Link 0 (4) carries A and B, link 1 (10) carries B and C. Link 0 fills first at 2 each; C takes
  // what B leaves of link 1: 10 - 2 = 8.
  auto r = Problem{{{0}, {0, 1}, {1}}, {}, {}}.solve({4, 10});
  CHECK(r[0] == Approx(2));
  CHECK(r[1] == Approx(2));
  CHECK(r[2] == Approx(8));
  // Each link alone: the full capacity of its own link.
  auto alone = Problem{{{0}, {1}}, {}, {}}.solve({4, 10});
  CHECK(alone[0] == Approx(4));
  CHECK(alone[1] == Approx(10));
}

TEST_CASE("max-min sharing: a flow crossing two links gets the tighter one's share") {
  // X crosses links 0 (6) and 1 (2); Y uses link 0, Z link 1. Link 1 is the bottleneck: X = Z = 1;
  // Y takes the rest of link 0, 6 - 1 = 5.
  auto r = Problem{{{0, 1}, {0}, {1}}, {}, {}}.solve({6, 2});
  CHECK(r[0] == Approx(1));
  CHECK(r[1] == Approx(5));
  CHECK(r[2] == Approx(1));
}

TEST_CASE("max-min sharing: water-filling fixes the bottlenecks in order") {
  // The parking lot: a long flow crosses links 0, 1, 2 (capacities 1, 2, 3), each link also has a
  // short flow of its own. Level 0.5 fills link 0 (long = short0 = 0.5); then link 1 has 1.5 left for
  // short1 alone, link 2 has 2.5 left for short2.
  auto r = Problem{{{0, 1, 2}, {0}, {1}, {2}}, {}, {}}.solve({1, 2, 3});
  CHECK(r[0] == Approx(0.5));
  CHECK(r[1] == Approx(0.5));
  CHECK(r[2] == Approx(1.5));
  CHECK(r[3] == Approx(2.5));
  // The order of the flows does not change the allocation.
  auto back = Problem{{{2}, {1}, {0}, {0, 1, 2}}, {}, {}}.solve({1, 2, 3});
  CHECK(back[0] == Approx(2.5));
  CHECK(back[1] == Approx(1.5));
  CHECK(back[2] == Approx(0.5));
  CHECK(back[3] == Approx(0.5));
}

TEST_CASE("max-min sharing: rates go as 1 / penalty (CM02's weights)") {
  // On a link of 9, penalties 1 and 2: level x (1 + 1/2) = 9, level 6: rates 6 and 3.
  auto r = Problem{{{0}, {0}}, {1, 2}, {}}.solve({9});
  CHECK(r[0] == Approx(6));
  CHECK(r[1] == Approx(3));
}

TEST_CASE("max-min sharing: a flow's own bound caps it, the others take the rest") {
  // Two flows on a link of 10, one bounded at 2 (a TCP window): 2 and 8.
  auto r = Problem{{{0}, {0}}, {}, {2, kNone}}.solve({10});
  CHECK(r[0] == Approx(2));
  CHECK(r[1] == Approx(8));
  // A bound above the fair share does not bind.
  auto loose = Problem{{{0}, {0}}, {}, {7, kNone}}.solve({10});
  CHECK(loose[0] == Approx(5));
  CHECK(loose[1] == Approx(5));
}

TEST_CASE("max-min sharing: the star of full-duplex ports the replay shares") {
  // Stage 1's uplink (channel 0) carries its activations to stage 2 and its gradients to stage 0;
  // stage 2's downlink (channel 1) receives the activations and stage 3's gradients. Every port at
  // rate 1: the uplink splits evenly, and so does the downlink.
  auto r = Problem{{{0, 1}, {0, 2}, {3, 1}}, {}, {}}.solve({1, 1, 1, 1});
  CHECK(r[0] == Approx(0.5));
  CHECK(r[1] == Approx(0.5));
  CHECK(r[2] == Approx(0.5));
  // A full port gives nothing more.
  auto none = Problem{{{0}, {0, 1}}, {}, {}}.solve({0, 1});
  CHECK(none[0] == 0);
  CHECK(none[1] == 0);
}
