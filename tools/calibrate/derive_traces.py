#!/usr/bin/python3
"""Derive training traces of a device from its datasheet (traces/<type>/device.json) for any model's
layer description, by the same law as the Jetson traces.

    derive_traces.py --device traces/<type>/device.json [--model-desc FILE ...] [-o DIR]

writes DIR/<type>/<model>.json (default DIR: traces/) for each layer description (default: the
built-in models' descriptions the Jetson traces are made from). The law (jetson_law.py) is the Jetson
one with this device's figures: its GPU factors are those fitted on Table 1 (TX2 and Nano), a GPU
newer than Pascal gets the NX's eff_volta, and a device without a GPU computes on its CPU with the
factors fitted on this machine's measured traces (cpu_fit.py). Each trace's provenance says which
factors are carried over from which boards, which figure comes from which public document, and the
range its step time may plausibly lie in (propagated from the fit errors, the carried-over factors
and the datasheet's own ranges). tools/calibrate/README.md, "Datasheet devices".

Bad input (a datasheet or layer description that is unreadable, has a missing or unknown field, a
number without its unit or a negative one) is refused in one line naming the file and the field,
with exit status 2. Standard library and numpy only.
"""

import os

# One BLAS thread: a threaded BLAS may sum the fits' normal equations in another order from run to
# run, and the Levenberg-Marquardt stop near the roofline's kinks then moves by about 1e-5; the
# committed traces must be what the tool makes (tests/core/datasheet_test.sh).
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402 (after the thread settings, before numpy is imported)
import datetime
import hashlib
import json
import math
import sys

import calibrate_jetson as cj
import cpu_fit
from datasheet import Datasheet, DatasheetError
from jetson_fit import fit_all
from jetson_law import (ANCHOR_MODELS, COMPUTE_GROUP, GB5_HOST, GiB, OPTIMIZER_STREAMS, PARAMS, POST_PASCAL, VOLTA,
                        VOLTA_SCOPES, LayerCost, call_time, cpu_per_op_s, optimizer_step_s)

HERE = cj.HERE
ROOT = cj.ROOT
LAYER_KEYS = ("name", "class", "fwd_flops_per_sample", "bwd_flops_per_sample", "param_bytes", "kernels",
              "flops_by_class", "bytes_by_class", "bytes_moved_per_sample", "output_activation_bytes_per_sample",
              "stored_activation_bytes_per_sample", "linear_maps")
# The datasheet figures the law uses; a range on any other figure changes no time.
LAW_FIGURES = ("gpu.fp32_peak", "cpu.fp32_peak", "memory.bandwidth", "cpu.clock", "cpu.geekbench5_single_core",
               "cpu.geekbench5_single_core_per_ghz")
REFERENCE_BATCH = 32  # the uncertainty is stated for a step at this batch (or the largest traced below it)


class InputError(Exception):
    """One line naming the file and the field; exit status 2."""


def shown(path):
    """A path as a trace records it: relative to the repository when inside it."""
    a = os.path.abspath(path)
    return os.path.relpath(a, ROOT) if a.startswith(ROOT + os.sep) else a


def number_field(path, where, v, name):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise InputError(f"{path}: {where}.{name}: {v!r} must be a number")
    if v < 0:
        raise InputError(f"{path}: {where}.{name}: {v!r} must not be negative")


def load_description(path):
    """A layer description (docs/formats.md; asteroid-profile --describe) checked field by field:
    (description, sha256)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise InputError(f"{path}: cannot read the file ({e.strerror or e})")
    try:
        d = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise InputError(f"{path}: not valid JSON ({e})")
    if not isinstance(d, dict):
        raise InputError(f"{path}: must be a JSON object")
    for k in d:
        if k not in ("schema_version", "model", "input", "layers", "provenance", "model_options"):
            raise InputError(f"{path}: {k}: unknown field")
    for k in ("schema_version", "model", "layers"):
        if k not in d:
            raise InputError(f"{path}: {k}: missing")
    if d["schema_version"] != 1:
        raise InputError(f"{path}: schema_version: this tool reads 1; the file has {d['schema_version']!r}")
    if not isinstance(d["model"], str) or not cj_plain(d["model"]):
        raise InputError(f"{path}: model: {d['model']!r} must be 1 to 100 letters, digits, '_', '-' or '.'")
    if not isinstance(d["layers"], list) or not d["layers"]:
        raise InputError(f"{path}: layers: must be a non-empty list")
    for i, l in enumerate(d["layers"]):
        where = f"layers[{i}]"
        if not isinstance(l, dict):
            raise InputError(f"{path}: {where}: must be an object")
        for k in l:
            if k not in LAYER_KEYS:
                raise InputError(f"{path}: {where}.{k}: unknown field")
        for k in ("name", "param_bytes"):
            if k not in l:
                raise InputError(f"{path}: {where}.{k}: missing")
        for k in ("fwd_flops_per_sample", "bwd_flops_per_sample", "param_bytes", "kernels", "bytes_moved_per_sample",
                  "output_activation_bytes_per_sample", "stored_activation_bytes_per_sample"):
            if k in l:
                number_field(path, where, l[k], k)
        if "class" in l and l["class"] not in COMPUTE_GROUP:
            raise InputError(f"{path}: {where}.class: unknown class {l['class']!r} (known: {', '.join(COMPUTE_GROUP)})")
        for k in ("flops_by_class", "bytes_by_class"):
            if k in l:
                if not isinstance(l[k], dict):
                    raise InputError(f"{path}: {where}.{k}: must be an object class -> number")
                for c, v in l[k].items():
                    if c not in COMPUTE_GROUP:
                        raise InputError(f"{path}: {where}.{k}.{c}: unknown class (known: {', '.join(COMPUTE_GROUP)})")
                    number_field(path, f"{where}.{k}", v, c)
    return d, hashlib.sha256(raw).hexdigest()


def cj_plain(name):
    from datasheet import PLAIN_NAME
    return bool(PLAIN_NAME.match(name))


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", required=True, metavar="FILE", help="the datasheet, traces/<type>/device.json")
    ap.add_argument("--model-desc", action="append", default=[], metavar="FILE",
                    help="a layer description (traces/models/*.json format); repeatable. Default: the "
                         "built-in models' descriptions the Jetson traces are made from")
    ap.add_argument("-o", "--out-dir", default=os.path.join(ROOT, "traces"),
                    help="traces are written to OUT_DIR/<device_type>/<model>.json (default traces/)")
    ap.add_argument("--batch-sizes", default="", metavar="B1,B2,...",
                    help="trace batch sizes (default: the Jetson traces' for a built-in model, else 1,2,...,128)")
    ap.add_argument("--host-cpu", default=os.path.join(HERE, "host_cpu.json"),
                    help="this machine's figures, for the CPU fit of a device without a GPU")
    ap.add_argument("--local-cpu-traces", default=os.path.join(ROOT, "traces", "local_cpu"),
                    help="the measured traces the CPU factors are fitted on")
    ap.add_argument("--models-dir", default=os.path.join(ROOT, "traces", "models"),
                    help="where the Table 1 fit finds its layer descriptions")
    return ap.parse_args(argv)


def step_per_sample(dev, m, costs, param_bytes, p, cfg, b):
    t = sum(call_time(ps, dev, m, p, cfg, b) for lc in costs for ps in lc.passes())
    return (t + optimizer_step_s(param_bytes, dev, p, cfg)) / b


def uncertainty(ds, dev, m, costs, param_bytes, p, cfg, errors, bs, refit_cpu):
    """How far the step time may plausibly be from this trace's: one entry per source of error, each
    a (low, high) multiplier of the trace's time computed by re-evaluating the law under the
    alternative, and their product as the range (every error at its extreme at once)."""
    b = max([x for x in bs if x <= REFERENCE_BATCH] or [bs[0]])
    base = step_per_sample(dev, m, costs, param_bytes, p, cfg, b)
    out = []

    def add(what, times):
        ratios = [t / base for t in times]
        if all(abs(r - 1) < 5e-4 for r in ratios):
            return  # a figure this step does not depend on (e.g. a clock where the score is given)
        out.append({"what": what, "low": round(min(ratios + [1.0]), 3), "high": round(max(ratios + [1.0]), 3)})

    lo_e, hi_e = min(errors.values()), max(errors.values())
    if dev["has_gpu"]:
        add("the law's error on its anchors (Table 1, TX2 and Nano): the true time is the trace's / (1 + error)",
            [base / (1 + hi_e), base / (1 + lo_e)])
        if dev["architecture"] in POST_PASCAL and dev["architecture"] != "Volta":
            alt = [step_per_sample(dev, m, costs, param_bytes, dict(p, **{VOLTA: v}), cfg, b)
                   for v in (1.0, p[VOLTA] ** 2)]
            add(f"{VOLTA} carried over from the Volta NX to {dev['architecture']}: no gain over Pascal (1) to "
                f"one more generation of it ({VOLTA} squared)", alt)
        if dev["architecture"] in ("Ampere", "Ada"):
            half = dict(dev, fp32_peak_flops=dev["fp32_peak_flops"] / 2)
            add("the FP32 peak counts both FP32 datapaths of an Ampere/Ada SM, one of which also serves INT32: "
                "up to half of it reached", [step_per_sample(half, m, costs, param_bytes, p, cfg, b)])
    else:
        add("the CPU law's error on this machine's measured traces (cpu_fit.py): the true time is the "
            "trace's / (1 + error)", [base / (1 + hi_e), base / (1 + lo_e)])
        for field, (lo, hi) in sorted(refit_cpu["host_ranges"].items()):
            alt = []
            for v in (lo, hi):
                q = dict(p, **refit_cpu["refit"](field, v))
                alt.append(step_per_sample(dev, m, costs, param_bytes, q, cfg, b))
            add(f"this machine's {field} (host_cpu.json) from {lo:.4g} to {hi:.4g}: refitted CPU factors", alt)
    for field, (lo, hi) in sorted(ds.ranges.items()):
        if field not in LAW_FIGURES:
            continue
        alt = [step_per_sample(ds.figures({field: v}, dev["reserve_bytes"]), m, costs, param_bytes, p, cfg, b)
               for v in (lo, hi)]
        add(f"the datasheet's range of {field}", alt)
    low = math.prod(e["low"] for e in out)
    high = math.prod(e["high"] for e in out)
    return {"batch_size": b, "step_s_per_sample": cj.sig(base), "factors": out,
            "range": [round(low, 3), round(high, 3)],
            "how": "each factor re-evaluates the law under its alternative (a multiplier of this trace's time at "
                   "batch_size); range multiplies the lows and the highs, every error at its extreme at once"}


def provenance(ds, dev, m, digest, desc_file, p, errors, cfg, unc, date, cpu_src):
    k = cfg.kernels_per_op.get(m, cfg.kernels_per_op["_default"])
    r = GB5_HOST / dev["cpu_score"]
    gpu = dev["has_gpu"]
    if gpu:
        factors = {n: cj.sig(p[n]) for n in PARAMS}
        carried = [f"u_dense, u_dwconv, u_mem and op_sample_nano_s: fitted on Table 1 (Jetson TX2 and Nano: "
                   f"Pascal and Maxwell; {', '.join(f'{a} {e:+.1%}' for a, e in errors.items())}), carried over to "
                   f"this {dev['architecture']} GPU with its own FP32 peak and bandwidth by assumption"]
        if dev["architecture"] in POST_PASCAL:
            factors[VOLTA] = cj.sig(p[VOLTA])
            carried.append(f"{VOLTA} = {cj.sig(p[VOLTA])}: calibrated on the Xavier NX's expected ResNet50 NX/Nano "
                           "ratio (not on a training measurement)" + ("" if dev["architecture"] == "Volta" else
                           f", carried over to {dev['architecture']} by assumption (no further generation gain)"))
    else:
        factors = {n: cj.sig(p[n]) for n in cpu_fit.CPU_PARAMS}
        carried = ["cpu_u_dense, cpu_u_dwconv, cpu_u_mem: fitted on this machine's measured traces "
                   f"(traces/local_cpu, one thread; {cpu_src}), carried over to this CPU with its own FP32 peak "
                   "(all its cores) and DRAM bandwidth by assumption"]
    carried.append(f"the CPU cost per op: measured on this machine (dispatch) and an H200 host (launch), scaled by "
                   f"Geekbench 5 single-core scores ({GB5_HOST} here, {dev['cpu_score']:.0f} this device's core)")
    not_in_range = ["thermal throttling", "the Python front end of a training loop (the fixed cost is a lower bound)",
                    "data loading"]
    if gpu and dev["architecture"] in ("Ampere", "Ada"):
        not_in_range.insert(0, "TF32 Tensor Cores, which cuDNN uses for FP32 convolutions by default on Ampere and "
                               "newer (faster than this trace)")
    if not gpu:
        not_in_range.insert(0, "intra-op threading losses over the device's cores (the CPU factors come from one "
                               "thread: slower than this trace)")
    overlap = "max(cpu, gpu(b))" if cfg.overlap == "max" else "cpu + gpu(b)"
    method = (f"the Jetson law (tools/calibrate/jetson_law.py) with this device's datasheet figures: per layer and "
              f"call with b samples, t(b) = {overlap}; cpu = ops * fixed_cost.per_op_s; gpu(b) = weight bytes / "
              "(u_mem * bandwidth) + b * (sum over classes of max(FLOPs / (u_class * fp32_peak), activation bytes / "
              "(u_mem * bandwidth)) + ops * g), g = op_sample_nano_s * bandwidth_nano / bandwidth"
              + (f"; post-Pascal GPU terms divided by {VOLTA}" if dev["architecture"] in POST_PASCAL else "")
              if gpu else
              "the Jetson law's class roofline on the CPU (no GPU): per layer and call with b samples, t(b) = ops * "
              "fixed_cost.per_op_s + weight bytes / (cpu_u_mem * bandwidth) + b * sum over classes of max(FLOPs / "
              "(cpu_u_class * fp32_peak), activation bytes / (cpu_u_mem * bandwidth)); dispatch and compute add (one "
              "thread issues and waits)")
    method += (f". Backward: the description's bwd FLOPs, {cfg.bwd_bytes_factor:g}x the activation bytes, 2x the "
               f"weight bytes, {cfg.bwd_ops_factor:g}x the ops; optimizer_step_s: streams x weight bytes / (u_mem * "
               "bandwidth). See tools/calibrate/README.md, \"Datasheet devices\".")
    return {
        "kind": "derived",
        "method": method,
        "source": (f"the datasheet {ds.provenance(shown(ds.path))['file']} (every figure with its public source, under "
                   "datasheet.figures); " + ("Table 1 of Ye et al., 'Asteroid', MobiCom 2024 (the fitted GPU factors)"
                                             if gpu else "this machine's measured traces/local_cpu (the CPU factors)")
                   + f"; layer description {desc_file}; fixed_cost (its own sources)"),
        "datasheet": ds.provenance(shown(ds.path)),
        "model_description": {"file": desc_file, "sha256": digest},
        "fixed_cost": {
            "per_op_s": cj.sig(cpu_per_op_s(dev, m, cfg)),
            "formula": "r * (dispatch + kernels_per_op * launch)" if gpu else "r * dispatch (no GPU to launch on)",
            "dispatch_s": cj.sig(cfg.dispatch_s), "dispatch_source": cfg.dispatch_source,
            "launch_s": cj.sig(cfg.launch_s) if gpu else 0.0, "kernels_per_op": cj.sig(k),
            "launch_and_kernels_source": cfg.kernels_source + " (tools/calibrate/h200_reference/)",
            "r": cj.sig(r),
            "r_source": f"Geekbench 5 single-core: this machine's class {GB5_HOST}, this device's core "
                        f"{dev['cpu_score']:.0f} (datasheet cpu figures)",
            "scale": cfg.fixed_cost_scale, "overlap": cfg.overlap if gpu else "sum",
        },
        "fitted_factors": factors,
        "carried_over": carried,
        "fit_error": errors,
        "uncertainty": dict(unc, not_in_range=not_in_range),
        "assumptions": {
            "optimizer_streams": dict(OPTIMIZER_STREAMS),
            "os_and_framework_reserve_bytes": dev["reserve_bytes"],
            "precision": "FP32",
        },
        "specs": {k2: dev[k2] for k2 in ("architecture", "fp32_peak_flops", "memory_bandwidth_Bps", "memory_bytes",
                                          "cpu_score")},
        "extrapolation": ("no training measurement of this device: every time is the law's, with factors from other "
                          "hardware (carried_over); uncertainty gives the plausible range"),
        "date": date,
        "tool": "tools/calibrate/derive_traces.py",
    }


def write_atomically(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def main(argv=None):
    args = parse_args(argv)
    try:
        ds = Datasheet(args.device, args.device)
        descs = []
        files = args.model_desc or [os.path.join(args.models_dir, cj.DESCRIPTION_FILES.get(m, m + ".json"))
                                    for m in cj.parse_args([]).models.split(",")]
        for f in files:
            d, digest = load_description(f)
            descs.append((d, digest, shown(f)))
        bs_arg = None
        if args.batch_sizes:
            try:
                bs_arg = [int(x) for x in args.batch_sizes.split(",")]
            except ValueError:
                bs_arg = []
            if not bs_arg or any(b < 1 for b in bs_arg) or bs_arg != sorted(set(bs_arg)):
                raise InputError(f"--batch-sizes: {args.batch_sizes!r} must be strictly increasing positive integers")
    except (DatasheetError, InputError) as e:
        print(e, file=sys.stderr)
        return 2

    # The law's factors: the Jetson fit (always: a GPU device uses it; its Table 1 errors are the
    # fit's), and for a device without a GPU the CPU fit on this machine's measured traces.
    jargs = cj.parse_args(["--models-dir", args.models_dir])
    anchor_descs, _ = cj.load_models(jargs, ANCHOR_MODELS)
    cfg = cj.make_config(jargs, anchor_descs)
    models = {m: ([LayerCost(l, cfg) for l in anchor_descs[m]["layers"]],
                  sum(float(l["param_bytes"]) for l in anchor_descs[m]["layers"])) for m in ANCHOR_MODELS}
    p, errors = fit_all(models, cfg)
    dev = ds.figures(reserve_bytes=cfg.os_reserve_gib * GiB)
    cpu_src, refit = "", None
    if not dev["has_gpu"]:
        try:
            host_ds = Datasheet(args.host_cpu)
        except DatasheetError as e:
            print(e, file=sys.stderr)
            return 2
        anchors = cpu_fit.measured_anchors(args.local_cpu_traces, args.models_dir, cfg)
        if not anchors:
            print(f"{args.local_cpu_traces}: no measured trace with a layer description in {args.models_dir}: "
                  "the CPU factors cannot be fitted", file=sys.stderr)
            return 2
        pc, errors = cpu_fit.fit_cpu(anchors, host_ds.figures(reserve_bytes=0), cfg)
        p.update(pc)
        cpu_src = (f"{len(anchors)} model and batch sizes, this machine's figures in {shown(args.host_cpu)}, errors "
                   f"{min(errors.values()):+.1%} to {max(errors.values()):+.1%}")

        def refit_one(field, v):
            return cpu_fit.fit_cpu(anchors, host_ds.figures({field: v}, 0), cfg)[0]
        refit = {"host_ranges": {f: r for f, r in host_ds.ranges.items() if f in LAW_FIGURES}, "refit": refit_one}
    if dev["memory_bytes"] <= dev["reserve_bytes"]:
        print(f"{args.device}: memory.size: {dev['memory_bytes']} B leaves nothing beside the "
              f"{dev['reserve_bytes']} B reserved for the OS and the framework", file=sys.stderr)
        return 2

    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    out_dir = os.path.join(args.out_dir, ds.doc["device_type"])
    os.makedirs(out_dir, exist_ok=True)
    for desc, digest, desc_file in descs:
        m = desc["model"]
        path = os.path.join(out_dir, m + ".json")
        if os.path.exists(path):
            try:
                with open(path) as f:
                    kind = json.load(f).get("provenance", {}).get("kind")
            except (OSError, ValueError):
                kind = None
            if kind != "derived":
                print(f"{path}: not overwritten: it is not a derived trace (provenance.kind {kind!r})", file=sys.stderr)
                return 2
        costs = [LayerCost(l, cfg) for l in desc["layers"]]
        param_bytes = sum(float(l["param_bytes"]) for l in desc["layers"])
        bs = bs_arg or cj.TRACE_BATCHES.get(m, [1, 2, 4, 8, 16, 32, 64, 128])
        unc = uncertainty(ds, dev, m, costs, param_bytes, p, cfg, errors, bs, refit)
        trace = {
            "schema_version": 1, "device_type": ds.doc["device_type"],
            "device": {"memory_bytes": dev["memory_bytes"],
                       "usable_memory_bytes": dev["memory_bytes"] - dev["reserve_bytes"],
                       "description": f"{ds.doc['description']}; derived from its datasheet, not measured"},
            "model": m, "input": desc.get("input", ""),
            "provenance": provenance(ds, dev, m, digest, desc_file, p, errors, cfg, unc, date, cpu_src),
            "batch_sizes": bs,
            "layers": cj.trace_layers(dev, m, desc, costs, p, cfg, bs),
        }
        write_atomically(path, trace)
        print(f"wrote {path} (step at batch {unc['batch_size']}: {unc['step_s_per_sample'] * unc['batch_size']:.4g} s, "
              f"plausibly x{unc['range'][0]:g} to x{unc['range'][1]:g})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
