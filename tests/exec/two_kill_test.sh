#!/bin/sh
# Two deaths at once in asteroid-exec: scenarios/local_mobilenetv2_3dev_fail.json with a second leave
# at the same moment. Its plan is a data-parallel group {cpu0, cpu1} and a stage on cpu2, whose copy
# is on cpu0; cpu1 and cpu2 leave together. Their last beats land a fraction of an interval apart;
# the Coordinator must declare both before it re-plans (docs/method.md §6.1), so the next plan runs
# on cpu0 alone, which holds every layer, and the run trains on. Repeated RUNS times in a row (the
# beats' timing varies from run to run); every run must pass.
# Usage: two_kill_test.sh PATH/TO/asteroid-exec SOURCE_DIR [RUNS]
set -u
exe="$1"; src="$2"; runs="${3:-3}"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$src/tests/cli_checks.sh"

/usr/bin/python3 - "$src/scenarios/local_mobilenetv2_3dev_fail.json" "$tmp/two.json" <<'PY' || fail "writing the scenario"
import json, os, sys
s = json.load(open(sys.argv[1]))
base = os.path.dirname(os.path.abspath(sys.argv[1]))
s["traces"] = {k: os.path.normpath(os.path.join(base, v)) for k, v in s["traces"].items()}
s["name"] += "_two"
s["training"]["rounds"] = 16
s["faults"]["events"] = [{"at": "3s", "device": "cpu2", "kind": "leave"},
                         {"at": "3s", "device": "cpu1", "kind": "leave"}]
json.dump(s, open(sys.argv[2], "w"))
PY
passed=0
for i in $(seq "$runs"); do
  "$exe" "$tmp/two.json" --timeout 240 --token-file "$tmp/token" -o "$tmp/run$i" >"$tmp/run$i.log" 2>&1
  rc=$?
  rm -rf "$tmp/run$i/checkpoints"
  if [ "$rc" -ne 0 ]; then
    fail "run $i: exit status $rc: $(tail -5 "$tmp/run$i.log")"
    continue
  fi
  if /usr/bin/python3 - "$tmp/run$i/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
declared = sorted(e["device"] for e in r["events"] if e["kind"] == "detection")
assert declared == ["cpu1", "cpu2"], ("declared", declared, r["events"])
assert sum(e["kind"] == "replan" for e in r["events"]) == 1, ("one re-plan for both", r["events"])
assert [x["round"] for x in r["rounds"]] == list(range(16)), r["rounds"]
last = r["plans"][r["rounds"][-1]["plan_id"]]
assert [d for st in last["stages"] for d in st["devices"]] == ["cpu0"], last
assert r["summary"]["completed"] and not r["summary"]["weights_lost"], r["summary"]
assert sorted(f["device"] for f in r["summary"]["failures"]) == ["cpu1", "cpu2"], r["summary"]["failures"]
PY
  then passed=$((passed + 1)); else fail "run $i: the report: $(tail -5 "$tmp/run$i.log")"; fi
done
echo "two workers killed together: $passed of $runs runs trained on with the survivor"
finish "two_kill_test"
