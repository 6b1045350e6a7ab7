#!/bin/sh
# asteroid-sim as a researcher meets it in the first hour: every recovery strategy in one command
# (one row per strategy, sorted by total recovery time, each row the figures of that strategy's own
# run), what-ifs on the command line, the network model named on the console, and Perfetto slices
# named in words. Bad input is one line on stderr with exit status 2.
# Usage: recovery_all_test.sh PATH/TO/asteroid-sim SOURCE_DIR
set -u
sim="$1"; src="$2"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$src/tests/cli_checks.sh"

# README's three boards; the NX leaves at 20 s.
cat >"$tmp/boards.json" <<'J'
{"schema_version": 1, "name": "my_boards",
 "cluster": {"devices": [{"name": "nano_a", "type": "jetson_nano"}, {"name": "nano_b", "type": "jetson_nano"},
                         {"name": "nx", "type": "jetson_xavier_nx"}],
             "network": {"bandwidth": "1Gbps", "latency": "0.5ms"}},
 "model": {"name": "mobilenetv2"}, "training": {"batch_size": 64},
 "faults": {"events": [{"at": "20s", "device": "nx", "kind": "leave"}]}}
J

"$sim" "$tmp/boards.json" --recovery all -o "$tmp/all" >"$tmp/all.txt" || fail "--recovery all: $(tail -3 "$tmp/all.txt")"
"$sim" "$tmp/boards.json" --recovery all --csv -o "$tmp/all_csv" >"$tmp/all.csv" || fail "--recovery all --csv"
"$sim" "$tmp/boards.json" --recovery all --json -o "$tmp/all_json" >"$tmp/all_stdout.json" || fail "--recovery all --json"
/usr/bin/python3 - "$tmp" <<'PY' || fail "--recovery all: $(cat "$tmp/all.txt")"
import csv, json, os, sys
d = sys.argv[1]
rows = json.load(open(f"{d}/all/recoveries.json"))
names = [r["recovery"] for r in rows]
assert sorted(names) == ["adaptive", "lightweight", "replan", "restart"], names
done = [r for r in rows if r["recovery_s"] is not None and r["throughput_after"] is not None]
assert rows[:len(done)] == done, "runs that did not go on come last"
keys = [(r["recovery_s"], -r["throughput_after"]) for r in done]
assert keys == sorted(keys), keys
for r in rows:
    # Each row is its own run's summary, as that run's report.json gives it.
    rep = json.load(open(f"{d}/all/{r['recovery']}/report.json"))
    assert rep["config"]["recovery"] == r["recovery"], rep["config"]
    f = rep["summary"]["failures"]
    assert len(f) == 1 and f[0]["device"] == "nx", f
    assert r["summary"] == rep["summary"], r["recovery"]
    assert r["replan_s"] == f[0]["replan_s"] and r["state_transfer_s"] == f[0]["state_transfer_s"], (r, f)
    assert r["recovery_s"] == f[0].get("recovery_s") and r["detection_s"] == f[0].get("detection_s"), (r, f)
    assert r["throughput_before"] == f[0]["throughput_before"], (r, f)
    assert os.path.getsize(f"{d}/all/{r['recovery']}/console.txt") > 0
# Each invocation's printed table is the one it wrote (re-plan times are measured, so two
# invocations may order near-ties differently).
table = list(csv.DictReader(open(f"{d}/all.csv")))
assert [t["recovery"] for t in table] == [r["recovery"] for r in json.load(open(f"{d}/all_csv/recoveries.json"))]
assert open(f"{d}/all.csv").read() == open(f"{d}/all_csv/recoveries.csv").read()
assert json.load(open(f"{d}/all_stdout.json")) == json.load(open(f"{d}/all_json/recoveries.json"))
text = open(f"{d}/all.txt").read().splitlines()
assert text[1].startswith("recovery ") and [l.split()[0] for l in text[2:6]] == names, text
PY
/usr/bin/python3 -c "import json,sys; s=json.load(open(sys.argv[1])); s['faults']['events']=[]; json.dump(s, open(sys.argv[2],'w'))" \
  "$tmp/boards.json" "$tmp/nofault.json"
expect_error "--recovery all without a leave" 'nofault.json: faults.events: --recovery all: no "leave" event' \
  "$sim" "$tmp/nofault.json" --recovery all
expect_error "--json without --recovery all" "--json and --csv go with --recovery all" "$sim" "$tmp/boards.json" --json

# What-ifs: a fourth board, said on the console and kept in the report's config.
"$sim" "$tmp/boards.json" --add-device jetson_nano:nano_c --rounds 3 -o "$tmp/four" >"$tmp/four.txt" \
  || fail "--add-device: $(tail -3 "$tmp/four.txt")"
grep -q "^what-if: added device nano_c (jetson_nano)$" "$tmp/four.txt" || fail "no what-if line: $(head -3 "$tmp/four.txt")"
grep -q "4 devices" "$tmp/four.txt" || fail "the run ignored --add-device: $(head -3 "$tmp/four.txt")"
grep -q '"overrides"' "$tmp/four/report.json" || fail "report.json lacks config.overrides"
expect_error "an unknown device to remove" '--remove-device nx9: .*has no device "nx9"' \
  "$sim" "$tmp/boards.json" --remove-device nx9

# The network model is named on the console; the former spelling "default" is still accepted.
for net in textbook lv08 default; do
  "$sim" "$tmp/boards.json" --rounds 2 --network $net -o "$tmp/net_$net" >"$tmp/net_$net.txt" || fail "--network $net"
done
grep -q "^network model: textbook (latency + size / bandwidth per message; SimGrid CM02)$" "$tmp/net_textbook.txt" \
  || fail "textbook: $(grep network "$tmp/net_textbook.txt")"
grep -q "^network model: lv08 (TCP factors and reverse ACK traffic; SimGrid LV08)$" "$tmp/net_lv08.txt" \
  || fail "lv08: $(grep network "$tmp/net_lv08.txt")"
grep -q "^network model: lv08 " "$tmp/net_default.txt" || fail "default: $(grep network "$tmp/net_default.txt")"
expect_error "an unknown network model" '--network: "fast" is neither textbook nor lv08' "$sim" "$tmp/boards.json" --network fast

# Perfetto slices in words, the instruction token as the category.
/usr/bin/python3 - "$tmp/net_textbook/trace.json" <<'PY' || fail "trace slice names"
import json, re, sys
ev = [e for e in json.load(open(sys.argv[1]))["traceEvents"] if e["ph"] == "X" and "op" in e.get("args", {})]
names = {e["name"] for e in ev}
assert "forward mb 0" in names and "backward mb 0" in names, sorted(names)[:20]
assert not any(re.fullmatch(r"\d+[A-Z_]+\d*", n) for n in names), [n for n in names if re.fullmatch(r"\d+[A-Z_]+\d*", n)]
words = {"F": "forward", "B": "backward", "SEND_F": "send act", "RECV_F": "recv act", "SEND_B": "send grad",
         "RECV_B": "recv grad", "ALLREDUCE": "all-reduce", "OPT": "optimizer step"}
for e in ev:
    a = e["args"]
    assert e["cat"] == a["op"], e
    if e["cat"] in words:
        assert "stage" in a and e["name"] == words[e["cat"]] + (f" mb {a['microbatch']}" if "microbatch" in a else ""), e
PY

finish "recovery_all_test"
