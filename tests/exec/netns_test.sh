#!/bin/sh
# asteroid-exec across hosts, with test hosts on this machine: one network namespace per device,
# links shaped to the scenario's bandwidth (tools/netns-cluster.sh), the coordinator in this (root)
# namespace. Checks:
# 1. a transfer of known size takes the shaped time within 10% (star: each direction; wifi: two
#    devices sending at once share one medium);
# 2. MobileNetV2 on a 2-stage pipeline, its workers started over "ssh" in their namespaces, trains
#    exactly as the same plan with local workers (the same loss every round);
# 3. a worker killed in its namespace mid-run (workers started by hand) is detected by its missed
#    heartbeats, the plan is repaired from the survivor's copies, and the run trains exactly as the
#    run without the failure;
# 4. no worker and no namespace is left behind, whatever happens (trap).
# Needs root and network namespaces; SKIPPED (exit status 77) with the reason where they cannot be made.
# Usage: netns_test.sh PATH/TO/asteroid-exec SOURCE_DIR
set -u
exe=$(realpath "$1"); src=$(realpath "$2")
skip() { echo "SKIPPED: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "network namespaces need root"
command -v ip >/dev/null && command -v tc >/dev/null || skip "iproute2 (ip, tc) is not installed"
probe="astp$(printf %x $$)"
err=$(ip netns add "$probe" 2>&1) || skip "cannot make a network namespace here: $err"
ip netns del "$probe"

id="ast$(printf %x $$)"
cluster="$src/tools/netns-cluster.sh"
tmp=$(mktemp -d)
pids=""
cleanup() {
  for p in $pids; do kill -9 "$p" 2>/dev/null; done
  "$cluster" down --name "$id"
  "$cluster" down --name "${id}w"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
. "$src/tests/cli_checks.sh"

wait_for() {  # PATTERN FILE SECONDS
  n=0
  while ! grep -q -- "$1" "$2" 2>/dev/null; do
    n=$((n + 1))
    [ "$n" -le $(($3 * 10)) ] || { fail "waited $3 s for \"$1\": $(cat "$2")"; return 1; }
    sleep 0.1
  done
}

# The scenarios: MobileNetV2, batch 16, on two devices at 100 Mbps (a rate this machine's CPUs can
# drive even when busy), SGD (the smallest checkpoints), with heartbeats fast enough to find a failure
# in 1.5 s; and a wifi copy. A pipeline with one device per stage computes exactly what one device
# does with the same micro-batches (batch norm included), so the plan after the failure trains as
# the plan before it.
/usr/bin/python3 - "$src/scenarios/local_mobilenetv2_2dev.json" "$src/traces" "$tmp" <<'PY' || exit 1
import json, os, sys
s = json.load(open(sys.argv[1]))
s["traces"] = {k: os.path.abspath(sys.argv[2]) + v.split("traces", 1)[1] for k, v in s["traces"].items()}
s["cluster"]["network"]["bandwidth"] = "100Mbps"
s["training"].update({"batch_size": 16, "optimizer": "sgd"})
s["planner"]["microbatch_sizes"] = [4]
s["faults"] = {"heartbeat_interval": "0.5s", "missed_heartbeats": 3, "replication_interval_rounds": 1,
               "recovery": "lightweight"}
json.dump(s, open(sys.argv[3] + "/star.json", "w"))
s["cluster"]["network"]["topology"] = "wifi"
json.dump(s, open(sys.argv[3] + "/wifi.json", "w"))
PY
cat >"$tmp/pipe.json" <<'J'
{"microbatch_size": 4, "microbatches": 4,
 "stages": [{"layers": [0, 9], "devices": ["cpu0"]}, {"layers": [10, 19], "devices": ["cpu1"]}]}
J

"$cluster" up "$tmp/star.json" --name "$id" >"$tmp/cluster.txt" 2>&1 || { cat "$tmp/cluster.txt"; exit 1; }
cat "$tmp/cluster.txt"
coordinator=$(awk '/^cluster/ {print $6}' "$tmp/cluster.txt")
rate=$(awk '/^cluster/ {print $10}' "$tmp/cluster.txt")
ns0=$(awk '$2 == "cpu0" {print $4}' "$tmp/cluster.txt"); ip0=$(awk '$2 == "cpu0" {print $6}' "$tmp/cluster.txt")
ns1=$(awk '$2 == "cpu1" {print $4}' "$tmp/cluster.txt"); ip1=$(awk '$2 == "cpu1" {print $6}' "$tmp/cluster.txt")

# 1. Shaped transfers: 16 MiB, the best of 3 (a loaded machine only slows them down).
probe_py="$src/tests/exec/link_probe.py"
servers=""
serve() {  # NAMESPACE ADDRESS
  ip netns exec "$1" /usr/bin/python3 "$probe_py" serve "$2" 5201 >"$tmp/serve.$1" 2>&1 &
  servers="$servers $!"; pids="$pids $!"
  wait_for ready "$tmp/serve.$1" 10
}
best() {  # NAMESPACE ADDRESS: the fastest of 3 transfers of 16 MiB to ADDRESS
  for k in 1 2 3; do ip netns exec "$1" /usr/bin/python3 "$probe_py" send "$2" 5201 16777216; done | sort -g | head -1
}
serve "$ns1" "$ip1"; serve "$ns0" "$ip0"
up=$(best "$ns0" "$ip1"); down=$(best "$ns1" "$ip0")
/usr/bin/python3 - "$up" "$down" "$rate" <<'PY' || fail "shaped transfers"
import sys
up, down, rate = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
shaped = 16777216 * 8 / rate
for name, t in (("cpu0 -> cpu1", up), ("cpu1 -> cpu0", down)):
    print(f"16 MiB {name}: {t:.4f} s, shaped time {shaped:.4f} s ({t / shaped:.3f}x)")
    assert abs(t / shaped - 1) <= 0.10, f"{name}: {t:.4f} s against {shaped:.4f} s"
PY
"$cluster" up "$tmp/wifi.json" --name "${id}w" >"$tmp/wifi.txt" 2>&1 || fail "wifi cluster: $(cat "$tmp/wifi.txt")"
wns0=$(awk '$2 == "cpu0" {print $4}' "$tmp/wifi.txt"); wip0=$(awk '$2 == "cpu0" {print $6}' "$tmp/wifi.txt")
wns1=$(awk '$2 == "cpu1" {print $4}' "$tmp/wifi.txt"); wip1=$(awk '$2 == "cpu1" {print $6}' "$tmp/wifi.txt")
serve "$wns1" "$wip1"; serve "$wns0" "$wip0"
both=""
for k in 1 2; do  # both devices send at once: the last to finish, best of 2
  ip netns exec "$wns0" /usr/bin/python3 "$probe_py" send "$wip1" 5201 16777216 >"$tmp/a" &
  a=$!
  ip netns exec "$wns1" /usr/bin/python3 "$probe_py" send "$wip0" 5201 16777216 >"$tmp/b"
  wait "$a"
  both="$both $(cat "$tmp/a" "$tmp/b" | sort -g | tail -1)"
done
"$cluster" down --name "${id}w"
/usr/bin/python3 - "$rate" $both <<'PY' || fail "the wifi medium"
import sys
rate, t = float(sys.argv[1]), min(float(x) for x in sys.argv[2:])
shared = 2 * 16777216 * 8 / rate
print(f"wifi, 2 x 16 MiB at once: {t:.4f} s, one shared medium takes {shared:.4f} s ({t / shared:.3f}x)")
assert abs(t / shared - 1) <= 0.10, f"{t:.4f} s against {shared:.4f} s"
PY

for p in $servers; do kill "$p" 2>/dev/null; done

# 2. The same plan on local workers, and on workers in the namespaces started over "ssh".
"$exe" "$tmp/star.json" --plan "$tmp/pipe.json" --rounds 6 --token-file "$tmp/tok" --timeout 300 \
  -o "$tmp/local" >"$tmp/local.log" 2>&1 || fail "the local run: $(cat "$tmp/local.log")"
cat >"$tmp/ssh" <<EOF
#!/bin/sh
# ssh -o BatchMode=yes HOST COMMAND, where HOST is a namespace: the command runs there.
cd "$tmp" && exec ip netns exec "\$3" sh -c "\$4"
EOF
chmod +x "$tmp/ssh"
/usr/bin/python3 - "$tmp/star.json" "$tmp/hosts.json" "$ns0" "$ns1" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
for d, ns in zip(s["cluster"]["devices"], sys.argv[3:]):
    d["host"] = ns
json.dump(s, open(sys.argv[2], "w"))
PY
ASTEROID_SSH="$tmp/ssh" "$exe" "$tmp/hosts.json" --plan "$tmp/pipe.json" --rounds 6 --listen "$coordinator:0" \
  --token-file "$tmp/tok" --remote-exec "$exe" --timeout 300 -o "$tmp/ns" >"$tmp/ns.log" 2>&1 \
  || fail "the run across namespaces: $(cat "$tmp/ns.log")"
grep -q "cpu1 joined from $ip1" "$tmp/ns.log" || fail "cpu1 did not join from its namespace: $(cat "$tmp/ns.log")"

# 3. A worker killed in its namespace mid-run, workers started by hand.
"$exe" "$tmp/star.json" --plan "$tmp/pipe.json" --rounds 6 --replicate --listen "$coordinator:0" \
  --token-file "$tmp/tok" --timeout 300 -o "$tmp/fail" >"$tmp/fail.log" 2>&1 &
coord=$!; pids="$pids $coord"
wait_for "coordinator listening on" "$tmp/fail.log" 30
at=$(sed -n 's/.*coordinator listening on \([0-9.]*:[0-9]*\).*/\1/p' "$tmp/fail.log")
ip netns exec "$ns0" "$exe" worker --coordinator "$at" --device cpu0 --token-file "$tmp/tok" \
  --checkpoints "$tmp/ck0" >"$tmp/w0.log" 2>&1 &
w0=$!; pids="$pids $w0"
ip netns exec "$ns1" "$exe" worker --coordinator "$at" --device cpu1 --token-file "$tmp/tok" \
  --checkpoints "$tmp/ck1" >"$tmp/w1.log" 2>&1 &
w1=$!; pids="$pids $w1"
wait_for "round 2 of 0-5" "$tmp/fail.log" 240
kill -9 "$w1"
wait "$coord" || fail "the run with a killed worker: $(cat "$tmp/fail.log")"
wait "$w0" || fail "the surviving worker: $(cat "$tmp/w0.log")"
for ns in "$ns0" "$ns1"; do
  [ -z "$(ip netns pids "$ns")" ] || fail "processes left in $ns: $(ip netns pids "$ns")"
done

/usr/bin/python3 - "$tmp" <<'PY' || fail "the reports"
import json, sys
d = sys.argv[1]
local, ns, failed = (json.load(open(f"{d}/{n}/report.json")) for n in ("local", "ns", "fail"))
loss = {n: [x["loss"] for x in r["rounds"]] for n, r in (("local", local), ("ns", ns), ("fail", failed))}
print("loss per round:", loss)
for n in ("ns", "fail"):
    assert len(loss[n]) == 6, (n, loss[n])
    for a, b in zip(loss["local"], loss[n]):
        assert abs(a - b) <= 1e-6 * abs(a), f"{n}: loss {b} against the local run's {a}"
kinds = [e["kind"] for e in failed["events"]]
assert kinds == ["failure", "detection", "replan", "move_layers", "state_transfer", "replay", "resume"], kinds
ev = {e["kind"]: e for e in failed["events"]}
assert ev["failure"]["device"] == "cpu1" and "control connection" in ev["failure"]["detail"], ev["failure"]
assert 1.2 <= ev["detection"]["time_s"] - ev["failure"]["time_s"] <= 2.5, (ev["detection"], ev["failure"])
assert failed["plans"][1]["stages"][0]["devices"] == ["cpu0"], failed["plans"][1]
assert ns["summary"]["clock_offset_bound_s"] < 0.05, ns["summary"]
for n, r in (("local", local), ("across namespaces", ns), ("with the failure", failed)):
    s = r["summary"]
    print(f"{n}: {s['run_s']:.2f} s for 6 rounds, {s['throughput_samples_per_s']:.2f} samples/s")
print(f"across namespaces / local: {ns['summary']['run_s'] / local['summary']['run_s']:.2f}x the time")
f = failed["summary"]["failures"][0]
print(f"failure: detection {f['detection_s']:.3f} s, state transfer {f['state_transfer_s']:.3f} s, "
      f"recovery {f['recovery_s']:.3f} s")
PY

# 4. Nothing left behind.
"$cluster" down --name "$id"
[ -z "$(ip netns list | grep "^$id")" ] || fail "namespaces left: $(ip netns list | grep "^$id")"
finish "netns_test"
