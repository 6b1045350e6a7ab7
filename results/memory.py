#!/usr/bin/python3
"""Training memory of T5-Large (737,668,096 parameters, 128 tokens, FP32, mini-batch 16, Adam) under
full fine-tuning, adapters (bottleneck 64), LoRA (rank 32 on q and v of every attention) and
inference alone: weights, stored activations, gradients and optimizer states, the whole model on one
device, as `asteroid-plan --memory --json` computes them (docs/method.md §3.5).

Writes <outroot>/memory/: memory.csv, memory.md, summary.md, data/<mode>.json (asteroid-plan's output)
and data/<mode>.scenario.json (the scenario it read).
"""
import json
import os

import common as c

MODEL, BATCH, ENV = "t5_large", 16, "C"
GiB, MiB = 2.0**30, 2.0**20


def size(b):
    if b == 0:
        return "0"
    return f"{b / GiB:.2f} GiB" if b >= GiB else f"{b / MiB:.1f} MiB"


def main():
    args = c.parse_args(__doc__.split("\n")[0])
    out = c.out_dir(args.outroot, "memory")
    data = os.path.join(out, "data")
    exe = c.require("asteroid-plan")
    rows = []
    full = None
    for mode, label in c.LM_MODES:
        scen = c.lm_scenario(ENV, MODEL, os.path.join(data, f"{mode}.scenario.json"), BATCH, mode)
        # The whole-model breakdown does not depend on the plan: the `device` strategy is the cheapest
        # to plan (its feasibility is not used here).
        text = c.run([exe, scen, "--memory", "--strategy", "device", "--json"])
        c.write_text(os.path.join(data, f"{mode}.json"), text)
        m = json.loads(text)
        w = m["whole_model"]["training"]
        rows.append({"mode": mode, "label": label, **w})
        if mode == "full":
            full = m["whole_model"]
    inf = full["inference"]
    rows.append({"mode": "inference", "label": "inference alone (weights + largest layer input and output)", **inf})
    cols = ["mode", "weights_bytes", "activations_bytes", "gradients_bytes", "optimizer_states_bytes", "total_bytes"]
    c.write_csv(os.path.join(out, "memory.csv"), rows, cols)
    table = c.md_table(
        ["mode", "trainable parameters", "weights", "activations", "gradients", "optimizer states (Adam)", "total"],
        [[r["label"], f"{r['gradients_bytes'] / 4:,.0f}", size(r["weights_bytes"]), size(r["activations_bytes"]),
          size(r["gradients_bytes"]), size(r["optimizer_states_bytes"]), size(r["total_bytes"])] for r in rows],
        ["---"] + ["--:"] * 6)
    c.write_text(os.path.join(out, "memory.md"),
                 f"T5-Large, mini-batch {BATCH} x 128 tokens, FP32, Adam; the whole model on one device "
                 "(from `asteroid-plan --memory --json`, data/):\n\n" + table)
    by = {r["mode"]: r for r in rows}
    f, lo, ad = by["full"], by["lora"], by["adapters"]
    summary = (
        f"- Full fine-tuning needs {size(f['total_bytes'])}: weights {size(f['weights_bytes'])}, gradients as "
        f"much, Adam's two states {size(f['optimizer_states_bytes'])}, and {size(f['activations_bytes'])} of "
        f"activations kept for backward ({f['activations_bytes'] / f['total_bytes']:.0%} of the total).\n"
        f"- LoRA trains {lo['gradients_bytes'] / 4:,.0f} parameters ({lo['gradients_bytes'] / f['gradients_bytes']:.1%} "
        f"of the model): gradients and optimizer states fall to {size(lo['gradients_bytes'] + lo['optimizer_states_bytes'])}, "
        f"but the activations stay ({size(lo['activations_bytes'])}: backward still crosses every layer after the "
        f"embedding), so the total is {size(lo['total_bytes'])}, {lo['total_bytes'] / f['total_bytes']:.0%} of full "
        "fine-tuning.\n"
        f"- Adapters train {ad['gradients_bytes'] / 4:,.0f} parameters; total {size(ad['total_bytes'])}.\n"
        f"- Inference alone: {size(inf['total_bytes'])}.\n"
        "- Figures are derived (counted from the layer description, traces/models/t5_large.json, by the "
        "memory model of docs/method.md §3.5), not measured; a runtime's allocator, workspace and "
        "framework overhead come on top.\n")
    c.write_text(os.path.join(out, "summary.md"), summary)
    c.log(f"memory: {len(rows)} rows -> {out}")


if __name__ == "__main__":
    c.main_guard(main)
