#!/bin/sh
# The derived Jetson traces are what the calibration tool makes of the committed layer lists and
# measurements, and they meet the targets: TX2 and Nano epoch times within 10% of Table 1, NX/Nano in
# range; their fixed cost per op is the measured one (asteroid-profile --dispatch), not a fitted one.
# Usage: calibration_test.sh SOURCE_DIR
set -u
src="$1"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 "$src/tools/calibrate/calibrate_jetson.py" --models-dir "$src/traces/models" \
  --out-dir "$tmp" --report "$tmp/fit_report.md" --no-sensitivity >"$tmp/log" 2>&1 || {
  cat "$tmp/log"; echo "FAIL: the calibration tool did not run"; exit 1; }
fails=0
for dev in jetson_nano jetson_tx2 jetson_xavier_nx; do
  for f in "$src/traces/$dev"/*.json; do
    [ "$(basename "$f")" = power.json ] && continue  # the power model, not a trace (docs/formats.md)
    # The date in the provenance is the only field allowed to differ.
    if ! /usr/bin/python3 - "$f" "$tmp/$dev/$(basename "$f")" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for t in (a, b):
    t["provenance"].pop("date", None)
def same(x, y):  # numbers are written to 6 significant digits: allow a unit in the last place
    if isinstance(x, float) or isinstance(y, float):
        return isinstance(x, (int, float)) and isinstance(y, (int, float)) and abs(x - y) <= 1e-5 * max(abs(x), abs(y), 1e-300)
    if isinstance(x, dict):
        return isinstance(y, dict) and x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
    if isinstance(x, list):
        return isinstance(y, list) and len(x) == len(y) and all(same(p, q) for p, q in zip(x, y))
    return x == y
sys.exit(0 if same(a, b) else 1)
PY
    then echo "FAIL: traces/$dev/$(basename "$f") differs from what the tool makes now"; fails=$((fails + 1)); fi
  done
done
grep "^Missed:" "$tmp/fit_report.md" | grep -vq "^Missed: none" && { echo "FAIL: targets missed:"; sed -n '/Missed/,$p' "$tmp/fit_report.md"; fails=$((fails + 1)); }
/usr/bin/python3 - "$tmp/fit_report.md" <<'PY' || fails=$((fails + 1))
import re, sys
text = open(sys.argv[1]).read()
errors = [float(x) for x in re.findall(r"\| (?:TX2|Nano) \| [^|]+\| [^|]+\| ([+-][0-9.]+)%", text)]
if len(errors) != 6 or any(abs(e) > 10 for e in errors):
    print("FAIL: Table 1 fit errors", errors); sys.exit(1)
print("Table 1 fit errors (%):", errors)
PY
/usr/bin/python3 - "$src" <<'PY' || fails=$((fails + 1))
import glob, json, os, sys
src = sys.argv[1]
measured = json.load(open(os.path.join(src, "tools/calibrate/dispatch_local_cpu.json")))["training_s_per_op"]
for f in sorted(f for f in glob.glob(os.path.join(src, "traces/jetson_*/*.json")) if not f.endswith(("/power.json", "/device.json"))):
    prov = json.load(open(f))["provenance"]
    fc = prov.get("fixed_cost", {})
    expect = fc.get("scale", 0) * fc.get("r", 0) * (fc.get("dispatch_s", 0) + fc.get("kernels_per_op", 0) * fc.get("launch_s", 0))
    if fc.get("dispatch_s") != measured or abs(fc.get("per_op_s", 0) - expect) > 1e-3 * expect:
        print(f"FAIL: {f}: fixed cost is not the measured dispatch scaled ({fc})"); sys.exit(1)
    if any("overhead" in k or "per_op" in k for k in prov.get("fitted_factors", {})):
        print(f"FAIL: {f}: a fixed cost among the fitted factors"); sys.exit(1)
print("fixed cost per op: measured", measured, "s, scaled per board")
PY
# The other power modes' traces (traces/<type>/modes/<mode>/) are what the mode tool makes now.
/usr/bin/python3 "$src/tools/calibrate/derive_mode_traces.py" --out-dir "$src/traces" --check || {
  echo "FAIL: the power modes' traces differ from what tools/calibrate/derive_mode_traces.py makes"; fails=$((fails + 1)); }
[ "$fails" -eq 0 ] && echo "calibration: traces reproducible, targets met"
exit $fails
