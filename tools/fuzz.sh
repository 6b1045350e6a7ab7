#!/bin/sh
# Runs the libFuzzer targets of tests/fuzz (scenario, trace, plan and RunReport readers, and the
# control protocol's frames asteroid-exec decodes from the network; built with
# clang, ASan and UBSan) and prints, per target, the executions reached, the corpus size and whether
# anything crashed or a sanitizer reported. Exit status 1 when a target found a crash (its input is
# kept under BUILD/crashes/), 77 when the fuzzers cannot be built here (no clang).
#
# Usage: tools/fuzz.sh [--build DIR] [--seconds N | --runs N] [--jobs N] [TARGET...]
#   --build DIR   the fuzz build directory (default build/fuzz; configured and built when missing)
#   --seconds N   how long each target runs (default 60)
#   --runs N      stop each target after N executions instead (e.g. 1000000)
#   TARGET        scenario, trace, plan, report, message (default: all)
# Seeds: scenarios/ (scenario), traces/ (trace), tests/fuzz/seeds/plan (plan), the reports under
# results/ (report), one frame of every message type (message). What a run adds to a corpus stays in
# DIR/corpus/<target>/ for the next run.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
build=$here/build/fuzz
seconds=60
runs=
targets=
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets="$targets $1"; shift ;;
  esac
done
[ -n "$targets" ] || targets="scenario trace plan report message"

missing=
for t in $targets; do [ -x "$build/fuzz_$t" ] || missing=yes; done
if [ -n "$missing" ]; then  # (make test builds them first, through the main build)
  if [ ! -f "$build/build.ninja" ]; then
    clangxx=$(command -v clang++ || command -v clang++-14 || true)
    if [ -z "$clangxx" ]; then
      echo "SKIPPED: no clang++ to build the fuzzers (tools/install-deps.sh installs clang)"
      exit 77
    fi
    cmake -S "$here/tests/fuzz" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="$clangxx" \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DASTEROID_SOURCE_DIR="$here" >/dev/null || exit 2
  fi
  cmake --build "$build" -j "${ASTEROID_JOBS:-2}" >/dev/null || exit 2
fi

seeds() {  # the seed directory of target $1
  case $1 in
    scenario) echo "$here/scenarios" ;;
    trace) echo "$here/traces" ;;
    plan) echo "$here/tests/fuzz/seeds/plan" ;;
    message)  # one frame of every message type, written by the target itself
      d=$build/seeds/message
      [ -d "$d" ] || ASTEROID_FUZZ_WRITE_SEEDS=$d "$build/fuzz_message" >/dev/null 2>&1
      echo "$d" ;;
    report)
      d=$build/seeds/report
      if [ ! -d "$d" ]; then
        mkdir -p "$d"
        i=0
        find "$here/results" -name '*report*.json' | sort | while read -r f; do
          i=$((i + 1)); cp "$f" "$d/$i.json"
        done
      fi
      echo "$d" ;;
  esac
}
max_len() {
  case $1 in trace) echo 65536 ;; report) echo 131072 ;; *) echo 16384 ;; esac
}

status=0
for t in $targets; do
  bin=$build/fuzz_$t
  if [ ! -x "$bin" ]; then echo "fuzz.sh: no target $t ($bin)" >&2; exit 2; fi
  corpus=$build/corpus/$t
  crashes=$build/crashes/$t
  rm -rf "$crashes"
  mkdir -p "$corpus" "$crashes"
  log=$build/fuzz_$t.log
  if [ -n "$runs" ]; then limit="-runs=$runs"; else limit="-max_total_time=$seconds"; fi
  # -timeout: an input that takes 10 s is a hang; -rss_limit_mb: one that needs 2 GB is a failure.
  "$bin" "$limit" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$crashes/" "$corpus" "$(seeds "$t")" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  units=$(ls "$corpus" | wc -l)
  found=$(ls "$crashes" | wc -l)
  reports=$(grep -c 'ERROR: AddressSanitizer\|runtime error:\|ERROR: libFuzzer' "$log")
  echo "fuzz $t: ${execs:-?} executions (${rate:-?}/s), corpus $units inputs, $found crash inputs, $reports sanitizer reports (log: $log)"
  if [ $rc -ne 0 ] || [ "$found" -ne 0 ] || [ "$reports" -ne 0 ]; then
    grep -m 5 'ERROR\|runtime error\|SUMMARY' "$log"
    status=1
  fi
done
exit $status
