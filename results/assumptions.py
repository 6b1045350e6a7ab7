#!/usr/bin/python3
"""What each assumption changes: Table 4's speedups of Asteroid over on-device training, DP and PP,
recomputed with the cost model (asteroid-plan) under each unknown of the set-up taken one at a time,
and the conclusions that hold under all of them.

The unknowns (the paper does not state them; results/README.md lists the defaults):
  law        the batch-size law of the derived Jetson traces: the previous one (a fixed cost per op
             fitted to Table 1 at batch 32, no CPU/GPU overlap), and the current one without overlap
  batch      the mini-batch size: the larger end of what the H200 evidence allows (CIFAR 256,
             ResNet50 64; BERT's 32 x 512 is the slides')
  stem       the CIFAR networks with their ImageNet stem (stride 2) instead of the CIFAR adaptation
  nx         the NX's architecture factor at the ends of its evidence (NX/Nano 3.58 and 3.87)
  duplex     the links half duplex (activations and gradients share each link) instead of full
  latency    the paper's Eq. 4-6 as the planner's latency model instead of the pipeline form
  pp         the network-aware pipeline (pp_net) as the PP baseline instead of the paper's plain one
Trace variants are made by tools/calibrate/calibrate_jetson.py (refitted to Table 1 under the
variant) into <outroot>/assumptions/data/; scenario variants point at them.
Writes <outroot>/assumptions/: assumptions.csv, assumptions.md, summary.md, data/.
"""
import os
import subprocess
import sys

import common as c

CASES = [("A", 100), ("B", 100), ("B", 1000)]
BASELINES = ["device", "dp", "pp"]
CALIBRATE = os.path.join(c.REPO, "tools", "calibrate", "calibrate_jetson.py")
IMAGENET_STEM = ["--description", "efficientnet_b1=efficientnet_b1_imagenet_stem.json",
                 "--description", "mobilenetv2=mobilenetv2_imagenet_stem.json"]

# name -> (label, calibrate options or None, scenario edit or None, latency model or None, PP strategy)
VARIANTS = [
    ("default", "as committed", None, None, None, "pp"),
    ("law_previous", "law: fitted fixed cost per op (previous)",
     ["--op-term", "per_call", "--overlap", "sum", "--table1-batch-cifar", "32"], None, None, "pp"),
    ("law_no_overlap", "law: CPU and GPU do not overlap", ["--overlap", "sum"], None, None, "pp"),
    ("batch_large", "batch: CIFAR 256, ResNet50 64", None, "batch", None, "pp"),
    ("stem_imagenet", "CIFAR networks with the ImageNet stem", IMAGENET_STEM, None, None, "pp"),
    ("nx_low", "NX: NX/Nano 3.58", ["--nx-nano-resnet50", "3.58"], None, None, "pp"),
    ("nx_high", "NX: NX/Nano 3.87", ["--nx-nano-resnet50", "3.87"], None, None, "pp"),
    ("duplex_half", "links: half duplex", None, "half_duplex", None, "pp"),
    ("latency_paper", "latency model: the paper's Eq. 4-6", None, None, "paper", "pp"),
    ("pp_network_aware", "PP baseline: network-aware (pp_net)", None, None, None, "pp_net"),
]
LARGE_BATCH = {"efficientnet_b1": 256, "mobilenetv2": 256, "resnet50": 64}


def make_traces(data, name, options):
    """Runs the calibration under the variant's options into data/<name>/traces; returns the dir."""
    out = os.path.join(data, name, "traces")
    os.makedirs(out, exist_ok=True)
    cmd = [sys.executable, CALIBRATE, "--out-dir", out, "--report", os.path.join(out, "fit_report.md"),
           "--no-sensitivity", "--models", ",".join(c.MODELS)] + options  # the paper's models only
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise c.ToolError(f"{' '.join(cmd)} exited with {r.returncode}: {r.stderr.strip()[-500:]}")
    return out


def half_duplex_star(net, devices):
    """The scenario's star ({"bandwidth": B, "latency": L}) as a graph of half-duplex links: one
    switch, each device on a link of B and latency L/2 (docs/formats.md)."""
    lat = net.get("latency", "")
    if set(net) - {"bandwidth", "latency", "topology"} or not lat.endswith("ms"):
        raise c.ToolError(f"cannot make a half-duplex star of the network {net}")
    half = f"{float(lat[:-2]) / 2:g}ms"
    return {"switches": ["switch"],
            "links": [{"between": [d["name"], "switch"], "bandwidth": net["bandwidth"], "latency": half,
                       "duplex": "half"} for d in devices]}


def variant_scenario(data, name, e, m, bw, traces, edit):
    base = c.scenario_path(e, m, bw)
    if traces is None and edit is None:
        return base

    def change(s):
        if traces is not None:
            for t in s["traces"]:
                s["traces"][t] = os.path.relpath(os.path.join(traces, t, f"{m}.json"),
                                                 os.path.join(data, name, "scenarios"))
        if edit == "half_duplex":
            s["cluster"]["network"] = half_duplex_star(s["cluster"]["network"], s["cluster"]["devices"])
        if edit == "batch" and m in LARGE_BATCH:
            b = LARGE_BATCH[m]
            s["training"]["batch_size"] = b
            low = min(s["planner"]["microbatch_sizes"])
            s["planner"]["microbatch_sizes"] = [x for x in range(low, b + 1) if b % x == 0 and x & (x - 1) == 0]

    return c.scenario_variant(base, os.path.join(data, name, "scenarios", os.path.basename(base)), change)


def main():
    args = c.parse_args(__doc__)
    out = c.out_dir(args.outroot, "assumptions")
    data = os.path.join(out, "data")
    cases = [(e, m, bw) for e, bw in CASES for m in c.MODELS]
    variants = VARIANTS
    if args.smoke:
        cases = [("A", "mobilenetv2", 100)]
        variants = [v for v in VARIANTS if v[0] in ("default", "law_previous", "latency_paper")]

    traces = {}
    for name, _, options, _, _, _ in variants:
        if options is not None:
            c.log(f"assumptions: traces for {name}")
            traces[name] = make_traces(data, name, options)

    jobs = []
    for name, _, _, edit, latency, pp in variants:
        for e, m, bw in cases:
            scen = variant_scenario(data, name, e, m, bw, traces.get(name), edit)
            for s in ["asteroid", "device", "dp", pp]:
                jobs.append((name, e, m, bw, s, scen, latency))

    def one(job):
        name, e, m, bw, s, scen, latency = job
        r = c.plan(scen, s, latency_model=latency)
        if latency and r["feasible"]:
            # chosen under the variant's latency model; scored as the 1F1B pipeline runs it
            r = c.evaluate(scen, r["plan"])
        return job, r

    results = {(j[0], j[1], j[2], j[3], j[4]): r for j, r in c.parallel(one, jobs)}
    rows = []
    for name, label, _, _, _, pp in variants:
        for e, m, bw in cases:
            ast = results[(name, e, m, bw, "asteroid")]
            row = {"variant": name, "label": label, "env": e, "bandwidth_mbps": bw, "model": m,
                   "asteroid_throughput": ast["throughput_samples_per_s"] if ast["feasible"] else None,
                   "shape": c.plan_shape(ast, len(c.env_devices(c.scenario_path(e, m, bw))))}
            for b, s in zip(BASELINES, ["device", "dp", pp]):
                r = results[(name, e, m, bw, s)]
                x = r["throughput_samples_per_s"] if r["feasible"] else None
                a = row["asteroid_throughput"]
                row[f"speedup_{b}"] = a / x if a and x else None
                row[f"{b}_reason"] = "" if r["feasible"] else r.get("reason", "")
            rows.append(row)
    c.write_csv(os.path.join(out, "assumptions.csv"), rows,
                ["variant", "label", "env", "bandwidth_mbps", "model", "asteroid_throughput", "shape"]
                + [f"speedup_{b}" for b in BASELINES] + [f"{b}_reason" for b in BASELINES])
    write_tables(out, variants, cases, rows)


def fmt_speedup(v, reason=""):
    if v is None:
        return "oom" if reason.startswith("out of memory") else "n/a"
    return f"{v:.2f}"


CONCLUSIONS = [
    ("Asteroid is more than 5% faster than on-device training in every cell",
     lambda rs: all((r["speedup_device"] or 0) > 1.05 for r in rs)),
    ("Asteroid is more than 5% faster than DP in every cell (DP out of memory counts as faster)",
     lambda rs: all(r["speedup_dp"] is None or r["speedup_dp"] > 1.05 for r in rs)),
    ("Asteroid is more than 5% faster than PP in every cell",
     lambda rs: all((r["speedup_pp"] or 0) > 1.05 for r in rs)),
    ("the speedup over on-device training is 3x or more in most cells (the paper: 3-4.5x)",
     lambda rs: sum((r["speedup_device"] or 0) >= 3 for r in rs) > len(rs) / 2),
    ("on five Nanos (A) the CIFAR networks train 3x or more faster than on one (the paper: near-linear)",
     lambda rs: all((r["speedup_device"] or 0) >= 3 for r in rs
                    if r["env"] == "A" and r["model"] in ("efficientnet_b1", "mobilenetv2"))),
    ("Asteroid trains on more than one device in every cell",
     lambda rs: all(r["shape"] not in ("1 device", "infeasible") for r in rs)),
    ("the speedup over DP is larger at 100 than at 1000 Mbps on environment B for every model",
     lambda rs: all(
         (a["speedup_dp"] or float("inf")) > (b["speedup_dp"] or 0)
         for a in rs if a["env"] == "B" and a["bandwidth_mbps"] == 100
         for b in rs if b["env"] == "B" and b["bandwidth_mbps"] == 1000 and b["model"] == a["model"])),
]


def write_tables(out, variants, cases, rows):
    by = {(r["variant"], r["env"], r["bandwidth_mbps"], r["model"]): r for r in rows}
    names = [v[0] for v in variants]
    labels = {v[0]: v[1] for v in variants}
    md = ["Speedups of Asteroid (cost model, asteroid-plan) under each assumption taken alone; the first "
          "column is the committed set-up. `oom`: the baseline does not fit in memory.\n"]
    md.append("\nVariants: " + "; ".join(f"`{n}`: {labels[n]}" for n in names) + ".\n")
    for b, title in zip(BASELINES, ["on-device training", "DP", "PP"]):
        md.append(f"\n**Speedup over {title}**\n\n")
        table = []
        for e, m, bw in cases:
            vals = [by[(n, e, bw, m)][f"speedup_{b}"] for n in names]
            cells = [fmt_speedup(v, by[(n, e, bw, m)][f"{b}_reason"]) for v, n in zip(vals, names)]
            known = [v for v in vals if v is not None]
            rng = f"{min(known):.2f}-{max(known):.2f}" if known else "n/a"
            table.append([c.MODEL_LABELS[m], f"{e} ({bw} Mbps)"] + cells + [rng])
        md.append(c.md_table(["model", "environment"] + [f"`{n}`" for n in names] + ["range"], table,
                             ["---", "---"] + ["---:"] * (len(names) + 1)))
    md.append("\n**Conclusions under each assumption**\n\n")
    ctable, summary = [], []
    for text, test in CONCLUSIONS:
        verdicts = [test([by[(n, e, bw, m)] for e, m, bw in cases]) for n in names]
        ctable.append([text] + ["yes" if v else "no" for v in verdicts]
                      + ["**holds**" if all(verdicts) else "does not hold"])
        summary.append((text, all(verdicts), [n for n, v in zip(names, verdicts) if not v]))
    md.append(c.md_table(["conclusion"] + [f"`{n}`" for n in names] + ["under all"], ctable))
    c.write_text(os.path.join(out, "assumptions.md"), "".join(md))
    held = [t for t, ok, _ in summary if ok]
    failed = [f"{t} (not under {', '.join(f'`{n}`' for n in bad)})" for t, ok, bad in summary if not ok]
    text = (f"Under all {len(names)} set-ups: " + ("; ".join(held) if held else "no conclusion holds") + ". "
            + ("Not under all: " + "; ".join(failed) + "." if failed else ""))
    c.write_text(os.path.join(out, "summary.md"), text + "\n")


if __name__ == "__main__":
    c.main_guard(main)
