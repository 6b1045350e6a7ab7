#!/usr/bin/python3
"""Table 4: throughput of Asteroid and its speedup over on-device training, DP and PP (the paper's
plain pipeline, and beside it our network-aware one), for the four models on A (100 Mbps),
B (100 Mbps) and B (1000 Mbps), with the configuration Asteroid chose.

Throughput is asteroid-sim's (rounds.csv) when the simulator is built, with the cost model's
prediction (asteroid-plan) beside it. Writes <outroot>/table4/: table4.csv, table4.md,
throughput.png, summary.md, data/ (every plan and simulator report).
"""
import os

import common as c

CASES = [("A", 100), ("B", 100), ("B", 1000)]
STRATEGIES = ["asteroid", "device", "dp", "pp", "pp_net"]
BASELINES = ["device", "dp", "pp", "pp_net"]


def add_args(p):
    p.add_argument("--rounds", type=int, default=30, help="simulated rounds per run (default 30)")
    p.add_argument("--no-sim", action="store_true", help="cost model only, even if asteroid-sim exists")


def main():
    args = c.parse_args(__doc__, add_args)
    out = c.out_dir(args.outroot, "table4")
    cases = [(e, m, bw) for e, bw in CASES for m in c.MODELS]
    rounds = args.rounds
    if args.smoke:
        cases, rounds = [("A", "mobilenetv2", 100)], 3
    use_sim = c.have("asteroid-sim") and not args.no_sim
    if not use_sim:
        c.log("table4: asteroid-sim not used (not built, or --no-sim): cost model only")

    jobs = [(e, m, bw, s) for e, m, bw in cases for s in STRATEGIES]

    def one(job):
        e, m, bw, s = job
        scen = c.scenario_path(e, m, bw)
        tag = f"env{e}_{m}_{bw}mbps"
        r = c.plan(scen, s, save=os.path.join(out, "data", tag, f"plan_{s}.json"))
        row = {"env": e, "bandwidth_mbps": bw, "model": m, "strategy": s,
               "feasible": r["feasible"], "reason": r.get("reason", ""),
               "model_throughput": r["throughput_samples_per_s"] if r["feasible"] else None,
               "model_round_latency_s": r["round_latency_s"] if r["feasible"] else None,
               "plan": c.plan_text(r), "sim_throughput": None, "sim_rounds": None,
               "sim_plan_matches": None, "sim_error": ""}
        if use_sim and r["feasible"]:
            try:
                rep, rows = c.simulate(scen, os.path.join(out, "data", tag, f"sim_{s}"), strategy=s,
                                       rounds=rounds)
                row["sim_throughput"] = c.sim_throughput_of(rep, rows)
                row["sim_rounds"] = len(rows)
                row["sim_plan_matches"] = c.same_plan(rep["plans"][0], r["plan"])
            except c.ToolError as e:
                row["sim_error"] = str(e)
                c.log(f"{tag} {s}: simulation failed: {e}")
        return row, r

    results = c.parallel(one, jobs)
    by = {(row["env"], row["model"], row["bandwidth_mbps"], row["strategy"]): (row, r)
          for row, r in results}

    # Long CSV: one row per case and strategy.
    c.write_csv(os.path.join(out, "throughput_all.csv"), [row for row, _ in results],
                ["env", "bandwidth_mbps", "model", "strategy", "feasible", "reason",
                 "sim_throughput", "sim_rounds", "sim_plan_matches", "sim_error", "model_throughput",
                 "model_round_latency_s", "plan"])

    # Table 4 proper.
    table = []
    for e, m, bw in cases:
        ast, ast_r = by[(e, m, bw, "asteroid")]
        n_dev = len(c.env_devices(c.scenario_path(e, m, bw)))
        t = {"env": e, "bandwidth_mbps": bw, "model": m,
             "asteroid_sim": ast["sim_throughput"], "asteroid_model": ast["model_throughput"],
             "configuration": ast["plan"], "shape": c.plan_shape(ast_r, n_dev),
             "microbatch_size": ast_r["plan"]["microbatch_size"] if ast_r["feasible"] else "",
             "microbatches": ast_r["plan"]["microbatches"] if ast_r["feasible"] else "",
             "stages": len(ast_r["plan"]["stages"]) if ast_r["feasible"] else "",
             "sim_plan_matches": ast["sim_plan_matches"]}
        for b in BASELINES:
            row, _ = by[(e, m, bw, b)]
            t[f"{b}_sim"] = row["sim_throughput"]
            t[f"{b}_model"] = row["model_throughput"]
            t[f"{b}_sim_plan_matches"] = row["sim_plan_matches"]
            for src in ("sim", "model"):
                a, x = t[f"asteroid_{src}"], row[f"{src}_throughput"]
                t[f"speedup_{b}_{src}"] = a / x if a and x else None
        table.append(t)
    cols = ["env", "bandwidth_mbps", "model", "asteroid_sim", "asteroid_model"]
    for b in BASELINES:
        cols += [f"{b}_sim", f"{b}_model", f"speedup_{b}_sim", f"speedup_{b}_model"]
    cols += ["shape", "stages", "microbatch_size", "microbatches", "configuration"]
    c.write_csv(os.path.join(out, "table4.csv"), table, cols)

    def pair(sim, model, digits):
        if use_sim:
            return f"{c.fmt(sim, digits)} ({c.fmt(model, digits)})"
        return c.fmt(model, digits)

    src_note = ("simulated (asteroid-sim, {} rounds each) and, in parentheses, predicted by the cost "
                "model (asteroid-plan)".format(rounds) if use_sim
                else "predicted by the cost model (asteroid-plan); the simulator was not run")
    header = ["model", "environment", "Asteroid samples/s", "x on-device", "x DP", "x PP",
              "x PP (network-aware)", "configuration (Fig. 12)"]
    md_rows = []
    for t in table:
        md_rows.append([c.MODEL_LABELS[t["model"]], f"{t['env']} ({t['bandwidth_mbps']} Mbps)",
                        pair(t["asteroid_sim"], t["asteroid_model"], 1)]
                       + [pair(t[f"speedup_{b}_sim"], t[f"speedup_{b}_model"], 2) for b in BASELINES]
                       + [f"{t['shape']}: {t['configuration']}"])
    md = (f"Throughput {src_note}. Speedup = Asteroid's throughput / the baseline's. Configuration: "
          "M x micro-batch size: [layers on device:samples per micro-batch] per stage.\n\n"
          + c.md_table(header, md_rows, ["---", "---", "---:", "---:", "---:", "---:", "---:", "---"]))
    c.write_text(os.path.join(out, "table4.md"), md)

    draw(out, table, use_sim)
    summarize(out, table, use_sim, rounds)
    failed = [row for row, _ in results if row["sim_error"]]
    if failed:
        raise c.ToolError(f"{len(failed)} simulation(s) failed (see throughput_all.csv, sim_error)")


def draw(out, table, use_sim):
    import matplotlib
    import matplotlib.pyplot as plt
    import numpy as np
    src = "sim" if use_sim else "model"
    envs = sorted({(t["env"], t["bandwidth_mbps"]) for t in table})
    fig, axes = plt.subplots(1, len(envs), figsize=(4.2 * len(envs), 3.6), squeeze=False)
    for ax, (e, bw) in zip(axes[0], envs):
        rows = [t for t in table if (t["env"], t["bandwidth_mbps"]) == (e, bw)]
        x = np.arange(len(rows))
        w = 0.8 / len(BASELINES)
        for i, b in enumerate(BASELINES):
            vals = [t[f"speedup_{b}_{src}"] for t in rows]
            xs = x + (i - (len(BASELINES) - 1) / 2) * w
            ax.bar([xx for xx, v in zip(xs, vals) if v], [v for v in vals if v], w,
                   label=f"vs {c.STRATEGY_LABELS[b]}", color=c.STRATEGY_COLORS[b])
            for xx, v in zip(xs, vals):
                if v:
                    ax.text(xx, v * 1.03, f"{v:.2f}", ha="center", va="bottom", fontsize=6, rotation=90)
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_yscale("log")
        ax.set_ylim(0.8, max([t[f"speedup_{b}_{src}"] or 1 for t in table for b in BASELINES]) * 2.2)
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}x"))
        ax.set_xticks(x)
        ax.set_xticklabels([c.MODEL_LABELS[t["model"]] for t in rows], rotation=20, fontsize=8)
        ax.set_title(f"env {e}, {bw} Mbps")
        ax.set_ylabel("Asteroid's speedup (log scale)")
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Table 4: Asteroid's speedup, " + ("simulated (asteroid-sim)" if use_sim
                                                     else "cost model (asteroid-plan)"), fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "speedup.png"), dpi=120)
    plt.close(fig)


def summarize(out, table, use_sim, rounds):
    src = "sim" if use_sim else "model"
    lines = []
    for b in BASELINES:
        v = [t[f"speedup_{b}_{src}"] for t in table if t[f"speedup_{b}_{src}"]]
        if v:
            lines.append(f"over {c.STRATEGY_LABELS[b]} {min(v):.2f}x to {max(v):.2f}x")
    same_as_device = [t for t in table if t["shape"] == "1 device"]
    errs = [t["asteroid_sim"] / t["asteroid_model"] - 1 for t in table
            if t["asteroid_sim"] and t["asteroid_model"]]
    text = ("Asteroid's speedup ({}) across the {} cases: {}.".format(
        "simulated" if use_sim else "cost model", len(table), "; ".join(lines)))
    if same_as_device:
        text += (" In {} of them Asteroid's best plan is a single device ({}), so it ties with "
                 "on-device training.".format(len(same_as_device), ", ".join(
                     f"{c.MODEL_LABELS[t['model']]} on {t['env']} {t['bandwidth_mbps']} Mbps"
                     for t in same_as_device)))
    if errs:
        text += (" Simulated throughput of Asteroid's plans against the cost model's prediction: "
                 "{:+.1f}% to {:+.1f}% ({} simulated rounds per run).".format(
                     100 * min(errs), 100 * max(errs), rounds))
    mismatched = [t for t in table if t["sim_plan_matches"] is False
                  or any(t[f"{b}_sim_plan_matches"] is False for b in BASELINES)]
    if mismatched:
        text += " The simulator ran a different plan from asteroid-plan's in {} cases.".format(len(mismatched))
    c.write_text(os.path.join(out, "summary.md"), text + "\n")


if __name__ == "__main__":
    c.main_guard(main)
