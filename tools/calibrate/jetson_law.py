"""The per-layer time law of the derived Jetson traces, and the configuration it is evaluated under.

Per layer, device d and one call (forward, or backward) with b samples:

    gpu(b) = W / (u_mem * bw_d) + b * (sum over classes c of max(F_c / (u_c * peak_d), S_c / (u_mem * bw_d))
                                       + ops * g_d)
    cpu    = ops * c_d,   c_d = r_d * (dispatch + kernels_per_op * launch)
    t(b)   = max(cpu, gpu(b))          (overlap "max": the CPU queues kernels ahead of the GPU)
           = cpu + gpu(b)              (overlap "sum": no overlap; an upper bound)

F_c, S_c: the layer's per-sample FLOPs and activation bytes of class c; W: its weight bytes (read once
per call, whatever b is); ops: the layer's primitive ops. g_d = g_nano * bw_nano / bw_d is a cost
per op and per sample that the class roofline does not see (small-kernel inefficiency of the GPU).
u_dense, u_dwconv, u_mem and g_nano are the only factors fitted to Table 1. The CPU side, the only
fixed cost per op, is not fitted: `dispatch` is libtorch's eager cost per op measured on this machine
(asteroid-profile --dispatch), `launch` the extra CPU cost of a CUDA op over a CPU op measured on an
H200 host, `kernels_per_op` CUDA kernels per dispatched op from the H200 profiler count, and r_d the
single-thread speed of this machine's CPU over the board's (published scores). On the NX (Volta) the
GPU terms are divided by eff_volta (see jetson_fit.calibrate_volta). tools/calibrate/README.md has
the sources.
"""

import dataclasses
import json
import math
import sys

GiB = 1024 ** 3

# Vendor figures (NVIDIA Jetson module data sheets). FP32 peak = CUDA cores x 2 x max GPU clock.
# cpu_ghz: the clock of the core that runs the training loop in the assumed power mode.
DEVICES = {
    "jetson_nano": {
        "label": "Nano", "gpu": "128-core Maxwell, 921.6 MHz", "architecture": "Maxwell",
        "fp32_peak_flops": 236e9, "memory_bandwidth_Bps": 25.6e9, "gpu_clock_hz": 921.6e6,
        "memory_bytes": 4 * GiB, "power_mode": "MAXN 10 W",
        "cpu": "Cortex-A57", "cpu_ghz": 1.43,
    },
    "jetson_tx2": {
        "label": "TX2", "gpu": "256-core Pascal, 1.30 GHz", "architecture": "Pascal",
        "fp32_peak_flops": 666e9, "memory_bandwidth_Bps": 59.7e9, "gpu_clock_hz": 1.30e9,
        "memory_bytes": 8 * GiB, "power_mode": "Max-N",
        "cpu": "Cortex-A57", "cpu_ghz": 2.0,
    },
    "jetson_xavier_nx": {
        "label": "NX", "gpu": "384-core Volta, 1.1 GHz (Tensor Cores unused: FP32 training)",
        "architecture": "Volta", "fp32_peak_flops": 845e9, "memory_bandwidth_Bps": 51.2e9,
        "gpu_clock_hz": 1.1e9, "memory_bytes": 8 * GiB, "power_mode": "15 W",
        "cpu": "Carmel", "cpu_ghz": 1.9,
    },
}

# Geekbench 5 single-core scores per GHz of the boards' CPU cores, and of this machine's CPU class
# (README: where each comes from).
GB5_PER_GHZ = {
    "Cortex-A57": 262 / 2.1,   # Exynos 7420, 4x Cortex-A57 at 2.1 GHz: 262
    "Cortex-A75": 350 / 2.0,   # Snapdragon 670, Cortex-A75 (Kryo 360 Gold) at 2.0 GHz: 350
}
CARMEL_AS = "Cortex-A75"        # Carmel's single-thread performance per clock is taken as the A75's
GB5_HOST = 1257                 # Xeon Platinum 8468 (Sapphire Rapids), single-core

# Table 1 of the paper: one training epoch, in seconds.
TABLE1 = {
    ("efficientnet_b1", "jetson_tx2"): 11.2 * 60, ("efficientnet_b1", "jetson_nano"): 26.7 * 60,
    ("mobilenetv2", "jetson_tx2"): 8.5 * 60, ("mobilenetv2", "jetson_nano"): 22.0 * 60,
    ("resnet50", "jetson_tx2"): 1.14 * 3600, ("resnet50", "jetson_nano"): 3.48 * 3600,
}
TABLE1_TEXT = {
    ("efficientnet_b1", "jetson_tx2"): "11.2 min", ("efficientnet_b1", "jetson_nano"): "26.7 min",
    ("mobilenetv2", "jetson_tx2"): "8.5 min", ("mobilenetv2", "jetson_nano"): "22 min",
    ("resnet50", "jetson_tx2"): "1.14 h", ("resnet50", "jetson_nano"): "3.48 h",
}
ANCHOR_MODELS = ["efficientnet_b1", "mobilenetv2", "resnet50"]

# Which fitted factor each layer class uses.
COMPUTE_GROUP = {
    "conv": "u_dense", "linear": "u_dense", "attention": "u_dense", "block": "u_dense",
    "dwconv": "u_dwconv", "norm": "u_dwconv", "elementwise": "u_dwconv", "embedding": "u_dwconv",
}
WEIGHT_CLASSES = ("conv", "dwconv", "linear", "embedding", "attention", "block")
# Backward FLOPs per class relative to forward (exec/README.md conventions); used only to split a
# layer's backward FLOPs among its classes, the total is the description's bwd_flops_per_sample.
BWD_FLOP_RATIO = {"conv": 2.0, "dwconv": 2.0, "linear": 2.0, "attention": 2.0, "block": 2.0,
                  "norm": 10.0 / 7.0, "elementwise": 1.0, "embedding": 1.0}

PARAMS = ["u_dense", "u_dwconv", "u_mem", "op_sample_nano_s"]
PRIORS = {"u_dense": 0.5, "u_dwconv": 0.05, "u_mem": 0.5, "op_sample_nano_s": 10e-6}
PARAM_DOC = {
    "u_dense": "compute utilisation of conv, linear (GEMM) and attention products, fraction of FP32 peak",
    "u_dwconv": "compute utilisation of depthwise conv, norm, element-wise and embedding work",
    "u_mem": "achieved fraction of DRAM bandwidth, all classes",
    "op_sample_nano_s": "GPU cost per op and per sample on the Nano, seconds (other devices: times bw_nano/bw)",
}
REFERENCE_DEVICE = "jetson_nano"
VOLTA = "eff_volta"
VOLTA_SCOPES = {"gpu": ("compute", "memory"), "compute": ("compute",), "memory": ("memory",)}


@dataclasses.dataclass
class Config:
    """Every assumption of the derivation (one command-line option each, see calibrate_jetson.py)."""
    table1_batch: dict
    epoch_images: dict
    dispatch_s: float           # libtorch CPU time per op (forward or backward), this machine
    dispatch_source: str
    launch_s: float             # extra CPU time of a CUDA op over a CPU op, H200 host
    kernels_per_op: dict        # model -> CUDA kernels per dispatched op (H200 profiler count)
    kernels_source: str
    os_reserve_gib: float = 1.0
    bwd_bytes_factor: float = 2.0
    bwd_ops_factor: float = 2.0
    optimizer_bytes_factor: float = 5.0
    prior_weight: float = 0.1
    overlap: str = "max"        # "max" or "sum"
    op_term: str = "per_sample" # the fitted cost per op: "per_sample" (scales with b) or "per_call"
    fixed_cost_scale: float = 1.0
    nx_cpu_ghz: float = 1.9
    carmel_per_ghz_vs_a57: float = GB5_PER_GHZ[CARMEL_AS] / GB5_PER_GHZ["Cortex-A57"]
    nx_nano_resnet50: float = 3.7
    volta_scope: str = "gpu"

    def replace(self, **kw):
        return dataclasses.replace(self, **kw)


def cpu_score(dev_type, cfg):
    """Geekbench 5 single-core score of the board's training-loop core (a Jetson type, or a device
    figures dict from a datasheet, datasheet.py, which carries its own score)."""
    if not isinstance(dev_type, str):
        return dev_type["cpu_score"]
    dev = DEVICES[dev_type]
    a57 = GB5_PER_GHZ["Cortex-A57"]
    if dev["cpu"] == "Carmel":
        return a57 * cfg.carmel_per_ghz_vs_a57 * cfg.nx_cpu_ghz
    return a57 * dev["cpu_ghz"]


def device_figures(dev, cfg):
    """The law's figures of a device: a Jetson type name (its DEVICES entry and its CPU score under
    cfg), or a dict already resolved from a datasheet (returned as it is). Every law function takes
    either, so the Jetsons and the datasheet devices go through the same code."""
    if not isinstance(dev, str):
        return dev
    return dict(DEVICES[dev], device_type=dev, cpu_score=cpu_score(dev, cfg), has_gpu=True)


def cpu_ratio(dev_type, cfg):
    """r_d: how many times slower the board's core runs single-threaded code than this machine's."""
    return GB5_HOST / cpu_score(dev_type, cfg)


def cpu_per_op_s(dev_type, model, cfg):
    """c_d: CPU time per dispatched op on the board (dispatch, plus its CUDA launches where the
    device has a GPU), seconds."""
    dev = device_figures(dev_type, cfg)
    k = cfg.kernels_per_op.get(model, cfg.kernels_per_op["_default"])
    launch = k * cfg.launch_s if dev.get("has_gpu", True) else 0.0
    return cfg.fixed_cost_scale * cpu_ratio(dev, cfg) * (cfg.dispatch_s + launch)


# Architectures newer than the Maxwell/Pascal anchors: they get the architecture factor eff_volta,
# calibrated on the Volta NX (jetson_fit.calibrate_volta). For Turing, Ampere and Ada this is carried
# over by assumption (no training anchor of theirs), and a datasheet trace says so.
POST_PASCAL = ("Volta", "Turing", "Ampere", "Ada")


def arch_eff(dev, p, term, cfg):
    """Architecture factor of dev for one kind of GPU term: eff_volta on a post-Pascal GPU, else 1."""
    if dev.get("architecture") not in POST_PASCAL or term not in VOLTA_SCOPES[cfg.volta_scope]:
        return 1.0
    return p.get(VOLTA, 1.0)


def factor(p, dev, name):
    """A fitted utilisation factor for dev: the GPU's (fitted on Table 1), or on a device without a
    GPU the CPU's (cpu_fit.py, fitted on this machine's measured traces)."""
    return p[name] if dev.get("has_gpu", True) else p["cpu_" + name]


class LayerCost:
    """Per-layer, per-class work of one forward and one backward call (see the module docstring)."""

    def __init__(self, layer, cfg):
        fc = dict(layer.get("flops_by_class") or {})
        bc = dict(layer.get("bytes_by_class") or {})
        cls = layer.get("class", "conv")
        if not fc:
            fc = {cls: float(layer.get("fwd_flops_per_sample", 0.0))}
        if not bc:
            bc = {cls: float(layer.get("bytes_moved_per_sample", 0.0))}
        for c in list(fc) + list(bc):
            if c not in COMPUTE_GROUP:
                sys.exit(f"layer {layer['name']}: unknown class \"{c}\"")
        # The description counts each op's weights once in its bytes: take them out of the weight
        # classes (in proportion to their bytes) so they become a per-call (fixed) cost.
        wsum = sum(v for c, v in bc.items() if c in WEIGHT_CLASSES)
        w_total = min(float(layer["param_bytes"]), wsum)
        self.sample_bytes = {}
        self.weight_bytes = 0.0
        for c, v in bc.items():
            w = w_total * v / wsum if (c in WEIGHT_CLASSES and wsum > 0) else 0.0
            self.sample_bytes[c] = v - w
            self.weight_bytes += w
        self.fwd_flops = {c: float(v) for c, v in fc.items()}
        raw = {c: v * BWD_FLOP_RATIO[c] for c, v in fc.items()}
        s = sum(raw.values())
        scale = float(layer.get("bwd_flops_per_sample", 0.0)) / s if s > 0 else 0.0
        self.bwd_flops = {c: v * scale for c, v in raw.items()}
        self.bwd_sample_bytes = {c: v * cfg.bwd_bytes_factor for c, v in self.sample_bytes.items()}
        self.bwd_weight_bytes = self.weight_bytes * 2.0  # read weights, write weight gradients
        self.fwd_ops = float(layer.get("kernels", 0))
        self.bwd_ops = self.fwd_ops * cfg.bwd_ops_factor

    def passes(self):
        """(flops, sample bytes, weight bytes, ops) of the forward and of the backward call."""
        return ((self.fwd_flops, self.sample_bytes, self.weight_bytes, self.fwd_ops),
                (self.bwd_flops, self.bwd_sample_bytes, self.bwd_weight_bytes, self.bwd_ops))


def op_cost_s(dev, p, cfg):
    """g_d: the fitted GPU cost per op (per sample, or per call with op_term "per_call")."""
    ref = DEVICES[REFERENCE_DEVICE]["memory_bandwidth_Bps"]
    return p["op_sample_nano_s"] * ref / (dev["memory_bandwidth_Bps"] * arch_eff(dev, p, "memory", cfg))


def gpu_terms(flops, sbytes, wbytes, dev, p, cfg):
    """(fixed, per-sample compute-bound, per-sample memory-bound) seconds of one call on the device's
    compute unit (its GPU, or its CPU where it has none), without the per-op terms."""
    peak = dev["fp32_peak_flops"] * arch_eff(dev, p, "compute", cfg)
    bw = dev["memory_bandwidth_Bps"] * arch_eff(dev, p, "memory", cfg)
    u_mem = factor(p, dev, "u_mem")
    comp = mem = 0.0
    for c in sorted(set(flops) | set(sbytes)):
        tc = flops.get(c, 0.0) / (factor(p, dev, COMPUTE_GROUP[c]) * peak)
        tm = sbytes.get(c, 0.0) / (u_mem * bw)
        if tc >= tm:
            comp += tc
        else:
            mem += tm
    return wbytes / (u_mem * bw), comp, mem


def call_time(pass_, dev_type, model, p, cfg, b):
    """Seconds of one call (forward or backward) of a layer with b samples."""
    flops, sbytes, wbytes, ops = pass_
    dev = device_figures(dev_type, cfg)
    fixed, comp, mem = gpu_terms(flops, sbytes, wbytes, dev, p, cfg)
    cpu = ops * cpu_per_op_s(dev, model, cfg)
    if not dev.get("has_gpu", True):
        # No GPU: the thread that dispatches an op also waits for its compute (intra-op threads),
        # so the two add; there is no kernel queue to overlap them and no GPU cost per op.
        return cpu + fixed + b * (comp + mem)
    g = ops * op_cost_s(dev, p, cfg)
    gpu = fixed + b * (comp + mem + g) if cfg.op_term == "per_sample" else fixed + g + b * (comp + mem)
    return max(cpu, gpu) if cfg.overlap == "max" else cpu + gpu


# Parameter-sized memory streams of one step of each optimizer, read and written: SGD reads the
# weights and gradients and writes the weights (3); with momentum it also reads and writes the
# momentum buffer (5); Adam reads and writes two buffers (7). A fused or multi-tensor kernel reaches
# this; an unfused implementation moves more.
OPTIMIZER_STREAMS = {"sgd": 3.0, "sgd_momentum": 5.0, "adam": 7.0}


def optimizer_step_s(param_bytes, dev_type, p, cfg, streams=None):
    """One optimizer step: streams (default cfg.optimizer_bytes_factor) x the parameter bytes over
    the fitted memory bandwidth (multi-tensor kernels: its CPU cost is negligible)."""
    dev = device_figures(dev_type, cfg)
    if streams is None:
        streams = cfg.optimizer_bytes_factor
    return streams * param_bytes / (
        factor(p, dev, "u_mem") * dev["memory_bandwidth_Bps"] * arch_eff(dev, p, "memory", cfg))


def step_time(model_costs, dev_type, model, p, cfg, b):
    """Forward + backward of all layers for b samples, plus one optimizer step."""
    costs, param_bytes = model_costs
    t = sum(call_time(ps, dev_type, model, p, cfg, b) for lc in costs for ps in lc.passes())
    return t + optimizer_step_s(param_bytes, dev_type, p, cfg)


def epoch_time(model, dev_type, p, models, cfg):
    b = cfg.table1_batch[model]
    return cfg.epoch_images[model] / b * step_time(models[model], dev_type, model, p, cfg, b)


def load_dispatch(path):
    """training_s_per_op of an asteroid-profile --dispatch file, and a one-line source."""
    try:
        with open(path) as f:
            d = json.load(f)
        t = float(d["training_s_per_op"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        sys.exit(f"{path}: not a dispatch measurement ({e})")
    if not (t > 0 and math.isfinite(t)):
        sys.exit(f"{path}: training_s_per_op must be positive")
    src = (f"asteroid-profile --dispatch on {d.get('cpu', 'unknown CPU')}, libtorch {d.get('libtorch', '?')}, "
           f"{d.get('date', '?')}: {t * 1e6:.2f} us per op (forward with autograd and backward, mean)")
    return t, src


def load_h200_reference(path):
    """(launch seconds, kernels per op by model, source) from the H200 reference measurement."""
    try:
        with open(path) as f:
            d = json.load(f)
        tiny = d["tiny_op_us"]
        launch = (float(tiny["cuda"]) - float(tiny["cpu"])) * 1e-6
        kernels = {m: int(v) for m, v in d["kernels_per_step_b32"].items()}
    except (OSError, ValueError, KeyError, TypeError) as e:
        sys.exit(f"{path}: not the H200 reference measurement ({e})")
    src = (f"{d.get('gpu', '?')} host ({d.get('torch', '?')}): eager tiny op {tiny['cuda']:.1f} us on CUDA, "
           f"{tiny['cpu']:.1f} us on CPU; CUDA kernels per training step at batch 32: "
           + ", ".join(f"{m} {k}" for m, k in sorted(kernels.items())))
    return launch, kernels, src
