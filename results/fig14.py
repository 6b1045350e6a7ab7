#!/usr/bin/python3
"""Figure 14: convergence, test accuracy against wall-clock time, of EfficientNet-B1 and MobileNetV2
on environments B and C, for Asteroid and the baselines asteroid-plan offers (DP, PP plain and
network-aware, PipeDream, DAPPLE, Alpa, HetPipe).

What is measured and what is simulated. Every strategy here runs synchronous rounds: each round is
one update on one mini-batch of the scenario's size, the same update whatever the plan (asteroid-exec
checks this: tests/exec/data_test.sh). So one real training run per model gives test accuracy per
round for every strategy: asteroid-exec on this machine, one device, Fashion-MNIST (the Debian
package dataset-fashion-mnist; 28x28 images padded to 32x32 over three channels, random crop and
flip), the scenario's batch size and optimizer, evaluated every --eval-every rounds on the first
--eval-samples test images. Each strategy's time per round on the environment is asteroid-sim's
(its plan from asteroid-plan). A strategy's curve is the measured accuracy after round r drawn at
(r + 1) x its simulated round time. PipeDream and HetPipe are asynchronous in their papers; here
their plans run synchronous rounds like the others, so their curves show their round time only.

The training runs are long (their budget is --train-minutes each, under nice): their outputs are
kept in results/fig14/training/<model>/ (report.json: rounds, losses, evaluations, wall times) and
the figure is drawn from them without training again unless --retrain. --smoke trains a few rounds
of small batches into the output directory (never results/'s) and simulates 3 rounds.
Writes <outroot>/fig14/: fig14.png, fig14.csv, fig14.md, summary.md, data/ (plans, simulations).
"""
import json
import os
import shutil
import subprocess
import tempfile
import time

import common as c

MODELS = ["efficientnet_b1", "mobilenetv2"]
ENVS = ["B", "C"]
STRATEGIES = ["asteroid", "dp", "pp", "pp_net", "pipedream", "dapple", "alpa", "hetpipe"]
LOCAL = {"efficientnet_b1": "local_efficientnet_b1_2dev.json", "mobilenetv2": "local_mobilenetv2_2dev.json"}


def add_args(p):
    p.add_argument("--bandwidth", type=int, default=100, choices=[100, 1000],
                   help="the environments' bandwidth in Mbps (default 100)")
    p.add_argument("--rounds", type=int, default=20, help="simulated rounds per strategy (default 20)")
    p.add_argument("--retrain", action="store_true",
                   help="train again (else the kept runs of results/fig14/training/ are used)")
    p.add_argument("--train-minutes", type=float, default=20,
                   help="wall-clock budget of each training run in minutes (default 20)")
    p.add_argument("--eval-every", type=int, default=20, help="rounds between evaluations (default 20)")
    p.add_argument("--eval-samples", type=int, default=1000,
                   help="test images per evaluation, the first N of 10,000 (default 1000)")


def training_scenario(model, batch, optimizer, path):
    """The model's local scenario reduced to one device, with the environment's batch and optimizer."""
    def edit(s):
        s["name"] = f"fig14_{model}_1dev"
        s["cluster"]["devices"] = s["cluster"]["devices"][:1]
        s["training"]["batch_size"] = batch
        s["training"]["optimizer"] = optimizer
        s["planner"]["microbatch_sizes"] = [batch]  # the run's plan is given: one device, one micro-batch
    c.scenario_variant(os.path.join(c.SCENARIOS, LOCAL[model]), path, edit)
    return path


def train(model, batch, optimizer, keep, args, smoke):
    """One real training run (asteroid-exec, one device, nice 10); keeps report.json in `keep`.
    Stops at its budget (--timeout): the report holds the rounds and evaluations done by then."""
    exe = c.require("asteroid-exec")
    with tempfile.TemporaryDirectory(prefix="asteroid-fig14-") as tmp:
        scen = training_scenario(model, batch, optimizer, os.path.join(tmp, "scenario.json"))
        layers = len(c.layer_names(scen))
        with open(os.path.join(tmp, "one.json"), "w") as f:
            json.dump({"microbatch_size": batch, "microbatches": 1,
                       "stages": [{"layers": [0, layers - 1], "devices": ["cpu0"]}]}, f)
        budget_s = 60 * args.train_minutes
        rounds = 100000
        if smoke:
            budget_s, rounds = 300, 16
        cmd = ["nice", "-n", "10", exe, scen, "--plan", os.path.join(tmp, "one.json"), "--rounds", str(rounds),
               "--data", "fashion-mnist", "--augment", "--timeout", str(int(budget_s)),
               "--eval-every", str(2 if smoke else args.eval_every),
               "--eval-samples", str(64 if smoke else args.eval_samples),
               "--token-file", os.path.join(tmp, "token"), "-o", os.path.join(tmp, "run")]
        c.log(f"fig14: training {model} (batch {batch}, budget {budget_s / 60:g} min): {' '.join(cmd)}")
        t0 = time.time()
        r = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.time() - t0
        report_path = os.path.join(tmp, "run", "report.json")
        # Exit 1 with a report: the budget ran out (a `stop` event says so), which is the plan.
        if r.returncode not in (0, 1) or not os.path.isfile(report_path):
            raise c.ToolError(f"asteroid-exec ({model}) exited with {r.returncode}: {r.stderr.strip()[-500:]}")
        rep = c.load_json(report_path)
        rep.pop("spans", None)  # per-instruction spans: large, not drawn
        rep["fig14_training"] = {"command": " ".join(cmd[3:]), "wall_s": wall, "budget_s": budget_s,
                                 "exit_status": r.returncode}
        os.makedirs(keep, exist_ok=True)
        c.write_text(os.path.join(keep, "report.json"), json.dumps(rep, indent=1) + "\n")
        return rep


def main():
    args = c.parse_args(__doc__, add_args)
    out = c.out_dir(args.outroot, "fig14", clean=False)
    for d in ("data",):
        shutil.rmtree(os.path.join(out, d), ignore_errors=True)
    envs, models, strategies, rounds = ENVS, MODELS, STRATEGIES, args.rounds
    if args.smoke:
        envs, strategies, rounds = ["C"], ["asteroid", "dp", "pp"], 3
    use_sim = c.have("asteroid-sim")
    if not use_sim:
        c.log("fig14: asteroid-sim not built: round times from the cost model (asteroid-plan)")

    # Measured: accuracy per round, one training run per model.
    runs = {}
    for m in models:
        scen = c.load_json(c.scenario_path(envs[0], m, args.bandwidth))
        batch, optimizer = scen["training"]["batch_size"], scen["training"]["optimizer"]
        for e in envs:
            other = c.load_json(c.scenario_path(e, m, args.bandwidth))["training"]
            if (other["batch_size"], other["optimizer"]) != (batch, optimizer):
                raise c.ToolError(f"env {e} trains {m} with another batch or optimizer: one run cannot serve both")
        keep = os.path.join(out, "training", m)
        kept = os.path.join(c.RESULTS, "fig14", "training", m, "report.json")
        if args.smoke:
            runs[m] = train(m, 16, optimizer, keep, args, smoke=True)
        elif args.retrain or not os.path.isfile(kept):
            runs[m] = train(m, batch, optimizer, keep, args, smoke=False)
        else:
            runs[m] = c.load_json(kept)
            if os.path.abspath(keep) != os.path.dirname(kept):
                os.makedirs(keep, exist_ok=True)
                shutil.copy(kept, os.path.join(keep, "report.json"))
        if not runs[m].get("evaluations"):
            raise c.ToolError(f"the training run of {m} has no evaluation")

    # Simulated: each strategy's time per round on each environment.
    jobs = [(e, m, s) for e in envs for m in models for s in strategies]

    def one(job):
        e, m, s = job
        scen = c.scenario_path(e, m, args.bandwidth)
        tag = f"env{e}_{m}_{args.bandwidth}mbps"
        r = c.plan(scen, s, save=os.path.join(out, "data", tag, f"plan_{s}.json"))
        row = {"env": e, "model": m, "strategy": s, "feasible": r["feasible"], "out_of_memory": c.out_of_memory(r),
               "round_s": None, "source": "", "plan": c.plan_text(r)}
        if not r["feasible"]:
            return row
        batch = c.load_json(scen)["training"]["batch_size"]
        if use_sim:
            rep, rows = c.simulate(scen, os.path.join(out, "data", tag, f"sim_{s}"), strategy=s, rounds=rounds)
            row["round_s"], row["source"] = batch / c.sim_throughput_of(rep, rows), f"asteroid-sim, {rounds} rounds"
        else:
            row["round_s"], row["source"] = batch / r["throughput_samples_per_s"], "cost model"
        return row

    rows = c.parallel(one, jobs)
    curve_rows = []
    for r in rows:
        for ev in runs[r["model"]]["evaluations"]:
            curve_rows.append({"env": r["env"], "model": r["model"], "strategy": r["strategy"], "round": ev["round"],
                               "epoch": ev["epoch"], "accuracy": ev["accuracy"], "test_loss": ev["loss"],
                               "test_images": ev["samples"], "round_s": r["round_s"],
                               "time_s": (ev["round"] + 1) * r["round_s"] if r["round_s"] else None})
    c.write_csv(os.path.join(out, "fig14.csv"), curve_rows,
                ["env", "model", "strategy", "round", "epoch", "accuracy", "test_loss", "test_images", "round_s",
                 "time_s"])
    draw(out, rows, runs, envs, models, strategies)
    write_tables(out, rows, runs, envs, models, strategies, use_sim, rounds, args)


def draw(out, rows, runs, envs, models, strategies):
    import matplotlib.pyplot as plt
    by = {(r["env"], r["model"], r["strategy"]): r for r in rows}
    fig, axes = plt.subplots(len(models), len(envs), figsize=(5.2 * len(envs), 3.6 * len(models)), squeeze=False)
    for i, m in enumerate(models):
        evs = runs[m]["evaluations"]
        for j, e in enumerate(envs):
            ax = axes[i][j]
            oom = []
            for s in strategies:
                r = by[(e, m, s)]
                if not r["round_s"]:
                    oom.append(c.STRATEGY_LABELS[s])
                    continue
                ax.plot([(ev["round"] + 1) * r["round_s"] / 3600 for ev in evs], [100 * ev["accuracy"] for ev in evs],
                        color=c.STRATEGY_COLORS[s], lw=2.2 if s == "asteroid" else 1.2, marker=".",
                        label=c.STRATEGY_LABELS[s])
            ax.set_title(f"{c.MODEL_LABELS[m]}, env {e}" + (f" (out of memory: {', '.join(oom)})" if oom else ""),
                         fontsize=9)
            ax.set_xlabel("training time on the environment (h, simulated round times)")
            if j == 0:
                ax.set_ylabel("test accuracy (%, measured)")
            ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    fig.suptitle("Fashion-MNIST: accuracy per round measured (asteroid-exec, one real run per model); "
                 "time per round simulated per strategy (asteroid-sim)", fontsize=9)
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    fig.savefig(os.path.join(out, "fig14.png"), dpi=120)
    plt.close(fig)


def write_tables(out, rows, runs, envs, models, strategies, use_sim, rounds, args):
    by = {(r["env"], r["model"], r["strategy"]): r for r in rows}
    lines = []
    for m in models:
        rep = runs[m]
        evs = rep["evaluations"]
        last = evs[-1]
        best = max(evs, key=lambda ev: ev["accuracy"])
        tr = rep.get("fig14_training", {})
        rounds_done = len(rep["rounds"])
        batch = rep["rounds"][0]["samples"] if rep["rounds"] else 0
        wall = rep["rounds"][-1]["end_s"] if rep["rounds"] else 0
        lines.append([c.MODEL_LABELS[m], str(batch), str(rounds_done), c.fmt(rounds_done * batch / 60000, 3),
                      c.fmt(100 * last["accuracy"], 1) + f" (round {last['round']})", c.fmt(100 * best["accuracy"], 1),
                      str(last["samples"]), c.fmt(last["time_s"] / 60, 1), c.fmt(wall / 60, 1),
                      c.fmt(tr.get("budget_s", 0) / 60, 0)])
    measured = c.md_table(["model", "batch", "rounds", "epochs", "test accuracy, last (%)", "best (%)",
                           "test images", "training (min)", "wall time with evaluations (min)", "budget (min)"],
                          lines)
    sim_rows = []
    for e in envs:
        for m in models:
            target = 0.9 * max(ev["accuracy"] for ev in runs[m]["evaluations"])
            reach = next(ev for ev in runs[m]["evaluations"] if ev["accuracy"] >= target)
            cells = []
            for s in strategies:
                r = by[(e, m, s)]
                if not r["round_s"]:
                    cells.append("x (OOM)" if r["out_of_memory"] else "infeasible")
                else:
                    cells.append(f"{c.fmt(r['round_s'], 2)} s / {c.fmt((reach['round'] + 1) * r['round_s'] / 60, 1)} min")
            sim_rows.append([f"{c.MODEL_LABELS[m]}, env {e}", c.fmt(100 * target, 1)] + cells)
    src = f"asteroid-sim, {rounds} rounds" if use_sim else "cost model (asteroid-plan)"
    simulated = c.md_table(["model, environment", "target accuracy (%)"] + [c.STRATEGY_LABELS[s] for s in strategies],
                           sim_rows, ["---", "---:"] + ["---:"] * len(strategies))
    c.write_text(os.path.join(out, "fig14.md"),
                 "Measured: one training run per model (asteroid-exec on this machine, one device, one libtorch "
                 "thread, Fashion-MNIST with random crop and flip, the environments' batch size and optimizer), "
                 "test accuracy on the first test images as counted:\n\n" + measured +
                 f"\nSimulated ({src}, {args.bandwidth} Mbps): time per round of each strategy, and the time to "
                 "reach the target accuracy (90% of the best measured) at that round time:\n\n" + simulated)
    fastest = []
    for e in envs:
        for m in models:
            ok = [(by[(e, m, s)]["round_s"], s) for s in strategies if by[(e, m, s)]["round_s"]]
            if ok:
                t, s = min(ok)
                a = by[(e, m, "asteroid")]["round_s"]
                fastest.append(f"{c.MODEL_LABELS[m]} on env {e}: fastest rounds {c.STRATEGY_LABELS[s]} "
                               f"({c.fmt(t, 2)} s)" + (f", Asteroid {c.fmt(a, 2)} s" if a else ", Asteroid infeasible"))
    c.write_text(os.path.join(out, "summary.md"),
                 "Every strategy makes the same updates (synchronous rounds), so the curves differ only in time "
                 "per round: a strategy that is k times faster per round reaches each accuracy k times sooner. "
                 + "; ".join(fastest) + ".\n")


if __name__ == "__main__":
    c.main_guard(main)
