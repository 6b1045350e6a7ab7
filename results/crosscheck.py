#!/usr/bin/python3
"""Cross-check: the same plan predicted by the cost model, simulated by asteroid-sim and run for
real by asteroid-exec (worker processes on this machine), on the local_* scenarios whose traces
were measured here. For each scenario, Asteroid's plan and the straight pipeline (pp); round
latency from each, with the first round of the real run left out (warm-up); asteroid-compare's
per-instruction comparison of the simulated and the real run is kept under data/.

And a failure both ways: scenarios/local_mobilenetv2_3dev_fail.json (a device leaves; its worker
is killed for real), with the recovery split into detection, re-plan, state transfer and replay.

Needs asteroid-plan, asteroid-sim, asteroid-exec, asteroid-compare and asteroid-profile (which first
measures this machine's local_cpu traces; --shipped-traces keeps the shipped ones). Writes
<outroot>/crosscheck/: crosscheck.csv, crosscheck.md, crosscheck.png, failure.csv, failure.md,
summary.md, data/<case>/ (plan.json, sim report.json, exec report.json, compare.txt).
"""
import glob
import json
import os
import shutil
import subprocess
import tempfile

import common as c

STRATEGIES = ["asteroid", "pp"]


def add_args(p):
    p.add_argument("--rounds", type=int, default=5, help="rounds per run (default 5; the first is warm-up)")
    p.add_argument("--shipped-traces", action="store_true",
                   help="use traces/local_cpu as shipped instead of measuring this machine first "
                        "(--smoke always does: measuring takes minutes)")


def profile_options(scenario):
    """asteroid-profile's options for a scenario's model and input (exec/README.md)."""
    s = c.load_json(scenario)
    model, inp = s["model"]["name"], s["model"].get("input", "")
    opts = ["--model", model]
    if model == "bert_small" and inp.startswith("synthetic_seq"):
        opts += ["--seq-len", inp[len("synthetic_seq"):]]
    elif "224" in inp and model != "resnet50":
        opts += ["--stem", "imagenet"]
    return model, opts


def measure_here(scenarios, tmp):
    """Measures, on this machine, a local_cpu trace of every model the scenarios train, and writes a
    copy of each scenario that reads it: the real runs are then compared with a simulator fed this
    machine's own times (the traces shipped were measured on another CPU). Returns {scenario: copy}."""
    traces, copies = {}, {}
    for scen in scenarios:
        model, opts = profile_options(scen)
        key = " ".join(opts)
        if key not in traces:
            traces[key] = os.path.join(tmp, f"local_cpu_{len(traces)}_{model}.json")
            c.log(f"crosscheck: measuring {model} here (asteroid-profile {key})")
            c.run([c.require("asteroid-profile")] + opts + ["-o", traces[key]], timeout=1800)
        s = c.load_json(scen)
        s["traces"] = {"local_cpu": traces[key]}
        copies[scen] = os.path.join(tmp, os.path.basename(scen))
        with open(copies[scen], "w") as f:
            json.dump(s, f, indent=1)
    return copies


def mean_round(report, skip):
    rows = report["rounds"][skip:]
    return sum(r["end_s"] - r["start_s"] for r in rows) / len(rows) if rows else None


def run_exec(scenario, plan_file, rounds, keep):
    with tempfile.TemporaryDirectory(prefix="asteroid-exec-") as tmp:
        c.run([c.require("asteroid-exec"), scenario, "--plan", plan_file, "--rounds", str(rounds), "-o", tmp],
              timeout=900)
        os.makedirs(keep, exist_ok=True)
        shutil.copy(os.path.join(tmp, "report.json"), os.path.join(keep, "exec_report_full.json"))
    return c.load_json(os.path.join(keep, "exec_report_full.json"))


def run_sim(scenario, plan_file, rounds, keep):
    with tempfile.TemporaryDirectory(prefix="asteroid-sim-") as tmp:
        c.run([c.require("asteroid-sim"), scenario, "--plan", plan_file, "--rounds", str(rounds), "-o", tmp]
              + list(c.SIM_OPTIONS), timeout=300)
        shutil.copy(os.path.join(tmp, "report.json"), os.path.join(keep, "sim_report_full.json"))
    return c.load_json(os.path.join(keep, "sim_report_full.json"))


def main():
    args = c.parse_args(__doc__, add_args)
    out = c.out_dir(args.outroot, "crosscheck")
    for tool in ("asteroid-plan", "asteroid-sim", "asteroid-exec", "asteroid-compare"):
        c.require(tool)
    scenarios = sorted(f for f in glob.glob(os.path.join(c.SCENARIOS, "local_*.json")) if not f.endswith("_fail.json"))
    strategies = STRATEGIES
    rounds = args.rounds
    if args.smoke:
        scenarios = [os.path.join(c.SCENARIOS, "local_mobilenetv2_2dev.json")]
        strategies, rounds = ["asteroid"], 2
    measured = not (args.smoke or args.shipped_traces)
    with tempfile.TemporaryDirectory(prefix="asteroid-traces-") as traces_tmp:
        fail_scen = os.path.join(c.SCENARIOS, "local_mobilenetv2_3dev_fail.json")
        use = measure_here(scenarios + [fail_scen], traces_tmp) if measured else {}
        run_all(args, out, scenarios, strategies, rounds, use, measured)


def run_all(args, out, scenarios, strategies, rounds, use, measured):
    """Every case three ways, then the failure; `use`: the scenario copies reading traces measured
    here (empty: the shipped traces)."""
    rows, seen = [], []
    for original in scenarios:
        scen = use.get(original, original)
        name = os.path.basename(original)[:-5]
        for strategy in strategies:
            planned = c.plan(scen, strategy)
            if not planned["feasible"]:
                c.log(f"crosscheck: {name} {strategy}: no plan ({planned.get('reason', '')})")
                continue
            if any(c.same_plan(planned["plan"], p) for n, p in seen if n == name):
                continue  # pp gave Asteroid's plan again
            seen.append((name, planned["plan"]))
            case = f"{name}_{strategy}"
            keep = os.path.join(out, "data", case)
            os.makedirs(keep, exist_ok=True)
            plan_file = os.path.join(keep, "plan.json")
            with open(plan_file, "w") as f:
                json.dump(planned["plan"], f, indent=1)
            c.log(f"crosscheck: {case}")
            sim = run_sim(scen, plan_file, rounds, keep)
            real = run_exec(scen, plan_file, rounds, keep)
            cmp = subprocess.run([c.require("asteroid-compare"), os.path.join(keep, "sim_report_full.json"),
                                  os.path.join(keep, "exec_report_full.json"), "--rows", "12"],
                                 capture_output=True, text=True)
            if cmp.returncode != 0:
                raise c.ToolError(f"asteroid-compare: {cmp.stderr.strip()}")
            c.write_text(os.path.join(keep, "compare.txt"), cmp.stdout)
            for kind, rep in (("sim", sim), ("exec", real)):  # keep the reports, without their spans
                rep.pop("spans", None)
                with open(os.path.join(keep, f"{kind}_report.json"), "w") as f:
                    json.dump(rep, f, indent=1)
                    f.write("\n")
                os.unlink(os.path.join(keep, f"{kind}_report_full.json"))
            skip = 1 if rounds > 1 else 0
            predicted = planned["round_latency_s"]  # the replay, planned on
            simulated, measured = mean_round(sim, skip), mean_round(real, skip)
            devices = sum(len(s["devices"]) for s in planned["plan"]["stages"])
            losses = [x["loss"] for x in real["rounds"]]
            rows.append({"case": case, "scenario": name, "strategy": strategy, "plan": c.plan_text(planned),
                         "workers": devices, "predicted_s": predicted, "simulated_s": simulated,
                         "measured_s": measured, "sim_vs_model": simulated / predicted - 1,
                         "exec_vs_sim": measured / simulated - 1, "loss_first": losses[0], "loss_last": losses[-1]})
    if not rows:
        raise c.ToolError("no case ran")
    cols = ["case", "scenario", "strategy", "workers", "plan", "predicted_s", "simulated_s", "measured_s",
            "sim_vs_model", "exec_vs_sim", "loss_first", "loss_last"]
    c.write_csv(os.path.join(out, "crosscheck.csv"), rows, cols)
    md = ("Round latency (s) of one plan three ways: the cost model's prediction (its 1F1B replay, what the "
          "planner minimises), asteroid-sim, and "
          f"asteroid-exec on worker processes of this machine (mean of rounds 2-{rounds}; round 1 is "
          "warm-up). Traces: local_cpu, " + ("measured on this machine by this run (asteroid-profile, one "
          "thread) just before the runs" if measured else "as shipped in traces/local_cpu (measured "
          "elsewhere: see their provenance)") + ".\n\n"
          + c.md_table(["scenario", "plan", "workers", "model", "sim", "exec", "sim vs model", "exec vs sim",
                        "loss first / last round"],
                       [[r["scenario"], r["plan"], r["workers"], c.fmt(r["predicted_s"], 4),
                         c.fmt(r["simulated_s"], 4), c.fmt(r["measured_s"], 4), f"{100 * r['sim_vs_model']:+.1f}%",
                         f"{100 * r['exec_vs_sim']:+.1f}%", f"{r['loss_first']:.3f} / {r['loss_last']:.3f}"]
                        for r in rows],
                       ["---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"]))
    c.write_text(os.path.join(out, "crosscheck.md"), md)
    draw(out, rows)
    two = [r for r in rows if r["workers"] <= 2]
    more = [r for r in rows if r["workers"] > 2]
    text = (f"{len(rows)} plans run three ways. asteroid-exec's rounds against asteroid-sim's: "
            + spread(two, "exec_vs_sim") + " with at most 2 workers (one core each)")
    if more:
        text += ("; " + spread(more, "exec_vs_sim") + " with 3 workers on this machine's 2 cores, where "
                 "the workers compete for the CPU and the traces (measured alone) cannot know it")
    text += (". asteroid-sim against the cost model: " + spread(rows, "sim_vs_model") +
             ". The real runs also contain what the simulator leaves out: framework overheads between "
             "instructions, and loopback messages far faster than the scenarios' 1 Gbps links "
             "(asteroid-compare's per-instruction tables are in data/).")
    text += (" The traces were measured on this machine just before the runs (asteroid-profile, one thread)."
             if measured else machine_note())
    if args.smoke:
        c.write_text(os.path.join(out, "failure.md"), "(The failure run is left out of --smoke runs.)\n")
    else:
        fail_scen = os.path.join(c.SCENARIOS, "local_mobilenetv2_3dev_fail.json")
        text += " " + failure_both_ways(out, use.get(fail_scen, fail_scen))
    c.write_text(os.path.join(out, "summary.md"), text + "\n")


PHASES = [("detection_s", "detection"), ("replan_s", "re-plan"), ("transfer_s", "state transfer"),
          ("replay_s", "replay"), ("recovery_s", "failure to the replayed round's end")]


def machine_note():
    """A sentence when the local traces were measured on a CPU other than this machine's (their
    provenance names it): the exec column then also carries the difference between the two."""
    here = ""
    try:
        with open("/proc/cpuinfo") as f:
            here = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
    except OSError:
        pass
    measured = set()
    folder = os.path.join(os.path.dirname(c.SCENARIOS), "traces", "local_cpu")
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        cpu = c.load_json(os.path.join(folder, name)).get("provenance", {}).get("cpu")
        if cpu:
            measured.add(cpu)
    if not here or not measured or measured == {here}:
        return ""
    return (f" The local traces were measured on a CPU reported as {', '.join(sorted(measured))}; this "
            f"machine reports {here}: asteroid-exec's column also carries the difference between the two "
            "machines (measure the traces here with asteroid-profile, exec/README.md, to compare the model "
            "alone).")


def failure_both_ways(out, scen):
    """Simulates and runs the failure scenario `scen`; writes failure.csv/.md; returns a sentence."""
    keep = os.path.join(out, "data", "local_mobilenetv2_3dev_fail")
    os.makedirs(keep, exist_ok=True)
    runs = {}
    with tempfile.TemporaryDirectory(prefix="asteroid-fail-") as tmp:
        c.run([c.require("asteroid-sim"), scen, "-o", os.path.join(tmp, "sim")] + list(c.SIM_OPTIONS), timeout=300)
        c.run([c.require("asteroid-exec"), scen, "-o", os.path.join(tmp, "exec")], timeout=900)
        cmp = subprocess.run([c.require("asteroid-compare"), os.path.join(tmp, "sim", "report.json"),
                              os.path.join(tmp, "exec", "report.json"), "--rows", "12"], capture_output=True, text=True)
        c.write_text(os.path.join(keep, "compare.txt"), cmp.stdout)
        for kind in ("sim", "exec"):
            rep = c.load_json(os.path.join(tmp, kind, "report.json"))
            rep.pop("spans", None)
            with open(os.path.join(keep, f"{kind}_report.json"), "w") as f:
                json.dump(rep, f, indent=1)
                f.write("\n")
            runs[kind] = rep
    rows = []
    for kind, rep in runs.items():
        f = rep["summary"]["failures"][0]
        transfer = f.get("state_transfer_s")
        plans = rep.get("plans", [])
        rows.append({"backend": kind, "device": f["device"], "failure_s": f["failure_s"],
                     "detection_s": f.get("detection_s"), "replan_s": f.get("replan_s"), "transfer_s": transfer,
                     "replay_s": f.get("replay_s"), "recovery_s": f.get("recovery_s"),
                     "state_bytes": f.get("state_transfer_bytes"), "throughput_before": f.get("throughput_before"),
                     "throughput_after": f.get("throughput_after"), "rounds": len(rep["rounds"]),
                     "plan_after": c.plan_text({"feasible": True, "plan": plans[-1]}) if plans else ""})
    c.write_csv(os.path.join(out, "failure.csv"), rows,
                ["backend", "device", "failure_s"] + [k for k, _ in PHASES]
                + ["state_bytes", "throughput_before", "throughput_after", "rounds", "plan_after"])
    md = ("scenarios/local_mobilenetv2_3dev_fail.json both ways: asteroid-sim, and asteroid-exec, which "
          "kills the device's worker process and recovers for real (state transfer there includes "
          "starting the new worker processes). Times in seconds.\n\n"
          + c.md_table(["backend"] + [label for _, label in PHASES] + ["state moved (MB)", "samples/s before",
                                                                       "samples/s after", "plan after"],
                       [[r["backend"]] + [c.fmt(r[k], 3) for k, _ in PHASES]
                        + [c.fmt(r["state_bytes"] / 1e6 if r["state_bytes"] else None, 1),
                           c.fmt(r["throughput_before"], 1), c.fmt(r["throughput_after"], 1), r["plan_after"]]
                        for r in rows],
                       ["---"] + ["---:"] * (len(PHASES) + 3) + ["---"]))
    c.write_text(os.path.join(out, "failure.md"), md)
    by = {r["backend"]: r for r in rows}
    s, e = by["sim"], by["exec"]
    return (f"The failure both ways: detection {s['detection_s']:.2f} s simulated, {e['detection_s']:.2f} s "
            f"run; recovery (failure to the replayed round's end) {s['recovery_s']:.2f} s simulated, "
            f"{e['recovery_s']:.2f} s run, of which {e['transfer_s']:.2f} s restart and state transfer in the "
            f"real run against {s['transfer_s']:.2f} s of simulated transfer.")


def spread(rows, key):
    if not rows:
        return "no case"
    v = sorted(100 * r[key] for r in rows)
    return f"{v[0]:+.1f}% to {v[-1]:+.1f}%" if len(v) > 1 else f"{v[0]:+.1f}%"


def draw(out, rows):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(rows) + 2), 4))
    x = range(len(rows))
    w = 0.27
    for k, (key, label, color) in enumerate((("predicted_s", "cost model", "#7f7f7f"),
                                             ("simulated_s", "asteroid-sim", "#1f77b4"),
                                             ("measured_s", "asteroid-exec", "#d62728"))):
        ax.bar([i + (k - 1) * w for i in x], [r[key] for r in rows], w, label=label, color=color)
    ax.set_xticks(list(x))
    ax.set_xticklabels([f"{r['scenario'].replace('local_', '')}\n{r['strategy']} ({r['workers']} workers)"
                        for r in rows], fontsize=7)
    ax.set_ylabel("round latency (s)")
    ax.set_title("One plan three ways: predicted, simulated, run on worker processes (this machine)",
                 fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "crosscheck.png"), dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    c.main_guard(main)
