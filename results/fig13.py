#!/usr/bin/python3
"""Figure 13: training throughput of Asteroid against DP, PP (plain and network-aware), PipeDream,
DAPPLE, Alpa and HetPipe on environments B and C at 100 and 1000 Mbps, for each model. A plan that
does not fit in memory (asteroid-plan: feasible false, reason "out of memory ...") is drawn as an x.

Each strategy's plan comes from asteroid-plan (core/include/asteroid/planning/strategies.hpp says what each
baseline's planner sees); its throughput is asteroid-sim's when the simulator is built, with the cost
model's prediction as a tick on the bar. Writes <outroot>/fig13/: fig13.png, fig13.csv, fig13.md,
summary.md, data/. With --scenario FILE, every strategy on that scenario alone (any scenario, e.g.
README's three boards), the figure titled from its name and devices.
"""
import os

import common as c

STRATEGIES = ["asteroid", "dp", "pp", "pp_net", "pipedream", "dapple", "alpa", "hetpipe"]
ENVS = ["B", "C"]
BANDWIDTHS = [100, 1000]


def add_args(p):
    p.add_argument("--rounds", type=int, default=20, help="simulated rounds per run (default 20)")
    p.add_argument("--no-sim", action="store_true", help="cost model only, even if asteroid-sim exists")
    p.add_argument("--scenario", default=None,
                   help="every strategy on this scenario instead of the paper's; titled from the scenario")


def bw_label(bw):
    """A case's network: the paper's in Mbps, a user scenario's as it writes it ('1Gbps')."""
    return f"{bw} Mbps" if isinstance(bw, int) else bw


def case_text(e, bw):
    """'env C 100 Mbps' for the paper's cases, 'my_boards (1Gbps)' for a user scenario."""
    return f"env {e} {bw} Mbps" if isinstance(bw, int) else f"{e} ({bw})"


def main():
    args = c.parse_args(__doc__, add_args)
    out = c.out_dir(args.outroot, "fig13")
    envs, bws, models, rounds = ENVS, BANDWIDTHS, c.MODELS, args.rounds
    if args.smoke:
        envs, bws, models, rounds = ["C"], [100], ["mobilenetv2"], 3
    scenario_of = c.scenario_path
    if args.scenario:  # one case: the user's scenario, named by its name and its network
        envs, bws = [c.scenario_name(args.scenario)], [c.scenario_network_text(args.scenario)]
        models = [c.load_json(args.scenario)["model"]["name"]]
        scenario_of = lambda e, m, bw: args.scenario  # noqa: E731
    use_sim = c.have("asteroid-sim") and not args.no_sim
    if not use_sim:
        c.log("fig13: asteroid-sim not used (not built, or --no-sim): cost model only")
    jobs = [(e, m, bw, s) for e in envs for m in models for bw in bws for s in STRATEGIES]

    def one(job):
        e, m, bw, s = job
        scen = scenario_of(e, m, bw)
        tag = e if args.scenario else f"env{e}_{m}_{bw}mbps"
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
    md_rows = [[c.MODEL_LABELS.get(m, m), f"{e} ({bw_label(bw)})"] + [cell(by[(e, m, bw, s)]) for s in STRATEGIES]
               for e in envs for m in models for bw in bws]
    src = (f"simulated (asteroid-sim, {rounds} rounds)" if use_sim else "cost model (asteroid-plan)")
    c.write_text(os.path.join(out, "fig13.md"),
                 f"Training throughput in samples/s, {src}; x = out of memory.\n\n"
                 + c.md_table(header, md_rows, ["---", "---"] + ["---:"] * len(STRATEGIES)))
    draw(out, by, envs, models, bws, use_sim, c.scenario_title(args.scenario) if args.scenario else None)
    summarize(out, rows, by, envs, models, bws)
    failed = [r for r in rows if r["sim_error"]]
    if failed:
        raise c.ToolError(f"{len(failed)} simulation(s) failed (see fig13.csv, sim_error)")


def draw(out, by, envs, models, bws, use_sim, scenario_title=None):
    """scenario_title: a user scenario's (--scenario), which then titles the figure and its panel."""
    import matplotlib.pyplot as plt
    import numpy as np
    width = 3.6 * len(models) if not scenario_title else 9  # room for the scenario's title and legend
    fig, axes = plt.subplots(len(envs), len(models), figsize=(width, 3.2 * len(envs)), squeeze=False)
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
            ax.set_xticklabels([bw_label(bw) for bw in bws])
            ax.set_title(c.MODEL_LABELS.get(m, m) if scenario_title else f"{c.MODEL_LABELS[m]}, env {e}", fontsize=10)
            if j == 0:
                ax.set_ylabel("samples/s")
    handles, labels = axes[0][0].get_legend_handles_labels()
    from matplotlib.lines import Line2D
    handles.append(Line2D([], [], marker="x", color="k", ls="", mew=2))
    labels.append("out of memory")
    if use_sim:
        handles.append(Line2D([], [], color="k", lw=1))
        labels.append("cost model prediction")
    fig.legend(handles, labels, loc="lower center", ncol=len(labels) if not scenario_title else 5, fontsize=8,
               frameon=False)
    title = ((scenario_title + "\nevery strategy's" if scenario_title else "Figure 13:") + " training throughput, "
             + ("simulated (asteroid-sim)" if use_sim else "cost model (asteroid-plan)"))
    fig.suptitle(title, fontsize=11 if not scenario_title else 9.5)
    fig.tight_layout(rect=(0, 0.05 if not scenario_title else 0.14, 1, 0.97 if not scenario_title else 0.9))
    fig.savefig(os.path.join(out, "fig13.png"), dpi=110, metadata={"Title": title})  # the PNG's title (tests read it)
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
            beaten.append(f"{c.STRATEGY_LABELS[best]} on {c.MODEL_LABELS.get(m, m)}, {case_text(e, bw)} "
                          f"({b:.1f} against {a:.1f} samples/s)")
    text = f"Asteroid is the fastest (or tied, within 0.1%) in {wins} of {len(cases)} cases."
    if beaten:
        text += " It is beaten by " + "; ".join(beaten) + "."
    text += (f" {len(oom)} of {len(rows)} plans are out of memory"
             + (": " + ", ".join(f"{c.STRATEGY_LABELS[r['strategy']]} ({c.MODEL_LABELS.get(r['model'], r['model'])}, "
                                 f"{case_text(r['env'], r['bandwidth_mbps'])})" for r in oom) if oom else "")
             + ".")
    c.write_text(os.path.join(out, "summary.md"), text + "\n")


if __name__ == "__main__":
    c.main_guard(main)
