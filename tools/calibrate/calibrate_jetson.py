#!/usr/bin/python3
"""Derive Jetson training traces from layer descriptions, a measured fixed cost per op, and the epoch
times of Table 1.

No per-layer training times of Jetson boards are public and no Jetson is at hand, so the Jetson
traces are *derived* (jetson_law.py has the law): per layer, t(b) = max(CPU time of its ops, GPU
time), where the CPU time per op is measured (libtorch's eager dispatch on this machine, the CUDA
launch path measured on an H200 host), scaled to each board's CPU by published single-thread scores,
and the GPU time is a per-layer-class roofline whose three utilisation factors are the only ones
fitted to the six epoch times of Table 1 (TX2 and Nano; EfficientNet-B1, MobileNetV2, ResNet50).
The Xavier NX gets the same factors with its own peak, bandwidth and CPU, plus one architecture
factor for its Volta GPU (eff_volta, which the Maxwell/Pascal anchors cannot determine). See
tools/calibrate/README.md for the method, the sources and the assumptions.

Usage: calibrate_jetson.py [--models-dir traces/models] [--out-dir traces] [--report FILE] ...
Standard library and numpy only.
"""

import argparse
import datetime
import hashlib
import json
import os
import sys

from fit_report import report
from jetson_fit import fit_all
from jetson_law import (ANCHOR_MODELS, DEVICES, GB5_HOST, GB5_PER_GHZ, GiB, PARAMS, TABLE1, VOLTA, VOLTA_SCOPES,
                        Config, LayerCost, call_time, cpu_per_op_s, cpu_ratio, cpu_score, load_dispatch,
                        load_h200_reference, OPTIMIZER_STREAMS, optimizer_step_s)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))

# Trace batch sizes per model (docs/formats.md: strictly increasing); they cover every micro-batch
# size the scenarios allow, so the trace loader interpolates and never extrapolates.
TRACE_BATCHES = {
    "efficientnet_b1": [1, 2, 4, 8, 16, 32, 64, 128],
    "mobilenetv2": [1, 2, 4, 8, 16, 32, 64, 128],
    "resnet50": [1, 2, 4, 8, 16, 32, 64],
    "bert_small": [1, 2, 4, 8, 16, 32],
}
# The layer description each model's traces are made from (BERT: 512 tokens per sample).
DESCRIPTION_FILES = {"bert_small": "bert_small_seq512.json"}


def sig(v, n=4):
    return float(f"{v:.{n}g}")


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models-dir", default=os.path.join(ROOT, "traces", "models"))
    ap.add_argument("--out-dir", default=os.path.join(ROOT, "traces"),
                    help="traces are written to OUT_DIR/<device_type>/<model>.json")
    ap.add_argument("--report", default=os.path.join(HERE, "fit_report.md"))
    ap.add_argument("--models", default="efficientnet_b1,mobilenetv2,resnet50,bert_small,gpt2_124m,gpt2_355m,t5_small,t5_large")
    ap.add_argument("--description", action="append", default=[], metavar="MODEL=FILE",
                    help="layer description of MODEL, a file name in --models-dir (default <model>.json; "
                         "bert_small: bert_small_seq512.json); repeatable")
    ap.add_argument("--dispatch", default=os.path.join(HERE, "dispatch_local_cpu.json"),
                    help="asteroid-profile --dispatch output: libtorch's CPU cost per op here")
    ap.add_argument("--h200-reference", default=os.path.join(HERE, "h200_reference", "gpu_table1.json"),
                    help="launch cost and CUDA kernels per training step measured on an H200 host")
    ap.add_argument("--os-reserve", type=float, default=1.0,
                    help="GiB taken by the OS and the framework on every board (default 1)")
    ap.add_argument("--epoch-images-miniimagenet", type=int, default=50000)
    ap.add_argument("--epoch-images-cifar", type=int, default=50000)
    ap.add_argument("--table1-batch-cifar", type=int, default=128)
    ap.add_argument("--table1-batch-resnet50", type=int, default=16)
    ap.add_argument("--bwd-bytes-factor", type=float, default=2.0)
    ap.add_argument("--bwd-ops-factor", type=float, default=2.0,
                    help="ops of a layer's backward per forward op (default 2)")
    ap.add_argument("--optimizer-bytes-factor", type=float, default=5.0,
                    help="parameter-sized streams per optimizer step (SGD momentum: 5)")
    ap.add_argument("--prior-weight", type=float, default=0.1)
    ap.add_argument("--overlap", choices=["max", "sum"], default="max",
                    help="a layer's call takes max(cpu, gpu) (default) or cpu + gpu")
    ap.add_argument("--op-term", choices=["per_sample", "per_call"], default="per_sample",
                    help="the fitted GPU cost per op scales with the samples (default) or is paid once per call")
    ap.add_argument("--fixed-cost-scale", type=float, default=1.0,
                    help="multiplies the measured CPU cost per op (for studies; default 1)")
    ap.add_argument("--nx-cpu-ghz", type=float, default=1.9, help="Carmel clock of the NX (default 1.9)")
    ap.add_argument("--nx-nano-resnet50", type=float, default=3.7,
                    help="NX/Nano ResNet50 training ratio that calibrates eff_volta (default 3.7)")
    ap.add_argument("--volta-scope", choices=sorted(VOLTA_SCOPES), default="gpu",
                    help="NX GPU terms eff_volta applies to (default gpu: compute and memory)")
    ap.add_argument("--no-write", action="store_true", help="print the fit, write nothing")
    ap.add_argument("--no-sensitivity", action="store_true")
    return ap.parse_args(argv)


def load_models(args, names):
    files = dict(DESCRIPTION_FILES)
    for item in args.description:
        model, sep, fname = item.partition("=")
        if not sep or not fname:
            sys.exit(f"--description {item}: expected MODEL=FILE")
        files[model] = fname
    descs, digests = {}, {}
    for m in names:
        fname = files.get(m, m + ".json")
        path = os.path.join(args.models_dir, fname)
        if not os.path.exists(path):
            sys.exit(f"missing layer description {path}")
        with open(path, "rb") as f:
            digests[m] = (fname, hashlib.sha256(f.read()).hexdigest())
        with open(path) as f:
            d = json.load(f)
        for key in ("schema_version", "model", "layers"):
            if key not in d:
                sys.exit(f"{path}: missing key \"{key}\"")
        if d["schema_version"] != 1:
            sys.exit(f"{path}: schema_version {d['schema_version']} is not 1")
        if d["model"] != m:
            sys.exit(f"{path}: model is \"{d['model']}\", expected \"{m}\"")
        descs[m] = d
    for m in ANCHOR_MODELS:
        if m not in descs:
            sys.exit(f"the fit needs the layer description of {m}")
    return descs, digests


def make_config(args, descs):
    dispatch_s, dispatch_src = load_dispatch(args.dispatch)
    launch_s, kernels_step, h200_src = load_h200_reference(args.h200_reference)
    per_op = {}
    for m, k in kernels_step.items():
        if m in descs:
            ops = sum(float(l.get("kernels", 0)) for l in descs[m]["layers"]) * (1 + args.bwd_ops_factor)
            per_op[m] = k / ops
    per_op["_default"] = sum(per_op.values()) / len(per_op)
    return Config(
        table1_batch={"efficientnet_b1": args.table1_batch_cifar, "mobilenetv2": args.table1_batch_cifar,
                      "resnet50": args.table1_batch_resnet50},
        epoch_images={"efficientnet_b1": args.epoch_images_cifar, "mobilenetv2": args.epoch_images_cifar,
                      "resnet50": args.epoch_images_miniimagenet},
        dispatch_s=dispatch_s, dispatch_source=dispatch_src, launch_s=launch_s, kernels_per_op=per_op,
        kernels_source=h200_src, os_reserve_gib=args.os_reserve, bwd_bytes_factor=args.bwd_bytes_factor,
        bwd_ops_factor=args.bwd_ops_factor, optimizer_bytes_factor=args.optimizer_bytes_factor,
        prior_weight=args.prior_weight, overlap=args.overlap, op_term=args.op_term, fixed_cost_scale=args.fixed_cost_scale,
        nx_cpu_ghz=args.nx_cpu_ghz, nx_nano_resnet50=args.nx_nano_resnet50, volta_scope=args.volta_scope)


def fixed_cost_provenance(d, m, cfg):
    dev = DEVICES[d]
    k = cfg.kernels_per_op.get(m, cfg.kernels_per_op["_default"])
    return {
        "per_op_s": sig(cpu_per_op_s(d, m, cfg)),
        "formula": "r * (dispatch + kernels_per_op * launch)",
        "dispatch_s": sig(cfg.dispatch_s), "dispatch_source": cfg.dispatch_source,
        "launch_s": sig(cfg.launch_s), "kernels_per_op": sig(k),
        "launch_and_kernels_source": (cfg.kernels_source + " (tools/calibrate/h200_reference/; launch = "
                                      "CUDA minus CPU tiny op; kernels_per_op = kernels per step / ops per "
                                      "step of the layer description" +
                                      ("" if m in cfg.kernels_per_op else ", mean of the measured models") + ")"),
        "r": sig(cpu_ratio(d, cfg)),
        "r_source": (f"Geekbench 5 single-core: this machine's class (Xeon Sapphire/Emerald Rapids) {GB5_HOST}, "
                     f"the board's {dev['cpu']} at {cfg.nx_cpu_ghz if dev['cpu'] == 'Carmel' else dev['cpu_ghz']:g} GHz "
                     f"{cpu_score(d, cfg):.0f} (Cortex-A57 {GB5_PER_GHZ['Cortex-A57']:.1f} per GHz"
                     + (f"; Carmel taken as {cfg.carmel_per_ghz_vs_a57:.2f}x the A57 per GHz" if dev["cpu"] == "Carmel"
                        else "") + "); see tools/calibrate/README.md"),
        "scale": cfg.fixed_cost_scale,
        "overlap": cfg.overlap,
    }


def trace_layers(d, m, desc, costs, p, cfg, bs):
    """The trace's layers: the description's sizes and the law's times at the batch sizes bs on
    device d (a Jetson type or datasheet figures, jetson_law.device_figures). derive_traces.py
    writes datasheet devices' layers with it too."""
    layers = []
    for l, lc in zip(desc["layers"], costs):
        out = {"name": l["name"]}
        if "class" in l:
            out["class"] = l["class"]
        for key in ("fwd_flops_per_sample", "bwd_flops_per_sample", "param_bytes",
                    "output_activation_bytes_per_sample", "stored_activation_bytes_per_sample"):
            if key in l:
                out[key] = l[key]
        if "linear_maps" in l:  # LoRA and adapters are sized from them (docs/formats.md)
            out["linear_maps"] = l["linear_maps"]
        fwd, bwd = lc.passes()
        out["fwd_s"] = [sig(call_time(fwd, d, m, p, cfg, b), 6) for b in bs]
        out["bwd_s"] = [sig(call_time(bwd, d, m, p, cfg, b), 6) for b in bs]
        out["optimizer_step_s"] = {o: sig(optimizer_step_s(float(l["param_bytes"]), d, p, cfg, streams), 6)
                                   for o, streams in OPTIMIZER_STREAMS.items()}
        layers.append(out)
    return layers


def trace_of(d, m, desc, digest, models, p, errors, cfg, date):
    dev = DEVICES[d]
    bs = TRACE_BATCHES.get(m, [1, 2, 4, 8, 16, 32])
    layers = trace_layers(d, m, desc, models[m][0], p, cfg, bs)
    notes = []
    if m not in ANCHOR_MODELS:
        notes.append(f"{m} has no anchor in Table 1: its GPU times use the factors fitted on the "
                     "convolutional networks (linear and attention use u_dense, norm/element-wise/embedding "
                     "u_dwconv and u_mem)")
    if not any(dd == d for (_, dd) in TABLE1):
        notes.append("this device has no training anchor: the factors fitted on TX2 and Nano are applied "
                     f"with its own FP32 peak, bandwidth and CPU, and its GPU terms are divided by {VOLTA} = "
                     f"{sig(p[VOLTA])}, calibrated on an expected NX/Nano ratio, not on a training measurement")
    prov = {
        "kind": "derived",
        "method": ("per layer and call with b samples: t(b) = " + ("max(cpu, gpu(b))" if cfg.overlap == "max"
                                                                   else "cpu + gpu(b)") +
                   "; cpu = ops * fixed_cost.per_op_s (measured and scaled, not fitted); gpu(b) = weight bytes "
                   "/ (u_mem * bandwidth) + b * sum over classes of max(FLOPs / (u_class * fp32_peak), activation "
                   f"bytes / (u_mem * bandwidth)); backward: the description's bwd FLOPs, {cfg.bwd_bytes_factor:g}x "
                   f"the activation bytes, 2x the weight bytes, {cfg.bwd_ops_factor:g}x the ops. u_dense, u_dwconv, "
                   "u_mem are shared by all devices and models and fitted (log-space least squares, log-normal prior "
                   f"weight {cfg.prior_weight:g}) so that epoch = images / batch * (sum of fwd+bwd at the batch + "
                   "optimizer step) matches Table 1. The optimizer step is in the fit, with SGD-momentum's streams, "
                   "and in each layer's optimizer_step_s: streams x weight bytes / (u_mem * bandwidth), "
                   "streams per optimizer in assumptions.optimizer_streams. "
                   + (f"This device (Volta) divides its GPU terms by {VOLTA} (architecture_factor). "
                      if dev["architecture"] == "Volta" else "") + "See tools/calibrate/README.md."),
        "source": ("Table 1 of Ye et al., 'Asteroid', MobiCom 2024 (epoch times on Jetson TX2 and Nano); NVIDIA "
                   "Jetson module data sheets (peak, bandwidth, memory); layer description traces/models/" +
                   digest[0] + "; fixed_cost (its own sources)"),
        "model_description": {"file": f"traces/models/{digest[0]}", "sha256": digest[1]},
        "fixed_cost": fixed_cost_provenance(d, m, cfg),
        "fitted_factors": {n: sig(p[n]) for n in PARAMS},
        "fit_error": errors,
        "assumptions": {
            "table1_batch_size": dict(cfg.table1_batch),
            "epoch_images": dict(cfg.epoch_images),
            "optimizer_in_fit": f"SGD with momentum, {cfg.optimizer_bytes_factor:g} parameter-sized streams per step",
            "optimizer_streams": dict(OPTIMIZER_STREAMS),
            "os_and_framework_reserve_bytes": int(cfg.os_reserve_gib * GiB),
            "precision": "FP32",
        },
        "specs": {k: v for k, v in dev.items() if k != "label"},
        "date": date,
        "tool": "tools/calibrate/calibrate_jetson.py",
    }
    if dev["architecture"] == "Volta":
        prov["specs"]["cpu_ghz"] = cfg.nx_cpu_ghz
        prov["architecture_factor"] = {
            "name": VOLTA, "value": sig(p[VOLTA]), "applies_to": list(VOLTA_SCOPES[cfg.volta_scope]),
            "kind": "calibrated on an expected ratio, not fitted to a training measurement",
            "anchored_to": (f"ResNet50 NX/Nano per-sample training ratio = {cfg.nx_nano_resnet50:g}: between the "
                            "FP32 peak ratio 3.58 and 3.87 = that ratio times the gain of Pascal over its peak "
                            "ratio in Table 1 (ResNet50 TX2/Nano 3.05 against 2.82)"),
        }
    if notes:
        prov["extrapolation"] = "; ".join(notes)
    return {
        "schema_version": 1, "device_type": d,
        "device": {"memory_bytes": int(dev["memory_bytes"]),
                   "usable_memory_bytes": int(dev["memory_bytes"] - cfg.os_reserve_gib * GiB),
                   "description": f"NVIDIA Jetson {dev['label']} ({dev['gpu']}, {dev['memory_bytes'] // GiB} GiB "
                                  f"unified memory, {dev['power_mode']}); derived, not measured"},
        "model": desc["model"], "input": desc.get("input", ""), "provenance": prov,
        "batch_sizes": bs, "layers": layers,
    }


def main():
    args = parse_args()
    names = [m for m in args.models.split(",") if m]
    descs, digests = load_models(args, names)
    cfg = make_config(args, descs)
    models = {m: ([LayerCost(l, cfg) for l in descs[m]["layers"]],
                  sum(float(l["param_bytes"]) for l in descs[m]["layers"])) for m in names}
    p, errors = fit_all(models, cfg)
    lines, _ = report(models, names, p, errors, cfg, sensitivity_rows=not args.no_sensitivity)
    text = "\n".join(lines)
    print(text)
    if args.no_write:
        return
    with open(args.report + ".tmp", "w") as f:
        f.write(text)
    os.replace(args.report + ".tmp", args.report)
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    for d in DEVICES:
        os.makedirs(os.path.join(args.out_dir, d), exist_ok=True)
        for m in names:
            trace = trace_of(d, m, descs[m], digests[m], models, p, errors, cfg, date)
            path = os.path.join(args.out_dir, d, m + ".json")
            with open(path + ".tmp", "w") as f:
                json.dump(trace, f, indent=1)
                f.write("\n")
            os.replace(path + ".tmp", path)
    print(f"wrote {len(DEVICES) * len(names)} traces under {args.out_dir} and {args.report}", file=sys.stderr)


if __name__ == "__main__":
    main()
