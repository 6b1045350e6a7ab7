#!/bin/sh
# What-ifs without editing JSON (asteroid-plan, core scenario_overrides.hpp): each override plans
# exactly as the scenario file edited by hand would, the console says what was changed, a graph
# network gets the new device on its type's switch, and a bad override is one line with exit status 2.
# Usage: whatif_test.sh PATH/TO/asteroid-plan SOURCE_DIR
set -u
plan="$1"; src="$2"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$src/tests/cli_checks.sh"

# README's three boards (traces found under the repository's traces/).
cat >"$tmp/boards.json" <<'J'
{"schema_version": 1, "name": "my_boards",
 "cluster": {"devices": [{"name": "nano_a", "type": "jetson_nano"}, {"name": "nano_b", "type": "jetson_nano"},
                         {"name": "nx", "type": "jetson_xavier_nx"}],
             "network": {"bandwidth": "1Gbps", "latency": "0.5ms"}},
 "model": {"name": "mobilenetv2"}, "training": {"batch_size": 64},
 "faults": {"events": [{"at": "20s", "device": "nx", "kind": "leave"}]}}
J
# The same edits by hand: each override's plan must be this file's plan.
/usr/bin/python3 - "$tmp" <<'PY'
import json, sys
d = sys.argv[1]
base = json.load(open(f"{d}/boards.json"))
def put(name, edit):
    s = json.loads(json.dumps(base)); edit(s); json.dump(s, open(f"{d}/{name}.json", "w"))
put("add", lambda s: s["cluster"]["devices"].append({"name": "nano_c", "type": "jetson_nano"}))
put("add_default", lambda s: s["cluster"]["devices"].append({"name": "jetson_tx2_1", "type": "jetson_tx2"}))
def remove(s):
    s["cluster"]["devices"] = [x for x in s["cluster"]["devices"] if x["name"] != "nx"]; s["faults"]["events"] = []
put("remove", remove)
put("bw", lambda s: s["cluster"]["network"].update(bandwidth="100Mbps"))
put("batch", lambda s: s["training"].update(batch_size=32))
put("model", lambda s: s.update(model={"name": "resnet50"}))
PY
check_same() {  # NAME EDITED.json OVERRIDES...: the override's plan is the edited file's
  name="$1"; edited="$2"; shift 2
  "$plan" "$tmp/$edited" --json -o "$tmp/$name.want.json" || fail "$name: planning the edited file"
  "$plan" "$tmp/boards.json" "$@" --json -o "$tmp/$name.got.json" 2>"$tmp/$name.err" || fail "$name: planning with $*"
  grep -q "^asteroid-plan: what-if: " "$tmp/$name.err" || fail "$name: no what-if line on stderr: $(cat "$tmp/$name.err")"
  /usr/bin/python3 - "$tmp/$name.want.json" "$tmp/$name.got.json" <<'PY' || fail "$name: $* plans otherwise than the edited file"
import json, sys
want, got = (json.load(open(f)) for f in sys.argv[1:3])
assert got["feasible"] and got["plan"] == want["plan"], (got.get("plan"), want.get("plan"))
assert got["round_latency_s"] == want["round_latency_s"], (got["round_latency_s"], want["round_latency_s"])
assert got["overrides"] and "overrides" not in want, got["overrides"]
PY
}
check_same add add.json --add-device jetson_nano:nano_c
check_same add_default add_default.json --add-device jetson_tx2
check_same remove remove.json --remove-device nx
check_same bw bw.json --bandwidth 100Mbps
check_same batch batch.json --batch-size 32
check_same model model.json --model resnet50

# The console says what changed, before the plan.
"$plan" "$tmp/boards.json" --add-device jetson_nano:nano_c --remove-device nx >"$tmp/console.txt" || fail "console what-ifs"
head -2 "$tmp/console.txt" | grep -q "^what-if: removed device nx (and its fault events)$" || fail "console: $(head -3 "$tmp/console.txt")"
head -2 "$tmp/console.txt" | grep -q "^what-if: added device nano_c (jetson_nano)$" || fail "console: $(head -3 "$tmp/console.txt")"
grep -q "nano_c" "$tmp/console.txt" || fail "the plan does not use the added nano_c: $(cat "$tmp/console.txt")"
# --strategy all takes them too.
"$plan" "$tmp/boards.json" --add-device jetson_nano:nano_c --strategy all >"$tmp/all.txt" || fail "--strategy all with a what-if"
grep -q "4 devices" "$tmp/all.txt" || fail "--strategy all ignored --add-device: $(head -2 "$tmp/all.txt")"

# A graph network: the new Nano joins the office switch as the other Nanos do; a named bandwidth
# changes only the links that touch the name.
two="$src/scenarios/envC_two_rooms_resnet50.json"
# (dp: every device in one group, so the new one is in the plan.)
"$plan" "$two" --add-device jetson_nano:nano3 --strategy dp --json -o "$tmp/two.json" || fail "graph: --add-device"
"$plan" "$two" --bandwidth office=10Mbps --json -o "$tmp/two_bw.json" || fail "graph: --bandwidth office=10Mbps"
"$plan" "$two" --json -o "$tmp/two_base.json" || fail "graph: plain"
/usr/bin/python3 - "$tmp/two.json" "$tmp/two_bw.json" "$tmp/two_base.json" <<'PY' || fail "graph what-ifs"
import json, sys
add, bw, base = (json.load(open(f)) for f in sys.argv[1:4])
assert any(d["device"] == "nano3" for d in add["devices"]), add["devices"]
assert add["overrides"] == ["added device nano3 (jetson_nano)"], add["overrides"]
# The office switch's links: three Nanos' and the uplink.
assert bw["overrides"] == ["bandwidth 10Mbps on office (4 links or media)"], bw["overrides"]
assert bw["round_latency_s"] >= base["round_latency_s"], (bw["round_latency_s"], base["round_latency_s"])
PY

# A medium: a new Nano becomes a station of the Wi-Fi as the other Nanos are; the medium by name.
air="$src/scenarios/envC_wifi_efficientnet_b1.json"
"$plan" "$air" --add-device jetson_nano --strategy dp --json -o "$tmp/air.json" || fail "medium: --add-device"
"$plan" "$air" --bandwidth wlan=50Mbps --json -o "$tmp/air_bw.json" || fail "medium: --bandwidth wlan=50Mbps"
"$plan" "$air" --remove-device nano2 --json -o "$tmp/air_rm.json" || fail "medium: --remove-device"
/usr/bin/python3 - "$tmp/air.json" "$tmp/air_bw.json" "$tmp/air_rm.json" <<'PY' || fail "medium what-ifs"
import json, sys
add, bw, rm = (json.load(open(f)) for f in sys.argv[1:4])
assert any(d["device"] == "jetson_nano_1" for d in add["devices"]), add["devices"]
assert bw["overrides"] == ["bandwidth 50Mbps on wlan (1 link or medium)"], bw["overrides"]
assert rm["overrides"] == ["removed device nano2"] and not any(d["device"] == "nano2" for d in rm["devices"]), rm
PY

expect_error "an unknown device to remove" '--remove-device nx9: .*boards.json has no device "nx9" (its devices: nano_a, nano_b, nx)' \
  "$plan" "$tmp/boards.json" --remove-device nx9
expect_error "an unknown device type" 'cluster.devices\[3\].type: unknown device type "jetson_orin".*(after the command line.s overrides)' \
  "$plan" "$tmp/boards.json" --add-device jetson_orin
expect_error "a name taken" '--add-device jetson_nano:nx: .*already has a device "nx"' \
  "$plan" "$tmp/boards.json" --add-device jetson_nano:nx
expect_error "a bandwidth without a unit" '--bandwidth 100: ' "$plan" "$tmp/boards.json" --bandwidth 100
expect_error "a named bandwidth on a star" '--bandwidth nano_a=10Mbps: no link or medium' \
  "$plan" "$tmp/boards.json" --bandwidth nano_a=10Mbps
expect_error "an unknown model" '--model nomodel: no trace of it for this scenario.s devices: .*cluster.devices\[0\].type: .*(after the command line.s overrides)' \
  "$plan" "$tmp/boards.json" --model nomodel
expect_error "a batch size of 0" '--batch-size: expected a whole number' "$plan" "$tmp/boards.json" --batch-size 0
# A smaller batch on a scenario that lists micro-batch sizes: those that no longer divide it go, said.
"$plan" "$src/scenarios/envC_mobilenetv2_100mbps.json" --batch-size 32 >"$tmp/b32.txt" || fail "--batch-size 32 on envC"
grep -q "^what-if: batch size 32 (was 128; micro-batch sizes kept: 4, 8, 16, 32)$" "$tmp/b32.txt" \
  || fail "--batch-size 32: $(head -2 "$tmp/b32.txt")"
grep -q "batch 32" "$tmp/b32.txt" || fail "--batch-size 32 not planned: $(head -3 "$tmp/b32.txt")"

finish "whatif_test"
