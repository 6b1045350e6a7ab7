"""Shared helpers of the results scripts: where the binaries and scenarios are, running
asteroid-plan / asteroid-sim / bench_planner, writing CSV and Markdown tables, scenario variants.

Every number a script writes comes from a binary's output; nothing here holds a result.
Environment: ASTEROID_BUILD (build directory, default <repo>/build), ASTEROID_JOBS (parallel runs,
default the number of CPUs), ASTEROID_SIM_TIMEOUT (seconds one asteroid-sim run may take, default
300).
"""
import argparse
import concurrent.futures
import copy
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile

os.environ.setdefault("MPLBACKEND", "Agg")

RESULTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(RESULTS)
SCENARIOS = os.path.join(REPO, "scenarios")

MODELS = ["efficientnet_b1", "mobilenetv2", "resnet50", "bert_small"]
MODEL_LABELS = {"efficientnet_b1": "EfficientNet-B1", "mobilenetv2": "MobileNetV2",
                "resnet50": "ResNet50", "bert_small": "BERT-small"}
STRATEGY_LABELS = {"asteroid": "Asteroid", "device": "on-device", "dp": "DP", "pp": "PP", "pp_net": "PP (network-aware)",
                   "pipedream": "PipeDream", "dapple": "DAPPLE", "alpa": "Alpa", "hetpipe": "HetPipe"}
STRATEGY_COLORS = {"asteroid": "#d62728", "device": "#7f7f7f", "dp": "#1f77b4", "pp": "#2ca02c", "pp_net": "#bcbd22",
                   "pipedream": "#9467bd", "dapple": "#8c564b", "alpa": "#e377c2", "hetpipe": "#17becf"}


class ToolError(RuntimeError):
    pass


# ---------------------------------------------------------------------------------------------
# Locations
def build_dir():
    b = os.environ.get("ASTEROID_BUILD", "")
    if not b:
        return os.path.join(REPO, "build")
    return os.path.abspath(b)


def binary(name):
    rel = {"asteroid-plan": "core/asteroid-plan", "asteroid-sim": "sim/asteroid-sim",
           "asteroid-compare": "core/asteroid-compare", "asteroid-exec": "exec/asteroid-exec",
           "asteroid-profile": "exec/asteroid-profile",
           "bench_planner": "tests/core/bench_planner"}[name]
    return os.path.join(build_dir(), rel)


def have(name):
    p = binary(name)
    return os.path.isfile(p) and os.access(p, os.X_OK)


def require(name):
    if not have(name):
        raise ToolError(f"{binary(name)} not found (build it, or set ASTEROID_BUILD)")
    return binary(name)


def scenario_path(env, model, mbps):
    return os.path.join(SCENARIOS, f"env{env}_{model}_{mbps}mbps.json")


def jobs():
    return max(1, int(os.environ.get("ASTEROID_JOBS", os.cpu_count() or 1)))


# ---------------------------------------------------------------------------------------------
# Arguments shared by every script
def parse_args(description, extra=None):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("outroot", nargs="?", default=RESULTS,
                   help="output root; this script writes <outroot>/<its name>/ (default: results/)")
    p.add_argument("--smoke", action="store_true",
                   help="one small case only, few rounds: checks that the script runs end to end")
    if extra:
        extra(p)
    return p.parse_args()


def out_dir(outroot, name, clean=True):
    d = os.path.join(os.path.abspath(outroot), name)
    if clean and os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d, exist_ok=True)
    return d


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Running the binaries
def run(cmd, timeout=None):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ToolError(f"{' '.join(cmd)} did not finish within {timeout:g} s")
    if r.returncode != 0:
        raise ToolError(f"{' '.join(cmd)} exited with {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def plan(scenario, strategy="asteroid", latency_model=None, save=None, extra=()):
    """asteroid-plan SCENARIO --strategy S --json [extra: what-ifs such as --bandwidth 10Mbps];
    returns the parsed JSON (also written to `save`)."""
    cmd = [require("asteroid-plan"), scenario, "--strategy", strategy, "--json"] + list(extra)
    if latency_model:
        cmd += ["--latency-model", latency_model]
    out = run(cmd)
    if save:
        os.makedirs(os.path.dirname(save), exist_ok=True)
        with open(save, "w") as f:
            f.write(out)
    return json.loads(out)


def evaluate(scenario, plan_json, latency_model=None):
    """asteroid-plan SCENARIO --evaluate PLAN.json: scores a given plan (a dict with a 'plan')."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(plan_json, f)
        path = f.name
    try:
        cmd = [require("asteroid-plan"), scenario, "--evaluate", path, "--json"]
        if latency_model:
            cmd += ["--latency-model", latency_model]
        return json.loads(run(cmd))
    finally:
        os.unlink(path)


def parallel(fn, items):
    """fn over items with ASTEROID_JOBS workers (the work is in subprocesses); keeps the order."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs()) as ex:
        return list(ex.map(fn, items))


def out_of_memory(result):
    return (not result.get("feasible", False)) and result.get("reason", "").startswith("out of memory")


# ---------------------------------------------------------------------------------------------
# Plans as text
def stage_text(stage, layer_names=None):
    a, b = stage["layers"]
    rng = f"L{a}-{b}" if a != b else f"L{a}"
    devs = ",".join(f"{d}:{s}" for d, s in zip(stage["devices"], stage.get("shares", [])))
    return f"[{rng} on {devs}]"


def plan_text(result):
    """One line: '2 x 8: [L0-9 on nx0:8,nx1:8] [L10-25 on tx2_0:16]' (M micro-batches of beta)."""
    if not result.get("feasible"):
        return "infeasible: " + result.get("reason", "")
    p = result["plan"]
    return (f"{p['microbatches']} x {p['microbatch_size']}: "
            + " ".join(stage_text(s) for s in p["stages"]))


def plan_shape(result, num_devices):
    """What kind of configuration a plan is: device, DP, PP or HPP (by stages and group sizes)."""
    if not result.get("feasible"):
        return "infeasible"
    st = result["plan"]["stages"]
    used = sum(len(s["devices"]) for s in st)
    if len(st) == 1:
        return "1 device" if used == 1 else ("DP" if used == num_devices else f"DP ({used} dev.)")
    if all(len(s["devices"]) == 1 for s in st):
        return "PP" if used == num_devices else f"PP ({used} dev.)"
    return "HPP" if used == num_devices else f"HPP ({used} dev.)"


# ---------------------------------------------------------------------------------------------
# Scenarios
def load_json(path):
    with open(path) as f:
        return json.load(f)


def scenario_variant(base_path, out_path, edit):
    """Writes a copy of the scenario at base_path, changed by edit(dict), to out_path, with its trace
    paths made relative to out_path's folder (a scenario's trace paths are relative to its file), so
    that the copy names no path outside the tree it is written into."""
    s = load_json(base_path)
    base_dir = os.path.dirname(os.path.abspath(base_path))
    out_dir = os.path.dirname(os.path.abspath(out_path))
    s = copy.deepcopy(s)
    s["traces"] = {k: os.path.relpath(os.path.join(base_dir, v), out_dir) for k, v in s["traces"].items()}
    edit(s)
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    with open(out_path, "w") as f:
        json.dump(s, f, indent=2)
        f.write("\n")
    return out_path


# Language models of the zoo (tools/lm_zoo, traces/models/): 128 tokens per sample.
LM_LABELS = {"t5_large": "T5-Large", "gpt2_355m": "GPT-2 355M", "gpt2_124m": "GPT-2 124M", "t5_small": "T5-Small"}


def lm_fine_tuning(model, mode):
    """The scenario's training.fine_tuning block of a fine-tuning mode of a zoo language model, or None
    (every layer trains). full: none; adapters: bottleneck 64 after every attention and the
    feed-forward; lora: rank 32 on query and value of every attention (T5's decoder: its
    cross-attention too)."""
    t5 = model.startswith("t5")
    if mode == "full":
        return None
    if mode == "adapters":
        return {"adapters": {"width": 64, "after": ["attention_output", "ffn_output"]
                             + (["cross_attention_output"] if t5 else [])}}
    if mode == "lora":
        return {"lora": {"rank": 32, "maps": ["query", "value"] + (["cross_query", "cross_value"] if t5 else [])}}
    raise ToolError(f"unknown fine-tuning mode {mode}")


LM_MODES = [("full", "full fine-tuning"), ("adapters", "adapters (bottleneck 64)"),
            ("lora", "LoRA (rank 32 on q and v)")]


def lm_scenario(env, model, out_path, batch_size, mode, optimizer="adam", mbps=1000):
    """Writes a scenario of environment `env` (its devices and network, from
    scenarios/env<env>_bert_small_<mbps>mbps.json) training zoo model `model` (128 tokens) at
    `batch_size` in fine-tuning `mode` (lm_fine_tuning), with trace paths relative to out_path."""
    def edit(s):
        s["name"] = f"env{env}_{model}_{mode}"
        s["description"] = f"{s['name']}: made by results/ scripts from {os.path.basename(scenario_path(env, 'bert_small', mbps))}"
        s["model"] = {"name": model, "input": "tokens_128"}
        s["training"] = {"batch_size": batch_size, "optimizer": optimizer}
        ft = lm_fine_tuning(model, mode)
        if ft:
            s["training"]["fine_tuning"] = ft
        s.pop("planner", None)
        out = os.path.dirname(os.path.abspath(out_path))
        s["traces"] = {t: os.path.relpath(os.path.join(REPO, "traces", t, model + ".json"), out) for t in s["traces"]}
    return scenario_variant(scenario_path(env, "bert_small", mbps), out_path, edit)


def trace_path(scenario_path_, device_type):
    """The trace a scenario's device type uses: its "traces" entry, else traces/<type>/<model>.json in
    the nearest traces/ beside the scenario's folder or above it, else the repository's (as
    core/src/input/scenario.cpp finds them)."""
    s = load_json(scenario_path_)
    base_dir = os.path.dirname(os.path.abspath(scenario_path_))
    if device_type in s.get("traces", {}):
        return os.path.join(base_dir, s["traces"][device_type])
    d = base_dir
    while True:
        if os.path.isdir(os.path.join(d, "traces")):
            break
        if os.path.dirname(d) == d:
            d = REPO
            break
        d = os.path.dirname(d)
    return os.path.join(d, "traces", device_type, s["model"]["name"] + ".json")


def layer_names(scenario_path_):
    """The model's layer names, from the trace of the scenario's first device type."""
    s = load_json(scenario_path_)
    return [l["name"] for l in load_json(trace_path(scenario_path_, s["cluster"]["devices"][0]["type"]))["layers"]]


def scenario_name(scenario_path_):
    """The scenario's name: its "name", else its file name without .json (as asteroid-plan says)."""
    return load_json(scenario_path_).get("name") or os.path.splitext(os.path.basename(scenario_path_))[0]


def scenario_network_text(scenario_path_):
    """'1Gbps' (a shorthand's bandwidth), or 'graph network' (links of their own)."""
    net = load_json(scenario_path_)["cluster"]["network"]
    return net["bandwidth"] if "bandwidth" in net else "graph network"


def scenario_title(scenario_path_):
    """'my_boards: 2 x Nano + 1 x Xavier NX, MobileNetV2, 1Gbps': a figure's title for any scenario."""
    m = load_json(scenario_path_)["model"]["name"]
    return (f"{scenario_name(scenario_path_)}: {env_composition(scenario_path_)}, {MODEL_LABELS.get(m, m)}, "
            f"{scenario_network_text(scenario_path_)}")


def env_devices(scenario_path_):
    s = load_json(scenario_path_)
    return [(d["name"], d["type"]) for d in s["cluster"]["devices"]]


TYPE_LABELS = {"jetson_nano": "Nano", "jetson_tx2": "TX2", "jetson_xavier_nx": "Xavier NX",
               "local_cpu": "local CPU"}


def env_composition(scenario_path_):
    """'3 x Xavier NX + 2 x TX2', from the scenario's device list."""
    counts = {}
    for _, t in env_devices(scenario_path_):
        counts[t] = counts.get(t, 0) + 1
    return " + ".join(f"{n} x {TYPE_LABELS.get(t, t)}" for t, n in counts.items())


# ---------------------------------------------------------------------------------------------
# Tables
def write_csv(path, rows, columns):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: fmt_csv(r.get(k, "")) for k in columns})


def fmt_csv(v):
    if isinstance(v, float):
        return f"{v:.6g}"
    return v


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def md_table(header, rows, align=None):
    """Markdown table; rows are lists of already formatted cells."""
    align = align or ["---"] * len(header)
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |")
    return "\n".join(out) + "\n"


def fmt(v, digits=1):
    if v is None or v == "":
        return "n/a"
    return f"{v:.{digits}f}"


def write_text(path, text):
    with open(path, "w") as f:
        f.write(text)


def main_guard(fn):
    """Runs fn(); a ToolError becomes one line on stderr and exit status 1."""
    try:
        fn()
    except ToolError as e:
        log(f"{os.path.basename(sys.argv[0])}: {e}")
        sys.exit(1)


# ---------------------------------------------------------------------------------------------
# The simulator: asteroid-sim SCENARIO [--rounds N] [--strategy S] [--recovery R] -o DIR writes
# DIR/report.json (RunReport), DIR/rounds.csv, DIR/trace.json.
# Every run here: textbook network (transfer = latency + size / bandwidth, as the cost model assumes)
# and no per-instruction spans (not drawn here; they make the report large).
SIM_OPTIONS = ["--network", "textbook", "--no-spans"]


def simulate(scenario, keep_dir, strategy=None, rounds=None, recovery=None, extra=(), spans=False):
    """Runs asteroid-sim into a scratch directory; keeps rounds.csv and report.json without its
    per-instruction spans in keep_dir (the spans and trace.json are large and not drawn here).
    spans: record them all the same (the run's energy is computed from them).
    Returns (report dict with spans removed, rounds list of dicts)."""
    exe = require("asteroid-sim")
    with tempfile.TemporaryDirectory(prefix="asteroid-sim-") as tmp:
        cmd = [exe, scenario, "-o", tmp]
        if strategy:
            cmd += ["--strategy", strategy]
        if rounds:
            cmd += ["--rounds", str(rounds)]
        if recovery:
            cmd += ["--recovery", recovery]
        cmd += [o for o in SIM_OPTIONS if not (spans and o == "--no-spans")] + list(extra)
        run(cmd, timeout=float(os.environ.get("ASTEROID_SIM_TIMEOUT", 300)))
        report = load_json(os.path.join(tmp, "report.json"))
        rounds_rows = read_csv(os.path.join(tmp, "rounds.csv"))
        os.makedirs(keep_dir, exist_ok=True)
        shutil.copy(os.path.join(tmp, "rounds.csv"), os.path.join(keep_dir, "rounds.csv"))
    report.pop("spans", None)
    with open(os.path.join(keep_dir, "report.json"), "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    return report, rounds_rows


def same_plan(a, b):
    """Whether two plans (JSON) have the same micro-batching, stages, devices and shares."""
    def key(p):
        return (p["microbatch_size"], p["microbatches"],
                [(tuple(s["layers"]), tuple(s["devices"]), tuple(s.get("shares", []))) for s in p["stages"]])
    return key(a) == key(b)


def sim_throughput_of(report, rounds_rows):
    """The simulator's own throughput figure (report summary), else computed from rounds.csv."""
    v = report.get("summary", {}).get("throughput_samples_per_s")
    return v if v else sim_throughput(rounds_rows)


def sim_throughput(rounds_rows, skip=0):
    """Samples per second over the simulated rounds (after `skip` rounds): total samples over the
    time from the start of the first counted round to the end of the last."""
    rows = rounds_rows[skip:]
    if not rows:
        return None
    samples = sum(int(r["samples"]) for r in rows)
    span = float(rows[-1]["end_s"]) - float(rows[0]["start_s"])
    return samples / span if span > 0 else None
