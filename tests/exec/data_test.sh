#!/bin/sh
# asteroid-exec on real data (Fashion-MNIST, the Debian package dataset-fashion-mnist). lenet5 (no
# batch norm) trained 300 rounds with random crops and flips by one device and by a plan of two
# stages, each a data-parallel group with uneven shares: the per-round losses and the test-set
# evaluations must agree within 1e-4 (the plans read the same mini-batches and compute the same
# update), and the model must learn (test accuracy well above chance). Bad data sets (a wrong magic,
# a truncated gzip, labels outside the classes, fewer images than one mini-batch, a missing
# directory) are one line each with exit status 2, nothing trained. SKIPPED where the package is not
# installed.
# Usage: data_test.sh PATH/TO/asteroid-exec SOURCE_DIR
set -u
exe="$1"; src="$2"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$src/tests/cli_checks.sh"
scenario="$src/scenarios/local_lenet5_4dev.json"
run() {  # run NAME PLAN [options]: asteroid-exec on lenet5 with the data set
  name="$1"; plan="$2"; shift 2
  "$exe" "$scenario" --plan "$plan" --token-file "$tmp/token" --timeout 120 -o "$tmp/$name" \
    --data fashion-mnist "$@" >"$tmp/$name.log" 2>&1
}

cat >"$tmp/one.json" <<'J'
{"microbatch_size": 32, "microbatches": 1, "stages": [{"layers": [0, 4], "devices": ["cpu0"]}]}
J
cat >"$tmp/hybrid.json" <<'J'
{"microbatch_size": 8, "microbatches": 4,
 "stages": [{"layers": [0, 1], "devices": ["cpu0", "cpu1"], "shares": [3, 5]},
            {"layers": [2, 4], "devices": ["cpu2", "cpu3"], "shares": [6, 2]}]}
J
if ! run probe "$tmp/one.json" --rounds 1 --eval-samples 32; then
  if grep -q "data set not installed" "$tmp/probe.log"; then
    echo "SKIPPED: $(cat "$tmp/probe.log")"
    exit 77
  fi
  fail "a one-round run: $(cat "$tmp/probe.log")"
  finish data_test
fi

start=$(date +%s)
for p in one hybrid; do
  run "$p" "$tmp/$p.json" --rounds 300 --eval-every 100 --augment || fail "plan $p: $(cat "$tmp/$p.log")"
done
echo "two runs of 300 rounds took $(( $(date +%s) - start )) s"
grep -q "test accuracy" "$tmp/one.log" || fail "no accuracy printed: $(cat "$tmp/one.log")"
/usr/bin/python3 - "$tmp" <<'PY' || fail "the plans did not compute the same training"
import json, sys
d = sys.argv[1]
r = {p: json.load(open(f"{d}/{p}/report.json")) for p in ("one", "hybrid")}
for p, x in r.items():
    assert x["config"]["data"] == "fashion-mnist", x["config"]
    assert [e["round"] for e in x["evaluations"]] == [99, 199, 299], x["evaluations"]
    assert all(e["samples"] == 10000 for e in x["evaluations"]), x["evaluations"]
    assert len(x["rounds"]) == 300
worst = 0.0
for a, b in zip(r["one"]["rounds"], r["hybrid"]["rounds"]):
    worst = max(worst, abs(a["loss"] - b["loss"]))
ev = 0.0
for a, b in zip(r["one"]["evaluations"], r["hybrid"]["evaluations"]):
    ev = max(ev, abs(a["loss"] - b["loss"]), abs(a["accuracy"] - b["accuracy"]))
print(f"largest difference over 300 rounds: training loss {worst:.3g}, test loss or accuracy {ev:.3g}")
assert worst <= 1e-4, f"training loss differs by {worst}"
assert ev <= 1e-4, f"evaluation differs by {ev}"
acc = [e["accuracy"] for e in r["one"]["evaluations"]]
print("test accuracy after rounds 99, 199, 299:", acc)
assert acc[-1] > 0.5, f"lenet5 did not learn: {acc}"
PY

# Bad data sets: one line naming the file, the field and the problem; exit status 2.
/usr/bin/python3 - "$tmp" <<'PY' || fail "writing the bad data sets"
import gzip, os, struct, sys
d = sys.argv[1]
def idx(dims, data):
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", x) for x in dims) + bytes(data)
def write_set(name, n=64, m=16, label=lambda i: i % 10, images=None, gz=True):
    os.makedirs(f"{d}/{name}", exist_ok=True)
    files = {"train-images-idx3-ubyte": images if images is not None else idx([n, 28, 28], [i % 251 for i in range(n * 784)]),
             "train-labels-idx1-ubyte": idx([n], [label(i) for i in range(n)]),
             "t10k-images-idx3-ubyte": idx([m, 28, 28], [0] * (m * 784)),
             "t10k-labels-idx1-ubyte": idx([m], [i % 10 for i in range(m)])}
    for f, b in files.items():
        if gz:
            open(f"{d}/{name}/{f}.gz", "wb").write(gzip.compress(b))
        else:
            open(f"{d}/{name}/{f}", "wb").write(b)
write_set("magic", images=b"PK\x03\x04" + b"x" * 100, gz=False)
write_set("labels", label=lambda i: 10 if i == 40 else i % 10)
write_set("small", n=20)
write_set("cut")
whole = open(f"{d}/cut/train-images-idx3-ubyte.gz", "rb").read()
open(f"{d}/cut/train-images-idx3-ubyte.gz", "wb").write(whole[: len(whole) // 2])
write_set("short", images=idx([64, 28, 28], [0] * 1000))
write_set("good")
PY
bad() {  # bad NAME SUBSTRING: the data set in $tmp/NAME is refused
  expect_error "$1" "$2" "$exe" "$scenario" --plan "$tmp/one.json" --token-file "$tmp/token" --rounds 2 \
    --data fashion-mnist --data-dir "$tmp/$1" -o "$tmp/out_$1"
  [ -e "$tmp/out_$1/report.json" ] && fail "$1: trained on a bad data set"
}
bad magic "train-images-idx3-ubyte: magic: not an IDX file"
bad labels "train-labels-idx1-ubyte.gz: data\[40\]: label 10 outside the 10 classes"
bad small "train-images-idx3-ubyte.gz: dims\[0\]: 20 training images, fewer than one mini-batch of 32"
bad cut "train-images-idx3-ubyte.gz: gzip: "
bad short "train-images-idx3-ubyte.gz: data: truncated"
bad nowhere "nowhere: no Fashion-MNIST here"
expect_error "a model of another input" "fits models of input cifar10_32" \
  "$exe" "$src/scenarios/local_bert_small_2dev.json" --token-file "$tmp/token" --data fashion-mnist
expect_error "data options without data" "need --data fashion-mnist" "$exe" "$scenario" --augment
# A small good set trains (the bad ones above fail for their fault, not for being small sets).
run good "$tmp/one.json" --rounds 2 --data-dir "$tmp/good" || fail "a small good data set: $(cat "$tmp/good.log")"
finish data_test
