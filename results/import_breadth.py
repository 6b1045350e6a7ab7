#!/usr/bin/python3
"""Imported models, measured for breadth: torchvision's resnet18, resnet50, mobilenet_v3_large,
efficientnet_b0, vit_b_16 and convnext_tiny imported (tools/import_model/import_model.py, 224x224
images, 100 classes as the built-in Mini-ImageNet models), their Jetson traces derived from the
imported descriptions by the law of tools/calibrate (the same fit as the built-in models' traces),
each planned on environments A-D at 1 Gbps (the devices, network and training of the built-in
ResNet50 scenario of that environment) and simulated for 10 rounds. Then the exactness of training
through TorchScript layers on models with batch norm: resnet18 and resnet50 (64x64 images, 10
classes) trained 3 rounds by one device and by a two-stage pipeline of one micro-batch (batch norm
sees the same samples either way), losses compared; and the imported resnet50's measured trace
against the built-in resnet50's, the built-in measured before and after it to show this machine's
noise.

Writes <outroot>/import_breadth/: breadth.csv, breadth.md, exactness.md, trace_agreement.md,
summary.md, and under data/ the plans and the simulator's reports. The archives and traces go to a
scratch folder.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import common as c

MODELS = ["resnet18", "resnet50", "mobilenet_v3_large", "efficientnet_b0", "vit_b_16", "convnext_tiny"]
ENVS = ["A", "B", "C", "D"]
PY = "/usr/bin/python3"
IMPORT = os.path.join(c.REPO, "tools", "import_model", "import_model.py")
CALIBRATE = os.path.join(c.REPO, "tools", "calibrate", "calibrate_jetson.py")
ANCHORS = ["efficientnet_b1", "mobilenetv2", "resnet50", "bert_small"]  # the Table 1 fit's models


def import_model(model, archive):
    t0 = time.monotonic()
    c.run([PY, IMPORT, f"torchvision:{model}", "--num-classes", "100", "-o", archive, "--force"])
    seconds = time.monotonic() - t0
    return c.load_json(os.path.join(archive, "model.json")), seconds


def derive_jetson_traces(names, archives, traces_dir, scratch):
    """calibrate_jetson.py on the anchors plus the imported descriptions: writes every Jetson's trace."""
    cmd = [PY, CALIBRATE, "--models", ",".join(ANCHORS + names), "--out-dir", traces_dir,
           "--report", os.path.join(scratch, "fit_report.md"), "--no-sensitivity"]
    for n in names:
        cmd += ["--description", f"{n}={os.path.join(archives[n], 'description.json')}"]
    c.run(cmd)


def scenario_for(env, name, archive, traces_dir, path):
    base = c.scenario_path(env, "resnet50", 1000)

    def edit(s):
        s["name"] = f"env{env}_{name}_1000mbps"
        s["description"] = f"environment {env}, imported {name} (results/import_breadth.py)"
        s["model"] = {"name": name, "archive": os.path.relpath(archive, os.path.dirname(path))}
        types = sorted({d["type"] for d in s["cluster"]["devices"]})
        s["traces"] = {t: os.path.relpath(os.path.join(traces_dir, t, name + ".json"), os.path.dirname(path))
                       for t in types}
    return c.scenario_variant(base, path, edit)


def exactness_one(model, scratch):
    """One torchvision model through its TorchScript layers: one device against a 2-stage pipeline of
    one micro-batch (batch norm sees the same samples either way). Returns (layers, losses by plan)."""
    exe = c.require("asteroid-exec")
    profile = os.path.join(c.build_dir(), "exec", "asteroid-profile")
    name = f"tv_{model}_64"
    archive = os.path.join(scratch, name)
    c.run([PY, IMPORT, f"torchvision:{model}", "--num-classes", "10", "--input-shape", "3x64x64", "--name",
           name, "-o", archive, "--force"])
    trace = os.path.join(scratch, f"local_cpu_{name}.json")
    c.run([profile, "--archive", archive, "--batch-sizes", "1,2,4,8,16", "--repeats", "2", "--warmup", "1",
           "-o", trace])
    n = len(c.load_json(os.path.join(archive, "model.json"))["layers"])
    scen = os.path.join(scratch, f"{name}.json")
    with open(scen, "w") as f:
        json.dump({"schema_version": 1, "name": f"{name}_2cpu",
                   "cluster": {"devices": [{"name": "cpu0", "type": "local_cpu"}, {"name": "cpu1", "type": "local_cpu"}],
                               "network": {"bandwidth": "1Gbps", "latency": "0.5ms"}},
                   "model": {"name": name, "archive": archive},
                   "training": {"batch_size": 16, "rounds": 3, "optimizer": "sgd_momentum"},
                   "traces": {"local_cpu": trace}}, f)
    plans = {"one device": {"microbatch_size": 16, "microbatches": 1,
                            "stages": [{"layers": [0, n - 1], "devices": ["cpu0"]}]},
             "two stages": {"microbatch_size": 16, "microbatches": 1,
                            "stages": [{"layers": [0, n // 2 - 1], "devices": ["cpu0"]},
                                       {"layers": [n // 2, n - 1], "devices": ["cpu1"]}]}}
    losses = {}
    for label, p in plans.items():
        tag = f"{name}_{label.replace(' ', '_')}"
        pf = os.path.join(scratch, tag + ".json")
        with open(pf, "w") as f:
            json.dump(p, f)
        run_dir = os.path.join(scratch, "run_" + tag)
        c.run([exe, scen, "--plan", pf, "--rounds", "3", "--timeout", "300", "--token-file",
               os.path.join(scratch, "token"), "-o", run_dir], timeout=900)
        losses[label] = [r["loss"] for r in c.load_json(os.path.join(run_dir, "report.json"))["rounds"]]
    return n, losses


def exactness(scratch, out):
    """resnet18 and resnet50 (no dropout, no stochastic depth: a pipeline draws no other masks)."""
    rows, worst = [], 0.0
    for model in ("resnet18", "resnet50"):
        n, losses = exactness_one(model, scratch)
        w = max(abs(a - b) / abs(a) for a, b in zip(losses["one device"], losses["two stages"]))
        worst = max(worst, w)
        rows += [[f"{model} ({n} layers)", label] + [f"{x:.6f}" for x in v] for label, v in losses.items()]
    text = ("Training through the imported TorchScript layers (torchvision models, 64x64 images, 10 classes), "
            "3 rounds of 16 samples, SGD with momentum, on worker processes here:\n\n" +
            c.md_table(["model", "plan", "loss round 0", "round 1", "round 2"], rows) +
            f"\nLargest relative difference: {worst:.2e} (the built-in models' tests allow 1e-3).\n")
    c.write_text(os.path.join(out, "exactness.md"), text)
    return worst


def trace_agreement(scratch, out):
    """The imported resnet50's measured trace against the built-in resnet50's, per layer, with the
    built-in measured twice so that the difference stands beside this machine's own noise."""
    profile = os.path.join(c.build_dir(), "exec", "asteroid-profile")
    archive = os.path.join(scratch, "tv_resnet50")  # imported above, 224x224, 100 classes
    runs = {}
    for tag, src in (("built-in a", ["--model", "resnet50"]), ("imported", ["--archive", archive]),
                     ("built-in b", ["--model", "resnet50"])):
        f = os.path.join(scratch, f"trace_{tag.replace(' ', '_')}.json")
        c.run([profile] + src + ["--batch-sizes", "2,4", "--repeats", "5", "--warmup", "1", "-o", f],
              timeout=1800)
        runs[tag] = c.load_json(f)["layers"]

    def step(layers, bi):
        return [l["fwd_s"][bi] + l["bwd_s"][bi] for l in layers]

    rows, worst = [], {"imported": 0.0, "noise": 0.0}
    for bi, batch in enumerate((2, 4)):
        a, m, b = (step(runs[t], bi) for t in ("built-in a", "imported", "built-in b"))
        ref = [(x + y) / 2 for x, y in zip(a, b)]
        dev_imp = [abs(x - r) / r for x, r in zip(m, ref)]
        dev_noise = [abs(x - y) / ((x + y) / 2) for x, y in zip(a, b)]
        worst["imported"] = max(worst["imported"], max(dev_imp))
        worst["noise"] = max(worst["noise"], max(dev_noise))
        rows.append([batch, f"{sum(m) / sum(ref):.3f}", f"{sorted(dev_imp)[len(dev_imp) // 2] * 100:.1f}%",
                     f"{max(dev_imp) * 100:.1f}%", f"{sorted(dev_noise)[len(dev_noise) // 2] * 100:.1f}%",
                     f"{max(dev_noise) * 100:.1f}%"])
    text = ("The imported resnet50's measured trace (asteroid-profile --archive, TorchScript layers) against the "
            "built-in resnet50's, measured before and after it (one thread, median of 5 per point); per layer, "
            "forward + backward:\n\n" +
            c.md_table(["batch", "imported / built-in, whole model", "median layer difference", "largest",
                        "built-in against itself: median", "largest"], rows))
    c.write_text(os.path.join(out, "trace_agreement.md"), text)
    return worst


def main():
    args = c.parse_args(__doc__, lambda p: p.add_argument("--no-exec", action="store_true",
                                                          help="leave out the training exactness run"))
    out = c.out_dir(args.outroot, "import_breadth")
    models = MODELS[:1] if args.smoke else MODELS
    envs = ENVS[2:3] if args.smoke else ENVS
    rounds = 3 if args.smoke else 10
    scratch = tempfile.mkdtemp(prefix="asteroid-import-")
    try:
        archives, info, rows = {}, {}, []
        for m in models:
            name = "tv_" + m
            archives[name] = os.path.join(scratch, name)
            c.log(f"importing torchvision:{m}")
            info[name] = import_model(m, archives[name])
        traces_dir = os.path.join(scratch, "traces")
        derive_jetson_traces(list(archives), archives, traces_dir, scratch)

        def one(item):
            name, env = item
            scen = scenario_for(env, name, archives[name], traces_dir, os.path.join(scratch, f"env{env}_{name}.json"))
            p = c.plan(scen, save=os.path.join(out, "data", f"env{env}_{name}_plan.json"))
            rep, rows_ = c.simulate(scen, os.path.join(out, "data", f"env{env}_{name}"), rounds=rounds)
            return name, env, p, c.sim_throughput_of(rep, rows_)

        results = c.parallel(one, [(n, e) for n in archives for e in envs])
        for name in archives:
            manifest, seconds = info[name]
            desc = c.load_json(os.path.join(archives[name], "description.json"))
            row = {"model": name, "layers": len(manifest["layers"]), "parameters": manifest["parameters"],
                   "gflops_fwd_per_sample": sum(l["fwd_flops_per_sample"] for l in desc["layers"]) / 1e9,
                   "import_s": seconds, "unpriced_ops": " ".join(desc.get("unpriced_ops", []))}
            for n2, env, p, sim_sps in results:
                if n2 != name:
                    continue
                row[f"env{env}_plan"] = c.plan_text(p) if p.get("feasible", True) else p.get("reason", "infeasible")
                row[f"env{env}_planned_sps"] = p.get("throughput_samples_per_s", "")
                row[f"env{env}_simulated_sps"] = sim_sps
            rows.append(row)
        cols = ["model", "layers", "parameters", "gflops_fwd_per_sample", "import_s", "unpriced_ops"]
        for e in envs:
            cols += [f"env{e}_planned_sps", f"env{e}_simulated_sps", f"env{e}_plan"]
        c.write_csv(os.path.join(out, "breadth.csv"), rows, cols)
        header = ["model", "layers", "parameters", "GFLOPs/sample", "import (s)"] + \
                 [f"env {e}: planned / simulated samples/s" for e in envs]
        md_rows = [[r["model"], r["layers"], f"{r['parameters']:,}", f"{r['gflops_fwd_per_sample']:.2f}",
                    f"{r['import_s']:.1f}"] +
                   [f"{c.fmt(r.get(f'env{e}_planned_sps'))} / {c.fmt(r.get(f'env{e}_simulated_sps'))}" for e in envs]
                   for r in rows]
        plans = "\n".join(f"- {r['model']}, env C: {r.get('envC_plan', 'n/a')}" for r in rows if 'envC_plan' in r)
        text = ("Imported torchvision models (224x224 images, 100 classes), Jetson traces derived from the imported "
                f"descriptions, 1 Gbps, the built-in ResNet50 scenario's devices and batch; {rounds} simulated rounds.\n\n"
                + c.md_table(header, md_rows) + "\nPlans on environment C:\n\n" + plans + "\n")
        c.write_text(os.path.join(out, "breadth.md"), text)
        summary = text
        if not args.no_exec and not args.smoke:
            worst = exactness(scratch, out)
            summary += f"\nTraining exactness (resnet18, resnet50; batch norm): largest relative loss difference {worst:.1e}.\n"
            agree = trace_agreement(scratch, out)
            summary += (f"Measured trace, imported against built-in resnet50: largest layer difference "
                        f"{agree['imported'] * 100:.1f}% (the built-in against itself: {agree['noise'] * 100:.1f}%).\n")
        else:  # results/README.md includes the file whatever the run
            for f in ("exactness.md", "trace_agreement.md"):
                c.write_text(os.path.join(out, f), "Left out of this run (--smoke or --no-exec).\n")
        c.write_text(os.path.join(out, "summary.md"), summary)
        print(summary)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    c.main_guard(main)
