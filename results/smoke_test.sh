#!/bin/sh
# Runs every results script on one small case (make_all.sh --smoke) into a temporary directory and
# checks that the files each one promises exist and are not empty. Needs asteroid-plan,
# asteroid-compare, bench_planner, asteroid-sim and asteroid-exec in the build directory: a missing
# binary is a failure.
# Usage: results/smoke_test.sh [BUILD_DIR]   (default: $ASTEROID_BUILD, else <repo>/build)
set -u
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -ge 1 ]; then ASTEROID_BUILD=$1; fi
ASTEROID_BUILD=${ASTEROID_BUILD:-$(dirname "$here")/build}
export ASTEROID_BUILD

fail=0
for b in core/asteroid-plan core/asteroid-compare tests/core/bench_planner sim/asteroid-sim exec/asteroid-exec; do
  if [ ! -x "$ASTEROID_BUILD/$b" ]; then
    echo "smoke_test: $ASTEROID_BUILD/$b is missing (build it first)" >&2
    fail=1
  fi
done
[ $fail -eq 0 ] || exit 1

tmp=$(mktemp -d "${TMPDIR:-/tmp}/asteroid-results-smoke.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
if ! "$here/make_all.sh" "$tmp" --smoke; then
  echo "smoke_test: make_all.sh --smoke failed" >&2
  fail=1
fi

for f in \
  table4/table4.csv table4/table4.md table4/throughput_all.csv table4/speedup.png table4/summary.md \
  assumptions/assumptions.csv assumptions/assumptions.md assumptions/summary.md \
  fig12/configurations.csv fig12/configurations.md fig12/summary.md \
  fig13/fig13.csv fig13/fig13.md fig13/fig13.png fig13/summary.md \
  fig14/fig14.csv fig14/fig14.md fig14/fig14.png fig14/summary.md fig14/training/mobilenetv2/report.json \
  fig17/recovery.csv fig17/recovery.md fig17/fig17.png fig17/summary.md \
  failure_sweep/sweep.csv failure_sweep/sweep.md failure_sweep/summary.md \
  kill_trials/trials.csv kill_trials/trials.md \
  planning_time/bench_planner.csv planning_time/scenarios.csv planning_time/planning_time.md \
  planning_time/planning_time.png planning_time/summary.md \
  whatif/bandwidth.csv whatif/devices.csv whatif/bandwidth.png whatif/devices.png whatif/whatif.md \
  whatif/summary.md \
  battery/battery.csv battery/departures.csv battery/battery.md battery/summary.md \
  crosscheck/crosscheck.csv crosscheck/crosscheck.md crosscheck/crosscheck.png crosscheck/summary.md \
  crosscheck_envs/envs.csv crosscheck_envs/envs.md crosscheck_envs/summary.md crosscheck_envs/failure.md \
  memory/memory.csv memory/memory.md memory/summary.md memory_runtime/memory_runtime.md memory_runtime/summary.md fit/fit.csv fit/fit.md fit/summary.md \
  energy_tradeoff/points.csv energy_tradeoff/front.csv energy_tradeoff/tradeoff.csv energy_tradeoff/tradeoff.md \
  energy_tradeoff/tradeoff.png energy_tradeoff/summary.md \
  README.md timings.csv; do
  if [ ! -s "$tmp/$f" ]; then
    echo "smoke_test: $f is missing or empty" >&2
    fail=1
  fi
done
if ! ls "$tmp"/fig12/config_*.png >/dev/null 2>&1; then
  echo "smoke_test: fig12/config_*.png missing" >&2
  fail=1
fi
# Simulated columns must be filled in when the simulator ran.
if ! grep -q "asteroid-sim" "$tmp/table4/table4.md"; then
  echo "smoke_test: table4.md has no simulated throughput" >&2
  fail=1
fi
if grep -q "not generated" "$tmp/README.md"; then
  echo "smoke_test: README.md misses a generated part" >&2
  fail=1
fi
[ $fail -eq 0 ] && echo "smoke_test: all results scripts ran end to end" >&2
exit $fail
