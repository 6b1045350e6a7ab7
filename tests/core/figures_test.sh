#!/bin/sh
# Pictures of a user's own scenario: results/fig12.py (the plan), results/fig13.py (every strategy)
# and results/whatif.py (bandwidth and device sweeps) with --scenario on README's three boards,
# into a folder of the user's. Each promised file must exist, and each figure's title (the PNG's
# Title, as drawn) must name the scenario and its devices, not a paper environment.
# Exit 77 (SKIPPED) without matplotlib.
# Usage: figures_test.sh BUILD_DIR SOURCE_DIR
set -u
build="$1"; src="$2"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$src/tests/cli_checks.sh"
/usr/bin/python3 -c "import matplotlib" 2>/dev/null || { echo "matplotlib is missing: SKIPPED"; exit 77; }
export ASTEROID_BUILD="$build" ASTEROID_JOBS=2

mkdir -p "$tmp/mine"
cat >"$tmp/mine/boards.json" <<'J'
{"schema_version": 1, "name": "my_boards",
 "cluster": {"devices": [{"name": "nano_a", "type": "jetson_nano"}, {"name": "nano_b", "type": "jetson_nano"},
                         {"name": "nx", "type": "jetson_xavier_nx"}],
             "network": {"bandwidth": "1Gbps", "latency": "0.5ms"}},
 "model": {"name": "mobilenetv2"}, "training": {"batch_size": 64},
 "faults": {"events": [{"at": "20s", "device": "nx", "kind": "leave"}]}}
J
scen="$tmp/mine/boards.json"
/usr/bin/python3 "$src/results/fig12.py" "$tmp/fig" --scenario "$scen" 2>"$tmp/fig12.err" || fail "fig12.py: $(tail -3 "$tmp/fig12.err")"
/usr/bin/python3 "$src/results/fig13.py" "$tmp/fig" --scenario "$scen" --rounds 3 2>"$tmp/fig13.err" || fail "fig13.py: $(tail -3 "$tmp/fig13.err")"
/usr/bin/python3 "$src/results/whatif.py" "$tmp/fig" --scenario "$scen" --smoke 2>"$tmp/whatif.err" || fail "whatif.py: $(tail -3 "$tmp/whatif.err")"

/usr/bin/python3 - "$tmp/fig" <<'PY' || fail "figures of the user's scenario"
import csv, os, struct, sys, zlib
d = sys.argv[1]

def png_title(path):
    """The PNG's tEXt/iTXt Title chunk."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    i = 8
    while i < len(data):
        n, kind = struct.unpack(">I4s", data[i:i + 8])
        body = data[i + 8:i + 8 + n]
        if kind == b"tEXt" and body.startswith(b"Title\0"):
            return body[6:].decode("latin-1")
        if kind == b"iTXt" and body.startswith(b"Title\0"):
            return body.split(b"\0", 5)[-1].decode("utf-8")
        i += 12 + n
    raise AssertionError(f"{path} has no Title")

promised = ["fig12/config_my_boards.png", "fig12/configurations.csv", "fig12/configurations.md", "fig12/summary.md",
            "fig13/fig13.png", "fig13/fig13.csv", "fig13/fig13.md", "fig13/summary.md",
            "whatif/bandwidth.png", "whatif/devices.png", "whatif/bandwidth.csv", "whatif/devices.csv",
            "whatif/whatif.md", "whatif/summary.md"]
for f in promised:
    assert os.path.getsize(os.path.join(d, f)) > 0, f
for f in ["fig12/config_my_boards.png", "fig13/fig13.png", "whatif/bandwidth.png", "whatif/devices.png"]:
    t = png_title(os.path.join(d, f))
    assert "my_boards" in t and "2 x Nano + 1 x Xavier NX" in t, (f, t)
    assert "env " not in t and "environment" not in t, (f, t)
# The plan drawn is the planner's: the CSV's configuration names the scenario's devices.
row = next(csv.DictReader(open(os.path.join(d, "fig12/configurations.csv"))))
assert row["scenario"] == "my_boards" and row["configuration"].split(":")[0].count(" x ") == 1, row
assert any(f" on {n}:" in row["configuration"] or f",{n}:" in row["configuration"] for n in ("nano_a", "nano_b", "nx")), row
# The device sweep: its devices one by one, then one more of its first type (--smoke).
devs = list(csv.DictReader(open(os.path.join(d, "whatif/devices.csv"))))
assert [r["cluster"] for r in devs] == ["nano_a", "nano_a nano_b", "nano_a nano_b nx", "nano_a nano_b nx +jetson_nano"], devs
strategies = {r["strategy"] for r in csv.DictReader(open(os.path.join(d, "fig13/fig13.csv")))}
assert {"asteroid", "dp", "pp"} <= strategies, strategies
PY

finish "figures_test"
