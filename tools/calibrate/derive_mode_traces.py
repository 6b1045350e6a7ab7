#!/usr/bin/python3
"""Derive the Jetson traces of the non-default power modes: the same law and fitted factors as the
default-mode traces (calibrate_jetson.py), with each mode's clocks.

A power mode (nvpmodel) caps the GPU clock, the CPU clock and cores, and on some boards the memory
(EMC) clock. The law (jetson_law.py) takes them as three figures: the GPU's FP32 peak (CUDA cores x 2
x GPU clock), the memory bandwidth (bus width x EMC clock) and the training-loop core's single-thread
score (score per GHz x CPU clock). A mode's trace is the law with each figure scaled by the mode's
clock over the default mode's (MODE_CLOCKS below, from NVIDIA's nvpmodel tables); the fitted factors
are the default traces' and are not refitted (no mode has a training anchor). Derived, not measured:
each trace says so in its provenance, with the clocks and their sources.

Writes OUT_DIR/<device_type>/modes/<mode>/<model>.json (docs/formats.md, "Traces of other power
modes"), where a scenario's device with `"power_mode": "<mode>"` finds it. Before writing, it checks
that the law with the default mode's clocks gives back the committed default traces (else the fit or
the inputs changed: rerun calibrate_jetson.py first).

Usage: derive_mode_traces.py [--out-dir traces] [--check]   (--check: compare, write nothing)
"""

import argparse
import datetime
import json
import os
import sys

import calibrate_jetson as cj
from jetson_fit import fit_all
from jetson_law import DEVICES, LayerCost, cpu_score

L4T = ("NVIDIA's nvpmodel configuration of the board (its POWER_MODEL entries: CPU_ONLINE cores, CPU MAX_FREQ in "
       "kHz, GPU and EMC MAX_FREQ in Hz; -1 or EMC 0: uncapped, the top of the board's clock table), as shipped "
       "with Jetson Linux (L4T)")

# Per device type and power mode (the names of traces/<type>/power.json): maximum GPU clock, CPU clock
# of the core that runs the training loop (single-threaded: the mode's fastest online core) and EMC
# (memory) clock, MHz. The default mode's row is the clocks the default traces are made for. Each
# note names the board's nvpmodel file and the release that has the mode; an uncapped clock is the
# top of that board's clock table (what jetson_clocks sets in that mode).
MODE_CLOCKS = {
    "jetson_nano": {
        "default": "MAXN",
        "modes": {
            "MAXN": {"gpu_mhz": 921.6, "cpu_mhz": 1479, "emc_mhz": 1600,
                     "note": "nvpmodel_t210_jetson-nano.conf, mode 0 MAXN: 4 A57 cores, CPU, GPU and EMC uncapped "
                             "(1479 MHz, 921.6 MHz, 1600 MHz)"},
            "5W": {"gpu_mhz": 614.4, "cpu_mhz": 918, "emc_mhz": 1600,
                   "note": "nvpmodel_t210_jetson-nano.conf, mode 1 5W: 2 A57 cores at 918 MHz, GPU capped at 640 MHz "
                           "(the highest step of the GPU's clock table under it is 614.4 MHz, the clock it runs "
                           "at), EMC 1600 MHz"},
        },
    },
    "jetson_tx2": {
        "default": "Max-N",
        "modes": {
            "Max-N": {"gpu_mhz": 1300.5, "cpu_mhz": 2035.2, "emc_mhz": 1866,
                      "note": "nvpmodel.conf (t186, L4T 28.1 and later), mode 0 MAXN: 2 Denver + 4 A57 cores, "
                              "CPU, GPU and EMC uncapped (2035.2 MHz, 1300.5 MHz, 1866 MHz)"},
            "Max-P": {"gpu_mhz": 1120, "cpu_mhz": 1400, "emc_mhz": 1600,
                      "note": "nvpmodel.conf (t186), mode 2 MAXP_CORE_ALL: 2 Denver + 4 A57 cores at 1400 MHz, "
                              "GPU 1120 MHz, EMC 1600 MHz"},
            "Max-Q": {"gpu_mhz": 850, "cpu_mhz": 1200, "emc_mhz": 1331.2,
                      "note": "nvpmodel.conf (t186), mode 1 MAXQ: 4 A57 cores at 1200 MHz (Denver off), GPU 850 MHz, "
                              "EMC 1331.2 MHz"},
        },
    },
    "jetson_xavier_nx": {
        "default": "15W",
        "modes": {
            "15W": {"gpu_mhz": 1109.25, "cpu_mhz": 1907.2, "emc_mhz": 1600,
                    "note": "nvpmodel_t194_p3668.conf, MODE_15W_2CORE: 2 Carmel cores at 1907.2 MHz, GPU 1109.25 MHz, "
                            "EMC 1600 MHz"},
            "10W": {"gpu_mhz": 803.25, "cpu_mhz": 1497.6, "emc_mhz": 1600,
                    "note": "nvpmodel_t194_p3668.conf, MODE_10W_2CORE: 2 Carmel cores at 1497.6 MHz, GPU 803.25 MHz, "
                            "EMC 1600 MHz"},
            "20W": {"gpu_mhz": 1109.25, "cpu_mhz": 1907.2, "emc_mhz": 1866,
                    "note": "nvpmodel_t194_p3668.conf of JetPack 4.6 (L4T 32.6.1) and later, MODE_20W_2CORE: "
                            "2 Carmel cores at 1907.2 MHz, GPU 1109.25 MHz (15W 2CORE's), EMC 1866 MHz (above "
                            "15W's 1600 MHz: the memory-bound layers run faster)"},
        },
    },
}


def mode_figures(d, mode, cfg):
    """The law's device figures of type d in `mode`: peak, bandwidth and CPU score scaled by the
    mode's clocks over the default mode's."""
    clocks = MODE_CLOCKS[d]
    base, m = clocks["modes"][clocks["default"]], clocks["modes"][mode]
    dev = dict(DEVICES[d], device_type=d, cpu_score=cpu_score(d, cfg) * m["cpu_mhz"] / base["cpu_mhz"], has_gpu=True)
    dev["fp32_peak_flops"] = DEVICES[d]["fp32_peak_flops"] * m["gpu_mhz"] / base["gpu_mhz"]
    dev["memory_bandwidth_Bps"] = DEVICES[d]["memory_bandwidth_Bps"] * m["emc_mhz"] / base["emc_mhz"]
    dev["gpu_clock_hz"] = m["gpu_mhz"] * 1e6
    return dev


def close(a, b):
    return abs(a - b) <= 1e-5 * max(abs(a), abs(b), 1e-300)


def check_default(d, m, layers, committed_path):
    """The law with the default mode's figures must give the committed default trace's times."""
    with open(committed_path) as f:
        committed = json.load(f)
    for ours, theirs in zip(layers, committed["layers"]):
        for key in ("fwd_s", "bwd_s"):
            if not all(close(x, y) for x, y in zip(ours[key], theirs[key])):
                sys.exit(f"{committed_path}: layer {theirs['name']} {key} differs from the law with the default "
                         "clocks; rerun calibrate_jetson.py before deriving the mode traces")
    return committed


def mode_trace(d, mode, m, committed, layers, date):
    clocks = MODE_CLOCKS[d]
    base, c = clocks["modes"][clocks["default"]], clocks["modes"][mode]
    t = dict(committed)
    t["device"] = dict(committed["device"], power_mode=mode,
                       description=f"NVIDIA Jetson {DEVICES[d]['label']} in power mode {mode} ({c['note']}); "
                                   "derived, not measured")
    prov = dict(committed["provenance"])
    prov["date"] = date
    prov["tool"] = "tools/calibrate/derive_mode_traces.py"
    prov["power_mode"] = {
        "mode": mode, "default_mode": clocks["default"],
        "method": ("the default mode's law and fitted factors (not refitted: no mode has a training anchor), "
                   "with the FP32 peak scaled by the GPU clock ratio, the memory bandwidth by the EMC clock "
                   "ratio and the CPU score (fixed cost per op) by the CPU clock ratio of this mode over the "
                   "default mode"),
        "clocks_MHz": {k: c[k] for k in ("gpu_mhz", "cpu_mhz", "emc_mhz")},
        "default_clocks_MHz": {k: base[k] for k in ("gpu_mhz", "cpu_mhz", "emc_mhz")},
        "clocks_source": c["note"] + " [" + L4T + "]",
        "assumptions": "time scales with the clocks as the law says (compute-bound terms with the GPU clock, "
                       "memory-bound terms with the EMC clock, per-op CPU cost with the CPU clock); fewer online "
                       "cores do not slow the single-threaded training loop; no thermal throttling in any mode",
    }
    t["provenance"] = prov
    t["layers"] = layers
    return t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", default=os.path.join(cj.ROOT, "traces"))
    ap.add_argument("--check", action="store_true", help="compare with the committed mode traces, write nothing")
    args = ap.parse_args()
    cargs = cj.parse_args([])
    names = [m for m in cargs.models.split(",") if m]
    descs, digests = cj.load_models(cargs, names)
    cfg = cj.make_config(cargs, descs)
    models = {m: ([LayerCost(l, cfg) for l in descs[m]["layers"]],
                  sum(float(l["param_bytes"]) for l in descs[m]["layers"])) for m in names}
    p, _ = fit_all(models, cfg)
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    fails = written = 0
    for d, clocks in MODE_CLOCKS.items():
        for m in names:
            bs = cj.TRACE_BATCHES.get(m, [1, 2, 4, 8, 16, 32])
            default_layers = cj.trace_layers(mode_figures(d, clocks["default"], cfg), m, descs[m], models[m][0], p,
                                             cfg, bs)
            committed = check_default(d, m, default_layers, os.path.join(cj.ROOT, "traces", d, m + ".json"))
            for mode in clocks["modes"]:
                if mode == clocks["default"]:
                    continue
                layers = cj.trace_layers(mode_figures(d, mode, cfg), m, descs[m], models[m][0], p, cfg, bs)
                trace = mode_trace(d, mode, m, committed, layers, date)
                path = os.path.join(args.out_dir, d, "modes", mode, m + ".json")
                if args.check:
                    with open(path) as f:
                        old = json.load(f)
                    if not all(close(x, y) for lo, ln in zip(old["layers"], layers) for k in ("fwd_s", "bwd_s")
                               for x, y in zip(lo[k], ln[k])):
                        print(f"FAIL: {path} differs from what the tool makes now")
                        fails += 1
                    continue
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path + ".tmp", "w") as f:
                    json.dump(trace, f, indent=1)
                    f.write("\n")
                os.replace(path + ".tmp", path)
                written += 1
    if args.check:
        sys.exit(1 if fails else 0)
    print(f"wrote {written} mode traces under {args.out_dir}", file=sys.stderr)


if __name__ == "__main__":
    main()
