#!/bin/sh
# asteroid-exec --emulate (docs/emulation.md): workers play a Jetson Nano and a TX2 (derived traces)
# on a 2-stage MobileNetV2 pipeline, with a time dilation of 3.
#   local: workers on this machine over loopback. Every Forward and Backward lasts its trace time
#          (the simulator's span for it) within 2% + 0.5 ms, the report states the dilation and
#          counts the steps over budget, and the losses are those of the same plan run without
#          emulation (emulation changes when things happen, not what is computed). Also: without
#          --time-dilation the factor is chosen, printed and used; the countdown is wall-clock; the
#          run without emulation reads a fake INA3221 rail (10 W) and reports 10 W x its rounds' time;
#          the plan with recomputation on both stages trains to the same losses.
#   netns: workers in network namespaces whose links are shaped to 20 Mbit/s / 3
#          (tools/netns-cluster.sh --time-dilation 3); the mean round (after the first) is within 10%
#          of asteroid-sim's on the same plan and network. Needs root: SKIPPED (77) otherwise.
# Usage: emulate_test.sh local|netns PATH/TO/asteroid-exec PATH/TO/asteroid-sim SOURCE_DIR
set -u
mode="$1"; exe=$(realpath "$2"); sim=$(realpath "$3"); src=$(realpath "$4")
skip() { echo "SKIPPED: $*"; exit 77; }
if [ "$mode" = netns ]; then
  [ "$(id -u)" -eq 0 ] || skip "network namespaces need root"
  command -v ip >/dev/null && command -v tc >/dev/null || skip "iproute2 (ip, tc) is not installed"
  probe="astq$(printf %x $$)"
  err=$(ip netns add "$probe" 2>&1) || skip "cannot make a network namespace here: $err"
  ip netns del "$probe"
fi
tmp=$(mktemp -d)
id="ase$(printf %x $$)"
cluster="$src/tools/netns-cluster.sh"
cleanup() {
  [ "$mode" = netns ] && "$cluster" down --name "$id"
  [ -n "${KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
. "$src/tests/cli_checks.sh"
F=3

/usr/bin/python3 - "$src" "$tmp" <<'PY' || exit 1
import json, sys
src, tmp = sys.argv[1], sys.argv[2]
s = {"schema_version": 1, "name": "emulated_pipeline",
     "cluster": {"devices": [{"name": "nano0", "type": "jetson_nano"}, {"name": "tx2_0", "type": "jetson_tx2"}],
                 "network": {"bandwidth": "20Mbps", "latency": "0ms"}},
     "model": {"name": "mobilenetv2", "input": "cifar10_32"},
     "training": {"batch_size": 32, "optimizer": "sgd_momentum"},
     "planner": {"strategy": "asteroid", "microbatch_sizes": [8]},
     "traces": {t: f"{src}/traces/{t}/mobilenetv2.json" for t in ("jetson_nano", "jetson_tx2")}}
json.dump(s, open(f"{tmp}/scenario.json", "w"), indent=1)
plan = {"microbatch_size": 8, "microbatches": 4,
        "stages": [{"layers": [0, 9], "devices": ["nano0"]}, {"layers": [10, 19], "devices": ["tx2_0"]}]}
json.dump(plan, open(f"{tmp}/plan.json", "w"))
for st in plan["stages"]:
    st["recompute"] = True  # activation recomputation on both stages: the same losses
json.dump(plan, open(f"{tmp}/plan_rc.json", "w"))
PY

"$sim" "$tmp/scenario.json" --plan "$tmp/plan.json" --rounds 4 --network textbook -o "$tmp/sim" \
  >"$tmp/sim.log" 2>&1 || fail "asteroid-sim: $(cat "$tmp/sim.log")"

if [ "$mode" = local ]; then
  # The run without emulation reads a board's power rail: here a fake INA3221 (hwmon layout) at a
  # constant 5 V x 2 A, so each device's measured energy must be 10 W x its rounds' time.
  mkdir -p "$tmp/hwmon/hwmon0"
  echo ina3221 >"$tmp/hwmon/hwmon0/name"; echo VDD_IN >"$tmp/hwmon/hwmon0/in1_label"
  echo 5000 >"$tmp/hwmon/hwmon0/in1_input"; echo 2000 >"$tmp/hwmon/hwmon0/curr1_input"
  ASTEROID_HWMON_ROOT="$tmp/hwmon" "$exe" "$tmp/scenario.json" --plan "$tmp/plan.json" --rounds 4 \
    --token-file "$tmp/tok" -o "$tmp/real" >"$tmp/real.log" 2>&1 || fail "the run without emulation: $(cat "$tmp/real.log")"
  grep -q "energy measured on the boards" "$tmp/real.log" || fail "no measured energy printed: $(cat "$tmp/real.log")"
  # Recomputation (docs/method.md): each Backward preceded by its stage's Forward again; the
  # losses of the plan without it, to the last bit of float32 arithmetic order.
  "$exe" "$tmp/scenario.json" --plan "$tmp/plan_rc.json" --rounds 4 --token-file "$tmp/tok" -o "$tmp/rc" \
    >"$tmp/rc.log" 2>&1 || fail "the run with recomputation: $(cat "$tmp/rc.log")"
  /usr/bin/python3 -c "
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
la, lb = [r['loss'] for r in a['rounds']], [r['loss'] for r in b['rounds']]
assert len(lb) == 4 and all(abs(x - y) <= 1e-6 * abs(x) for x, y in zip(la, lb)), (la, lb)
rc = [s for s in b['spans'] if s['op'] == 'RECOMPUTE']
assert len(rc) == 4 * 2 * 4, len(rc)  # 4 rounds x 2 devices x 4 micro-batches
print('recomputation: losses', lb, 'as without;', len(rc), 'RECOMPUTE spans')" "$tmp/real/report.json" "$tmp/rc/report.json" \
    || fail "recomputation changed the losses or ran no RECOMPUTE"
  /usr/bin/python3 -c "
import json, sys
m = json.load(open(sys.argv[1]))['measured_energy']
assert set(m) == {'nano0', 'tx2_0'}, m
for d, x in m.items():
    assert x['rail'].startswith('VDD_IN, INA3221 via hwmon'), x
    assert x['samples'] > 0 and abs(x['J'] / x['seconds'] - 10) < 0.2, (d, x)
print('measured:', m)" "$tmp/real/report.json" || fail "the measured energy is not 10 W x the rounds' time"
  "$exe" "$tmp/scenario.json" --plan "$tmp/plan.json" --rounds 4 --emulate --time-dilation $F \
    --token-file "$tmp/tok" -o "$tmp/emu" >"$tmp/emu.log" 2>&1 || fail "the emulated run: $(cat "$tmp/emu.log")"
  grep -q "over loopback, which is not shaped" "$tmp/emu.log" || fail "no word that loopback is not shaped"
  grep -q "compute steps over budget" "$tmp/emu.log" || fail "no over-budget count printed"
  grep -q "left (wall clock)" "$tmp/emu.log" || fail "the time left is not said to be wall-clock"
  grep -q "energy measured: none (an emulated run" "$tmp/emu.log" || fail "an emulated run does not say why nothing was measured"
  grep -q "these are this machine's times" "$tmp/real.log" || fail "a run without emulation does not say whose times it gives"
  # No --time-dilation: the factor is chosen from a short measurement and printed, and the run uses it.
  "$exe" "$tmp/scenario.json" --plan "$tmp/plan.json" --rounds 2 --emulate --token-file "$tmp/tok" -o "$tmp/auto" \
    >"$tmp/auto.log" 2>&1 || fail "the emulated run with a chosen dilation: $(cat "$tmp/auto.log")"
  chosen=$(sed -n 's/^time dilation \([0-9]*\) (chosen.*/\1/p' "$tmp/auto.log")
  [ -n "$chosen" ] || fail "no chosen time dilation printed: $(cat "$tmp/auto.log")"
  /usr/bin/python3 -c "import json,sys; r=json.load(open(sys.argv[1])); f=r['emulation']['time_dilation']; \
assert f == float(sys.argv[2]) and f >= 1, (f, sys.argv[2])" "$tmp/auto/report.json" "$chosen" \
    || fail "the report's time dilation is not the chosen $chosen"
  echo "chosen: $(grep '^time dilation' "$tmp/auto.log")"
  expect_error "--time-dilation without --emulate" "needs --emulate" \
    "$exe" "$tmp/scenario.json" --time-dilation 2
  expect_error "--time-dilation 0.5" "--time-dilation" "$exe" "$tmp/scenario.json" --emulate --time-dilation 0.5
  # The what-if flags of asteroid-plan and asteroid-sim (scenario_overrides.hpp) apply here too.
  expect_error "a what-if removing an unknown device" 'remove-device nope: .*has no device "nope"' \
    "$exe" "$tmp/scenario.json" --remove-device nope
  /usr/bin/python3 - "$tmp" $F <<'PY' || fail "the emulated run's report"
import json, sys
d, F = sys.argv[1], float(sys.argv[2])
real, emu, sim = (json.load(open(f"{d}/{n}/report.json")) for n in ("real", "emu", "sim"))
m = emu["emulation"]
print("emulation:", m)
assert m["time_dilation"] == F and emu["config"]["time_dilation"] == F, m
assert m["budgeted_steps"] == 4 * 2 * (4 * 2 + 1), m  # 4 rounds x 2 devices x (4 micro-batches x (F, B) + OPT)
assert emu["summary"]["over_budget_steps"] == m["over_budget_steps"], emu["summary"]
budget = {(x["device"], x["op"], x["microbatch"]): x["end_s"] - x["start_s"]
          for x in sim["spans"] if x["op"] in ("F", "B") and x["round"] == 1}
assert len(budget) == 16, budget
checked = over = 0
for x in emu["spans"]:
    if x["op"] not in ("F", "B") or x["round"] == 0:
        continue
    b, t = budget[(x["device"], x["op"], x["microbatch"])], x["end_s"] - x["start_s"]
    assert t >= b - 1e-4, f"{x}: {t:.5f} s, shorter than its budget {b:.5f} s"
    if t > b * 1.02 + 5e-4:
        over += 1  # the real computation took longer: must be counted
    checked += 1
print(f"{checked} Forward/Backward spans after the first round: each lasts its trace time; {over} longer")
assert over <= m["over_budget_steps"], (over, m)
lr, le = [r["loss"] for r in real["rounds"]], [r["loss"] for r in emu["rounds"]]
print("loss per round, without and with emulation:", lr, le)
assert len(le) == 4 and all(abs(a - b) <= 1e-6 * abs(a) for a, b in zip(lr, le)), (lr, le)
e = sum(r["end_s"] - r["start_s"] for r in emu["rounds"][1:]) / 3
s = sum(r["end_s"] - r["start_s"] for r in sim["rounds"][1:]) / 3
print(f"mean round (loopback, links not shaped): emulated {e:.4f} s, simulated {s:.4f} s")
PY
  finish "emulate_test local"
  exit 0
fi

# netns: the workers in namespaces, links shaped to 20 Mbit/s / F.
"$cluster" up "$tmp/scenario.json" --name "$id" --time-dilation $F >"$tmp/cluster.txt" 2>&1 \
  || { cat "$tmp/cluster.txt"; exit 1; }
cat "$tmp/cluster.txt"
coordinator=$(awk '/^cluster/ {print $6}' "$tmp/cluster.txt")
rate=$(awk '/^cluster/ {print $10}' "$tmp/cluster.txt")
[ "$rate" = 6666666 ] || fail "links shaped to $rate bit/s, not 20 Mbit/s / 3"
cat >"$tmp/ssh" <<EOF
#!/bin/sh
# ssh -o BatchMode=yes HOST COMMAND, where HOST is a namespace: the command runs there.
cd "$tmp" && exec ip netns exec "\$3" sh -c "\$4"
EOF
chmod +x "$tmp/ssh"
/usr/bin/python3 - "$tmp" <<'PY'
import json, sys
d = sys.argv[1]
s = json.load(open(f"{d}/scenario.json"))
for dev in s["cluster"]["devices"]:
    dev["host"] = [l.split()[3] for l in open(f"{d}/cluster.txt") if l.split()[:2] == ["device", dev["name"]]][0]
json.dump(s, open(f"{d}/hosts.json", "w"))
PY
ASTEROID_SSH="$tmp/ssh" "$exe" "$tmp/hosts.json" --plan "$tmp/plan.json" --rounds 4 --emulate --time-dilation $F \
  --listen "$coordinator:0" --token-file "$tmp/tok" --remote-exec "$exe" -o "$tmp/emu" >"$tmp/emu.log" 2>&1 \
  || fail "the emulated run across namespaces: $(cat "$tmp/emu.log")"
/usr/bin/python3 - "$tmp" <<'PY' || fail "emulated against simulated"
import json, sys
d = sys.argv[1]
emu, sim = (json.load(open(f"{d}/{n}/report.json")) for n in ("emu", "sim"))
print("emulation:", emu["emulation"])
e = sum(r["end_s"] - r["start_s"] for r in emu["rounds"][1:]) / 3
s = sum(r["end_s"] - r["start_s"] for r in sim["rounds"][1:]) / 3
print(f"mean round after the first, 20 Mbit/s: emulated across namespaces {e:.4f} s, simulated {s:.4f} s "
      f"({100 * (e / s - 1):+.2f}%)")
assert abs(e / s - 1) <= 0.10, f"{e:.4f} s against {s:.4f} s"
PY
"$cluster" down --name "$id"
finish "emulate_test netns"
