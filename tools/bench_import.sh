#!/bin/sh
# The cost of an imported model, against issue targets: (1) importing torchvision's ResNet50 (target
# under 30 s; the minimum of 3 imports); (2) a training step through its TorchScript layers against
# the built-in resnet50 (the same network: same layers, same description) in the same program,
# asteroid-profile, one thread, alternated runs (built-in, imported, built-in, ...) so that the
# machine's load falls on both alike; each run's figure is its median step, the medians of the runs
# are compared (target: imported within 5%). A benchmark, not a test: it never fails on a figure.
# Usage: tools/bench_import.sh [BUILD_DIR] [PAIRS] [BATCH]   (defaults: build, 3, 4)
set -eu
build=${1:-build}; pairs=${2:-3}; batch=${3:-4}
src=$(cd "$(dirname "$0")/.." && pwd)
profile="$build/exec/asteroid-profile"
[ -x "$profile" ] || { echo "bench_import: $profile not built" >&2; exit 2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
py=/usr/bin/python3

$py - "$src" "$tmp" <<'PY'
import subprocess, sys, time
src, tmp = sys.argv[1], sys.argv[2]
times = []
for i in range(3):
    t0 = time.monotonic()
    subprocess.run(["/usr/bin/python3", f"{src}/tools/import_model/import_model.py", "torchvision:resnet50",
                    "--num-classes", "100", "-o", f"{tmp}/tv_resnet50", "--force"], check=True, stdout=subprocess.DEVNULL)
    times.append(time.monotonic() - t0)
print(f"import of torchvision:resnet50: {min(times):.1f} s (best of 3: {', '.join(f'{t:.1f}' for t in times)})"
      "   target: under 30 s")
PY

export OPENBLAS_NUM_THREADS=1
for i in $(seq 1 "$pairs"); do
  "$profile" --model resnet50 --batch-sizes "$batch" --repeats 5 --warmup 1 -o "$tmp/builtin$i.json" 2>/dev/null
  "$profile" --archive "$tmp/tv_resnet50" --batch-sizes "$batch" --repeats 5 --warmup 1 -o "$tmp/imported$i.json" 2>/dev/null
  echo "pair $i of $pairs measured"
done
$py - "$tmp" "$pairs" "$batch" <<'PY'
import json, statistics, sys, glob
d, pairs, batch = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def steps(kind):
    return [json.load(open(f"{d}/{kind}{i}.json"))["provenance"]["whole_model_step_s"][0] for i in range(1, pairs + 1)]
b, m = steps("builtin"), steps("imported")
mb, mm = statistics.median(b), statistics.median(m)
print(f"training step, resnet50 at batch {batch}, one thread (median of {pairs} runs, each the median of 5 steps):")
print(f"  built-in modules   {mb * 1e3:9.1f} ms   runs: {', '.join(f'{x * 1e3:.1f}' for x in b)}")
print(f"  TorchScript layers {mm * 1e3:9.1f} ms   runs: {', '.join(f'{x * 1e3:.1f}' for x in m)}")
print(f"  imported / built-in: {mm / mb:.3f} of the medians, {min(m) / min(b):.3f} of the fastest runs   (target: at most 1.05)")
PY
