#!/usr/bin/python3
"""The energy-throughput trade-off of environments A-D: every plan the energy objective scores
(asteroid-plan --objective energy --power-modes free, over plans and power modes, within
--front-slowdown of the fastest), the Pareto front of time per sample against energy per sample,
the fastest plan, and the least-energy plan within 10% of it (power modes fixed at their defaults,
and free), with what it saves; both plans also run in the simulator (asteroid-sim with the same
objective) for their simulated time and modelled energy per sample.

Energies are modelled (docs/method.md §7.1: derived power files x the cost model's or the
simulator's busy times), not measured; the power modes' traces are derived from clocks.

Writes <outroot>/energy_tradeoff/: points.csv (per env: the fastest and least-energy plan of each
mode assignment, and the front), front.csv, tradeoff.csv, tradeoff.md, tradeoff.png, summary.md.
"""
import json
import os

import common as c

ENVS = ["A", "B", "C", "D"]


def add_args(p):
    p.add_argument("--model", default="mobilenetv2", help="model (default mobilenetv2)")
    p.add_argument("--mbps", type=int, default=1000, help="the scenarios' bandwidth, 100 or 1000 (default 1000)")
    p.add_argument("--slowdown", default="10%", help="the chosen plan's largest slowdown (default 10%%)")
    p.add_argument("--front-slowdown", default="",
                   help="how far from the fastest the front is enumerated (default: --slowdown; each plan within "
                        "it is replayed and priced, so a wide one takes long)")
    p.add_argument("--rounds", type=int, default=20, help="simulated rounds per plan (default 20)")


def objective(scenario, slowdown, modes):
    return json.loads(c.run([c.require("asteroid-plan"), scenario, "--objective", "energy", "--max-slowdown",
                                   slowdown, "--power-modes", modes, "--json"]))


def modes_text(p):
    """'tx2_0 Max-Q, nano0-2 5W': the modes, devices of one mode together."""
    by = {}
    for d, m in p.get("power_modes", {}).items():
        by.setdefault(m, []).append(d)
    return "; ".join(f"{m}: {', '.join(ds)}" for m, ds in sorted(by.items()))


def stages_text(p):
    return " ".join(f"[L{s['layers'][0]}-{s['layers'][1]} on {','.join(s['devices'])}]" for s in p["stages"])


def point(env, kind, p):
    return {"env": env, "kind": kind, "s_per_sample": p["s_per_sample"], "J_per_sample": p["J_per_sample"],
            "round_s": p["round_s"], "microbatch_size": p["microbatch_size"], "stages": stages_text(p),
            "power_modes": modes_text(p)}


def sim_figures(scenario, keep, rounds, extra=()):
    """(simulated s per sample, modelled J per sample) of asteroid-sim's run of the scenario (with
    spans: the run's energy is computed from them)."""
    report, rows = c.simulate(scenario, keep, rounds=rounds, extra=extra, spans=True)
    tp = c.sim_throughput_of(report, rows)
    e = report.get("energy", {})
    return (1 / tp if tp else None), e.get("J_per_sample")


def pct(v):
    return "n/a" if v is None else f"{100 * v:.1f}%"


def main():
    args = c.parse_args(__doc__, add_args)
    out = c.out_dir(args.outroot, "energy_tradeoff")
    envs = ["D"] if args.smoke else ENVS
    front_slowdown = args.front_slowdown or args.slowdown
    rounds = 4 if args.smoke else args.rounds

    def one(env):
        scen = c.scenario_path(env, args.model, args.mbps)
        free = objective(scen, args.slowdown, "free")
        front = objective(scen, front_slowdown, "free") if front_slowdown != args.slowdown else free
        fixed = objective(scen, args.slowdown, "fixed")
        # The simulator runs the fastest plan, and the chosen one with each device in its chosen mode
        # (a copy of the scenario with those power_modes, the plan as asteroid-plan wrote it).
        sim_dir = os.path.join(out, "sim", f"env{env}")
        os.makedirs(sim_dir, exist_ok=True)
        fast_sim = sim_figures(scen, os.path.join(sim_dir, "fastest"), rounds)
        chosen_modes = free["power_modes"]

        def with_modes(s):
            s["name"] = f"energy_env{env}_{args.model}"
            for d in s["cluster"]["devices"]:
                if d["name"] in chosen_modes:
                    d["power_mode"] = chosen_modes[d["name"]]
        moded = c.scenario_variant(scen, os.path.join(sim_dir, "chosen_scenario.json"), with_modes)
        plan_file = os.path.join(sim_dir, "chosen_plan.json")
        with open(plan_file, "w") as f:
            json.dump(free, f, indent=1)
        free_sim = sim_figures(moded, os.path.join(sim_dir, "energy_free"), rounds, ["--plan", plan_file])
        return env, scen, front, fixed, free, fast_sim, free_sim

    results = c.parallel(one, envs)
    points, front_rows, rows = [], [], []
    for env, scen, front, fixed, free, fast_sim, free_sim in results:
        o = front["objective"]
        for p in o["assignment_fastest"]:
            if p["feasible"]:
                points.append(point(env, "assignment_fastest", p))
        for p in o["assignment_least_energy"]:
            if p["feasible"]:
                points.append(point(env, "assignment_least_energy", p))
        for p in o["front"]:
            front_rows.append(point(env, "front", p))
        f, ch_fixed, ch_free = free["objective"]["fastest"], fixed["objective"]["chosen"], free["objective"]["chosen"]
        rows.append({
            "env": env, "composition": c.env_composition(scen), "mode_assignments": o["mode_assignments"],
            "plans_scored": o["plans_scored"], "front_points": len(o["front"]),
            "proven": all(x["objective"]["proven_optimal"] for x in (front, fixed, free)),
            "fastest_s_per_sample": f["s_per_sample"], "fastest_J_per_sample": f["J_per_sample"],
            "fastest_modes": modes_text(f),
            "fixed_s_per_sample": ch_fixed["s_per_sample"], "fixed_J_per_sample": ch_fixed["J_per_sample"],
            "fixed_saved": fixed["objective"].get("energy_saved"),
            "free_s_per_sample": ch_free["s_per_sample"], "free_J_per_sample": ch_free["J_per_sample"],
            "free_saved": free["objective"].get("energy_saved"), "free_slowdown": free["objective"].get("slowdown"),
            "free_modes": modes_text(ch_free), "free_plan": stages_text(ch_free),
            "sim_fastest_s_per_sample": fast_sim[0], "sim_fastest_J_per_sample": fast_sim[1],
            "sim_free_s_per_sample": free_sim[0], "sim_free_J_per_sample": free_sim[1],
            "sim_free_saved": (1 - free_sim[1] / fast_sim[1]) if fast_sim[1] and free_sim[1] else None,
        })
    pcols = ["env", "kind", "s_per_sample", "J_per_sample", "round_s", "microbatch_size", "stages", "power_modes"]
    c.write_csv(os.path.join(out, "points.csv"), points, pcols)
    c.write_csv(os.path.join(out, "front.csv"), front_rows, pcols)
    c.write_csv(os.path.join(out, "tradeoff.csv"), rows, list(rows[0].keys()))

    ms = lambda v: "n/a" if v is None else f"{1e3 * v:.1f}"  # noqa: E731 (ms per sample)
    j = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    table = c.md_table(
        ["env", "devices", "fastest: ms, J per sample", f"least energy within {args.slowdown}, modes fixed",
         f"least energy within {args.slowdown}, modes free", "saved (free)", "its modes",
         "simulated: fastest → chosen (ms, J per sample)", "saved (simulated)"],
        [[r["env"], r["composition"], f"{ms(r['fastest_s_per_sample'])}, {j(r['fastest_J_per_sample'])}",
          f"{ms(r['fixed_s_per_sample'])}, {j(r['fixed_J_per_sample'])} ({pct(r['fixed_saved'])} saved)",
          f"{ms(r['free_s_per_sample'])}, {j(r['free_J_per_sample'])}", pct(r["free_saved"]), r["free_modes"],
          f"{ms(r['sim_fastest_s_per_sample'])}, {j(r['sim_fastest_J_per_sample'])} → "
          f"{ms(r['sim_free_s_per_sample'])}, {j(r['sim_free_J_per_sample'])}", pct(r["sim_free_saved"])]
         for r in rows])
    with open(os.path.join(out, "tradeoff.md"), "w") as f:
        f.write(table)

    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(rows), figsize=(4.2 * len(rows), 3.8), squeeze=False)
    for ax, r in zip(axes[0], rows):
        env = r["env"]
        for kind, style in (("assignment_fastest", dict(c="#9ecae1", marker="o", s=14, label="fastest per mode assignment")),
                            ("assignment_least_energy", dict(c="#c7e9c0", marker="s", s=14,
                                                             label=f"least energy per assignment (within {front_slowdown})"))):
            xs = [1e3 * p["s_per_sample"] for p in points if p["env"] == env and p["kind"] == kind]
            ys = [p["J_per_sample"] for p in points if p["env"] == env and p["kind"] == kind]
            ax.scatter(xs, ys, **style)
        fr = [p for p in front_rows if p["env"] == env]
        ax.plot([1e3 * p["s_per_sample"] for p in fr], [p["J_per_sample"] for p in fr], "-o", c="#d62728", ms=3,
                label=f"Pareto front of the plans within {front_slowdown}")
        ax.scatter([1e3 * r["fastest_s_per_sample"]], [r["fastest_J_per_sample"]], marker="*", s=120, c="k",
                   label="fastest", zorder=5)
        ax.scatter([1e3 * r["free_s_per_sample"]], [r["free_J_per_sample"]], marker="D", s=50, c="#ff7f0e",
                   label=f"least energy within {args.slowdown}", zorder=5)
        ax.axvline(1e3 * r["fastest_s_per_sample"] * (1 + float(args.slowdown.rstrip("%")) / 100), ls=":", c="grey")
        ax.set_title(f"env {env}: {r['composition']}", fontsize=9)
        ax.set_xlabel("time per sample (ms, predicted)")
        ax.set_ylabel("energy per sample (J, modelled)")
    axes[0][0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "tradeoff.png"), dpi=120)

    lines = [f"Model {args.model}, {args.mbps} Mbps. Per environment, the fastest plan over every plan and power "
             f"mode, and the least modelled energy per sample within {args.slowdown} of it:"]
    for r in rows:
        lines.append(f"- env {r['env']} ({r['composition']}): {pct(r['free_saved'])} less energy per sample for "
                     f"{pct(r['free_slowdown'])} more time per sample (modes: {r['free_modes']}); with the modes "
                     f"fixed, the plan alone saves {pct(r['fixed_saved'])}. Simulated: {pct(r['sim_free_saved'])} "
                     f"saved. {r['mode_assignments']} mode assignments, {r['plans_scored']} plans within "
                     f"{front_slowdown} scored{'' if r['proven'] else ' (a time limit cut a search)'}.")
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    c.log(f"energy_tradeoff: wrote {out}")


if __name__ == "__main__":
    main()
