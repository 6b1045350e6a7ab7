#!/bin/sh
# asteroid-sim with the energy and lifetime objectives (docs/formats.md, planner.objective): it runs the plan
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
# The lifetime objective likewise: the plan asteroid-plan chooses, in its modes, on batteries.
/usr/bin/python3 - "$scenario" "$tmp/battery.json" <<'PY' || fail "writing the battery scenario"
import json, os, sys
s = json.load(open(sys.argv[1]))
s["traces"] = {k: os.path.abspath(os.path.join(os.path.dirname(sys.argv[1]), v)) for k, v in s["traces"].items()}
charges = {"tx2_0": "3000J", "nano0": "700J", "nano1": "1000J", "nano2": "1300J"}
for d in s["cluster"]["devices"]:
    d["battery"] = {"capacity": "1Wh", "charge": charges[d["name"]], "floor": "5%"}
json.dump(s, open(sys.argv[2], "w"))
PY
"$plan" "$tmp/battery.json" --objective lifetime --power-modes free --json -o "$tmp/life.json" ||
  fail "asteroid-plan --objective lifetime"
"$sim" "$tmp/battery.json" --objective lifetime --power-modes free --rounds 3 -o "$tmp/life" >"$tmp/life.txt" ||
  fail "asteroid-sim --objective lifetime: $(cat "$tmp/life.txt")"
grep -q "^on batteries, the chosen plan trains" "$tmp/life.txt" || fail "asteroid-sim's text lacks the lifetime: $(cat "$tmp/life.txt")"
/usr/bin/python3 - "$tmp/life.json" "$tmp/life/report.json" <<'PY' || fail "the simulated run is not the lifetime plan in its modes"
import json, sys
plan, run = (json.load(open(p)) for p in sys.argv[1:3])
assert {d: p["power_mode"] for d, p in run["power"].items()} == plan["power_modes"], (plan["power_modes"], run["power"])
got = [(tuple(s["layers"]), tuple(s["devices"])) for s in run["plans"][0]["stages"]]
want = [(tuple(s["layers"]), tuple(s["devices"])) for s in plan["plan"]["stages"]]
assert got == want, (got, want)
PY
expect_error "lifetime without a battery" "planner.objective: the lifetime objective needs a device on a battery" \
  "$sim" "$scenario" --objective lifetime
expect_error "a deadline without a unit" 'asteroid-sim: --deadline: "10" has no unit' "$sim" "$tmp/battery.json" --objective lifetime --deadline 10
expect_error "a deadline under the time objective" "planner.deadline: a deadline goes with the lifetime objective, not time" \
  "$sim" "$tmp/battery.json" --deadline 10min
expect_error "an unknown objective" "asteroid-sim: --objective: .*fast" "$sim" "$scenario" --objective fast
expect_error "a slowdown without a unit" 'asteroid-sim: --max-slowdown: "10" has no unit' "$sim" "$scenario" --max-slowdown 10
expect_error "a negative slowdown" 'asteroid-sim: --max-slowdown: "-1%" must be a finite, non-negative' \
  "$sim" "$scenario" --objective energy --max-slowdown -1%
expect_error "an objective with --plan" "plan with the asteroid strategy" \
  "$sim" "$scenario" --objective energy --plan "$tmp/plan.json"
finish "asteroid-sim objective"
