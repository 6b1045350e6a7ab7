#!/bin/sh
# asteroid-exec as a user meets it. bert_small (no batch norm, no dropout) trained for 3 rounds on
# two worker processes by three plans - one device, a 2-stage pipeline of 4 micro-batches, a
# data-parallel group with uneven shares - must give the same loss every round (the plans compute
# the same update), and the loss must fall. The run's report compares with asteroid-sim's on the
# same plan. Bad input is one line on stderr with exit status 2.
# Usage: exec_test.sh PATH/TO/asteroid-exec PATH/TO/asteroid-sim PATH/TO/asteroid-compare SOURCE_DIR
set -u
exe="$1"; sim="$2"; compare="$3"; src="$4"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$src/tests/cli_checks.sh"

scenario="$src/scenarios/local_bert_small_2dev.json"
cat >"$tmp/one.json" <<'J'
{"microbatch_size": 16, "microbatches": 1, "stages": [{"layers": [0, 5], "devices": ["cpu0"]}]}
J
cat >"$tmp/pipe.json" <<'J'
{"microbatch_size": 4, "microbatches": 4,
 "stages": [{"layers": [0, 2], "devices": ["cpu0"]}, {"layers": [3, 5], "devices": ["cpu1"]}]}
J
cat >"$tmp/dp.json" <<'J'
{"microbatch_size": 8, "microbatches": 2, "stages": [{"layers": [0, 5], "devices": ["cpu0", "cpu1"], "shares": [3, 5]}]}
J
# Checkpoints are removed at the end unless kept on request.
for p in one pipe dp; do
  keep=""; [ "$p" = one ] && keep="--keep-checkpoints"
  "$exe" "$scenario" --plan "$tmp/$p.json" --rounds 3 --timeout 180 --token-file "$tmp/token" $keep -o "$tmp/$p" \
    >"$tmp/$p.log" 2>&1 || fail "asteroid-exec with plan $p: $(cat "$tmp/$p.log")"
  if [ "$p" = one ]; then
    ls "$tmp/$p"/checkpoints/cpu0/layer_0.r2.pt >/dev/null 2>&1 || fail "plan $p: no final checkpoint kept"
  elif [ -e "$tmp/$p/checkpoints/cpu0" ]; then
    fail "plan $p: checkpoints left at the end: $(ls -R "$tmp/$p/checkpoints")"
  fi
  rm -rf "$tmp/$p/checkpoints"  # bert_small's state is large; the test machine's disk may not be
done
/usr/bin/python3 - "$tmp" <<'PY' || fail "losses or report"
import json, sys
d = sys.argv[1]
loss = {}
for p in ("one", "pipe", "dp"):
    r = json.load(open(f"{d}/{p}/report.json"))
    assert r["backend"] == "exec", r["backend"]
    assert len(r["rounds"]) == 3, r["rounds"]
    busy = {s["device"] for s in r["spans"]}
    assert busy == ({"cpu0"} if p == "one" else {"cpu0", "cpu1"}), (p, busy)
    assert all(x["end_s"] > x["start_s"] for x in r["rounds"]), r["rounds"]
    loss[p] = [x["loss"] for x in r["rounds"]]
print("losses per round:", loss)
for p in ("pipe", "dp"):
    for a, b in zip(loss["one"], loss[p]):
        assert abs(a - b) <= 1e-3 * abs(a), f"plan {p}: loss {b} against one device's {a}"
assert loss["one"][2] < loss["one"][0], "the loss did not fall"
PY
# Memory (exec/runtime/worker/allocation_meter.hpp): each device's allocator peak in a training round,
# beside the cost model's predicted peak for it, on the console and in the report; within a factor
# of the prediction: above it by what the model leaves out (inputs, receive buffers, backward's
# transient tensors: 1.1-1.7x in results/memory_runtime), below it where the layer description
# counts activations libtorch does not keep (0.93x for resnet50's first stage there).
plan_bin="$(dirname "$compare")/asteroid-plan"  # beside asteroid-compare
"$plan_bin" "$scenario" --evaluate "$tmp/pipe.json" --json -o "$tmp/pipe_eval.json" >/dev/null 2>&1 \
  || fail "asteroid-plan --evaluate of the pipe plan"
grep -q "^memory per device" "$tmp/pipe.log" || fail "no memory line on the console: $(cat "$tmp/pipe.log")"
/usr/bin/python3 - "$tmp/pipe_eval.json" "$tmp/pipe/report.json" <<'PY' || fail "allocator peaks against the prediction"
import json, sys
e, r = (json.load(open(f)) for f in sys.argv[1:3])
for d in e["devices"]:
    want, held = d["peak_memory_bytes"], r["peak_allocated_bytes"][d["device"]]
    print(f"{d['device']}: predicted {want / 2**20:.1f} MiB, allocator's peak {held / 2**20:.1f} MiB ({held / want:.2f}x)")
    assert 0.75 * want <= held <= 2 * want, (d["device"], want, held)
PY
# GPipe (planner.schedule, docs/method.md): the same plan with every forward before every backward
# computes the same update, so the same loss each round as 1F1B's; the spans show the order.
/usr/bin/python3 -c "
import json, os, sys
s = json.load(open(sys.argv[1]))
base = os.path.dirname(os.path.abspath(sys.argv[1]))
s['traces'] = {k: os.path.normpath(os.path.join(base, v)) for k, v in s['traces'].items()}
s['planner']['schedule'] = 'gpipe'
json.dump(s, open(sys.argv[2], 'w'))" "$scenario" "$tmp/gpipe.json" || fail "writing the GPipe scenario"
"$exe" "$tmp/gpipe.json" --plan "$tmp/pipe.json" --rounds 3 --timeout 180 --token-file "$tmp/token" -o "$tmp/gpipe" \
  >"$tmp/gpipe.log" 2>&1 || fail "asteroid-exec with GPipe: $(cat "$tmp/gpipe.log")"
rm -rf "$tmp/gpipe/checkpoints"
/usr/bin/python3 - "$tmp" <<'PY' || fail "GPipe against 1F1B"
import json, sys
d = sys.argv[1]
a, g = (json.load(open(f"{d}/{p}/report.json")) for p in ("pipe", "gpipe"))
la, lg = [x["loss"] for x in a["rounds"]], [x["loss"] for x in g["rounds"]]
assert len(lg) == 3 and all(abs(x - y) <= 1e-5 * abs(x) for x, y in zip(la, lg)), (la, lg)
for dev in ("cpu0", "cpu1"):
    ops = [s["op"] for s in sorted((s for s in g["spans"] if s["device"] == dev and s["round"] == 1),
                                   key=lambda s: s["start_s"]) if s["op"] in ("F", "B")]
    assert ops == ["F"] * 4 + ["B"] * 4, (dev, ops)
print("GPipe: losses", lg, "as 1F1B's; every forward before every backward")
PY
# Two runs at once on one machine: each has its own ports, process groups and folder, and trains as
# it would alone; a third into a folder in use is refused.
for k in 1 2; do
  "$exe" "$scenario" --plan "$tmp/pipe.json" --rounds 3 --timeout 180 --token-file "$tmp/token" -o "$tmp/twin$k" \
    >"$tmp/twin$k.log" 2>&1 &
  eval "twin$k=\$!"
done
i=0
until grep -q "^training:" "$tmp/twin1.log" || [ $i -ge 900 ]; do sleep 0.1; i=$((i + 1)); done
expect_error "a run into a folder in use" "another asteroid-exec run writes to this folder" \
  "$exe" "$scenario" --plan "$tmp/pipe.json" --rounds 3 --token-file "$tmp/token" -o "$tmp/twin1"
wait "$twin1" || fail "the first of two runs at once: $(cat "$tmp/twin1.log")"
wait "$twin2" || fail "the second of two runs at once: $(cat "$tmp/twin2.log")"
rm -rf "$tmp/twin1/checkpoints" "$tmp/twin2/checkpoints"
/usr/bin/python3 - "$tmp" <<'PY' || fail "two runs at once"
import json, sys
d = sys.argv[1]
alone = [x["loss"] for x in json.load(open(f"{d}/pipe/report.json"))["rounds"]]
for k in (1, 2):
    got = [x["loss"] for x in json.load(open(f"{d}/twin{k}/report.json"))["rounds"]]
    assert len(got) == 3 and all(abs(a - b) <= 1e-5 * abs(a) for a, b in zip(alone, got)), (k, got, alone)
print("two runs at once train as one alone:", alone)
PY
"$sim" "$scenario" --plan "$tmp/pipe.json" --rounds 3 -o "$tmp/sim" >/dev/null 2>&1 || fail "asteroid-sim"
"$compare" "$tmp/sim/report.json" "$tmp/pipe/report.json" >"$tmp/cmp.txt" || fail "asteroid-compare sim vs exec"
grep -q "3 in both" "$tmp/cmp.txt" || fail "comparison: $(cat "$tmp/cmp.txt")"

# A run cut by --timeout stops every worker, says so (exit status 1), and still writes the rounds
# that every worker finished.
"$exe" "$scenario" --plan "$tmp/pipe.json" --rounds 500 --timeout 12 --token-file "$tmp/token" -o "$tmp/cut" >"$tmp/cut.log" 2>&1
rc=$?
[ "$rc" -eq 1 ] || fail "a run cut by --timeout: exit status $rc, expected 1"
grep -q "did not finish within 12 s" "$tmp/cut.log" || fail "cut run: $(cat "$tmp/cut.log")"
/usr/bin/python3 - "$tmp/cut/report.json" <<'PY' || fail "the cut run's report"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["summary"]["completed"] is False, r["summary"]
assert r["summary"]["rounds_committed"] == len(r["rounds"]) < 500, r["summary"]
assert [e["kind"] for e in r["events"]] == ["stop"], r["events"]
assert [x["round"] for x in r["rounds"]] == list(range(len(r["rounds"]))), r["rounds"]
assert all(x["end_s"] > x["start_s"] for x in r["rounds"]), r["rounds"]
print("cut after", len(r["rounds"]), "rounds")
PY

expect_error "missing scenario" "nothere.json" "$exe" "$tmp/nothere.json"
# Failures: a device that leaves is detected by its missing heartbeats, the plan is repaired, the
# next workers load the checkpoint (the copy of the lost stage on its backup) and replay. bert_small
# computes the same update on any plan, so the run with the failure must train exactly as the run
# without it: the same loss every round.
/usr/bin/python3 - "$scenario" "$tmp/fail.json" "$tmp/slow.json" "$src/traces" <<'PY' || fail "writing the failure scenarios"
import json, os, sys
s = json.load(open(sys.argv[1]))
s["traces"] = {k: os.path.abspath(sys.argv[4]) + v.split("traces", 1)[1] for k, v in s["traces"].items()}
s["name"] += "_fail"
s["training"]["optimizer"] = "sgd"  # the smallest checkpoints: bert_small's embeddings are 62 MB
json.dump(s, open(sys.argv[2].replace("fail.json", "whole.json"), "w"))
s["faults"] = {"heartbeat_interval": "0.5s", "missed_heartbeats": 3, "replication_interval_rounds": 1,
               "recovery": "lightweight", "events": [{"at": "5s", "device": "cpu1", "kind": "leave"}]}
json.dump(s, open(sys.argv[2], "w"))
s["faults"]["recovery"] = "restart"
json.dump(s, open(sys.argv[3].replace("slow.json", "restart.json"), "w"))
s["faults"]["recovery"] = "lightweight"
s["faults"]["events"] = [{"at": "2s", "device": "cpu1", "kind": "slowdown", "factor": 0.5}]
json.dump(s, open(sys.argv[3], "w"))
PY
"$exe" "$tmp/fail.json" --plan "$tmp/pipe.json" --rounds 8 --timeout 180 --token-file "$tmp/token" -o "$tmp/failed" >"$tmp/failed.log" 2>&1 \
  || fail "the run with a failure: $(cat "$tmp/failed.log")"
rm -rf "$tmp/failed/checkpoints"
"$exe" "$tmp/whole.json" --plan "$tmp/pipe.json" --rounds 8 --timeout 180 --token-file "$tmp/token" -o "$tmp/whole" >/dev/null 2>&1 || fail "the run without"
rm -rf "$tmp/whole/checkpoints"
/usr/bin/python3 - "$tmp/failed/report.json" "$tmp/whole/report.json" <<'PY' || fail "the failed run's report"
import json, sys
r, w = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
kinds = [e["kind"] for e in r["events"]]
assert kinds == ["failure", "detection", "replan", "move_layers", "state_transfer", "replay", "resume"], kinds
ev = {e["kind"]: e for e in r["events"]}
assert 5 <= ev["failure"]["time_s"] < 6, ev["failure"]
# 3 missed intervals of 0.5 s from the last beat, which may come up to a quarter interval before the kill
assert 1.3 <= ev["detection"]["time_s"] - ev["failure"]["time_s"] <= 2.5, (ev["detection"], ev["failure"])
assert [x["round"] for x in r["rounds"]] == list(range(8)), r["rounds"]
assert r["rounds"][-1]["plan_id"] == 1 and len(r["plans"]) == 2, r["plans"]
assert r["plans"][1]["stages"][0]["devices"] == ["cpu0"], r["plans"][1]
f = r["summary"]["failures"][0]
assert f["device"] == "cpu1" and f["replay_round"] >= 0, f
print("replayed from round", f["replay_round"])
a, b = [x["loss"] for x in r["rounds"]], [x["loss"] for x in w["rounds"]]
print("loss with the failure:", a, "without:", b)
for x, y in zip(a, b):
    assert abs(x - y) <= 1e-3 * abs(y), f"loss {x} with the failure, {y} without: trained state was lost"
PY
# A worker killed from outside (a crash, an OOM kill) is a failure like a leave, seen at once from
# its exit: recovered the same way, and the run trains as the run without it.
/usr/bin/python3 - "$tmp/fail.json" "$tmp/killed.json" <<'PY' || fail "writing the killed-worker scenario"
import json, sys
s = json.load(open(sys.argv[1]))
s["name"] += "_killed"
s["faults"]["events"] = [{"at": "100000s", "device": "cpu1", "kind": "leave"}]  # recovery on; never reached
json.dump(s, open(sys.argv[2], "w"))
PY
"$exe" "$tmp/killed.json" --plan "$tmp/pipe.json" --rounds 8 --timeout 180 --token-file "$tmp/token" -o "$tmp/killed" >"$tmp/killed.log" 2>&1 &
launcher=$!
i=0
until ls "$tmp"/killed/checkpoints/cpu1/*.r1.pt >/dev/null 2>&1 || [ $i -ge 1200 ]; do sleep 0.1; i=$((i + 1)); done
victim=$(pgrep -P "$launcher" -f -- "--device cpu1( |$)")
[ -n "$victim" ] || fail "no worker of cpu1 to kill: $(cat "$tmp/killed.log")"
kill -9 $victim
wait $launcher || fail "the run with a worker killed from outside: $(cat "$tmp/killed.log")"
rm -rf "$tmp/killed/checkpoints"
/usr/bin/python3 - "$tmp/killed/report.json" "$tmp/whole/report.json" <<'PY' || fail "the killed run's report"
import json, sys
r, w = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
ev = {e["kind"]: e for e in r["events"]}
assert ev["failure"]["detail"] == "worker died (signal 9)", r["events"]
assert ev["detection"]["time_s"] - ev["failure"]["time_s"] < 0.5, (ev["failure"], ev["detection"])
assert [x["round"] for x in r["rounds"]] == list(range(8)), r["rounds"]
assert r["summary"]["completed"], r["summary"]
a, b = [x["loss"] for x in r["rounds"]], [x["loss"] for x in w["rounds"]]
print("loss with a worker killed:", a)
for x, y in zip(a, b):
    assert abs(x - y) <= 1e-3 * abs(y), f"loss {x} with the worker killed, {y} without"
PY
# A worker paused from outside (SIGSTOP: hung, swapped out, its host suspended) is declared by its
# silence, fenced and recovered like a dead one; the report dates its failure at the start of the
# silence, so that its recovery has its figures, and the run trains as the run without it.
"$exe" "$tmp/killed.json" --plan "$tmp/pipe.json" --rounds 8 --timeout 180 --token-file "$tmp/token" -o "$tmp/paused" >"$tmp/paused.log" 2>&1 &
launcher=$!
i=0
until ls "$tmp"/paused/checkpoints/cpu1/*.r1.pt >/dev/null 2>&1 || [ $i -ge 1200 ]; do sleep 0.1; i=$((i + 1)); done
victim=$(pgrep -P "$launcher" -f -- "--device cpu1( |$)")
[ -n "$victim" ] || fail "no worker of cpu1 to pause: $(cat "$tmp/paused.log")"
kill -STOP $victim
wait $launcher || fail "the run with a worker paused: $(cat "$tmp/paused.log")"
kill -9 $victim 2>/dev/null
rm -rf "$tmp/paused/checkpoints"
/usr/bin/python3 - "$tmp/paused/report.json" "$tmp/whole/report.json" <<'PY' || fail "the paused run's report: $(cat "$tmp/paused.log")"
import json, sys
r, w = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
kinds = [e["kind"] for e in r["events"]]
assert kinds[:3] == ["failure", "detection", "fenced"], r["events"]
assert r["events"][0]["device"] == "cpu1" and r["events"][0]["detail"].startswith("silent"), r["events"][0]
assert [e["time_s"] for e in r["events"]] == sorted(e["time_s"] for e in r["events"]), r["events"]
f = r["summary"]["failures"]
assert len(f) == 1 and f[0]["device"] == "cpu1", f
assert abs(f[0]["detection_s"] - 1.5) < 1e-6, f  # 3 missed beats of 0.5 s: dated back by exactly that
assert "recovery_s" in f[0] and "throughput_after" in f[0], f
assert [x["round"] for x in r["rounds"]] == list(range(8)), r["rounds"]
a, b = [x["loss"] for x in r["rounds"]], [x["loss"] for x in w["rounds"]]
for x, y in zip(a, b):
    assert abs(x - y) <= 1e-3 * abs(y), f"loss {x} with the worker paused, {y} without"
print("paused worker: recovered in", round(f[0]["recovery_s"], 3), "s")
PY
# Saturated cores (two busy loops per core beside the workers) during a fault-free run with 0.5 s
# heartbeats: the beats come from a thread of their own and the coordinator times them when read,
# so no device is declared failed.
hogs=""
for k in $(seq $((2 * $(nproc)))); do (while :; do :; done) & hogs="$hogs $!"; done
"$exe" "$tmp/killed.json" --plan "$tmp/pipe.json" --rounds 4 --timeout 300 --token-file "$tmp/token" -o "$tmp/loaded" >"$tmp/loaded.log" 2>&1
rc=$?
kill $hogs
wait $hogs 2>/dev/null
[ "$rc" -eq 0 ] || fail "the fault-free run on saturated cores: $(cat "$tmp/loaded.log")"
rm -rf "$tmp/loaded/checkpoints"
/usr/bin/python3 - "$tmp/loaded/report.json" <<'PY' || fail "the fault-free run on saturated cores: $(cat "$tmp/loaded.log")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["events"] == [], r["events"]
assert r["summary"]["completed"] and len(r["rounds"]) == 4, r["summary"]
print("on saturated cores: 4 rounds, no failure declared")
PY
# A device that leaves and comes back: its worker starts again once its departure is declared, and
# the Coordinator weighs planning it back in (the state transfer counted); either way the run trains
# as the run without the failure.
/usr/bin/python3 - "$tmp/fail.json" "$tmp/rejoin.json" <<'PY' || fail "writing the rejoin scenario"
import json, sys
s = json.load(open(sys.argv[1]))
s["name"] += "_rejoin"
s["faults"]["events"] = [{"at": "3s", "device": "cpu1", "kind": "leave"}, {"at": "4s", "device": "cpu1", "kind": "join"}]
json.dump(s, open(sys.argv[2], "w"))
PY
"$exe" "$tmp/rejoin.json" --plan "$tmp/pipe.json" --rounds 8 --timeout 180 --token-file "$tmp/token" -o "$tmp/rejoin" >"$tmp/rejoin.log" 2>&1 \
  || fail "the run with a device that returns: $(cat "$tmp/rejoin.log")"
rm -rf "$tmp/rejoin/checkpoints"
/usr/bin/python3 - "$tmp/rejoin/report.json" "$tmp/whole/report.json" <<'PY' || fail "the rejoin run's report: $(cat "$tmp/rejoin.log")"
import json, sys
r, w = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
kinds = [e["kind"] for e in r["events"]]
assert kinds[:3] == ["failure", "detection", "replan"], kinds
joins = [e for e in r["events"] if e["kind"] == "join"]
assert len(joins) == 1 and joins[0]["device"] == "cpu1" and "starts again" in joins[0]["detail"], r["events"]
weighed = [e for e in r["events"] if e["kind"] == "replan" and "joined" in e["detail"]]
assert len(weighed) == 1 and weighed[0]["time_s"] >= joins[0]["time_s"], r["events"]
assert [x["round"] for x in r["rounds"]] == list(range(8)), r["rounds"]
assert r["summary"]["completed"], r["summary"]
switched = "re-plan" in weighed[0]["detail"]
if switched:  # carried out like a recovery, cpu1 back in the plan
    assert "state_transfer" in kinds[kinds.index("join"):], kinds
    assert "cpu1" in {d for s in r["plans"][-1]["stages"] for d in s["devices"]}, r["plans"][-1]
print("cpu1 returned;", weighed[0]["detail"])
a, b = [x["loss"] for x in r["rounds"]], [x["loss"] for x in w["rounds"]]
for x, y in zip(a, b):
    assert abs(x - y) <= 1e-3 * abs(y), f"loss {x} with the return, {y} without"
PY
# A device there only later: the first plan is made without it (its worker is not started); at its
# join its worker starts, and the Coordinator weighs planning it in.
/usr/bin/python3 - "$tmp/fail.json" "$tmp/latejoin.json" <<'PY' || fail "writing the late-join scenario"
import json, sys
s = json.load(open(sys.argv[1]))
s["name"] += "_late"
s["faults"]["events"] = [{"at": "2s", "device": "cpu1", "kind": "join"}]
json.dump(s, open(sys.argv[2], "w"))
PY
"$exe" "$tmp/latejoin.json" --rounds 8 --timeout 180 --token-file "$tmp/token" -o "$tmp/latejoin" >"$tmp/latejoin.log" 2>&1 \
  || fail "the run with a device that joins later: $(cat "$tmp/latejoin.log")"
rm -rf "$tmp/latejoin/checkpoints"
/usr/bin/python3 - "$tmp/latejoin/report.json" "$tmp/whole/report.json" <<'PY' || fail "the late-join run's report: $(cat "$tmp/latejoin.log")"
import json, sys
r, w = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert r["plans"][0]["stages"] and all(d == "cpu0" for s in r["plans"][0]["stages"] for d in s["devices"]), r["plans"][0]
joins = [e for e in r["events"] if e["kind"] == "join"]
assert len(joins) == 1 and joins[0]["detail"] == "cpu1 joins: its worker starts", r["events"]
j = r["summary"]["joins"]
assert len(j) == 1 and "joined" in j[0]["decision"], r["summary"]
if j[0]["replanned"]:
    assert "cpu1" in {d for s in r["plans"][-1]["stages"] for d in s["devices"]}, r["plans"][-1]
assert [x["round"] for x in r["rounds"]] == list(range(8)) and r["summary"]["completed"], r["summary"]
print("cpu1 joined later;", j[0]["decision"])
for x, y in zip([x["loss"] for x in r["rounds"]], [x["loss"] for x in w["rounds"]]):
    assert abs(x - y) <= 1e-3 * abs(y), f"loss {x} with the late join, {y} without"
PY
# A launcher killed from outside takes its workers with it.
"$exe" "$tmp/whole.json" --plan "$tmp/pipe.json" --rounds 50 --timeout 180 --token-file "$tmp/token" -o "$tmp/orphans" >/dev/null 2>&1 &
launcher=$!
i=0
until [ "$(pgrep -P "$launcher" | wc -l)" -ge 2 ] || [ $i -ge 600 ]; do sleep 0.1; i=$((i + 1)); done
workers=$(pgrep -P "$launcher")
[ -n "$workers" ] || fail "the launcher started no workers"
kill -9 "$launcher"
wait "$launcher" 2>/dev/null
sleep 1
for w in $workers; do  # gone, or a zombie nobody has reaped yet
  case $(ps -o stat= -p "$w") in "" | Z*) ;; *) fail "worker $w outlived its killed launcher" ;; esac
done
rm -rf "$tmp/orphans"
expect_error "a fault asteroid-exec cannot inject" "asteroid-exec injects only" "$exe" "$tmp/slow.json"
expect_error "a recovery asteroid-exec cannot run" "faults.recovery" "$exe" "$tmp/restart.json"
# The energy and lifetime objectives plan in asteroid-plan or asteroid-sim, not here (one line).
/usr/bin/python3 - "$tmp/whole.json" "$tmp/lifetime.json" <<'PY' || fail "writing the objective scenarios"
import json, sys
s = json.load(open(sys.argv[1]))
for objective in ("energy", "lifetime"):
    s["planner"] = dict(s.get("planner", {}), objective=objective)
    json.dump(s, open(sys.argv[2].replace("lifetime.json", objective + ".json"), "w"))
del s["planner"]["objective"]
s["planner"]["deadline"] = "10min"
json.dump(s, open(sys.argv[2].replace("lifetime.json", "deadline.json"), "w"))
PY
expect_error "the energy objective" "planner.objective: asteroid-exec plans for time" "$exe" "$tmp/energy.json"
expect_error "the lifetime objective" "planner.objective: asteroid-exec plans for time" "$exe" "$tmp/lifetime.json"
expect_error "a deadline" "planner.deadline: asteroid-exec plans for time" "$exe" "$tmp/deadline.json"
printf '{"microbatch_size": 16, "microbatches": 1, "stages": [{"layers": [0, 5], "devices": ["gpu7"]}]}' >"$tmp/bad.json"
expect_error "unknown device in the plan" "bad.json" "$exe" "$scenario" --plan "$tmp/bad.json"
expect_error "bad option" "--rounds" "$exe" "$scenario" --rounds zero

finish "exec_test"
