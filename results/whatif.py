#!/usr/bin/python3
"""What-if sweeps with the cost model (asteroid-plan, not the simulator): throughput of Asteroid,
DP, PP and on-device training
  - against the link bandwidth (log-spaced from --bw-min to --bw-max Mbps) for each environment A-D
    and each model, and
  - against the number of devices, growing a cluster of mixed Jetsons (Xavier NX, TX2, Nano, Xavier
    NX, TX2, ...) from 1 to --max-devices devices, at 100 and 1000 Mbps, for each model.
The background of each panel shows the fastest of the four at each point; where Asteroid is within
--tie of a simpler strategy, that strategy is shown (Asteroid's plan then is, or is as good as, it).

The modified scenarios are written to <outroot>/whatif/scenarios/ (trace paths relative to each copy).
Writes <outroot>/whatif/: bandwidth.csv, bandwidth.png, devices.csv, devices.png, whatif.md,
summary.md.

With --scenario FILE the sweeps are of that scenario (any scenario, e.g. README's three boards), made
with asteroid-plan's what-if flags rather than copies: every link at each bandwidth (--bandwidth),
and its devices from the first alone to all of them (--remove-device), then more of its device
types in turn up to --max-devices (--add-device; default: three more). The figures are titled from
the scenario's name and devices.
"""
import math
import os

import common as c

STRATEGIES = ["asteroid", "dp", "pp", "device"]
SIMPLER_FIRST = ["device", "dp", "pp", "asteroid"]  # tie-break order for the "fastest" label
ENVS = ["A", "B", "C", "D"]
GROW_TYPES = [("nx", "jetson_xavier_nx"), ("tx2_", "jetson_tx2"), ("nano", "jetson_nano")]
REGION_COLORS = {"asteroid": "#f4c2c2", "dp": "#c6dbef", "pp": "#c7e9c0", "device": "#e0e0e0"}


def add_args(p):
    p.add_argument("--bw-min", type=float, default=10, help="lowest bandwidth, Mbps (default 10)")
    p.add_argument("--bw-max", type=float, default=1000, help="highest bandwidth, Mbps (default 1000)")
    p.add_argument("--bw-points", type=int, default=8, help="bandwidths, log-spaced (default 8)")
    p.add_argument("--max-devices", type=int, default=None,
                   help="largest cluster (default 12; with --scenario, its devices and three more)")
    p.add_argument("--scenario", default=None,
                   help="sweep this scenario instead of the paper's environments; titled from it")
    p.add_argument("--tie", type=float, default=0.01,
                   help="relative margin within which Asteroid counts as tied (default 0.01)")


def fastest(tp, tie):
    best = max(v for v in tp.values() if v is not None)
    for s in SIMPLER_FIRST:
        if tp[s] is not None and tp[s] >= best * (1 - tie):
            return s
    return "asteroid"


def num(v):
    """Bandwidth for text: 3 significant digits, no exponent."""
    return f"{v:.0f}" if v >= 100 else f"{v:.3g}"


def bw_text(mbps):
    return f"{mbps:.4g}Mbps"


def bw_label(bw):
    """A device sweep's network: the paper's in Mbps, a user scenario's as it writes it ('1Gbps')."""
    return f"{bw} Mbps" if isinstance(bw, (int, float)) else bw


def sweep(points, tie):
    """points: list of (key dict, scenario path[, asteroid-plan what-if flags]). Plans every strategy
    on every point."""
    jobs = [(i, s) for i in range(len(points)) for s in STRATEGIES]

    def one(job):
        i, s = job
        r = c.plan(points[i][1], s, extra=points[i][2] if len(points[i]) > 2 else ())
        return i, s, r

    res = c.parallel(one, jobs)
    rows = [dict(points[i][0]) for i in range(len(points))]
    for i, s, r in res:
        rows[i][s] = r["throughput_samples_per_s"] if r["feasible"] else None
        if s == "asteroid":
            rows[i]["asteroid_proven"] = bool(r.get("proven_optimal", True))
            rows[i]["asteroid_shape"] = c.plan_shape(r, rows[i]["devices"])
            rows[i]["asteroid_plan"] = c.plan_text(r)
    for r in rows:
        r["fastest"] = fastest({s: r[s] for s in STRATEGIES}, tie)
        base = max((r[s] or 0) for s in STRATEGIES if s != "asteroid")
        r["asteroid_gain"] = r["asteroid"] / base if r["asteroid"] and base else None
    return rows


def main():
    args = c.parse_args(__doc__, add_args)
    out = c.out_dir(args.outroot, "whatif")
    scen_dir = os.path.join(out, "scenarios")
    envs, models, n_bw, max_dev, grow_bws = ENVS, c.MODELS, args.bw_points, args.max_devices or 12, [100, 1000]
    if args.smoke:
        envs, models, n_bw, max_dev, grow_bws = ["C"], ["mobilenetv2"], 3, 3, [100]
    bws = [args.bw_min * (args.bw_max / args.bw_min) ** (k / (n_bw - 1)) for k in range(n_bw)]
    if args.scenario:
        return one_scenario(out, args, bws)

    # Bandwidth sweep.
    points = []
    for e in envs:
        for m in models:
            base = c.scenario_path(e, m, 100)
            ndev = len(c.env_devices(base))
            for bw in bws:
                def edit(s, bw=bw):
                    s["name"] = f"whatif_env{e}_{m}_{bw_text(bw)}"
                    s["description"] = f"{s['description']} Bandwidth changed to {bw_text(bw)} (whatif.py)."
                    s["cluster"]["network"]["bandwidth"] = bw_text(bw)
                path = c.scenario_variant(base, os.path.join(scen_dir, f"env{e}_{m}_{bw_text(bw)}.json"), edit)
                points.append(({"env": e, "model": m, "bandwidth_mbps": bw, "devices": ndev}, path))
    bw_rows = sweep(points, args.tie)
    cols = ["env", "model", "bandwidth_mbps", "devices"] + STRATEGIES + ["fastest", "asteroid_gain",
                                                                         "asteroid_shape", "asteroid_plan"]
    c.write_csv(os.path.join(out, "bandwidth.csv"), bw_rows, cols)

    # Device-count sweep.
    points = []
    for m in models:
        for bw in grow_bws:
            base = c.scenario_path("C", m, bw)
            for n in range(1, max_dev + 1):
                devs = []
                for k in range(n):
                    prefix, t = GROW_TYPES[k % len(GROW_TYPES)]
                    devs.append({"name": f"{prefix}{k // len(GROW_TYPES)}", "type": t})

                def edit(s, devs=devs, n=n):
                    s["name"] = f"whatif_mixed{n}_{m}_{bw}mbps"
                    s["description"] = (f"{n} mixed Jetsons ({', '.join(d['name'] for d in devs)}), "
                                        f"{m}, {bw}Mbps star network (whatif.py, from environment C).")
                    s["cluster"]["devices"] = devs
                path = c.scenario_variant(base, os.path.join(scen_dir, f"mixed{n}_{m}_{bw}mbps.json"), edit)
                points.append(({"model": m, "bandwidth_mbps": bw, "devices": n,
                                "cluster": " ".join(d["name"] for d in devs)}, path))
    dev_rows = sweep(points, args.tie)
    c.write_csv(os.path.join(out, "devices.csv"), dev_rows,
                ["model", "bandwidth_mbps", "devices", "cluster"] + STRATEGIES
                + ["fastest", "asteroid_gain", "asteroid_shape", "asteroid_plan"])

    draw_bandwidth(out, bw_rows, envs, models, args.tie)
    draw_devices(out, dev_rows, models, grow_bws, args.tie)
    write_md(out, bw_rows, dev_rows, envs, models, grow_bws, bws, max_dev, args.tie)


def one_scenario(out, args, bws):
    """--scenario: both sweeps of the user's scenario, by asteroid-plan's what-if flags."""
    scen = args.scenario
    name, m = c.scenario_name(scen), c.load_json(scen)["model"]["name"]
    devices = c.env_devices(scen)
    max_dev = args.max_devices or len(devices) + 3
    if args.smoke:
        max_dev = min(max_dev, len(devices) + 1)
    points = [({"env": name, "model": m, "bandwidth_mbps": bw, "devices": len(devices)}, scen,
               ["--bandwidth", bw_text(bw)]) for bw in bws]
    bw_rows = sweep(points, args.tie)
    c.write_csv(os.path.join(out, "bandwidth.csv"), bw_rows,
                ["env", "model", "bandwidth_mbps", "devices"] + STRATEGIES
                + ["fastest", "asteroid_gain", "asteroid_shape", "asteroid_plan"])
    types = list(dict.fromkeys(t for _, t in devices))  # its device types, in the order they come
    net = c.scenario_network_text(scen)
    points = []
    for n in range(1, max_dev + 1):
        flags = [f for d, _ in devices[n:] for f in ("--remove-device", d)]
        added = [types[k % len(types)] for k in range(max(0, n - len(devices)))]
        flags += [f for t in added for f in ("--add-device", t)]
        cluster = [d for d, _ in devices[:n]] + [f"+{t}" for t in added]
        points.append(({"model": m, "bandwidth_mbps": net, "devices": n, "cluster": " ".join(cluster)}, scen, flags))
    dev_rows = sweep(points, args.tie)
    c.write_csv(os.path.join(out, "devices.csv"), dev_rows,
                ["model", "bandwidth_mbps", "devices", "cluster"] + STRATEGIES
                + ["fastest", "asteroid_gain", "asteroid_shape", "asteroid_plan"])
    title = c.scenario_title(scen)
    draw_bandwidth(out, bw_rows, [name], [m], args.tie, title)
    draw_devices(out, dev_rows, [m], [net], args.tie,
                 f"{title}: its devices one by one ({', '.join(d for d, _ in devices)}), then more "
                 f"{' and '.join(c.TYPE_LABELS.get(t, t) for t in types)} in turn. Cost model (asteroid-plan)")
    write_md(out, bw_rows, dev_rows, [name], [m], [net], bws, max_dev, args.tie)


def regions(ax, xs, labels, log):
    """Shades the x-range around each point by its label (boundaries halfway between points)."""
    edges = []
    for a, b in zip(xs, xs[1:]):
        edges.append(math.sqrt(a * b) if log else (a + b) / 2)
    lo = [xs[0] / (xs[1] / xs[0]) ** 0.5 if log else xs[0] - 0.5] + edges
    hi = edges + [xs[-1] * (xs[-1] / xs[-2]) ** 0.5 if log else xs[-1] + 0.5]
    for l, h, lab in zip(lo, hi, labels):
        ax.axvspan(l, h, color=REGION_COLORS[lab], lw=0, zorder=0)
    ax.set_xlim(lo[0], hi[-1])


def legend(fig, tie):
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    h = [Line2D([], [], color=c.STRATEGY_COLORS[s], marker="o", ms=3) for s in STRATEGIES]
    l = [c.STRATEGY_LABELS[s] for s in STRATEGIES]
    h += [Patch(color=REGION_COLORS[s]) for s in STRATEGIES]
    l += [f"fastest: {c.STRATEGY_LABELS[s]}" for s in STRATEGIES]
    fig.legend(h, l, loc="lower center", ncol=8, fontsize=8, frameon=False,
               title=f"shading: fastest strategy at that point (Asteroid within {100 * tie:g}% of a "
                     "simpler one counts as that one)", title_fontsize=8)


def draw_bandwidth(out, rows, envs, models, tie, scenario_title=None):
    """scenario_title: a user scenario's (--scenario), which then titles the figure."""
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(len(models), len(envs), figsize=(3.4 * len(envs) + 0.5, 2.6 * len(models) + 1),
                             squeeze=False)
    for i, m in enumerate(models):
        for j, e in enumerate(envs):
            ax = axes[i][j]
            rs = sorted((r for r in rows if r["env"] == e and r["model"] == m),
                        key=lambda r: r["bandwidth_mbps"])
            xs = [r["bandwidth_mbps"] for r in rs]
            ax.set_xscale("log")
            if len(xs) > 1:
                regions(ax, xs, [r["fastest"] for r in rs], True)
            for s in STRATEGIES:
                ax.plot(xs, [r[s] if r[s] is not None else float("nan") for r in rs], "o-", ms=3,
                        color=c.STRATEGY_COLORS[s], lw=1.2)
            ax.set_title(f"{c.MODEL_LABELS.get(m, m)}, " + (e if scenario_title else f"env {e}")
                         + f" ({rs[0]['devices']} devices)", fontsize=9)
            if i == len(models) - 1:
                ax.set_xlabel("link bandwidth (Mbps)")
            if j == 0:
                ax.set_ylabel("samples/s")
    legend(fig, tie)
    title = ((scenario_title + ": what if its links were slower or faster?" if scenario_title
              else "What if the links were slower or faster?") + " Cost model (asteroid-plan), not simulated")
    if scenario_title:
        fig.set_size_inches(9, 4.5)
    fig.suptitle(title, fontsize=11 if not scenario_title else 8)
    fig.tight_layout(rect=(0, 0.07 if not scenario_title else 0.2, 1, 0.97 if not scenario_title else 0.92))
    fig.savefig(os.path.join(out, "bandwidth.png"), dpi=100, metadata={"Title": title})  # tests read it
    plt.close(fig)


def draw_devices(out, rows, models, bws, tie, scenario_heading=None):
    """scenario_heading: the title for a user scenario's sweep (--scenario)."""
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(len(bws), len(models), figsize=(3.6 * len(models) + 0.5, 3.0 * len(bws) + 1.2),
                             squeeze=False)
    for i, bw in enumerate(bws):
        for j, m in enumerate(models):
            ax = axes[i][j]
            rs = sorted((r for r in rows if r["model"] == m and r["bandwidth_mbps"] == bw),
                        key=lambda r: r["devices"])
            xs = [r["devices"] for r in rs]
            regions(ax, xs, [r["fastest"] for r in rs], False)
            for s in STRATEGIES:
                ax.plot(xs, [r[s] if r[s] is not None else float("nan") for r in rs], "o-", ms=3,
                        color=c.STRATEGY_COLORS[s], lw=1.2)
            ax.set_title(f"{c.MODEL_LABELS.get(m, m)}, {bw_label(bw)}", fontsize=9)
            ax.set_xlabel("devices")
            if j == 0:
                ax.set_ylabel("samples/s")
    legend(fig, tie)
    order = ", ".join(TYPE for TYPE in (c.TYPE_LABELS[t] for _, t in GROW_TYPES))
    title = scenario_heading or (f"Growing a mixed cluster (devices added in the order {order}, repeated). "
                                 "Cost model (asteroid-plan), not simulated")
    if scenario_heading:
        fig.set_size_inches(9, 4.8)
    fig.suptitle(title, fontsize=10 if not scenario_heading else 7.5, wrap=True)
    fig.tight_layout(rect=(0, 0.09 if not scenario_heading else 0.2, 1, 0.96 if not scenario_heading else 0.9))
    fig.savefig(os.path.join(out, "devices.png"), dpi=100, metadata={"Title": title})  # tests read it
    plt.close(fig)


def runs(rows, key):
    """Consecutive runs of the same 'fastest' label: [(label, first key value, last key value)]."""
    out = []
    for r in rows:
        if out and out[-1][0] == r["fastest"]:
            out[-1][2] = r[key]
        else:
            out.append([r["fastest"], r[key], r[key]])
    return out


def write_md(out, bw_rows, dev_rows, envs, models, grow_bws, bws, max_dev, tie):
    def bw_cell(e, m):
        rs = sorted((r for r in bw_rows if r["env"] == e and r["model"] == m),
                    key=lambda r: r["bandwidth_mbps"])
        return "; ".join(f"{c.STRATEGY_LABELS[l]} {num(a)}" + (f"-{num(b)}" if b != a else "")
                         for l, a, b in runs(rs, "bandwidth_mbps"))

    def dev_cell(m, bw):
        rs = sorted((r for r in dev_rows if r["model"] == m and r["bandwidth_mbps"] == bw),
                    key=lambda r: r["devices"])
        return "; ".join(f"{c.STRATEGY_LABELS[l]} {a}" + (f"-{b}" if b != a else "")
                         for l, a, b in runs(rs, "devices"))

    md = [f"Fastest strategy by bandwidth (Mbps), cost model, {len(bws)} bandwidths from "
          f"{num(bws[0])} to {num(bws[-1])} Mbps; Asteroid within {100 * tie:g}% of a simpler strategy "
          "counts as that strategy.\n",
          c.md_table(["model"] + [f"env {e}" if e in ENVS else e for e in envs],
                     [[c.MODEL_LABELS.get(m, m)] + [bw_cell(e, m) for e in envs] for m in models]),
          f"\nFastest strategy by number of devices (1 to {max_dev}), cost model.\n",
          c.md_table(["model"] + [bw_label(bw) for bw in grow_bws],
                     [[c.MODEL_LABELS.get(m, m)] + [dev_cell(m, bw) for bw in grow_bws] for m in models])]
    unproven = [r for r in bw_rows + dev_rows if r.get("asteroid_proven") is False]
    if unproven:
        md.append(f"\n{len(unproven)} of Asteroid's plans (the largest clusters) are the best found within "
                  "the search by replay's time limit, not proven optimal (docs/method.md §3.7): "
                  + ", ".join(sorted({f"{r['model']} on {r['devices']} devices" for r in unproven})) + ".")
    c.write_text(os.path.join(out, "whatif.md"), "\n".join(md))
    gains = [r["asteroid_gain"] for r in bw_rows if r["asteroid_gain"]]
    wins = sum(1 for r in bw_rows if r["fastest"] == "asteroid")
    low = [r for r in bw_rows if r["bandwidth_mbps"] == min(bws)]
    low_dev = sum(1 for r in low if r["fastest"] == "device")
    text = (f"Over the bandwidth sweep ({len(bw_rows)} points) Asteroid's plan is more than "
            f"{100 * tie:g}% faster than every simpler strategy at {wins} points; its gain over the best "
            f"of them reaches {max(gains) if gains else float('nan'):.2f}x. At {num(min(bws))} Mbps, training on one device is as "
            f"fast as anything in {low_dev} of {len(low)} environment-model pairs.")
    c.write_text(os.path.join(out, "summary.md"), text + "\n")


if __name__ == "__main__":
    c.main_guard(main)
