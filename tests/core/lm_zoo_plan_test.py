#!/usr/bin/python3
"""GPT-2 124M plans on a small cluster (2 Xavier NX and a TX2, tests/core/data/gpt2_124m_*.json), once
with every layer trained and once with LoRA (rank 8 on query and value), and asteroid-plan's memory
breakdown (docs/method.md §3.5) matches a hand count: one transformer block counted from GPT-2's
architecture, the whole model and every device of the plan from it and the description.

Usage: lm_zoo_plan_test.py ASTEROID_PLAN SOURCE_DIR
"""
import json
import os
import subprocess
import sys

plan_exe, src = sys.argv[1], sys.argv[2]
data = os.path.join(src, "tests", "core", "data")
fails = []


def check(ok, msg):
    if not ok:
        fails.append(msg)


def near(a, b):
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1.0)


# One block of GPT-2 124M by hand (d = 768, 4d = 3072, 128 tokens, FP32):
D, FF, ROWS, RANK = 768, 3072, 128, 8
BLOCK_PARAMS = 2 * 2 * D + 4 * (D * D + D) + (D * FF + FF) + (FF * D + D)  # 7,087,872
LORA_PARAMS = 2 * RANK * (D + D)              # query and value, each rank x (in + out): 24,576
LORA_STORED = 2 * RANK * ROWS * 4             # rank values per row kept for backward, per map: 8,192 B
ADAM = 2                                      # optimizer states per trainable byte

desc = json.load(open(os.path.join(src, "traces", "models", "gpt2_124m.json")))["layers"]
h0 = next(l for l in desc if l["name"] == "h.0")
check(BLOCK_PARAMS == 7_087_872 and h0["param_bytes"] == 4 * BLOCK_PARAMS,
      f"h.0 holds {h0['param_bytes']} bytes, the hand count {4 * BLOCK_PARAMS}")
blocks = [i for i, l in enumerate(desc) if l["name"].startswith("h.")]
check(len(blocks) == 12, f"{len(blocks)} blocks")


def layer_memory(i, lora):
    """(weights, trainable bytes, stored bytes per sample or None when backward does not cross)."""
    l = desc[i]
    if not lora:
        return l["param_bytes"], l["param_bytes"], l["stored_activation_bytes_per_sample"]
    added = 4 * LORA_PARAMS if i in blocks else 0
    crossed = i >= blocks[0]  # the embedding, before the first layer that trains, keeps nothing
    stored = l["stored_activation_bytes_per_sample"] + (LORA_STORED if i in blocks else 0)
    return l["param_bytes"] + added, added, stored if crossed else 0


for mode, lora in (("full", False), ("lora", True)):
    scen = os.path.join(data, f"gpt2_124m_{mode}.json")
    r = subprocess.run([plan_exe, scen, "--memory", "--json"], capture_output=True, text=True)
    if r.returncode != 0:
        fails.append(f"{mode}: asteroid-plan exited {r.returncode}: {r.stderr.strip()}")
        continue
    m = json.loads(r.stdout)
    batch = m["batch_size"]
    check(m["feasible"], f"{mode}: no feasible plan")
    # whole model on one device
    w = m["whole_model"]["training"]
    per = [layer_memory(i, lora) for i in range(len(desc))]
    want_w = sum(p[0] for p in per)
    want_t = sum(p[1] for p in per)
    want_a = batch * sum(p[2] for p in per)
    if lora:
        check(want_w == 4 * (124_439_808 + 12 * LORA_PARAMS) and want_t == 4 * 12 * LORA_PARAMS, "lora hand totals")
    for key, want in (("weights_bytes", want_w), ("gradients_bytes", want_t),
                      ("optimizer_states_bytes", ADAM * want_t), ("activations_bytes", want_a),
                      ("total_bytes", want_w + want_t * (1 + ADAM) + want_a)):
        check(near(w[key], want), f"{mode}: whole model {key} {w[key]:.0f}, hand count {want:.0f}")
    # every device of the plan: its stage's layers, its samples x in-flight micro-batches
    where = {}
    for s, st in enumerate(m["plan"]["stages"]):
        for d in st["devices"]:
            where[d] = st["layers"]
    for d in m["devices"]:
        lo, hi = where[d["device"]]
        ps = [per[i] for i in range(lo, hi + 1)]
        samples = d["samples_per_microbatch"] * d["in_flight_microbatches"]
        got = (d["weights_bytes"], d["gradients_bytes"], d["optimizer_states_bytes"], d["activations_bytes"])
        want = (sum(p[0] for p in ps), sum(p[1] for p in ps), ADAM * sum(p[1] for p in ps),
                samples * sum(p[2] for p in ps))
        check(all(near(a, b) for a, b in zip(got, want)),
              f"{mode}: device {d['device']} (layers {lo}-{hi}): {got}, hand count {want}")
        check(d["total_bytes"] <= d["usable_bytes"], f"{mode}: device {d['device']} over its memory")
    print(f"{mode}: {len(m['plan']['stages'])} stage(s), {len(m['devices'])} devices; whole model "
          f"{w['total_bytes'] / 2**30:.2f} GiB")

for f in fails:
    print("FAIL:", f)
sys.exit(1 if fails else 0)
