"""The CPU side of the law, for a device without a GPU: its utilisation factors, fitted on this
machine's measured traces.

Table 1 anchors only GPUs, so its factors say nothing about a CPU computing a layer. This machine's
traces (traces/local_cpu/, asteroid-profile, libtorch on one thread) are measured per layer and
batch size for every built-in model; the law with a CPU as its compute unit,

    t(b) = ops * dispatch + W / (u_mem * bw) + b * sum over classes of max(F_c / (u_c * peak), S_c / (u_mem * bw))

(the same class roofline as the GPU's, jetson_law.gpu_terms; dispatch and compute add, no kernel
queue), is fitted to their whole forward+backward sums per model and batch size, with this machine's
single-core figures (host_cpu.json: one core's FP32 peak, its share of DRAM bandwidth). The fitted
cpu_u_dense, cpu_u_dwconv, cpu_u_mem are then carried over to another CPU with its own peak and
bandwidth: the assumption that it reaches the same fractions of them. numpy only.
"""

import json
import math
import os

import numpy as np

from jetson_fit import least_squares_log
from jetson_law import LayerCost, call_time

CPU_PARAMS = ["cpu_u_dense", "cpu_u_dwconv", "cpu_u_mem"]
# Priors (log-normal, as the Jetson fit's): a BLAS GEMM reaches about half of a core's peak, memory
# streams about half of the bandwidth, element-wise work a few percent of peak. They only break
# ties; the weight is the Jetson fit's (cfg.prior_weight).
CPU_PRIORS = {"cpu_u_dense": 0.5, "cpu_u_dwconv": 0.05, "cpu_u_mem": 0.5}


def measured_anchors(traces_dir, models_dir, cfg):
    """[(model, batch, measured fwd+bwd seconds of all layers, layer costs)] from the measured
    local_cpu traces whose layer description (same model, same input) is in models_dir."""
    out = []
    for name in sorted(os.listdir(traces_dir)):
        if not name.endswith(".json") or name in ("power.json", "device.json"):
            continue
        with open(os.path.join(traces_dir, name)) as f:
            t = json.load(f)
        if t.get("provenance", {}).get("kind") != "measured":
            continue
        desc_path = os.path.join(models_dir, t["model"] + ".json")
        if not os.path.exists(desc_path):
            continue
        with open(desc_path) as f:
            desc = json.load(f)
        if desc.get("input") != t.get("input"):
            continue
        costs = [LayerCost(l, cfg) for l in desc["layers"]]
        for i, b in enumerate(t["batch_sizes"]):
            total = sum(l["fwd_s"][i] + l["bwd_s"][i] for l in t["layers"])
            out.append((t["model"], b, total, costs))
    return out


def modelled(anchor, host, p, cfg):
    model, b, _, costs = anchor
    return sum(call_time(ps, host, model, p, cfg, b) for lc in costs for ps in lc.passes())


def fit_cpu(anchors, host, cfg):
    """The CPU factors, and the fit's errors (modelled / measured - 1) by 'model/batch'."""
    x0 = np.log([CPU_PRIORS[n] for n in CPU_PARAMS])

    def residuals(x):
        p = dict(zip(CPU_PARAMS, np.exp(x)))
        r = [math.log(modelled(a, host, p, cfg) / a[2]) for a in anchors]
        r += [cfg.prior_weight * (x[i] - x0[i]) for i in range(len(CPU_PARAMS))]
        return np.array(r)

    p = dict(zip(CPU_PARAMS, (float(v) for v in np.exp(least_squares_log(residuals, x0)))))
    errors = {f"{a[0]}/b{a[1]}": round(modelled(a, host, p, cfg) / a[2] - 1, 4) for a in anchors}
    return p, errors
