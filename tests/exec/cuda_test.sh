#!/bin/sh
# Stages on a CUDA device (asteroid-exec --accelerator, a device's "accelerator" in the scenario).
# Everywhere: asking for CUDA where this libtorch sees none is refused with one line (exit status 2)
# before any round; a scenario's bad accelerator is refused as bad input. With a CUDA device: a
# 2-stage pipeline and a data-parallel group of bert_small train 3 rounds on CUDA (and a pipeline
# with one stage on CUDA, one on the CPU) to the CPU run's losses within 1e-4; the report counts
# the copies through host memory; the mean time of each instruction kind, CPU against CUDA, is
# printed. SKIPPED (exit status 77) after the refusal check where there is no CUDA device.
# Usage: cuda_test.sh PATH/TO/asteroid-exec SOURCE_DIR
set -u
exe="$1"; src="$2"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$src/tests/cli_checks.sh"

scenario="$src/scenarios/local_bert_small_2dev.json"
cat >"$tmp/pipe.json" <<'J'
{"microbatch_size": 4, "microbatches": 4,
 "stages": [{"layers": [0, 2], "devices": ["cpu0"]}, {"layers": [3, 5], "devices": ["cpu1"]}]}
J
cat >"$tmp/dp.json" <<'J'
{"microbatch_size": 8, "microbatches": 2, "stages": [{"layers": [0, 5], "devices": ["cpu0", "cpu1"], "shares": [3, 5]}]}
J
run() {  # run NAME PLAN [ARGS...]: 3 rounds into $tmp/NAME
  name="$1"; plan="$2"; shift 2
  "$exe" "${scn:-$scenario}" --plan "$tmp/$plan.json" --rounds 3 --timeout 300 --token-file "$tmp/token" \
    -o "$tmp/$name" "$@" >"$tmp/$name.log" 2>"$tmp/$name.err"
}

with_accelerator() {  # with_accelerator OUT NAME: the scenario, its first device on NAME
  /usr/bin/python3 - "$scenario" "$1" "$2" <<'PY'
import json, os, sys
s = json.load(open(sys.argv[1]))
s["cluster"]["devices"][0]["accelerator"] = sys.argv[3]
s["traces"] = {k: os.path.join(os.path.dirname(sys.argv[1]), v) for k, v in s["traces"].items()}
json.dump(s, open(sys.argv[2], "w"))
PY
}

# A scenario whose device names a bad accelerator: bad input.
with_accelerator "$tmp/bad.json" tpu
expect_error "a bad accelerator in the scenario" 'cluster.devices\[0\].accelerator: expected "cpu", "cuda" or "cuda:N"' \
  "$exe" "$tmp/bad.json" --plan "$tmp/pipe.json" --token-file "$tmp/token" -o "$tmp/bad"
expect_error "a bad --accelerator" "--accelerator: expected cpu, cuda or cuda:N" \
  "$exe" "$scenario" --accelerator gpu --token-file "$tmp/token" -o "$tmp/bad"

run cuda pipe --accelerator cuda; rc=$?
if grep -q "sees no CUDA device" "$tmp/cuda.err"; then
  [ "$rc" -eq 2 ] || fail "CUDA asked for where there is none: exit status $rc, expected 2"
  [ "$(wc -l <"$tmp/cuda.err")" -eq 1 ] || fail "CUDA asked for where there is none: $(cat "$tmp/cuda.err")"
  grep -q "^rounds committed [1-9]" "$tmp/cuda.log" && fail "a refused job trained: $(cat "$tmp/cuda.log")"
  [ "$fails" -eq 0 ] || finish "cuda"
  echo "refusal checked; SKIPPED: $(cat "$tmp/cuda.err")"
  exit 77
fi
[ "$rc" -eq 0 ] || fail "the pipeline on CUDA: $(cat "$tmp/cuda.log" "$tmp/cuda.err")"
run cpu pipe || fail "the pipeline on the CPU: $(cat "$tmp/cpu.log" "$tmp/cpu.err")"
run cuda_dp dp --accelerator cuda || fail "the data-parallel group on CUDA: $(cat "$tmp/cuda_dp.err")"
run cpu_dp dp || fail "the data-parallel group on the CPU: $(cat "$tmp/cpu_dp.err")"
with_accelerator "$tmp/mixed.json" cuda
scn="$tmp/mixed.json" run mixed pipe || fail "stage 0 on CUDA, stage 1 on the CPU: $(cat "$tmp/mixed.err")"
/usr/bin/python3 - "$tmp" <<'PY' || fail "losses, copies or times"
import json, sys
from collections import defaultdict
d = sys.argv[1]
rep = {n: json.load(open(f"{d}/{n}/report.json")) for n in ("cpu", "cuda", "cpu_dp", "cuda_dp", "mixed")}
loss = {n: [x["loss"] for x in r["rounds"]] for n, r in rep.items()}
print("losses per round:", loss)
for gpu, cpu in (("cuda", "cpu"), ("cuda_dp", "cpu_dp"), ("mixed", "cpu")):
    assert len(loss[gpu]) == 3, (gpu, loss[gpu])
    for a, b in zip(loss[cpu], loss[gpu]):
        assert abs(a - b) <= 1e-4, f"{gpu}: loss {b} against the CPU's {a}"
    h = rep[gpu].get("host_copies")
    assert h and h["copies"] > 0 and h["bytes"] > 0, f"{gpu}: no copies counted: {h}"
    print(f"{gpu}: {h['copies']} copies through host memory, {h['bytes'] / 1e6:.1f} MB in {h['seconds']:.4f} s")
assert "host_copies" not in rep["cpu"], "a CPU run counted copies"
for n in ("cpu", "cuda"):
    per = defaultdict(list)
    for s in rep[n]["spans"]:
        per[(s["device"], s["op"])].append(s["end_s"] - s["start_s"])
    print(n + ":", ", ".join(f"{dev} {op} {1e3 * sum(v) / len(v):.2f} ms" for (dev, op), v in sorted(per.items())))
PY
finish "cuda"
