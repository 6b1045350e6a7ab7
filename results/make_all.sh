#!/bin/sh
# Regenerates every table and figure of results/ from the binaries, then results/README.md.
# Usage: results/make_all.sh [OUTDIR] [--smoke]
#   OUTDIR   output root (default: this directory); each script writes OUTDIR/<its name>/
#   --smoke  one small case per script (what smoke_test.sh runs)
# Environment: ASTEROID_BUILD (build directory, default <repo>/build), ASTEROID_JOBS.
# A script that fails does not stop the others; the exit status is 1 if any failed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
out=$here
smoke=
for a in "$@"; do
  case $a in
    --smoke) smoke=--smoke ;;
    -*) echo "make_all.sh: unknown option $a" >&2; exit 2 ;;
    *) out=$a ;;
  esac
done
mkdir -p "$out" || exit 2
out=$(cd "$out" && pwd)
PY=/usr/bin/python3
export MPLBACKEND=Agg PYTHONDONTWRITEBYTECODE=1

timings="$out/timings.csv"
echo "script,status,seconds" > "$timings"
failed=0
t_all=$(date +%s)
for script in table4 assumptions fig12 fig13 fig14 fig17 failure_sweep kill_trials import_breadth planning_time whatif battery crosscheck crosscheck_envs memory memory_runtime fit energy_tradeoff; do
  echo "== $script" >&2
  t0=$(date +%s)
  if "$PY" "$here/$script.py" "$out" $smoke; then status=ok; else status=FAILED; failed=1; fi
  t1=$(date +%s)
  echo "$script,$status,$((t1 - t0))" >> "$timings"
  echo "   $status in $((t1 - t0)) s" >&2
done
"$PY" "$here/render_readme.py" "$out" || failed=1
echo "== all done in $(( $(date +%s) - t_all )) s; README: $out/README.md" >&2
exit $failed
