#!/bin/sh
# Devices from their datasheet (tools/calibrate/derive_traces.py): the committed traces of every
# traces/<type>/device.json are what the tool makes now, and a bad datasheet or layer description is
# refused in one line naming the file, with exit status 2.
# Usage: datasheet_test.sh SOURCE_DIR
set -u
src="$1"
tool="$src/tools/calibrate/derive_traces.py"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fails=0
for ds in "$src"/traces/*/device.json; do
  type=$(basename "$(dirname "$ds")")
  if ! /usr/bin/python3 "$tool" --device "$ds" -o "$tmp/out" 2>"$tmp/log"; then
    cat "$tmp/log"; echo "FAIL: derive_traces.py did not run on traces/$type/device.json"; fails=$((fails + 1)); continue
  fi
  for f in "$tmp/out/$type"/*.json; do
    [ -e "$src/traces/$type/$(basename "$f")" ] || { echo "FAIL: traces/$type/$(basename "$f") is not committed"; fails=$((fails + 1)); }
  done
  for f in "$src/traces/$type"/*.json; do
    case $(basename "$f") in device.json|power.json) continue ;; esac
    # The date in the provenance is the only field allowed to differ; numbers within 1e-4 relative:
    # the fits stop within about 1e-5 of their optimum (derive_traces.py, the BLAS threads note).
    if ! /usr/bin/python3 - "$f" "$tmp/out/$type/$(basename "$f")" <<'PY'
import json, os, sys
if not os.path.exists(sys.argv[2]):
    sys.exit(1)
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for t in (a, b):
    t["provenance"].pop("date", None)
def same(x, y, rounded=False):
    # fit_error is printed to 4 decimals: a fit that moved by 1e-5 may flip its last digit.
    if isinstance(x, float) or isinstance(y, float):
        tol = 1.5e-4 if rounded else 1e-4 * max(abs(x), abs(y), 1e-300)
        return isinstance(x, (int, float)) and isinstance(y, (int, float)) and abs(x - y) <= tol
    if isinstance(x, dict):
        return isinstance(y, dict) and x.keys() == y.keys() and all(same(x[k], y[k], rounded or k == "fit_error") for k in x)
    if isinstance(x, list):
        return isinstance(y, list) and len(x) == len(y) and all(same(p, q, rounded) for p, q in zip(x, y))
    return x == y
sys.exit(0 if same(a, b) else 1)
PY
    then echo "FAIL: traces/$type/$(basename "$f") differs from what derive_traces.py makes now"; fails=$((fails + 1)); fi
  done
done

# Refusals: one line naming the file and the field, exit status 2.
/usr/bin/python3 - "$src/traces/raspberry_pi_5/device.json" "$tmp" <<'PY'
import copy, json, sys
base, d = json.load(open(sys.argv[1])), sys.argv[2]
def bad(name, f):
    x = copy.deepcopy(base); f(x); json.dump(x, open(f"{d}/{name}.json", "w"))
bad("no_unit", lambda x: x["memory"]["bandwidth"].__setitem__("value", 17.07))
bad("unknown_unit", lambda x: x["memory"]["bandwidth"].__setitem__("value", "17GB/s"))
bad("unknown_field", lambda x: x["cpu"].__setitem__("turbo", "3GHz"))
bad("negative", lambda x: x["cpu"]["clock"].__setitem__("value", "-2.4GHz"))
bad("missing_field", lambda x: x["memory"].pop("bandwidth"))
bad("no_source", lambda x: x["cpu"]["clock"].pop("source"))
bad("unknown_source", lambda x: x["cpu"]["clock"].__setitem__("source", "nope"))
bad("no_cpu_peak", lambda x: x["cpu"].pop("fp32_peak"))
bad("bad_range", lambda x: x["cpu"]["clock"].__setitem__("range", ["2.5GHz", "3GHz"]))
open(f"{d}/not_json.json", "w").write("{")
json.dump({"schema_version": 1, "model": "m", "layers": [{"name": "a", "param_bytes": -1}]}, open(f"{d}/desc_negative.json", "w"))
json.dump({"schema_version": 1, "model": "m", "layers": [{"name": "a", "param_bytes": 4, "flops": 1}]}, open(f"{d}/desc_unknown.json", "w"))
PY
refused() {  # refused LABEL FILE-NAMED ARGS...
  label=$1; named=$2; shift 2
  /usr/bin/python3 "$tool" "$@" -o "$tmp/refused" >"$tmp/out.txt" 2>"$tmp/err.txt"; rc=$?
  lines=$(wc -l <"$tmp/err.txt")
  if [ $rc -ne 2 ] || [ "$lines" -ne 1 ] || ! grep -q "^$named: " "$tmp/err.txt"; then
    echo "FAIL: $label: exit $rc, $lines line(s) on stderr (want 2, one line starting with $named):"; cat "$tmp/err.txt"
    fails=$((fails + 1))
  else
    echo "refused ($label): $(cat "$tmp/err.txt")"
  fi
}
for c in no_unit unknown_unit unknown_field negative missing_field no_source unknown_source no_cpu_peak bad_range not_json; do
  refused "$c" "$tmp/$c.json" --device "$tmp/$c.json"
done
refused unreadable "$tmp/absent.json" --device "$tmp/absent.json"
refused desc_negative "$tmp/desc_negative.json" --device "$src/traces/raspberry_pi_5/device.json" --model-desc "$tmp/desc_negative.json"
refused desc_unknown "$tmp/desc_unknown.json" --device "$src/traces/raspberry_pi_5/device.json" --model-desc "$tmp/desc_unknown.json"
[ -e "$tmp/refused" ] && { echo "FAIL: a refused input wrote something"; fails=$((fails + 1)); }
[ "$fails" -eq 0 ] && echo "datasheet: derived traces reproducible, bad input refused"
exit $fails
