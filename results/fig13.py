#!/usr/bin/python3
"""Figure 13: training throughput of Asteroid against DP, PP (plain and network-aware), PipeDream,
DAPPLE, Alpa and HetPipe on environments B and C at 100 and 1000 Mbps, for each model. A plan that
does not fit in memory (asteroid-plan: feasible false, reason "out of memory ...") is drawn as an x.

Each strategy's plan comes from asteroid-plan (core/include/asteroid/strategies.hpp says what each
baseline's planner sees); its throughput is asteroid-sim's when the simulator is built, with the cost
model's prediction as a tick on the bar. Writes <outroot>/fig13/: fig13.png, fig13.csv, fig13.md,
summary.md, data/.
"""
import os

import common as c

STRATEGIES = ["asteroid", "dp", "pp", "pp_net", "pipedream", "dapple", "alpa", "hetpipe"]
ENVS = ["B", "C"]
BANDWIDTHS = [100, 1000]


def add_args(p):
    p.add_argument("--rounds", type=int, default=20, help="simulated rounds per run (default 20)")
    p.add_argument("--no-sim", action="store_true", help="cost model only, even if asteroid-sim exists")


def main():
    args = c.parse_args(__doc__, add_args)
    out = c.out_dir(args.outroot, "fig13")
    envs, bws, models, rounds = ENVS, BANDWIDTHS, c.MODELS, args.rounds
    if args.smoke:
        envs, bws, models, rounds = ["C"], [100], ["mobilenetv2"], 3
    use_sim = c.have("asteroid-sim") and not args.no_sim
    if not use_sim:
        c.log("fig13: asteroid-sim not used (not built, or --no-sim): cost model only")
    jobs = [(e, m, bw, s) for e in envs for m in models for bw in bws for s in STRATEGIES]

    def one(job):
        e, m, bw, s = job
        scen = c.scenario_path(e, m, bw)
        tag = f"env{e}_{m}_{bw}mbps"
        r = c.plan(scen, s, save=os.path.join(out, "data", tag, f"plan_{s}.json"))
        row = {"env": e, "model": m, "bandwidth_mbps": bw, "strategy": s, "feasible": r["feasible"],
               "out_of_memory": c.out_of_memory(r), "reason": r.get("reason", ""),
               "model_throughput": r["throughput_samples_per_s"] if r["feasible"] else None,
               "sim_throughput": None, "sim_error": "",
               "shape": c.plan_shape(r, len(c.env_devices(scen))), "plan": c.plan_text(r)}
        if use_sim and r["feasible"]:
            try:
                rep, rows = c.simulate(scen, os.path.join(out, "data", tag, f"sim_{s}"), strategy=s,
                                       rounds=rounds)
                row["sim_throughput"] = c.sim_throughput_of(rep, rows)
            except c.ToolError as e:
                row["sim_error"] = str(e)
                c.log(f"{tag} {s}: simulation failed: {e}")
        row["throughput"] = row["sim_throughput"] if use_sim else row["model_throughput"]
        return row

    rows = c.parallel(one, jobs)
    c.write_csv(os.path.join(out, "fig13.csv"), rows,
                ["env", "model", "bandwidth_mbps", "strategy", "feasible", "out_of_memory", "reason",
                 "throughput", "sim_throughput", "model_throughput", "sim_error", "shape", "plan"])
    by = {(r["env"], r["model"], r["bandwidth_mbps"], r["strategy"]): r for r in rows}

    def cell(r):
        if r["out_of_memory"]:
            return "x (OOM)"
        if not r["feasible"]:
            return "infeasible"
        if r["sim_error"]:
            return "simulation failed"
        return c.fmt(r["throughput"], 1)

    header = ["model", "environment"] + [c.STRATEGY_LABELS[s] for s in STRATEGIES]
    md_rows = [[c.MODEL_LABELS[m], f"{e} ({bw} Mbps)"] + [cell(by[(e, m, bw, s)]) for s in STRATEGIES]
               for e in envs for m in models for bw in bws]
    src = (f"simulated (asteroid-sim, {rounds} rounds)" if use_sim else "cost model (asteroid-plan)")
    c.write_text(os.path.join(out, "fig13.md"),
                 f"Training throughput in samples/s, {src}; x = out of memory.\n\n"
                 + c.md_table(header, md_rows, ["---", "---"] + ["---:"] * len(STRATEGIES)))
    draw(out, by, envs, models, bws, use_sim)
    summarize(out, rows, by, envs, models, bws)
    failed = [r for r in rows if r["sim_error"]]
    if failed:
        raise c.ToolError(f"{len(failed)} simulation(s) failed (see fig13.csv, sim_error)")


def draw(out, by, envs, models, bws, use_sim):
    import matplotlib.pyplot as plt
    import numpy as np
    fig, axes = plt.subplots(len(envs), len(models), figsize=(3.6 * len(models), 3.2 * len(envs)),
                             squeeze=False)
    w = 0.8 / len(STRATEGIES)
    for i, e in enumerate(envs):
        for j, m in enumerate(models):
            ax = axes[i][j]
            top = max([by[(e, m, bw, s)]["throughput"] or 0 for bw in bws for s in STRATEGIES] + [1e-9])
            for k, s in enumerate(STRATEGIES):
                xs = np.arange(len(bws)) + (k - (len(STRATEGIES) - 1) / 2) * w
                for x, bw in zip(xs, bws):
                    r = by[(e, m, bw, s)]
                    if not r["feasible"]:
                        ax.plot(x, top * 0.03, marker="x", color="k" if r["out_of_memory"] else "0.5",
                                ms=7, mew=2)
                        continue
                    ax.bar(x, r["throughput"], w, color=c.STRATEGY_COLORS[s],
                           label=c.STRATEGY_LABELS[s] if (x == xs[0]) else None)
                    if use_sim and r["model_throughput"]:
                        ax.plot([x - w / 2, x + w / 2], [r["model_throughput"]] * 2, color="k", lw=1)
            ax.set_xticks(np.arange(len(bws)))
            ax.set_xticklabels([f"{bw} Mbps" for bw in bws])
            ax.set_title(f"{c.MODEL_LABELS[m]}, env {e}", fontsize=10)
            if j == 0:
                ax.set_ylabel("samples/s")
    handles, labels = axes[0][0].get_legend_handles_labels()
    from matplotlib.lines import Line2D
    handles.append(Line2D([], [], marker="x", color="k", ls="", mew=2))
    labels.append("out of memory")
    if use_sim:
        handles.append(Line2D([], [], color="k", lw=1))
        labels.append("cost model prediction")
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    fig.suptitle("Figure 13: training throughput, " + ("simulated (asteroid-sim)" if use_sim
                                                        else "cost model (asteroid-plan)"), fontsize=11)
    fig.tight_layout(rect=(0, 0.05, 1, 0.97))
    fig.savefig(os.path.join(out, "fig13.png"), dpi=110)
    plt.close(fig)


def summarize(out, rows, by, envs, models, bws):
    oom = [r for r in rows if r["out_of_memory"]]
    wins, beaten = 0, []
    cases = [(e, m, bw) for e in envs for m in models for bw in bws]
    for e, m, bw in cases:
        a = by[(e, m, bw, "asteroid")]["throughput"] or 0
        best = max(STRATEGIES[1:], key=lambda s: by[(e, m, bw, s)]["throughput"] or 0)
        b = by[(e, m, bw, best)]["throughput"] or 0
        if a >= b * 0.999:
            wins += 1
        else:
            beaten.append(f"{c.STRATEGY_LABELS[best]} on {c.MODEL_LABELS[m]}, env {e} {bw} Mbps "
                          f"({b:.1f} against {a:.1f} samples/s)")
    text = f"Asteroid is the fastest (or tied, within 0.1%) in {wins} of {len(cases)} cases."
    if beaten:
        text += " It is beaten by " + "; ".join(beaten) + "."
    text += (f" {len(oom)} of {len(rows)} plans are out of memory"
             + (": " + ", ".join(f"{c.STRATEGY_LABELS[r['strategy']]} ({c.MODEL_LABELS[r['model']]}, "
                                 f"env {r['env']} {r['bandwidth_mbps']} Mbps)" for r in oom) if oom else "")
             + ".")
    c.write_text(os.path.join(out, "summary.md"), text + "\n")


if __name__ == "__main__":
    c.main_guard(main)
