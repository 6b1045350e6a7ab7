#!/bin/sh
# The input path's cost: samples per second of one worker training on Fashion-MNIST (reading its
# rows, padding, normalising, random crop and flip: all inside the round) against the same worker on
# the synthetic input (one fixed batch in memory), same model, plan and batch. Runs alternate
# (synthetic, real, synthetic, real, ...) so that the machine's load falls on both alike; each
# run's rate is its median round (round 0 warms up and is left out). Prints both rates, the
# overhead, and the target (at most 5% slower). A benchmark, not a test: it never fails on the
# figure.
# Usage: tools/bench_input.sh [BUILD_DIR] [MODEL] [ROUNDS] [PAIRS]
#        (defaults: build, mobilenetv2, 30, 3; MODEL is lenet5, mobilenetv2 or efficientnet_b1)
set -eu
build=${1:-build}; model=${2:-mobilenetv2}; rounds=${3:-30}; pairs=${4:-3}
src=$(cd "$(dirname "$0")/.." && pwd)
exe="$build/exec/asteroid-exec"
[ -x "$exe" ] || { echo "bench_input: $exe not built" >&2; exit 2; }
case $model in
  lenet5) scenario="$src/scenarios/local_lenet5_4dev.json"; last=4 ;;
  mobilenetv2) scenario="$src/scenarios/local_mobilenetv2_2dev.json"; last=19 ;;
  efficientnet_b1) scenario="$src/scenarios/local_efficientnet_b1_2dev.json"; last=25 ;;
  *) echo "bench_input: unknown model $model" >&2; exit 2 ;;
esac
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo "{\"microbatch_size\": 32, \"microbatches\": 1, \"stages\": [{\"layers\": [0, $last], \"devices\": [\"cpu0\"]}]}" >"$tmp/one.json"
i=0
while [ $i -lt "$pairs" ]; do
  for data in synthetic fashion-mnist; do
    extra=""; [ $data = fashion-mnist ] && extra="--augment"
    "$exe" "$scenario" --plan "$tmp/one.json" --rounds "$rounds" --data $data $extra --token-file "$tmp/token" \
      -o "$tmp/$data.$i" >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; exit 1; }
  done
  i=$((i + 1))
done
/usr/bin/python3 - "$tmp" "$pairs" "$model" <<'PY'
import json, statistics, sys
d, pairs, model = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def rates(data):
    out = []
    for i in range(pairs):
        r = json.load(open(f"{d}/{data}.{i}/report.json"))
        times = [x["end_s"] - x["start_s"] for x in r["rounds"][1:]]
        out.append(r["rounds"][0]["samples"] / statistics.median(times))
    return out
syn, real = rates("synthetic"), rates("fashion-mnist")
s, f = statistics.median(syn), statistics.median(real)
over = 100 * (s - f) / s
print(f"{model}, batch 32, one worker: synthetic {s:.1f} samples/s (runs {', '.join(f'{x:.1f}' for x in syn)}), "
      f"Fashion-MNIST with crop and flip {f:.1f} samples/s (runs {', '.join(f'{x:.1f}' for x in real)})")
print(f"input path overhead: {over:+.2f}% (target: at most 5%) -> {'within' if over <= 5 else 'OVER'} the target")
PY
