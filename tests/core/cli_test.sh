#!/bin/sh
# asteroid-plan as a user meets it: a real scenario plans, --json has the promised keys, --evaluate
# answers an array in order and takes --json's own output, and bad input is one line on stderr with
# exit status 2.
# Usage: cli_test.sh PATH/TO/asteroid-plan SOURCE_DIR
set -u
plan="$1"; src="$2"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$src/tests/cli_checks.sh"

scenario="$src/scenarios/envC_mobilenetv2_100mbps.json"
"$plan" "$scenario" --json -o "$tmp/plan.json" || fail "planning $scenario"
for key in round_latency_s throughput_samples_per_s closed_form_round_latency_s \
           closed_form_throughput_samples_per_s feasible plan steps devices; do
  grep -q "\"$key\"" "$tmp/plan.json" || fail "--json output lacks $key"
done
# One vocabulary: round_latency_s is the prediction the throughput comes from (the replay, which
# the console and the backends' reports give too); the closed form has keys of its own.
/usr/bin/python3 - "$tmp/plan.json" <<'PY' || fail "--json: round_latency_s is not the replay the throughput comes from"
import json, sys
j = json.load(open(sys.argv[1]))
batch = j["plan"]["microbatch_size"] * j["plan"]["microbatches"]
assert j["schedule_latency_s"] > 0 and j["round_latency_s"] == j["schedule_latency_s"], j
assert abs(j["throughput_samples_per_s"] * j["round_latency_s"] - batch) <= 1e-9 * batch, j
assert abs(j["closed_form_throughput_samples_per_s"] * j["closed_form_round_latency_s"] - batch) <= 1e-9 * batch, j
PY
"$plan" "$scenario" >"$tmp/plan.txt" || fail "planning $scenario (console)"
# How good the plan is, always: a proven bound (here the search completes: optimal), and the
# planning line with the time, the peak memory and the verdict.
/usr/bin/python3 - "$tmp/plan.json" "$tmp/plan.txt" <<'PY' || fail "the plan's proven bound is missing: $(tail -1 "$tmp/plan.txt")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["proven_optimal"] and j["optimality_gap"] == 0 and j["peak_memory_bytes"] > 0, j
assert abs(j["lower_bound_s"] - j["schedule_latency_s"]) <= 1e-9 * j["schedule_latency_s"], j
line = open(sys.argv[2]).read().splitlines()[-1]
assert line.startswith("planning time") and "peak memory" in line and line.endswith("proven optimal"), line
PY
# A planner time limit too short to finish: still a plan, with the gap it proved.
/usr/bin/python3 - "$scenario" "$tmp/limited.json" <<'PY'
import json, os, sys
s = json.load(open(sys.argv[1]))
s["planner"]["time_limit"] = "20ms"
d = os.path.dirname(os.path.abspath(sys.argv[1]))
s["traces"] = {t: os.path.join(d, p) for t, p in s["traces"].items()}
json.dump(s, open(sys.argv[2], "w"))
PY
"$plan" "$tmp/limited.json" --json -o "$tmp/limited_plan.json" || fail "planning with a 20 ms limit"
/usr/bin/python3 - "$tmp/limited_plan.json" <<'PY' || fail "a cut search does not give its proven gap"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["feasible"] and j["lower_bound_s"] > 0, j
assert j["proven_optimal"] or j["optimality_gap"] > 0, j
assert abs(j["optimality_gap"] - (j["schedule_latency_s"] - j["lower_bound_s"]) / j["lower_bound_s"]) <= 1e-9, j
PY
/usr/bin/python3 - "$tmp/plan.json" "$tmp/plan.txt" <<'PY' || fail "the console's round latency is not --json's round_latency_s"
import json, sys
j = json.load(open(sys.argv[1]))
assert "round latency %.4f s (1F1B replay)" % j["round_latency_s"] in open(sys.argv[2]).read()
PY
# The plan for a reader: each stage's layers by name, the time per 1000 samples, and what each
# column of the step table is.
/usr/bin/python3 - "$tmp/plan.json" "$tmp/plan.txt" "$scenario" <<'PY' || fail "the console does not explain the plan: $(cat "$tmp/plan.txt")"
import json, os, sys
j = json.load(open(sys.argv[1]))
text = open(sys.argv[2]).read()
scenario = json.load(open(sys.argv[3]))
trace = json.load(open(os.path.join(os.path.dirname(sys.argv[3]), next(iter(scenario["traces"].values())))))
names = [l["name"] for l in trace["layers"]]
for i, st in enumerate(j["plan"]["stages"]):
    a, b = st["layers"]
    want = "stage %d: layers %d-%d (%s" % (i, a, b, names[a]) + (" .. %s)" % names[b] if b > a else ")")
    assert want in text, want
batch = j["plan"]["microbatch_size"] * j["plan"]["microbatches"]
assert "time per 1000 samples %.2f s" % (1000 * j["round_latency_s"] / batch) in text
for column in ("E_f, E_b  forward and backward time", "T_w       warm-up", "T_e       from", "T_a, T_o  the stage's ring all-reduce"):
    assert column in text, column
assert "docs/method.md" in text
PY
# The planner's plan, scored again, gives the same latency.
/usr/bin/python3 - "$tmp/plan.json" "$tmp/plans.json" <<'PY' || fail "writing plans"
import json, sys
p = json.load(open(sys.argv[1]))["plan"]
bad = dict(p); bad["microbatch_size"] = p["microbatch_size"] * 1000  # does not fit in memory
json.dump([p, bad], open(sys.argv[2], "w"))
PY
"$plan" "$scenario" --evaluate "$tmp/plans.json" --json -o "$tmp/eval.json" 2>"$tmp/err"
rc=$?
# The second plan's microbatch_size x microbatches no longer equals the batch: refused.
[ "$rc" -eq 2 ] || fail "evaluate with an inconsistent plan: exit $rc"
grep -q 'plans.json: \[1\]: microbatch_size x microbatches' "$tmp/err" || fail "evaluate error: $(cat "$tmp/err")"
[ -e "$tmp/eval.json" ] && fail "a refused run left an output file"
/usr/bin/python3 - "$tmp/plan.json" "$tmp/plans.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))["plan"]
json.dump([p, p], open(sys.argv[2], "w"))
PY
"$plan" "$scenario" --evaluate "$tmp/plans.json" --json -o "$tmp/eval.json" || fail "evaluate two plans"
/usr/bin/python3 - "$tmp/plan.json" "$tmp/eval.json" <<'PY' || fail "evaluate does not reproduce the planner's latency"
import json, sys
want = json.load(open(sys.argv[1]))["round_latency_s"]
got = json.load(open(sys.argv[2]))
assert len(got) == 2 and all(abs(g["round_latency_s"] - want) <= 1e-9 * want for g in got), (want, got)
PY
# What --json writes evaluates as is: the whole output (its "plan"), and an array of outputs.
"$plan" "$scenario" --evaluate "$tmp/plan.json" --json -o "$tmp/eval_output.json" || fail "evaluate --json's output"
/usr/bin/python3 - "$tmp/plan.json" "$tmp/outputs.json" <<'PY' || fail "writing outputs"
import json, sys
out = json.load(open(sys.argv[1]))
bad = json.loads(json.dumps(out)); bad["plan"]["microbatches"] += 1
json.dump([out, out], open(sys.argv[2], "w"))
json.dump([out, bad], open(sys.argv[2] + ".bad", "w"))
json.dump({"feasible": False, "reason": "out of memory", "round_latency_s": None}, open(sys.argv[2] + ".none", "w"))
PY
"$plan" "$scenario" --evaluate "$tmp/outputs.json" --json -o "$tmp/eval_outputs.json" || fail "evaluate two outputs"
/usr/bin/python3 - "$tmp/plan.json" "$tmp/eval_output.json" "$tmp/eval_outputs.json" <<'PY' || fail "evaluating outputs"
import json, sys
want = json.load(open(sys.argv[1]))["round_latency_s"]
got = [json.load(open(sys.argv[2]))] + json.load(open(sys.argv[3]))
assert len(got) == 3 and all(abs(g["round_latency_s"] - want) <= 1e-9 * want for g in got), (want, got)
PY
expect_error "an output with a bad plan" 'outputs.json.bad: \[1\].plan: microbatch_size x microbatches' \
  "$plan" "$scenario" --evaluate "$tmp/outputs.json.bad"
expect_error "an output without a plan" 'outputs.json.none: feasible: the planner found no plan' \
  "$plan" "$scenario" --evaluate "$tmp/outputs.json.none"

# A scenario that names no traces takes the repository's traces/<device type>/<model>.json: the
# same plan; an unknown device type lists the types that have a trace of the model.
/usr/bin/python3 - "$scenario" "$tmp" <<'PY' || fail "writing scenarios without traces"
import json, os, sys
s = json.load(open(sys.argv[1]))
del s["traces"]
json.dump(s, open(os.path.join(sys.argv[2], "shelf.json"), "w"))
s["cluster"]["devices"][0]["type"] = "jetson_orin"
json.dump(s, open(os.path.join(sys.argv[2], "orin.json"), "w"))
s["cluster"]["devices"][0]["type"] = "models"  # traces/models/ holds layer lists, not a device's traces
json.dump(s, open(os.path.join(sys.argv[2], "models_type.json"), "w"))
s["cluster"]["devices"][0]["type"] = "raspberry_pi_5"  # a datasheet device with no trace of lenet5
s["model"] = {"name": "lenet5"}
json.dump(s, open(os.path.join(sys.argv[2], "datasheet.json"), "w"))
PY
"$plan" "$tmp/shelf.json" --json -o "$tmp/shelf_plan.json" || fail "planning a scenario without traces"
/usr/bin/python3 - "$tmp/plan.json" "$tmp/shelf_plan.json" <<'PY' || fail "traces found by device type and model plan otherwise"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
assert a["plan"] == b["plan"] and a["round_latency_s"] == b["round_latency_s"], (a["plan"], b["plan"])
PY
expect_error "an unknown device type" 'orin.json: cluster.devices\[0\].type: unknown device type "jetson_orin": no trace for it under "traces", nor .*traces/jetson_orin/mobilenetv2.json; device types with a trace of mobilenetv2 there: jetson_agx_orin_32gb, jetson_nano, jetson_orin_nano_8gb, jetson_tx2, jetson_xavier_nx, laptop_rtx4050, local_cpu, raspberry_pi_5$' \
  "$plan" "$tmp/orin.json"
expect_error "the layer lists' folder as a device type" 'models_type.json: cluster.devices\[0\].type: unknown device type "models"' \
  "$plan" "$tmp/models_type.json"
expect_error "a datasheet device without a trace of the model" 'datasheet.json: cluster.devices\[0\].type: device type "raspberry_pi_5" has a datasheet (.*traces/raspberry_pi_5/device.json) but no trace of lenet5 there; derive one: tools/calibrate/derive_traces.py --device .*traces/raspberry_pi_5/device.json --model-desc .*traces/models/lenet5.json$' \
  "$plan" "$tmp/datasheet.json"

printf '{"schema_version": 1, "cluster": {' >"$tmp/malformed.json"
expect_error "malformed JSON" "malformed.json: malformed JSON at line 1" "$plan" "$tmp/malformed.json"
expect_error "missing file" "nowhere.json: cannot open file" "$plan" "$tmp/nowhere.json"
expect_error "unknown option" "unknown option --fast" "$plan" "$scenario" --fast
expect_error "unknown strategy" "unknown strategy \"magic\"" "$plan" "$scenario" --strategy magic
sed 's/"100Mbps"/100/' "$scenario" | sed "s#\.\./traces#$src/traces#g" >"$tmp/nounit.json"
expect_error "missing unit" "nounit.json: cluster.network.bandwidth: a bare number has no unit" "$plan" "$tmp/nounit.json"

# Bad topologies: a loop that makes routes ambiguous, a device left unconnected, a link to a node
# that does not exist, a link without bandwidth.
for bad in loop island unknown nobandwidth; do
  /usr/bin/python3 - "$src" "$tmp/$bad.json" "$bad" <<'PY' || fail "writing $bad.json"
import json, sys
src, out, bad = sys.argv[1:]
s = json.load(open(src + "/scenarios/envC_two_rooms_resnet50.json"))
s["traces"] = {k: src + "/scenarios/" + v for k, v in s["traces"].items()}
links = s["cluster"]["network"]["links"]
if bad == "loop":
    links.append({"between": ["office", "lab"], "bandwidth": "1Gbps", "latency": "0.3ms"})
elif bad == "island":
    links[:] = [l for l in links if "nano2" not in l["between"]]
elif bad == "unknown":
    links[0]["between"][1] = "attic"
else:
    del links[6]["bandwidth"]
json.dump(s, open(out, "w"))
PY
done
expect_error "ambiguous routes" 'loop.json: cluster.network: devices "nx0" and "nano0" are joined by two routes' \
  "$plan" "$tmp/loop.json"
expect_error "a device not connected" 'island.json: cluster.network: device "nano2" is not connected' \
  "$plan" "$tmp/island.json"
expect_error "a link to an unknown node" 'unknown.json: cluster.network.links\[0\].between\[1\]: unknown node "attic"' \
  "$plan" "$tmp/unknown.json"
expect_error "a link without bandwidth" 'nobandwidth.json: cluster.network.links\[6\].bandwidth: missing' \
  "$plan" "$tmp/nobandwidth.json"

# Every number in range: refused in one line, never a crash or a wrap-around.
/usr/bin/python3 - "$scenario" "$src" "$tmp" <<'PY' || fail "writing out-of-range scenarios"
import json, os, sys
scenario, src, tmp = sys.argv[1:]
base = json.load(open(scenario))
for t in base["traces"]:
    base["traces"][t] = os.path.join(src, "scenarios", base["traces"][t])
def put(name, edit):
    s = json.loads(json.dumps(base))
    edit(s)
    json.dump(s, open(os.path.join(tmp, name + ".json"), "w"))
put("rounds_wrap", lambda s: s["training"].update(rounds=4294967297))
put("batch_huge", lambda s: s["training"].update(batch_size=10**12))
put("bandwidth_inf", lambda s: s["cluster"]["network"].update(bandwidth="1e308GBps"))
put("heartbeat_ns", lambda s: s.update(faults={"heartbeat_interval": "1ns"}))
put("event_far", lambda s: s.update(faults={"events": [{"at": "1e308s", "device": s["cluster"]["devices"][0]["name"], "kind": "leave"}]}))
put("name_escape", lambda s: s.update(name="../../etc"))
text = json.dumps(base)
open(os.path.join(tmp, "number_overflow.json"), "w").write(text.replace('"batch_size": ', '"batch_size": 1e400, "x": ', 1))
open(os.path.join(tmp, "deep.json"), "w").write(text[:-1] + ', "description": ' + "[" * 100000 + "]" * 100000 + "}")
PY
expect_error "rounds beyond an int" "training.rounds: must be in \[1, 1000000\], found 4294967297" "$plan" "$tmp/rounds_wrap.json"
expect_error "batch beyond the bound" "training.batch_size: must be in" "$plan" "$tmp/batch_huge.json"
expect_error "bandwidth infinite after units" "cluster.network.bandwidth: \"1e308GBps\" is too large" "$plan" "$tmp/bandwidth_inf.json"
expect_error "a heartbeat every nanosecond" "faults.heartbeat_interval: must be in" "$plan" "$tmp/heartbeat_ns.json"
expect_error "an event after 1e308 s" "faults.events\[0\].at: \"1e308s\" is too large\|faults.events\[0\].at: must be in" "$plan" "$tmp/event_far.json"
expect_error "a name that is a path" "name: \"../../etc\" must be" "$plan" "$tmp/name_escape.json"
expect_error "a number beyond a double" "number_overflow.json: malformed JSON: number overflow" "$plan" "$tmp/number_overflow.json"
expect_error "nesting 100000 deep" "deep.json: JSON nested deeper than 64 levels" "$plan" "$tmp/deep.json"

# Energy (docs/formats.md, "Power model"): the plan's predicted energy per round and per sample,
# modelled from the power files beside the traces; bad power modes and power files are refused.
/usr/bin/python3 - "$tmp/plan.json" <<'PY' || fail "--json energy"
import json, sys
e = json.load(open(sys.argv[1]))["energy"]
assert e["kind"] == "modelled" and e["available"] and not e["partial"], e
assert e["J_per_sample"] > 0 and abs(e["J_per_round"] - sum(d["total_J"] for d in e["devices"].values())) < 1e-6 * e["J_per_round"], e
assert set(e["devices"]) == {"nx0", "tx2_0", "tx2_1", "nano0", "nano1", "nano2"}, e["devices"]
assert e["devices"]["nano0"]["power_mode"] == "MAXN" and e["devices"]["nx0"]["power_mode"] == "15W", e
PY
"$plan" "$scenario" >"$tmp/plan.txt" || fail "planning $scenario (text)"
grep -q "^energy per round (modelled): .* J per sample" "$tmp/plan.txt" || fail "text lacks the energy line: $(cat "$tmp/plan.txt")"
/usr/bin/python3 - "$scenario" "$src" "$tmp" <<'PY' || fail "writing power scenarios"
import json, os, sys
scenario, src, tmp = sys.argv[1:]
base = json.load(open(scenario))
for t in base["traces"]:
    base["traces"][t] = os.path.join(src, "scenarios", base["traces"][t])
def put(name, edit, power=None):
    s = json.loads(json.dumps(base))
    edit(s)
    if power is not None:
        p = json.load(open(os.path.join(src, "traces/jetson_nano/power.json")))
        power(p)
        json.dump(p, open(os.path.join(tmp, name + "_power.json"), "w"))
        s["power"] = {"jetson_nano": os.path.join(tmp, name + "_power.json")}
    json.dump(s, open(os.path.join(tmp, name + ".json"), "w"))
def mode(m):
    return lambda s: s["cluster"]["devices"][3].update(power_mode=m)
put("mode_unknown", mode("7W"))
put("mode_no_trace", mode("7W"), lambda p: p["modes"].update({"7W": dict(p["modes"]["5W"], budget="7W", compute="7W")}))
put("mode_traced", mode("5W"))
put("mode_default", mode("MAXN"))
put("power_negative", lambda s: None, lambda p: p["modes"]["MAXN"].update(idle="-1W"))
put("power_unitless", lambda s: None, lambda p: p["modes"]["MAXN"].update(compute=10))
put("power_unit_string", lambda s: None, lambda p: p["modes"]["5W"].update(communication="2.5"))
put("power_wrong_type", lambda s: None, lambda p: p.update(device_type="jetson_tx2"))
PY
"$plan" "$tmp/mode_default.json" >/dev/null || fail "an explicit default power mode is refused"
expect_error "an unknown power mode" 'mode_unknown.json: cluster.devices\[3\].power_mode: unknown power mode "7W" for jetson_nano' \
  "$plan" "$tmp/mode_unknown.json"
"$plan" "$tmp/mode_traced.json" --json -o "$tmp/mode_traced_plan.json" || fail "a power mode with a trace (traces/jetson_nano/modes/5W/) is refused"
/usr/bin/python3 - "$tmp/mode_traced_plan.json" <<'PY' || fail "a traced power mode's energy"
import json, sys
e = json.load(open(sys.argv[1]))["energy"]["devices"]
assert e["nano0"]["power_mode"] == "5W" and e["nano1"]["power_mode"] == "MAXN", e
PY
expect_error "a power mode without a trace" 'mode_no_trace.json: cluster.devices\[3\].power_mode: no trace for power mode "7W"' \
  "$plan" "$tmp/mode_no_trace.json"
expect_error "a negative power" 'power_negative_power.json: modes.MAXN.idle: "-1W" must be a finite, non-negative power' \
  "$plan" "$tmp/power_negative.json"
expect_error "a power without a unit" 'power_unitless_power.json: modes.MAXN.compute: a bare number has no unit' \
  "$plan" "$tmp/power_unitless.json"
expect_error "a power string without a unit" 'power_unit_string_power.json: modes.5W.communication: "2.5" has no unit' \
  "$plan" "$tmp/power_unit_string.json"
expect_error "a power file for another type" 'power_wrong_type.json: power.jetson_nano: power model ".*" is for device type "jetson_tx2"' \
  "$plan" "$tmp/power_wrong_type.json"

# Every strategy in one command: one row each, sorted by throughput, the same figures as planning
# with that strategy alone; JSON and CSV for scripts.
"$plan" "$scenario" --strategy all >"$tmp/all.txt" || fail "--strategy all"
"$plan" "$scenario" --strategy all --json -o "$tmp/all.json" || fail "--strategy all --json"
"$plan" "$scenario" --strategy all --csv -o "$tmp/all.csv" || fail "--strategy all --csv"
"$plan" "$scenario" --strategy dp --json -o "$tmp/dp.json" || fail "--strategy dp --json"
/usr/bin/python3 - "$tmp/all.json" "$tmp/all.csv" "$tmp/all.txt" "$tmp/plan.json" "$tmp/dp.json" <<'PY' || fail "--strategy all: $(cat "$tmp/all.txt")"
import csv, json, sys
rows = json.load(open(sys.argv[1]))
names = [r["strategy"] for r in rows]
assert sorted(names) == sorted(["asteroid", "device", "dp", "pp", "pp_net", "pipedream", "dapple", "alpa", "hetpipe"]), names
feasible = [r for r in rows if r["feasible"]]
tp = [r["throughput_samples_per_s"] for r in feasible]
assert tp == sorted(tp, reverse=True), tp
assert rows[:len(feasible)] == feasible, "infeasible rows come last"
for name, alone in (("asteroid", json.load(open(sys.argv[4]))), ("dp", json.load(open(sys.argv[5])))):
    r = next(r for r in rows if r["strategy"] == name)
    assert abs(r["throughput_samples_per_s"] - alone["throughput_samples_per_s"]) <= 1e-9 * alone["throughput_samples_per_s"], (r, alone)
    assert abs(r["round_latency_s"] - alone["round_latency_s"]) <= 1e-9 * alone["round_latency_s"], (r, alone)
    assert 0 <= r["memory_headroom"] <= 1, r
table = list(csv.DictReader(open(sys.argv[2])))
assert [t["strategy"] for t in table] == names, table
text = open(sys.argv[3]).read().splitlines()
assert [line.split()[0] for line in text[2:2 + len(rows)]] == names, text
PY
expect_error "--csv without --strategy all" "--csv goes with --strategy all" "$plan" "$scenario" --csv
expect_error "--strategy all with --evaluate" "exclude each other" "$plan" "$scenario" --strategy all --evaluate "$tmp/plans.json"

# --memory: the training memory broken down, checked against hand computations from
# tests/core/data/tiny_lm.json (four layers of 1 MB weights, 1 MB stored per sample; the two blocks
# have 100 x 200 query and value maps, FP32, 10 rows per sample). LoRA rank 8 on query and value,
# Adam, batch 8: each block adds 2 x 8 x (100 + 200) x 4 B = 19,200 B of parameters and keeps
# 2 x 10 x 8 x 4 B = 640 B per sample more; embed (before the first LoRA map) keeps nothing.
lm="$src/tests/core/data/tiny_lm_lora.json"
"$plan" "$lm" --memory --json -o "$tmp/mem.json" || fail "--memory --json"
"$plan" "$lm" --memory >"$tmp/mem.txt" || fail "--memory"
"$plan" "$lm" --json -o "$tmp/lm_plan.json" || fail "planning $lm"
/usr/bin/python3 - "$tmp/mem.json" "$tmp/mem.txt" "$tmp/lm_plan.json" <<'PY' || fail "--memory figures: $(cat "$tmp/mem.txt")"
import json, sys
m = json.load(open(sys.argv[1]))
text = open(sys.argv[2]).read()
plan = json.load(open(sys.argv[3]))
added = 2 * 19200
want = {"weights_bytes": 4e6 + added, "gradients_bytes": added, "optimizer_states_bytes": 2 * added,
        "activations_bytes": 8 * (3e6 + 2 * 640)}
want["total_bytes"] = sum(want.values())
for k, v in want.items():
    assert abs(m["whole_model"]["training"][k] - v) < 1e-6 * v, (k, m["whole_model"]["training"][k], v)
full = {"weights_bytes": 4e6, "gradients_bytes": 4e6, "optimizer_states_bytes": 8e6, "activations_bytes": 32e6}
for k, v in full.items():
    assert abs(m["whole_model"]["full"][k] - v) < 1e-6 * v, (k, m["whole_model"]["full"][k], v)
# Inference: the 4 MB of weights and, live at once, a layer's input and output: 8 x (100 + 100) kB.
inference = {"weights_bytes": 4e6, "gradients_bytes": 0, "optimizer_states_bytes": 0, "activations_bytes": 8 * 2e5}
for k, v in inference.items():
    assert abs(m["whole_model"]["inference"][k] - v) <= 1e-6 * v, (k, m["whole_model"]["inference"][k], v)
assert m["training"] == "LoRA rank 8 on query, value; no backward through layer 0", m["training"]
assert m["feasible"] and m["plan"] == plan["plan"], (m["plan"], plan["plan"])
# Per device: the total is the peak the plan's evaluation reports, and the parts add up to it.
peaks = {d["device"]: d["peak_memory_bytes"] for d in plan["devices"]}
for d in m["devices"]:
    parts = d["weights_bytes"] + d["gradients_bytes"] + d["optimizer_states_bytes"] + d["activations_bytes"]
    assert abs(parts - d["total_bytes"]) < 1e-6 * parts and abs(d["total_bytes"] - peaks[d["device"]]) < 1e-6 * parts, d
# Each stage's weights once: the model's.
seen = {}
for d in m["devices"]:
    seen.setdefault(d["stage"], d["weights_bytes"])
assert abs(sum(seen.values()) - want["weights_bytes"]) < 1, seen
assert "training: LoRA rank 8 on query, value" in text and "whole model on one device, 8 samples at once" in text, text
assert "per device of the asteroid plan" in text, text
PY
/usr/bin/python3 - "$lm" "$src" "$tmp" <<'PY' || fail "writing fine-tuning scenarios"
import json, os, sys
lm, src, tmp = sys.argv[1:]
base = json.load(open(lm))
base["traces"]["lm"] = os.path.join(src, "tests/core/data/tiny_lm.json")
def put(name, ft):
    s = json.loads(json.dumps(base))
    s["training"]["fine_tuning"] = ft
    json.dump(s, open(os.path.join(tmp, name + ".json"), "w"))
put("ft_rank", {"lora": {"rank": 101, "maps": ["query"]}})
put("ft_map", {"adapters": {"width": 8, "after": ["gate"]}})
put("ft_nothing", {"frozen": ["0-3"]})
put("ft_key", {"lora": {"rank": 8, "maps": ["query"], "dropout": 0.1}})
PY
expect_error "a LoRA rank larger than the map" 'ft_rank.json: training.fine_tuning.lora.rank: rank 101 is larger than the map "query" of layer "block0" (100 x 200)' \
  "$plan" "$tmp/ft_rank.json" --memory
expect_error "adapters after a map the model lacks" 'ft_map.json: training.fine_tuning.adapters.after\[0\]: no trainable layer of tiny_lm has a linear map "gate"' \
  "$plan" "$tmp/ft_map.json"
expect_error "a frozen model" 'ft_nothing.json: training.fine_tuning: nothing trains' "$plan" "$tmp/ft_nothing.json"
expect_error "an unknown fine-tuning key" 'ft_key.json: training.fine_tuning.lora.dropout: unknown key' "$plan" "$tmp/ft_key.json"
expect_error "--memory with --evaluate" "--memory goes with one strategy" "$plan" "$lm" --memory --evaluate "$tmp/plans.json"

# training.recomputation: an unknown value, and "all" where nothing fits even recomputing, are bad
# input (one line, exit 2); a plan that recomputes says so in its JSON.
/usr/bin/python3 - "$scenario" "$tmp" <<'PY'
import json, os, sys
s = json.load(open(sys.argv[1]))
d = os.path.dirname(os.path.abspath(sys.argv[1]))
s["traces"] = {t: os.path.join(d, p) for t, p in s["traces"].items()}
s["training"]["recomputation"] = "sometimes"
json.dump(s, open(os.path.join(sys.argv[2], "rc_value.json"), "w"))
s["training"]["recomputation"] = "all"
json.dump(s, open(os.path.join(sys.argv[2], "rc_all.json"), "w"))
for dev in s["cluster"]["devices"]:
    dev["memory"] = "1MiB"
json.dump(s, open(os.path.join(sys.argv[2], "rc_tiny.json"), "w"))
PY
expect_error "an unknown recomputation" 'rc_value.json: training.recomputation: .*sometimes' "$plan" "$tmp/rc_value.json"
expect_error "recomputation all where nothing fits" 'rc_tiny.json: training.recomputation: "all", and no plan fits even so: .*stage' \
  "$plan" "$tmp/rc_tiny.json"
"$plan" "$tmp/rc_all.json" --json -o "$tmp/rc_all_plan.json" || fail "planning with recomputation all"
/usr/bin/python3 - "$tmp/rc_all_plan.json" <<'PY' || fail "recomputation all: the plan's stages do not all say \"recompute\""
import json, sys
j = json.load(open(sys.argv[1]))
assert all(st.get("recompute") is True for st in j["plan"]["stages"]), j["plan"]
PY

# The energy objective (docs/method.md, "Energy-aware planning"): the least energy per sample within
# the slowdown of the fastest plan, the power modes a choice; bad objectives and slowdowns refused.
small="$src/scenarios/envD_mobilenetv2_1000mbps.json"
"$plan" "$small" --json -o "$tmp/fast.json" || fail "planning $small"
"$plan" "$small" --objective energy --max-slowdown 10% --json -o "$tmp/energy.json" || fail "--objective energy"
"$plan" "$small" --objective energy --max-slowdown 10% --power-modes free --json -o "$tmp/energy_free.json" ||
  fail "--objective energy --power-modes free"
"$plan" "$small" --objective energy --power-modes free >"$tmp/energy_free.txt" || fail "--objective energy (text)"
grep -q "^objective energy (max slowdown 10%, power modes free)" "$tmp/energy_free.txt" || fail "text lacks the objective: $(cat "$tmp/energy_free.txt")"
/usr/bin/python3 - "$tmp/fast.json" "$tmp/energy.json" "$tmp/energy_free.json" <<'PY' || fail "the energy objective's plans"
import json, sys
fast, fixed, free = (json.load(open(p)) for p in sys.argv[1:4])
for r in (fixed, free):
    o = r["objective"]
    assert o["objective"] == "energy" and o["proven_optimal"], o
    assert o["chosen"]["round_s"] <= o["ceiling_s"] * (1 + 1e-9) and abs(o["ceiling_s"] - 1.1 * o["fastest"]["round_s"]) < 1e-9 * o["ceiling_s"], o
    assert o["chosen"]["J_per_sample"] <= o["fastest"]["J_per_sample"] * (1 + 1e-12), o
    assert abs(r["energy"]["J_per_sample"] - o["chosen"]["J_per_sample"]) < 1e-9 * o["chosen"]["J_per_sample"], (r["energy"], o["chosen"])
    assert abs(r["round_latency_s"] - o["chosen"]["round_s"]) < 1e-9 * r["round_latency_s"]
# Fixed modes: the fastest is the time objective's plan; free modes can only do as well or better.
assert abs(fixed["objective"]["fastest"]["round_s"] - fast["round_latency_s"]) < 1e-9 * fast["round_latency_s"]
assert free["objective"]["fastest"]["round_s"] <= fixed["objective"]["fastest"]["round_s"] * (1 + 1e-9)
assert free["objective"]["mode_assignments"] == 3 * 4, free["objective"]["mode_assignments"]  # tx2: 3 modes; 3 nanos: 4 multisets
assert set(free["power_modes"]) == {"tx2_0", "nano0", "nano1", "nano2"}, free["power_modes"]
PY
expect_error "an unknown objective" "asteroid-plan: --objective: .*fast" "$plan" "$small" --objective fast
expect_error "a slowdown without a unit" 'asteroid-plan: --max-slowdown: "10" has no unit' "$plan" "$small" --objective energy --max-slowdown 10
expect_error "a negative slowdown" 'asteroid-plan: --max-slowdown: "-5%" must be a finite, non-negative' "$plan" "$small" --objective energy --max-slowdown -5%
expect_error "an unknown power-mode choice" "asteroid-plan: --power-modes: .*any" "$plan" "$small" --power-modes any
expect_error "an objective with --evaluate" "--objective, --max-slowdown and --power-modes go with planning" \
  "$plan" "$small" --objective energy --evaluate "$tmp/fast.json"

# The lifetime objective: the most samples before the first battery reaches its floor, or by a
# deadline; the chosen plan against the fastest; refused without a battery and with bad deadlines.
/usr/bin/python3 - "$small" "$tmp/battery.json" "$src" <<'PY' || fail "writing the battery scenario"
import json, os, sys
s = json.load(open(sys.argv[1]))
s["traces"] = {k: os.path.abspath(os.path.join(os.path.dirname(sys.argv[1]), v)) for k, v in s["traces"].items()}
charges = {"tx2_0": "3000J", "nano0": "700J", "nano1": "1000J", "nano2": "1300J"}
for d in s["cluster"]["devices"]:
    d["battery"] = {"capacity": "1Wh", "charge": charges[d["name"]], "floor": "5%"}
json.dump(s, open(sys.argv[2], "w"))
PY
"$plan" "$tmp/battery.json" --objective lifetime --json -o "$tmp/life.json" || fail "--objective lifetime"
"$plan" "$tmp/battery.json" --objective lifetime --power-modes free --deadline 2min --json -o "$tmp/life_free.json" ||
  fail "--objective lifetime --power-modes free --deadline 2min"
"$plan" "$tmp/battery.json" --objective lifetime >"$tmp/life.txt" || fail "--objective lifetime (text)"
grep -q "^objective lifetime (until the first battery's floor, power modes fixed)" "$tmp/life.txt" ||
  fail "text lacks the objective: $(cat "$tmp/life.txt")"
grep -q "^on batteries, the chosen plan trains [0-9]* samples before .*; the fastest [0-9]* samples" "$tmp/life.txt" ||
  fail "text lacks the samples on batteries: $(cat "$tmp/life.txt")"
/usr/bin/python3 - "$tmp/life.json" "$tmp/life_free.json" <<'PY' || fail "the lifetime objective's plans"
import json, sys
fixed, free = (json.load(open(p)) for p in sys.argv[1:3])
for r in (fixed, free):
    o = r["objective"]
    assert o["objective"] == "lifetime" and o["proven_optimal"], o
    c, f = o["chosen"]["lifetime"], o["fastest"]["lifetime"]
    assert c["samples"] >= f["samples"] * (1 - 1e-12), (c, f)
    assert c["first_device"] in ("tx2_0", "nano0", "nano1", "nano2"), c
    assert abs(o["samples_gained"] - (c["samples"] / f["samples"] - 1)) < 1e-9, o["samples_gained"]
    assert abs(r["round_latency_s"] - o["chosen"]["round_s"]) < 1e-9 * r["round_latency_s"]
assert fixed["objective"]["deadline_s"] is None and fixed["objective"]["max_slowdown"] is None
assert free["objective"]["deadline_s"] == 120
c = free["objective"]["chosen"]
assert c["lifetime"]["samples"] <= 128 * 120 / c["round_s"] * (1 + 1e-9), c  # never more than the deadline allows
assert free["objective"]["mode_assignments"] == 3 * 2 ** 3, free["objective"]["mode_assignments"]  # nanos on different batteries: each its own mode
PY
expect_error "lifetime without a battery" "planner.objective: the lifetime objective needs a device on a battery" \
  "$plan" "$small" --objective lifetime
expect_error "a deadline without a unit" 'asteroid-plan: --deadline: "10" has no unit' "$plan" "$tmp/battery.json" --objective lifetime --deadline 10
expect_error "a negative deadline" 'asteroid-plan: --deadline: "-1min" must be a finite, non-negative' \
  "$plan" "$tmp/battery.json" --objective lifetime --deadline -1min
expect_error "a deadline of 0" 'asteroid-plan: --deadline: "0s" must be a positive time' "$plan" "$tmp/battery.json" --objective lifetime --deadline 0s
expect_error "a deadline under the energy objective" "planner.deadline: a deadline goes with the lifetime objective, not energy" \
  "$plan" "$tmp/battery.json" --objective energy --deadline 10min
/usr/bin/python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); s["planner"]["deadline"] = "10"; json.dump(s, open(sys.argv[2], "w"))' \
  "$tmp/battery.json" "$tmp/bad_deadline.json"
expect_error "a scenario's deadline without a unit" 'bad_deadline.json: planner.deadline: "10" has no unit' \
  "$plan" "$tmp/bad_deadline.json" --objective lifetime

finish "asteroid-plan command line"
