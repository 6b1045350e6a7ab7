#!/bin/sh
# An imported model from end to end, as a user meets it (docs/model_import.md): the small vision
# transformer of examples/ is imported; models that cannot be imported are refused in one line;
# asteroid-profile describes the archive (the importer's counts) and measures its trace here; the
# scenario naming the archive is planned and simulated; asteroid-exec trains it through the
# TorchScript layers by three plans - one device, two stages of two-device data-parallel groups,
# one data-parallel group with uneven shares - which must give the same loss every round, a loss
# that falls; a worker that leaves is recovered from with no trained state lost. A changed layer
# file, an archive of another model and a fine-tuning set-up (planned and simulated only) are refused.
# Usage: import_test.sh ASTEROID-EXEC ASTEROID-PROFILE ASTEROID-PLAN ASTEROID-SIM SOURCE_DIR
set -u
exe="$1"; profile="$2"; plan="$3"; sim="$4"; src="$5"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$src/tests/cli_checks.sh"
py=/usr/bin/python3
imp="$src/tools/import_model/import_model.py"
if ! $py -c "import torch, torchvision" 2>/dev/null; then
  echo "SKIPPED: Debian's python3-torch and python3-torchvision are not installed (make deps installs them)"
  exit 77
fi

# 1. Import, and what is refused.
$py "$imp" "$src/examples/tiny_vit.py:TinyViT" --args '{"depth": 2}' --input-shape 3x32x32 \
  -o "$tmp/tiny_vit" >"$tmp/import.log" 2>&1 || fail "import: $(cat "$tmp/import.log")"
[ -f "$tmp/tiny_vit/model.json" ] && [ -f "$tmp/tiny_vit/description.json" ] || fail "import: no archive"
cat >"$tmp/branchy.py" <<'P'
import torch
class Branchy(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 2)
    def forward(self, x):
        if x.sum() > 0:  # control flow on data: no fixed graph to cut
            return self.fc(x)
        return -self.fc(x)
class TwoInputs(torch.nn.Module):
    def forward(self, x, y):
        return x + y
P
expect_error "import: no such file" "no file" $py "$imp" "$tmp/none.py:X" -o "$tmp/a"
expect_error "import: no such class" "no nn.Module class \"Nope\"" $py "$imp" "$src/examples/tiny_vit.py:Nope" -o "$tmp/a"
expect_error "import: constructor raises" "the constructor raised ValueError" \
  $py "$imp" "$src/examples/tiny_vit.py:TinyViT" --args '{"image": 30}' --input-shape 3x30x30 -o "$tmp/a"
expect_error "import: untraceable" "torch.fx cannot trace the model" $py "$imp" "$tmp/branchy.py:Branchy" --input-shape 4 -o "$tmp/a"
expect_error "import: two inputs" "takes 2 inputs" $py "$imp" "$tmp/branchy.py:TwoInputs" --input-shape 4 -o "$tmp/a"
expect_error "import: wrong input shape" "fails on the example input" \
  $py "$imp" "$src/examples/tiny_vit.py:TinyViT" --input-shape 3x28x28 -o "$tmp/a"
expect_error "import: unknown torchvision model" "torchvision has no model" $py "$imp" torchvision:resnet1000 -o "$tmp/a"
expect_error "import: bad --args" "--args: not JSON" $py "$imp" torchvision:resnet18 --args '{' -o "$tmp/a"
expect_error "import: existing archive" "exists" $py "$imp" "$src/examples/tiny_vit.py:TinyViT" -o "$tmp/tiny_vit"
[ -e "$tmp/a" ] && fail "import: a refused model left $tmp/a"
ls "$tmp" | grep -q '\.tmp-' && fail "import: a temporary folder was left: $(ls "$tmp")"

# torchvision's ResNet50 is the built-in resnet50: the same layers, described alike in every field
# (the importer's counts in Python against the C++ op recorder's).
$py "$imp" torchvision:resnet50 --num-classes 100 -o "$tmp/tv_resnet50" >/dev/null 2>"$tmp/err" || fail "resnet50: $(cat "$tmp/err")"
$py - "$tmp/tv_resnet50/description.json" "$src/traces/models/resnet50.json" <<'PY' || fail "imported resnet50 differs from the built-in"
import json, sys
a, b = (json.load(open(f))["layers"] for f in sys.argv[1:3])
assert len(a) == len(b), (len(a), len(b))
for x, y in zip(a, b):
    for k in y:
        if k != "name":  # names differ: the built-in last layer is "fc", the importer's "head" (pool + fc)
            assert x[k] == y[k], f"layer {x['name']} / {y['name']}: {k} {x[k]} against {y[k]}"
print(f"imported resnet50: {len(a)} layers as the built-in, every count equal")
PY
rm -rf "$tmp/tv_resnet50"

# 2. Described and measured here.
"$profile" --archive "$tmp/tiny_vit" --describe -o "$tmp/described.json" 2>"$tmp/err" || fail "describe: $(cat "$tmp/err")"
$py - "$tmp" <<'PY' || fail "describe differs from the archive's description"
import json, sys
d = sys.argv[1]
a, b = json.load(open(f"{d}/described.json")), json.load(open(f"{d}/tiny_vit/description.json"))
assert a["layers"] == b["layers"] and a["model"] == b["model"] == "tinyvit", (a["model"], b["model"])
PY
OPENBLAS_NUM_THREADS=1 "$profile" --archive "$tmp/tiny_vit" --batch-sizes 1,2,4,8 --repeats 3 --warmup 1 \
  -o "$tmp/local_cpu.json" 2>"$tmp/err" || fail "profile: $(cat "$tmp/err")"

# 3. Planned and simulated from a scenario that names the archive.
cat >"$tmp/scenario.json" <<J
{"schema_version": 1, "name": "tiny_vit_2cpu",
 "cluster": {"devices": [{"name": "cpu0", "type": "local_cpu"}, {"name": "cpu1", "type": "local_cpu"},
                         {"name": "cpu2", "type": "local_cpu"}, {"name": "cpu3", "type": "local_cpu"}],
             "network": {"bandwidth": "1Gbps", "latency": "0.5ms"}},
 "model": {"name": "tinyvit", "archive": "tiny_vit"},
 "training": {"batch_size": 16, "rounds": 3, "optimizer": "adam"},
 "traces": {"local_cpu": "local_cpu.json"}}
J
"$plan" "$tmp/scenario.json" >"$tmp/plan.log" 2>&1 || fail "asteroid-plan: $(cat "$tmp/plan.log")"
"$sim" "$tmp/scenario.json" -o "$tmp/sim" >"$tmp/sim.log" 2>&1 || fail "asteroid-sim: $(cat "$tmp/sim.log")"
$py "$imp" "$src/examples/tiny_vit.py:TinyViT" --args '{"depth": 1}' --input-shape 3x32x32 --name other \
  -o "$tmp/other" >/dev/null 2>&1 || fail "import of a second model"
sed 's/"archive": "tiny_vit"/"archive": "other"/' "$tmp/scenario.json" >"$tmp/other.json"
expect_error "scenario: archive of another model" "model.archive: the archive is model \"other\"" "$plan" "$tmp/other.json"
sed 's/"archive": "tiny_vit"/"archive": "nowhere"/' "$tmp/scenario.json" >"$tmp/nowhere.json"
expect_error "scenario: no archive" "no such model archive folder" "$plan" "$tmp/nowhere.json"

# 4. Trained through the TorchScript layers: three plans, one update.
n=$($py -c "import json; print(len(json.load(open('$tmp/tiny_vit/model.json'))['layers']))")
last=$((n - 1)); mid=$((n / 2))
cat >"$tmp/one.json" <<J
{"microbatch_size": 16, "microbatches": 1, "stages": [{"layers": [0, $last], "devices": ["cpu0"]}]}
J
cat >"$tmp/pipe.json" <<J
{"microbatch_size": 4, "microbatches": 4,
 "stages": [{"layers": [0, $((mid - 1))], "devices": ["cpu0", "cpu1"], "shares": [1, 3]},
            {"layers": [$mid, $last], "devices": ["cpu2", "cpu3"], "shares": [2, 2]}]}
J
cat >"$tmp/dp.json" <<J
{"microbatch_size": 8, "microbatches": 2, "stages": [{"layers": [0, $last], "devices": ["cpu0", "cpu1"], "shares": [3, 5]}]}
J
for p in one pipe dp; do
  "$exe" "$tmp/scenario.json" --plan "$tmp/$p.json" --rounds 3 --timeout 120 --token-file "$tmp/token" -o "$tmp/$p" \
    >"$tmp/$p.log" 2>&1 || fail "asteroid-exec with plan $p: $(tail -5 "$tmp/$p.log")"
done
$py - "$tmp" <<'PY' || fail "losses"
import json, sys
d = sys.argv[1]
loss = {p: [x["loss"] for x in json.load(open(f"{d}/{p}/report.json"))["rounds"]] for p in ("one", "pipe", "dp")}
print("losses per round:", loss)
for p in ("pipe", "dp"):
    for a, b in zip(loss["one"], loss[p]):
        assert abs(a - b) <= 1e-3 * abs(a), f"plan {p}: loss {b} against one device's {a}"
assert loss["one"][2] < loss["one"][0], "the loss did not fall"
PY

# 5. Recovery as for the built-in models: a worker leaves, the plan is repaired, its stage's copy
# is loaded and the interrupted round replayed; the run trains exactly as the run without the leave.
$py - "$tmp/scenario.json" "$tmp" <<'PY' || fail "writing the failure scenarios"
import json, sys
s = json.load(open(sys.argv[1]))
s["traces"] = {"local_cpu": sys.argv[2] + "/local_cpu.json"}
s["model"]["archive"] = sys.argv[2] + "/tiny_vit"
json.dump(s, open(sys.argv[2] + "/whole.json", "w"))
s["faults"] = {"heartbeat_interval": "0.5s", "missed_heartbeats": 3, "replication_interval_rounds": 1,
               "recovery": "lightweight", "events": [{"at": "1s", "device": "cpu3", "kind": "leave"}]}
json.dump(s, open(sys.argv[2] + "/fail.json", "w"))
PY
for r in whole fail; do
  "$exe" "$tmp/$r.json" --plan "$tmp/pipe.json" --rounds 60 --timeout 180 --token-file "$tmp/token" -o "$tmp/run_$r" \
    >"$tmp/run_$r.log" 2>&1 || fail "the run $r: $(tail -5 "$tmp/run_$r.log")"
done
$py - "$tmp/run_fail/report.json" "$tmp/run_whole/report.json" <<'PY' || fail "the run with a leave"
import json, sys
r, w = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
kinds = [e["kind"] for e in r["events"]]
assert "failure" in kinds and "replay" in kinds and "resume" in kinds, kinds
assert [x["round"] for x in r["rounds"]] == list(range(60)), [x["round"] for x in r["rounds"]]
a, b = [x["loss"] for x in r["rounds"]], [x["loss"] for x in w["rounds"]]
for x, y in zip(a, b):
    assert abs(x - y) <= 1e-3 * abs(y), f"loss {x} with the leave, {y} without: trained state was lost"
print("recovered from the leave; losses as without it, last", a[-1])
PY

# 6. A changed layer file is refused before training.
printf 'x' >>"$tmp/tiny_vit/layers/000.pt"
"$exe" "$tmp/scenario.json" --plan "$tmp/one.json" --rounds 1 --timeout 60 --token-file "$tmp/token" -o "$tmp/bad" \
  >"$tmp/bad.log" 2>&1 && fail "a changed layer file was trained"
grep -q "SHA-256" "$tmp/bad.log" || fail "changed layer file: no reason given: $(tail -3 "$tmp/bad.log")"

# 7. Fine-tuning set-ups are planned and simulated only: asteroid-exec refuses them in one line.
sed 's/"optimizer": "adam"}/"optimizer": "adam", "fine_tuning": {"frozen_prefix": 2}}/' "$tmp/scenario.json" >"$tmp/frozen.json"
"$plan" "$tmp/frozen.json" >/dev/null 2>&1 || fail "a frozen prefix does not plan"
expect_error "exec: fine-tuning" "training.fine_tuning: asteroid-exec trains every layer in full" "$exe" "$tmp/frozen.json" --rounds 1

finish "import"
