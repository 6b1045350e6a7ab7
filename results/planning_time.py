#!/usr/bin/python3
"""Planning time of the planner (Alg. 2, exact): bench_planner's synthetic cases (Jetson-like device
mixes of environments A-D and larger mixed clusters, synthetic models of 50 and 200 layers) and
asteroid-plan's own planning time on every paper scenario (environments A-D, four models, 100 and
1000 Mbps). Writes <outroot>/planning_time/: bench_planner.csv, scenarios.csv, planning_time.md,
planning_time.png, summary.md.

bench_planner prints one line per case as it finishes. Each case runs under bench_planner's own
--time-limit (a case cut by it returns its best plan so far, not proven optimal, and counts as a
missed target); the whole run is also stopped after --bench-timeout seconds, and the cases not
finished by then are listed as such.
"""
import math
import os
import subprocess
import time

import common as c

ENVS = ["A", "B", "C", "D"]
BANDWIDTHS = [100, 1000]


def add_args(p):
    p.add_argument("--time-limit", type=float, default=120,
                   help="bench_planner --time-limit: seconds per case (default 120)")
    p.add_argument("--bench-timeout", type=float, default=1200,
                   help="stop bench_planner after this many seconds (default 1200)")
    p.add_argument("--quick", action="store_true", help="bench_planner --quick (environments A-D only)")


def run_bench(quick, time_limit, timeout):
    """bench_planner --csv [--quick] --time-limit T; returns (rows, header, finished, seconds)."""
    cmd = [c.require("bench_planner"), "--csv", "--time-limit", f"{time_limit:g}"] + (["--quick"] if quick else [])
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    lines, finished = [], True
    try:
        out, _ = proc.communicate(timeout=timeout)
        lines = out.splitlines()
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        lines = out.splitlines()
        finished = False
    if finished and proc.returncode != 0:
        raise c.ToolError(f"{' '.join(cmd)} exited with {proc.returncode}")
    header = lines[0].split(",")
    rows = [dict(zip(header, l.split(","))) for l in lines[1:] if l.strip()]
    return rows, header, finished, time.monotonic() - t0


def main():
    args = c.parse_args(__doc__, add_args)
    out = c.out_dir(args.outroot, "planning_time")
    quick = args.quick or args.smoke
    bench, header, finished, seconds = run_bench(quick, args.time_limit, args.bench_timeout)
    for b in bench:
        proven = b.get("proven_optimal", "1") == "1"
        b["met"] = "yes" if float(b["planning_time_s"]) <= float(b["target_s"]) and proven else "no"
    header = header + ["met"]
    c.write_csv(os.path.join(out, "bench_planner.csv"), bench, header)

    envs, bws, models = ENVS, BANDWIDTHS, c.MODELS
    if args.smoke:
        envs, bws, models = ["C"], [100], ["mobilenetv2"]
    cases = [(e, m, bw) for e in envs for m in models for bw in bws]
    # One at a time: planning times are wall-clock and should not compete for the CPU.
    scen_rows = []
    for e, m, bw in cases:
        scen = c.scenario_path(e, m, bw)
        r = c.plan(scen, "asteroid")
        scen_rows.append({"env": e, "model": m, "bandwidth_mbps": bw,
                          "devices": len(c.env_devices(scen)), "layers": len(c.layer_names(scen)),
                          "planning_time_s": r["planning_time_s"], "stages": len(r["plan"]["stages"])
                          if r["feasible"] else 0})
    c.write_csv(os.path.join(out, "scenarios.csv"), scen_rows,
                ["env", "model", "bandwidth_mbps", "devices", "layers", "stages", "planning_time_s"])

    md = ["Synthetic cases (bench_planner): planning time against the target it checks.\n\n",
          c.md_table(["case", "links (Mbps)", "devices", "layers", "planning time (ms)", "target (ms)",
                      "proven optimal", "met", "stages", "stage evaluations"],
                     [[b["case"], b["bandwidth_mbps"], b["devices"], b["layers"],
                       c.fmt(1e3 * float(b["planning_time_s"]), 2),
                       c.fmt(1e3 * float(b["target_s"]), 0),
                       "yes" if b.get("proven_optimal", "1") == "1" else f"no (cut at {args.time_limit:g} s)",
                       b["met"], b["stages"], b["stage_evaluations"]] for b in bench],
                     ["---", "---:", "---:", "---:", "---:", "---:", "---", "---", "---:", "---:"])]
    if not finished:
        md.append(f"\nbench_planner was stopped after {args.bench_timeout:.0f} s; the cases after the "
                  "last row above did not finish by then.\n")
    md.append("\nPaper scenarios (asteroid-plan, strategy asteroid), planning time in ms:\n")
    md.append(c.md_table(["model", "layers"] + [f"{e} {bw} Mbps" for e in envs for bw in bws],
                         [[c.MODEL_LABELS[m], next(r["layers"] for r in scen_rows if r["model"] == m)]
                          + [c.fmt(1e3 * next(r["planning_time_s"] for r in scen_rows
                                                if (r["env"], r["model"], r["bandwidth_mbps"]) == (e, m, bw)), 2)
                             for e in envs for bw in bws] for m in models],
                         ["---", "---:"] + ["---:"] * (len(envs) * len(bws))))
    c.write_text(os.path.join(out, "planning_time.md"), "\n".join(md))
    draw(out, bench, scen_rows, finished, args.bench_timeout)

    worst = max(scen_rows, key=lambda r: r["planning_time_s"])
    met = sum(1 for b in bench if b["met"] == "yes")
    cut = [b for b in bench if b.get("proven_optimal", "1") != "1"]
    most = max(int(b["devices"]) for b in bench)
    biggest = [b for b in bench if int(b["devices"]) == most]
    text = (f"On the paper's scenarios the planner takes at most {1e3 * worst['planning_time_s']:.1f} ms "
            f"({c.MODEL_LABELS[worst['model']]}, environment {worst['env']}). bench_planner: {met} of "
            f"{len(bench)} synthetic cases meet their target; the largest cases run, {most} devices x "
            f"{biggest[0]['layers']} layers, took "
            + ", ".join(f"{float(b['planning_time_s']):.2f} s at {b['bandwidth_mbps']} Mbps" for b in biggest) + ".")
    growth = []
    for e in sorted({b["case"] for b in bench if b["case"].startswith("env")}):
        pts = {int(b["layers"]): float(b["planning_time_s"]) for b in bench if b["case"] == e}
        if len(pts) >= 2:
            (l0, t0), (l1, t1) = sorted(pts.items())[0], sorted(pts.items())[-1]
            if t0 > 0 and t1 > 0:
                growth.append((e, math.log(t1 / t0) / math.log(l1 / l0), l0, l1))
    if growth:
        text += (f" From {growth[0][2]} to {growth[0][3]} layers the time grows like layers^k with k = "
                 + ", ".join(f"{k:.2f} ({e})" for e, k, _, _ in growth) + ".")
    if cut:
        text += (f" {len(cut)} case(s) hit the {args.time_limit:g} s time limit and returned a plan not proven "
                 f"optimal: {', '.join(b['case'] + ' (' + b['devices'] + ' devices)' for b in cut)}.")
    if not finished:
        text += f" The remaining cases did not finish within the {args.bench_timeout:.0f} s allowed."
    c.write_text(os.path.join(out, "summary.md"), text + "\n")


def draw(out, bench, scen_rows, finished, timeout):
    import matplotlib.pyplot as plt
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    for layers, mbps in sorted({(int(b["layers"]), float(b["bandwidth_mbps"])) for b in bench}):
        pts = sorted((int(b["devices"]), float(b["planning_time_s"]), b["case"],
                      b.get("proven_optimal", "1") == "1") for b in bench
                     if int(b["layers"]) == layers and float(b["bandwidth_mbps"]) == mbps)
        what = f"synthetic, {layers} layers, {mbps:g} Mbps"
        line, = a1.plot([p[0] for p in pts if p[3]], [p[1] for p in pts if p[3]], "o-", label=what)
        cut = [p for p in pts if not p[3]]
        if cut:
            a1.plot([p[0] for p in cut], [p[1] for p in cut], "o", mfc="none", color=line.get_color(),
                    label=what + ", cut by the time limit")
        for d, t, name, _ in pts:
            a1.annotate(name, (d, t), fontsize=6, xytext=(3, 3), textcoords="offset points")
    for t in sorted({float(b["target_s"]) for b in bench}):
        a1.axhline(t, ls="--", lw=0.8, color="0.4")
        a1.text(0.01, t * 1.1, f"target {t:g} s", fontsize=7, color="0.3",
                transform=a1.get_yaxis_transform())
    a1.plot([r["devices"] for r in scen_rows], [r["planning_time_s"] for r in scen_rows], "k+",
            label="paper scenarios")
    a1.set_xscale("log", base=2)
    a1.set_yscale("log")
    a1.set_xlabel("devices")
    a1.set_ylabel("planning time (s)")
    a1.set_title("against the number of devices", fontsize=10)
    a1.legend(fontsize=7)
    envs = sorted({b["case"] for b in bench if b["case"].startswith("env")})
    for e in envs:
        pts = sorted((int(b["layers"]), float(b["planning_time_s"])) for b in bench if b["case"] == e)
        a2.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=f"synthetic {e}")
    for e in sorted({r["env"] for r in scen_rows}):
        pts = sorted((r["layers"], r["planning_time_s"]) for r in scen_rows if r["env"] == e)
        a2.plot([p[0] for p in pts], [p[1] for p in pts], "+", ms=8, label=f"paper scenarios env {e}")
    a2.set_xscale("log")
    a2.set_yscale("log")
    a2.set_xlabel("layers")
    a2.set_ylabel("planning time (s)")
    a2.set_title("against the number of layers", fontsize=10)
    a2.legend(fontsize=7)
    note = "" if finished else f" (bench_planner stopped after {timeout:.0f} s)"
    fig.suptitle("Planning time of the exact planner" + note, fontsize=11)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "planning_time.png"), dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    c.main_guard(main)
