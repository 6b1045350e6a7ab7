#!/bin/sh
# asteroid-compare as a user meets it: two simulator reports of one scenario compare; the same
# report against itself has no error; --max-round-error sets the exit status; bad input is one line
# on stderr with exit status 2.
# Usage: compare_test.sh PATH/TO/asteroid-compare PATH/TO/asteroid-sim SOURCE_DIR
set -u
compare="$1"; sim="$2"; src="$3"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$src/tests/cli_checks.sh"

# A 3-stage plan whose links carry real traffic, so that the two network models differ.
scenario="$src/scenarios/envC_resnet50_1000mbps.json"
"$sim" "$scenario" --rounds 3 -o "$tmp/a" >/dev/null 2>&1 || fail "asteroid-sim (textbook)"
"$sim" "$scenario" --rounds 3 --network default -o "$tmp/b" >/dev/null 2>&1 || fail "asteroid-sim (default)"

"$compare" "$tmp/a/report.json" "$tmp/a/report.json" --max-round-error 0 >"$tmp/self.txt" \
  || fail "a report against itself: exit $?"
grep -q "mean |e| 0.00%" "$tmp/self.txt" || fail "self comparison: $(cat "$tmp/self.txt")"
# Both reports have the modelled energy (the Jetson power models): shown side by side.
grep -q "^energy (modelled): total A .* (+0.0%); per sample A" "$tmp/self.txt" || fail "self comparison lacks energy: $(cat "$tmp/self.txt")"

"$compare" "$tmp/a/report.json" "$tmp/b/report.json" --json -o "$tmp/ab.json" || fail "textbook vs default"
/usr/bin/python3 - "$tmp/ab.json" <<'PY' || fail "comparison JSON"
import json, sys
c = json.load(open(sys.argv[1]))
assert len(c["rounds"]) == 3, c["rounds"]
assert c["rounds_only_a"] == 0 and c["rounds_only_b"] == 0
assert c["mean_abs_round_error"] > 0, "the two network models gave identical rounds"
assert any(o["op"] == "F" for o in c["ops"])
assert c["energy"]["kind"] == "modelled" and c["energy"]["total_a_J"] > 0 and len(c["energy"]["devices"]) == 6, c["energy"]
PY
"$compare" "$tmp/a/report.json" "$tmp/b/report.json" --max-round-error 0 >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] || fail "--max-round-error 0 on different reports should exit 1"

printf '{"scenario": "x", "backend": "sim", "rounds": [' >"$tmp/broken.json"
expect_error "malformed report" "broken.json: malformed JSON" "$compare" "$tmp/broken.json" "$tmp/a/report.json"
printf '{"scenario": "x", "backend": "sim", "rounds": [{"round": 0, "start_s": 0, "end_s": 1, "samples": 8, "speed": 2}]}' >"$tmp/unknown.json"
expect_error "unknown key" "unknown.json: rounds\[0\]" "$compare" "$tmp/a/report.json" "$tmp/unknown.json"
expect_error "missing file" "nothere.json: cannot open file" "$compare" "$tmp/nothere.json" "$tmp/a/report.json"
expect_error "one report" "two reports are needed" "$compare" "$tmp/a/report.json"
expect_error "bad option value" "--rows" "$compare" "$tmp/a/report.json" "$tmp/a/report.json" --rows x
expect_error "rows beyond an int" "--rows: expected a whole number in \[1, 1000000\]" \
  "$compare" "$tmp/a/report.json" "$tmp/a/report.json" --rows 1e300
expect_error "rows with --json" "--rows limits the text tables" \
  "$compare" "$tmp/a/report.json" "$tmp/a/report.json" --rows 3 --json
expect_error "error bound out of range" "--max-round-error: expected a number" \
  "$compare" "$tmp/a/report.json" "$tmp/a/report.json" --max-round-error inf
printf '{"scenario": "x", "backend": "sim", "rounds": [{"round": 0, "start_s": 0, "end_s": 1e400, "samples": 8}]}' >"$tmp/huge.json"
expect_error "a number beyond a double" "huge.json: malformed JSON" "$compare" "$tmp/huge.json" "$tmp/a/report.json"
printf '{"scenario": "x", "backend": "sim", "rounds": [{"round": 99999999999, "start_s": 0, "end_s": 1, "samples": 8}]}' >"$tmp/big.json"
expect_error "a round beyond the bound" "big.json: rounds\[0\].round: must be in" "$compare" "$tmp/big.json" "$tmp/a/report.json"
# Nothing in common: the check cannot pass.
printf '{"scenario": "x", "backend": "sim", "rounds": []}' >"$tmp/empty.json"
"$compare" "$tmp/a/report.json" "$tmp/empty.json" --max-round-error 50 >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] || fail "--max-round-error with no round in both reports should exit 1"
grep -q "nothing to check" "$tmp/err" || fail "nothing-to-compare message: $(cat "$tmp/err")"
# A round of A that lasts no time: B's error relative to it means nothing, so the check fails.
printf '{"scenario": "x", "backend": "sim", "rounds": [{"round": 0, "start_s": 0, "end_s": 1, "samples": 8}, {"round": 1, "start_s": 1, "end_s": 1, "samples": 8}]}' >"$tmp/zero.json"
"$compare" "$tmp/zero.json" "$tmp/zero.json" --max-round-error 50 >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] || fail "--max-round-error with a round of 0 s in A should exit 1"
grep -q "round 1): no relative error" "$tmp/err" || fail "zero-length round message: $(cat "$tmp/err")"

finish "compare_test"
