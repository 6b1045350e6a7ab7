#!/usr/bin/python3
"""Figure 12: the configurations Asteroid chooses for the cases of Table 4, drawn: stages as boxes
with their layer ranges, the device group of each stage with each device's share of a micro-batch,
and the step times the cost model predicts. One PNG per distinct configuration.

Plans come from asteroid-plan (the same planner the simulator runs). Writes <outroot>/fig12/:
config_*.png, configurations.csv, configurations.md, data/. With --scenario FILE, the plan of that
scenario alone (any scenario, e.g. README's three boards), titled from its name and devices:
config_<name>.png.
"""
import os

import common as c

CASES = [("A", 100), ("B", 100), ("B", 1000)]
TYPE_COLORS = {"jetson_nano": "#a6cee3", "jetson_tx2": "#b2df8a", "jetson_xavier_nx": "#fdbf6f",
               "local_cpu": "#cab2d6"}


def add_args(p):
    p.add_argument("--scenario", default=None,
                   help="draw this scenario's plan instead of the paper's cases; titled from the scenario")


def main():
    args = c.parse_args(__doc__, add_args)
    out = c.out_dir(args.outroot, "fig12")
    if args.scenario:
        return one_scenario(out, args.scenario)
    cases = [(e, m, bw) for e, bw in CASES for m in c.MODELS]
    if args.smoke:
        cases = [("A", "mobilenetv2", 100)]

    def one(case):
        e, m, bw = case
        scen = c.scenario_path(e, m, bw)
        return case, c.plan(scen, "asteroid", save=os.path.join(out, "data", f"env{e}_{m}_{bw}mbps.json"))

    results = c.parallel(one, cases)
    # Distinct configurations: same model, same devices, same plan (bandwidth may differ).
    groups = {}
    for (e, m, bw), r in results:
        key = (m, e, c.plan_text(r))
        groups.setdefault(key, []).append(((e, m, bw), r))

    rows, md = [], []
    for (m, e, _), members in groups.items():
        bws = [bw for (_, _, bw), _ in members]
        name = f"config_{m}_env{e}_{'_'.join(str(b) for b in bws)}mbps.png"
        (case0, r0) = members[0]
        scen = c.scenario_path(*case0)
        draw(os.path.join(out, name), [r for _, r in members], scen, bws,
             f"{c.MODEL_LABELS[m]}, env {e} ({' / '.join(str(b) for b in bws)} Mbps)")
        for (ee, mm, bw), r in members:
            rows.append({"model": mm, "env": ee, "bandwidth_mbps": bw, "png": name,
                         "throughput_model": r["throughput_samples_per_s"] if r["feasible"] else None,
                         "shape": c.plan_shape(r, len(c.env_devices(c.scenario_path(ee, mm, bw)))),
                         "configuration": c.plan_text(r)})
        md.append(f"### {c.MODEL_LABELS[m]}, environment {e} "
                  f"({' and '.join(str(b) for b in bws)} Mbps)\n\n"
                  f"`{c.plan_text(r0)}`\n\n![{name}]({name})\n")
    c.write_csv(os.path.join(out, "configurations.csv"), rows,
                ["model", "env", "bandwidth_mbps", "shape", "throughput_model", "configuration", "png"])
    c.write_text(os.path.join(out, "configurations.md"), "\n".join(md))
    c.write_text(os.path.join(out, "summary.md"),
                 f"{len(groups)} distinct configurations for {len(cases)} cases; "
                 f"{sum(1 for r in rows if r['shape'].startswith('HPP'))} cases are hybrid "
                 f"(several stages, at least one data-parallel group).\n")


def one_scenario(out, scen):
    """--scenario: the one plan of a user's scenario, drawn and tabled."""
    name = c.scenario_name(scen)
    r = c.plan(scen, "asteroid", save=os.path.join(out, "data", f"{name}.json"))
    png = f"config_{name}.png"
    title = c.scenario_title(scen)
    draw(os.path.join(out, png), [r], scen, [None], title)
    m = c.load_json(scen)["model"]["name"]
    row = {"scenario": name, "model": m, "network": c.scenario_network_text(scen), "png": png,
           "throughput_model": r["throughput_samples_per_s"] if r["feasible"] else None,
           "shape": c.plan_shape(r, len(c.env_devices(scen))), "configuration": c.plan_text(r)}
    c.write_csv(os.path.join(out, "configurations.csv"), [row],
                ["scenario", "model", "network", "shape", "throughput_model", "configuration", "png"])
    c.write_text(os.path.join(out, "configurations.md"), f"### {title}\n\n`{c.plan_text(r)}`\n\n![{png}]({png})\n")
    c.write_text(os.path.join(out, "summary.md"),
                 f"{title}: {row['shape']}, " + (f"{row['throughput_model']:.1f} samples/s (cost model)"
                                                 if r["feasible"] else "no feasible plan") + ".\n")


def draw(path, results, scen, bws, heading):
    """results: the plan's evaluation at each bandwidth of bws (the same plan); heading: the title's
    first words (the case, or the user's scenario)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, Rectangle

    r = results[0]
    names = c.layer_names(scen)
    types = dict(c.env_devices(scen))
    if not r["feasible"]:
        fig, ax = plt.subplots(figsize=(6, 2))
        ax.axis("off")
        ax.text(0.5, 0.5, "no feasible plan: " + r.get("reason", ""), ha="center", va="center")
        ax.set_title(heading, fontsize=8.5)
        fig.savefig(path, dpi=120, metadata={"Title": heading})
        plt.close(fig)
        return
    p = r["plan"]
    stages = p["stages"]
    compute = [[s for s in x["steps"] if s["kind"] == "compute"] for x in results]
    comm = [[s for s in x["steps"] if s["kind"] != "compute"] for x in results]

    def per_bw(values):
        return " / ".join(f"{v:.3f}" for v in values) + " s"
    n = len(stages)
    max_group = max(len(s["devices"]) for s in stages)
    W, gap = 3.2, 1.1
    H = 1.3 + 0.62 * max_group
    fig, ax = plt.subplots(figsize=(1.0 + n * (W + gap), H + 1.2))
    for i, s in enumerate(stages):
        x0 = i * (W + gap)
        ax.add_patch(Rectangle((x0, 0), W, H, fill=False, lw=1.5))
        a, b = s["layers"]
        ax.text(x0 + W / 2, H - 0.25, f"stage {i}: layers {a}-{b}", ha="center", va="center",
                fontsize=10, weight="bold")
        ax.text(x0 + W / 2, H - 0.58, f"{names[a]} ... {names[b]}" if a != b else names[a],
                ha="center", va="center", fontsize=8, family="monospace")
        beta = p["microbatch_size"]
        for k, (d, share) in enumerate(zip(s["devices"], s["shares"])):
            y = H - 1.05 - 0.62 * (k + 1) + 0.1
            ax.add_patch(Rectangle((x0 + 0.15, y), W - 0.3, 0.5, color=TYPE_COLORS.get(types[d], "#ddd"),
                                   ec="k", lw=0.6))
            ax.add_patch(Rectangle((x0 + 0.15, y), (W - 0.3) * share / beta, 0.1, color="k", lw=0))
            ax.text(x0 + 0.25, y + 0.28, f"{d} ({c.TYPE_LABELS.get(types[d], types[d])})", va="center",
                    fontsize=8)
            ax.text(x0 + W - 0.25, y + 0.28, f"{share}/{beta}", va="center", ha="right", fontsize=8,
                    weight="bold")
        st = compute[0][i]
        ax.text(x0 + W / 2, -0.25, f"E_f+E_b {st['E_f_s'] + st['E_b_s']:.3f} s", ha="center",
                va="center", fontsize=7.5)
        if len(s["devices"]) > 1:
            ax.text(x0 + W / 2, -0.55, "all-reduce " + per_bw(x[i]["T_a_s"] for x in compute),
                    ha="center", va="center", fontsize=7.5)
        if i + 1 < n:
            ax.add_patch(FancyArrowPatch((x0 + W + 0.05, H / 2), (x0 + W + gap - 0.05, H / 2),
                                         arrowstyle="-|>", mutation_scale=15, lw=1.2))
            ax.text(x0 + W + gap / 2, H / 2 + 0.25, "send " + per_bw(x[i]["E_f_s"] for x in comm), ha="center",
                    fontsize=7, rotation=0 if len(results) == 1 else 90, va="bottom")
    ax.set_xlim(-0.3, n * (W + gap) - gap + 0.3)
    ax.set_ylim(-0.8, H + 0.1)
    ax.axis("off")
    tp = " / ".join(f"{x['throughput_samples_per_s']:.1f}" for x in results)
    ax.set_title(f"{heading}: {p['microbatches']} micro-batch(es) "
                 f"of {p['microbatch_size']}; cost model: {tp} samples/s\n"
                 "bar under a device: its share of each micro-batch; times: per micro-batch step"
                 + (" (per bandwidth)" if len(bws) > 1 else ""), fontsize=8.5)
    fig.tight_layout()
    fig.savefig(path, dpi=120, metadata={"Title": heading})  # the PNG's own title (tests read it)
    plt.close(fig)


if __name__ == "__main__":
    c.main_guard(main)
