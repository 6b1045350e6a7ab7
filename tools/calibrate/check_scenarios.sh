#!/bin/sh
# Plans every scenario with asteroid-plan; exits 1 if any does not plan.
# Usage: check_scenarios.sh ASTEROID_PLAN [SCENARIO_DIR] [--allow-missing-traces]
#   SCENARIO_DIR defaults to scenarios/ next to tools/.
#   --allow-missing-traces: a scenario whose trace file does not exist yet (e.g. a local_cpu trace
#   still to be profiled) is reported as SKIP instead of failing.
set -u
if [ $# -lt 1 ]; then
  echo "usage: $0 ASTEROID_PLAN [SCENARIO_DIR] [--allow-missing-traces]" >&2
  exit 2
fi
plan=$1; shift
dir=$(dirname "$0")/../../scenarios
allow_missing=0
for a in "$@"; do
  case $a in
    --allow-missing-traces) allow_missing=1 ;;
    *) dir=$a ;;
  esac
done
if [ ! -x "$plan" ]; then echo "$0: $plan is not an executable" >&2; exit 2; fi
ok=0; bad=0; skip=0
for f in "$dir"/*.json; do
  [ -e "$f" ] || { echo "$0: no scenarios in $dir" >&2; exit 2; }
  if out=$("$plan" "$f" 2>&1); then
    echo "ok    $(basename "$f"): $(echo "$out" | grep -m1 'round latency')"
    ok=$((ok + 1))
  elif [ $allow_missing -eq 1 ] && echo "$out" | grep -q 'cannot open file'; then
    echo "SKIP  $(basename "$f"): $(echo "$out" | head -n1)"
    skip=$((skip + 1))
  else
    echo "FAIL  $(basename "$f"): $(echo "$out" | head -n3)"
    bad=$((bad + 1))
  fi
done
echo "$ok planned, $bad failed, $skip skipped"
[ $bad -eq 0 ]
