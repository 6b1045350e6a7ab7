// The round book (round_book.hpp): when a round is committed, what its record says, when a copy
// round is whole, and what a new generation keeps: the one definition both backends use.
#include <catch2/catch.hpp>

#include "asteroid/run/round_book.hpp"

using namespace asteroid;

TEST_CASE("round book: a round commits when every worker finished it and every earlier round committed",
          "[round_book]") {
  RoundBook book(32);
  book.start(0, 3, 0, 0);
  CHECK(book.finished(0, 1.0).empty());
  CHECK(book.finished(0, 1.4, 0.5).empty());
  // Round 1 finished everywhere before round 0's last worker: it waits for round 0.
  for (double end : {2.0, 2.1, 2.2}) CHECK(book.finished(1, end).empty());
  auto c = book.finished(0, 1.2, 0.25);
  REQUIRE(c.size() == 2);
  CHECK(c[0].round == 0);
  CHECK(c[0].start == 0);
  CHECK(c[0].end == 1.4);          // the latest of its workers' ends
  CHECK(c[0].samples == 32);       // the mini-batch
  CHECK(c[0].loss == 0.75);        // the workers' shares summed
  CHECK(c[1].round == 1);
  CHECK(c[1].start == 1.4);        // the previous round's end
  CHECK(c[1].end == 2.2);
  CHECK_FALSE(c[1].loss.has_value());  // nobody reported one
  CHECK(book.next_round() == 2);
  CHECK(book.records().size() == 2);
  CHECK(book.end_of(1) == 2.2);
  CHECK_FALSE(book.end_of(2).has_value());
  // A late report of a committed round changes nothing.
  CHECK(book.finished(1, 9.0).empty());
  CHECK(book.records().back().end == 2.2);
}

TEST_CASE("round book: a new generation drops the rounds after its first and what the last one reported",
          "[round_book]") {
  RoundBook book(8);
  book.start(0, 1, 0, 0);
  for (int r = 0; r < 4; ++r) REQUIRE(book.finished(r, r + 1.0).size() == 1);
  REQUIRE(book.finished(4, 5.0).size() == 1);
  REQUIRE(book.next_round() == 5);
  // A failure: the checkpoint was round 1; rounds 2-4 are replayed by plan 1 on two workers.
  book.start(1, 2, 0, 2);
  CHECK(book.records().size() == 2);
  CHECK(book.next_round() == 2);
  CHECK(book.finished(1, 50).empty());  // before the generation's first round: ignored
  CHECK(book.finished(2, 10).empty());
  auto c = book.finished(2, 11);
  REQUIRE(c.size() == 1);
  CHECK(c[0].round == 2);
  CHECK(c[0].start == 2.0);  // the checkpoint's end: the replayed round spans the recovery
  CHECK(c[0].plan_id == 1);
  CHECK(c[0].end == 11);
}

TEST_CASE("round book: copies are whole when every backup saved them; a round some owner skipped never is",
          "[round_book]") {
  RoundBook book(8);
  book.start(0, 3, 2, 0);
  CHECK_FALSE(book.copy_landed(0));
  CHECK(book.copy_landed(0));  // both backups
  // Round 1: one owner skipped it (its round-0 copy was still in flight); round 2's are whole.
  CHECK_FALSE(book.copy_landed(1));
  CHECK_FALSE(book.copy_landed(2));
  CHECK(book.copy_landed(2));
  // Round 1's partial copies were dropped: its missing copy arriving late does not make it whole.
  CHECK_FALSE(book.copy_landed(1));
  CHECK_FALSE(book.copy_landed(1));
  // A new generation starts counting afresh; without backups nothing is ever whole.
  book.start(1, 2, 0, 3);
  CHECK_FALSE(book.copy_landed(3));
}

TEST_CASE("copy gate: an owner's next copy goes only when its previous one is through", "[round_book]") {
  CopyGate gate;
  CHECK(gate.begin());
  CHECK(gate.in_flight());
  CHECK_FALSE(gate.begin());  // skipped: the previous copy is still in flight
  gate.through();
  CHECK(gate.begin());
}
