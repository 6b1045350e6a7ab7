#!/bin/sh
# asteroid-sim with the energy objective (docs/formats.md, planner.objective): it runs the plan
# asteroid-plan chooses, each device in the power mode chosen for it, and its first round takes the
# predicted time; bad objectives and slowdowns are refused in one line with exit status 2.
# Usage: objective_test.sh PATH/TO/asteroid-plan PATH/TO/asteroid-sim SOURCE_DIR
set -u
plan="$1"; sim="$2"; src="$3"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$src/tests/cli_checks.sh"
scenario="$src/scenarios/envD_mobilenetv2_1000mbps.json"
"$plan" "$scenario" --objective energy --max-slowdown 10% --power-modes free --json -o "$tmp/plan.json" ||
  fail "asteroid-plan --objective energy"
"$sim" "$scenario" --objective energy --max-slowdown 10% --power-modes free --rounds 3 -o "$tmp/run" >"$tmp/sim.txt" ||
  fail "asteroid-sim --objective energy: $(cat "$tmp/sim.txt")"
/usr/bin/python3 - "$tmp/plan.json" "$tmp/run/report.json" <<'PY' || fail "the simulated run is not the chosen plan in its modes"
import json, sys
plan, run = (json.load(open(p)) for p in sys.argv[1:3])
modes = plan["power_modes"]
assert modes and {d: p["power_mode"] for d, p in run["power"].items()} == modes, (modes, run["power"])
got = [(tuple(s["layers"]), tuple(s["devices"])) for s in run["plans"][0]["stages"]]
want = [(tuple(s["layers"]), tuple(s["devices"])) for s in plan["plan"]["stages"]]
assert got == want, (got, want)
first = run["rounds"][0]["end_s"] - run["rounds"][0]["start_s"]
assert abs(first - plan["round_latency_s"]) < 1e-6 * first, (first, plan["round_latency_s"])
PY
expect_error "an unknown objective" "asteroid-sim: --objective: .*fast" "$sim" "$scenario" --objective fast
expect_error "a slowdown without a unit" 'asteroid-sim: --max-slowdown: "10" has no unit' "$sim" "$scenario" --max-slowdown 10
expect_error "a negative slowdown" 'asteroid-sim: --max-slowdown: "-1%" must be a finite, non-negative' \
  "$sim" "$scenario" --objective energy --max-slowdown -1%
expect_error "an objective with --plan" "plan with the asteroid strategy" \
  "$sim" "$scenario" --objective energy --plan "$tmp/plan.json"
finish "asteroid-sim objective"
