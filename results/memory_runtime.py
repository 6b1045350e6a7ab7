#!/usr/bin/python3
"""Predicted training memory per device against what the runtime holds: for a few plans of the
local_* scenarios (worker processes on this machine, CPU), the cost model's per-device peak
(`asteroid-plan --memory --json`: weights, gradients, optimizer state, activations of the
micro-batches in flight, docs/method.md §3.5) beside the most bytes libtorch's CPU allocator held at
once in a training round of asteroid-exec running that plan (report.json `peak_allocated_bytes`,
exec/runtime/worker/allocation_meter.hpp: tensors alone) and the worker process's resident peak (which
adds the code, the libraries and the allocator's caches).

Writes <outroot>/memory_runtime/: memory_runtime.csv, memory_runtime.md, summary.md, and per case
data/<case>/ (the scenario, asteroid-plan's --memory output, the plan run, the run's report.json).
"""
import json
import os
import shutil
import tempfile

import common as c

MiB = 2.0**20
# (case, scenario, edit of the scenario): the planner's plan of each.
CASES = [
    ("mobilenetv2_2dev", "local_mobilenetv2_2dev.json", None),
    ("mobilenetv2_3dev_recompute", "local_mobilenetv2_3dev.json",
     lambda s: s["training"].update({"recomputation": "all"})),
    ("resnet50_2dev", "local_resnet50_2dev.json", None),
    ("bert_small_2dev", "local_bert_small_2dev.json", None),
]
ROUNDS = 3


def run_case(case, scenario, edit, data, rounds):
    d = os.path.join(data, case)
    os.makedirs(d, exist_ok=True)
    scen = c.scenario_variant(os.path.join(c.REPO, "scenarios", scenario), os.path.join(d, "scenario.json"),
                              edit or (lambda s: None))
    text = c.run([c.require("asteroid-plan"), scen, "--memory", "--json"])
    c.write_text(os.path.join(d, "memory.json"), text)
    mem = json.loads(text)
    plan_file = os.path.join(d, "plan.json")
    with open(plan_file, "w") as f:
        json.dump(mem["plan"], f, indent=1)
    with tempfile.TemporaryDirectory(prefix="asteroid-exec-") as tmp:
        c.run([c.require("asteroid-exec"), scen, "--plan", plan_file, "--rounds", str(rounds),
               "--token-file", os.path.join(tmp, "token"), "-o", os.path.join(tmp, "run")], timeout=1800)
        shutil.copy(os.path.join(tmp, "run", "report.json"), os.path.join(d, "report.json"))
    rep = c.load_json(os.path.join(d, "report.json"))
    rows = []
    for m in mem["devices"]:
        name = m["device"]
        held = rep.get("peak_allocated_bytes", {}).get(name)
        if held is None:
            raise c.ToolError(f"{case}: the run's report has no allocator peak for {name}")
        rows.append({"case": case, "device": name, "stage": m["stage"],
                     "samples_per_microbatch": m["samples_per_microbatch"], "in_flight": m["in_flight_microbatches"],
                     "recompute": m["recompute"], "weights_bytes": m["weights_bytes"],
                     "state_bytes": m["gradients_bytes"] + m["optimizer_states_bytes"],
                     "activations_bytes": m["activations_bytes"], "predicted_bytes": m["total_bytes"],
                     "allocated_bytes": held, "resident_bytes": rep["peak_memory_bytes"][name],
                     "ratio": held / m["total_bytes"] if m["total_bytes"] > 0 else None})
    return rows


def mib(b):
    return f"{b / MiB:.1f}"


def main():
    args = c.parse_args(__doc__.split("\n")[0])
    out = c.out_dir(args.outroot, "memory_runtime")
    data = os.path.join(out, "data")
    cases = CASES[:1] if args.smoke else CASES
    rounds = 2 if args.smoke else ROUNDS
    rows = []
    for case, scenario, edit in cases:
        c.log(f"memory_runtime: {case}")
        rows += run_case(case, scenario, edit, data, rounds)
    cols = ["case", "device", "stage", "samples_per_microbatch", "in_flight", "recompute", "weights_bytes",
            "state_bytes", "activations_bytes", "predicted_bytes", "allocated_bytes", "resident_bytes", "ratio"]
    c.write_csv(os.path.join(out, "memory_runtime.csv"), rows, cols)
    table = c.md_table(
        ["plan", "device (stage)", "samples x in flight", "weights", "gradients + optimizer", "activations",
         "predicted", "allocator's peak", "allocated / predicted", "resident peak"],
        [[r["case"], f"{r['device']} ({r['stage']}{', recomputes' if r['recompute'] else ''})",
          f"{r['samples_per_microbatch']} x {r['in_flight']}", mib(r["weights_bytes"]), mib(r["state_bytes"]),
          mib(r["activations_bytes"]), mib(r["predicted_bytes"]), mib(r["allocated_bytes"]), f"{r['ratio']:.2f}",
          mib(r["resident_bytes"])] for r in rows],
        ["---", "---"] + ["--:"] * 8)
    c.write_text(os.path.join(out, "memory_runtime.md"),
                 "Per device of each plan, MiB: the cost model's predicted peak (asteroid-plan --memory) and, running "
                 f"that plan for {rounds} rounds on worker processes here (asteroid-exec, CPU), the most bytes "
                 "libtorch's allocator held at once in a training round and the process's resident peak:\n\n" + table)
    ratios = [r["ratio"] for r in rows]
    worst = max(rows, key=lambda r: abs(r["ratio"] - 1))
    summary = (f"Measured on this machine's CPU: the allocator's peak per device is {min(ratios):.2f}x to "
               f"{max(ratios):.2f}x the cost model's prediction over {len(rows)} devices of {len(cases)} plans "
               f"(farthest: {worst['device']} of {worst['case']}, {mib(worst['allocated_bytes'])} MiB against "
               f"{mib(worst['predicted_bytes'])} MiB predicted). Above 1, the runtime holds what the model "
               "leaves out: the first stage's whole mini-batch of inputs and the labels, the messages' receive "
               "buffers, each backward's transient tensors (the gradients of activations, attention's "
               "intermediates) and the allocator's alignment. Below 1, the layer description counts more stored "
               "activations than libtorch keeps for backward (outputs that in-place operations overwrite, or "
               "that autograd does not save). The resident peak adds libtorch itself.")
    c.write_text(os.path.join(out, "summary.md"), summary + "\n")
    c.log(f"memory_runtime: wrote {out}")


if __name__ == "__main__":
    c.main_guard(main)
