#!/usr/bin/python3
"""Figure 17: throughput over time when one device leaves (scenarios/envC_fail.json, or any scenario
given with --scenario, which titles the figure),
for the recovery strategies of asteroid-sim (--recovery lightweight | replan | restart | adaptive), with
the failure, its detection, the re-plan and the resumption marked from the RunReport's events; and
the recovery time split into detection, re-plan, state transfer and replay (the report's summary).
A last panel shows the device returning (scenarios/envC_rejoin.json): the Coordinator plans it back
in when that finishes the rounds left sooner, the state transfer counted.

Needs asteroid-sim. Writes <outroot>/fig17/: fig17.png, recovery.csv, recovery.md, rejoin.csv,
summary.md, data/<recovery>/ and data/rejoin/ (report.json without spans, rounds.csv).
"""
import os

import common as c

RECOVERIES = ["lightweight", "replan", "restart", "adaptive"]
COLORS = {"lightweight": "#d62728", "replan": "#1f77b4", "restart": "#7f7f7f", "adaptive": "#2ca02c"}
# Event kinds of the RunReport drawn as markers, and how.
MARKERS = {"failure": ("-", "failure"), "detection": (":", "detection"), "replan": ("-.", "re-plan"),
           "resume": ("--", "resume")}
PHASES = [("detection_s", "detection"), ("replan_s", "re-plan"), ("state_transfer_s", "state transfer"),
          ("replay_s", "replay")]


DEFAULT_SCENARIO = os.path.join(c.SCENARIOS, "envC_fail.json")
DEFAULT_REJOIN = os.path.join(c.SCENARIOS, "envC_rejoin.json")


def add_args(p):
    p.add_argument("--scenario", default=DEFAULT_SCENARIO,
                   help="any scenario with a leave (default: envC_fail); the figure is titled from it")
    p.add_argument("--rounds", type=int, default=0, help="simulated rounds (default: the scenario's)")
    p.add_argument("--rejoin-scenario", default=None,
                   help="the device leaves and returns (the last panel; default: envC_rejoin with the "
                        "default scenario, none with another)")


def main():
    args = c.parse_args(__doc__, add_args)
    if args.rejoin_scenario is None and os.path.abspath(args.scenario) == os.path.abspath(DEFAULT_SCENARIO):
        args.rejoin_scenario = DEFAULT_REJOIN
    title = c.load_json(args.scenario).get("name", os.path.basename(args.scenario))
    out = c.out_dir(args.outroot, "fig17")
    recoveries = RECOVERIES
    c.require("asteroid-sim")

    def one(rec):
        try:
            if rec == "rejoin":  # under the scenario's own recovery strategy
                rep, rows = c.simulate(args.rejoin_scenario, os.path.join(out, "data", rec),
                                       rounds=args.rounds or None)
                return rec, rep, rows, ""
            rep, rows = c.simulate(args.scenario, os.path.join(out, "data", rec), recovery=rec,
                                   rounds=args.rounds or None)
            return rec, rep, rows, ""
        except c.ToolError as e:
            c.log(f"fig17: recovery {rec}: {e}")
            return rec, None, None, str(e)

    results = c.parallel(one, recoveries + (["rejoin"] if args.rejoin_scenario else []))
    rejoin = next(((rep, rows) for rec, rep, rows, err in results if rec == "rejoin" and not err), None)
    results = [x for x in results if x[0] != "rejoin"]
    errors = {rec: err for rec, _, _, err in results if err}
    runs = [(rec, rep, rows) for rec, rep, rows, err in results if not err]
    if not runs:
        raise c.ToolError("every simulation failed")
    if not any(rep["summary"].get("failures") for _, rep, _ in runs):
        said = runs[0][1].get("warnings") or ["the scenario has no leave"]
        raise c.ToolError("no device left during the run, so there is no recovery to draw: " + "; ".join(said))
    table = []
    for rec, rep, rows in runs:
        s = rep["summary"]
        fails = s.get("failures", [])
        f = fails[0] if fails else {}
        plans = rep.get("plans", [])
        t = {"recovery": rec, "completed": s.get("completed"), "rounds": s.get("rounds_committed"),
             "simulated_s": s.get("run_s"), "throughput": s.get("throughput_samples_per_s"),
             "device": f.get("device", ""), "failure_s": f.get("failure_s"),
             "throughput_before": f.get("throughput_before"), "throughput_after": f.get("throughput_after"),
             "state_transfer_bytes": f.get("state_transfer_bytes"), "recovery_s": f.get("recovery_s"),
             "replay_round": f.get("replay_round"),
             "decision": next((e.get("detail", "") for e in rep.get("events", []) if e["kind"] == "replan"), ""),
             "plan_before": plan_str(plans[0]) if plans else "",
             "plan_after": plan_str(plans[-1]) if len(plans) > 1 else ""}
        for key, _ in PHASES:
            t[key] = f.get(key)
        table.append(t)
    cols = (["recovery", "device", "failure_s"] + [k for k, _ in PHASES]
            + ["recovery_s", "state_transfer_bytes", "replay_round", "throughput_before", "throughput_after",
               "throughput", "rounds", "simulated_s", "completed", "plan_before", "plan_after", "decision"])
    c.write_csv(os.path.join(out, "recovery.csv"), table, cols)

    header = (["recovery"] + [f"{label} (s)" for _, label in PHASES]
              + ["total (s)", "state moved (MB)", "samples/s before", "samples/s after", "plan after"])
    rows = [[t["recovery"]] + [c.fmt(t[k], 3) for k, _ in PHASES]
            + [c.fmt(t["recovery_s"], 3),
               c.fmt(t["state_transfer_bytes"] / 1e6 if t["state_transfer_bytes"] is not None else None, 1),
               c.fmt(t["throughput_before"], 1), c.fmt(t["throughput_after"], 1), t["plan_after"]]
            for t in table]
    for rec, err in errors.items():
        rows.append([rec, f"simulation failed: {err.split(': ', 1)[-1] or err}"] + [""] * (len(header) - 2))
    scen = c.load_json(args.scenario)
    about = f" ({scen['description']})" if scen.get("description") else ""
    md = (f"Scenario `{os.path.basename(args.scenario)}`{about}, simulated "
          "(asteroid-sim, textbook network). Total = from the failure to the end of the replayed round; "
          "throughput before the failure and after the replayed round.\n\n"
          + c.md_table(header, rows, ["---"] + ["---:"] * (len(header) - 2) + ["---"]))
    c.write_text(os.path.join(out, "recovery.md"), md)
    if rejoin:
        write_rejoin(out, *rejoin)
    elif args.rejoin_scenario:
        errors["rejoin"] = "the rejoin simulation failed"
    draw(out, runs, table, rejoin, title)
    summarize(out, table, errors, rejoin[0] if rejoin else None)
    c.log(f"fig17: wrote {os.path.join(out, 'fig17.png')}, recovery.md and summary.md beside it")
    if errors:
        raise c.ToolError(f"{len(errors)} simulation(s) failed: {', '.join(errors)}")


def plan_str(p):
    return c.plan_text({"feasible": True, "plan": p})


PHASE_COLORS = {"detection": "#fdd0a2", "re-plan": "#c6dbef", "state transfer": "#c7e9c0",
                "replay": "#dadaeb"}


def phases(rep, t):
    """(label, start, end) of each recovery phase, from the report's events and summary."""
    ev = {}
    for e in rep.get("events", []):
        ev.setdefault(e["kind"], e)
    out = []
    if "failure" in ev and "detection" in ev:
        out.append(("detection", ev["failure"]["time_s"], ev["detection"]["time_s"]))
    for kind, label in (("replan", "re-plan"), ("state_transfer", "state transfer")):
        if kind in ev:
            out.append((label, ev[kind]["time_s"], ev[kind]["time_s"] + ev[kind].get("duration_s", 0)))
    if "resume" in ev and t["failure_s"] is not None and t["recovery_s"] is not None:
        out.append(("replay", ev["resume"]["time_s"], t["failure_s"] + t["recovery_s"]))
    return out


def step(rows):
    xs, ys = [], []
    for r in rows:
        xs += [float(r["start_s"]), float(r["end_s"])]
        ys += [float(r["throughput"])] * 2
    return xs, ys


REJOIN_MARKERS = {"failure": ("-", "leave"), "detection": (":", "detection"), "join": ("-", "return"),
                  "replan": ("-.", "re-plan"), "resume": ("--", "resume")}


def rejoin_rows(rep):
    """One row per failure and per join of the rejoin run, from its summary."""
    s = rep["summary"]
    rows = []
    for f in s.get("failures", []):
        rows.append({"event": "leave", "device": f["device"], "at_s": f["failure_s"],
                     "decision": next((e["detail"] for e in rep["events"]
                                       if e["kind"] == "replan" and e["time_s"] >= f["failure_s"]), ""),
                     "state_transfer_s": f.get("state_transfer_s"),
                     "state_transfer_bytes": f.get("state_transfer_bytes"),
                     "throughput_after": f.get("throughput_after")})
    for j in s.get("joins", []):
        rows.append({"event": "return", "device": j["device"], "at_s": j["join_s"], "decision": j["decision"],
                     "state_transfer_s": j["state_transfer_s"] if j["replanned"] else None,
                     "state_transfer_bytes": j["state_transfer_bytes"] if j["replanned"] else None,
                     "throughput_after": j.get("throughput_after")})
    return sorted(rows, key=lambda r: r["at_s"])


def write_rejoin(out, rep, rows):
    c.write_csv(os.path.join(out, "rejoin.csv"), rejoin_rows(rep),
                ["event", "device", "at_s", "state_transfer_s", "state_transfer_bytes", "throughput_after",
                 "decision"])


def draw_rejoin(ax, rep, rows):
    xs, ys = step(rows)
    ax.plot(xs, ys, color="#9467bd", lw=1.6)
    level = 0
    for e in rep.get("events", []):
        if e["kind"] not in REJOIN_MARKERS:
            continue
        ls, label = REJOIN_MARKERS[e["kind"]]
        ax.axvline(e["time_s"], color="k", ls=ls, lw=0.9)
        ax.text(e["time_s"], 0.92 - 0.17 * level, " " + label, transform=ax.get_xaxis_transform(), fontsize=7)
        level = (level + 1) % 4
    ax.set_ylim(bottom=0)
    ax.set_ylabel("samples/s")
    ax.set_xlabel("simulated time (s)")
    joins = rep["summary"].get("joins", [])
    what = ("planned back in" if joins and joins[0]["replanned"] else "not planned back in") if joins else ""
    ax.set_title(f"the device leaves and returns ({rep['scenario']}, recovery {rep['config'].get('recovery')}): "
                 f"{what}", fontsize=9, color="#9467bd")


def draw(out, runs, table, rejoin=None, title="envC_fail"):
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    n = len(runs)
    extra = 1 if rejoin else 0
    fig = plt.figure(figsize=(11, 3.2 + 2.0 * (n + extra)))
    gs = fig.add_gridspec(1 + n + extra, 1, height_ratios=[1.6] + [1] * n + [1.3] * extra)
    top = fig.add_subplot(gs[0])
    by = {t["recovery"]: t for t in table}
    # Whole run, all strategies: the later ones thinner so that identical curves stay visible.
    for k, (rec, rep, rows) in enumerate(runs):
        xs, ys = step(rows)
        top.plot(xs, ys, color=COLORS[rec], lw=max(0.8, 3.2 - 0.8 * k), label=f"recovery: {rec}")
    fail_t = next((t["failure_s"] for t in table if t["failure_s"] is not None), None)
    if fail_t is not None:
        top.axvline(fail_t, color="k", lw=1)
        top.text(fail_t, 0.04, " failure", transform=top.get_xaxis_transform(), fontsize=8)
    top.set_ylim(bottom=0)
    top.set_ylabel("samples/s")
    top.set_xlabel("simulated time (s)")
    top.set_title("whole run: each round's samples over its duration (the interrupted round spans the "
                  "recovery)", fontsize=9)
    top.legend(fontsize=8, loc="lower right")
    # Zoom: one panel per strategy with its recovery phases and events.
    ends = [t["failure_s"] + t["recovery_s"] for t in table
            if t["failure_s"] is not None and t["recovery_s"] is not None]
    axes = []
    for k, (rec, rep, rows) in enumerate(runs):
        ax = fig.add_subplot(gs[1 + k], sharex=axes[0] if axes else None)
        axes.append(ax)
        for label, a, b in phases(rep, by[rec]):
            ax.axvspan(a, b, color=PHASE_COLORS[label], lw=0)
        xs, ys = step(rows)
        ax.plot(xs, ys, color=COLORS[rec], lw=1.6)
        level = 0
        for e in rep.get("events", []):
            if e["kind"] not in MARKERS:
                continue
            ls, label = MARKERS[e["kind"]]
            ax.axvline(e["time_s"], color="k", ls=ls, lw=0.9)
            ax.text(e["time_s"], 0.92 - 0.17 * level, " " + label, transform=ax.get_xaxis_transform(),
                    fontsize=7)
            level = (level + 1) % 4
        ax.set_ylim(bottom=0)
        ax.set_ylabel("samples/s")
        ax.set_title(f"recovery: {rec}" + (f", {by[rec]['recovery_s']:.2f} s from failure to the replayed "
                                           "round's end" if by[rec]["recovery_s"] is not None else ""),
                     fontsize=9, color=COLORS[rec])
    if fail_t is not None and ends:
        span = max(ends) - fail_t
        axes[0].set_xlim(fail_t - max(2 * span, 5), max(ends) + max(2 * span, 5))
    axes[-1].set_xlabel("simulated time (s)")
    if rejoin:
        draw_rejoin(fig.add_subplot(gs[1 + n]), *rejoin)
    handles = [Patch(color=col) for col in PHASE_COLORS.values()]
    axes[0].legend(handles, list(PHASE_COLORS), fontsize=7, ncol=4, loc="lower left")
    dev = next((t["device"] for t in table if t["device"]), "a device")
    fig.suptitle(f"Figure 17: throughput over time when {dev} leaves ({title}, simulated: asteroid-sim)",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "fig17.png"), dpi=110)
    plt.close(fig)


def summarize(out, table, errors, rejoin=None):
    by = {t["recovery"]: t for t in table}
    parts = []
    for t in table:
        if t["recovery_s"] is None:
            parts.append(f"{t['recovery']}: training did not resume")
            continue
        parts.append(f"{t['recovery']} {t['recovery_s']:.2f} s (detection {t['detection_s']:.2f} s, re-plan "
                     f"{1e3 * t['replan_s']:.2f} ms, state transfer {t['state_transfer_s']:.2f} s, replay "
                     f"{t['replay_s']:.2f} s), then {t['throughput_after']:.1f} samples/s")
    parts += [f"{rec}: the simulation failed" for rec in errors]
    text = "Recovery from the failure to the end of the replayed round: " + "; ".join(parts) + "."
    text += (" Simulated run lengths: " + ", ".join(
        f"{t['recovery']} {t['simulated_s']:.1f} s" for t in table if t["simulated_s"] is not None) + ".")
    lw, rs = by.get("lightweight"), by.get("restart")
    if lw and rs and lw["recovery_s"] and rs["recovery_s"]:
        text += (f" A restart takes {rs['recovery_s'] / lw['recovery_s']:.2f}x as long to recover as "
                 f"the lightweight re-plan; afterwards it trains at "
                 f"{rs['throughput_after'] / lw['throughput_after']:.2f}x the lightweight plan's throughput.")
        if lw["detection_s"] is not None and rs["detection_s"] is not None:
            a, b = lw["recovery_s"] - lw["detection_s"], rs["recovery_s"] - rs["detection_s"]
            if a > 0:
                text += (f" Leaving detection out, recovery takes {a:.2f} s (lightweight) against {b:.2f} s "
                         f"(restart), {b / a:.2f}x.")
    ad = by.get("adaptive")
    if ad and ad["decision"].startswith("adaptive: "):
        chose = "the full re-plan" if "full re-plan" in ad["decision"].split(";")[0] else "the lightweight plan"
        text += (f" Adaptive recovery weighs the two for the rounds left and chose {chose}: "
                 f"{ad['decision'].split('; ', 1)[-1]}; its run took {ad['simulated_s']:.1f} s.")
    if rejoin:
        s = rejoin["summary"]
        for j in s.get("joins", []):
            fails = [f for f in s.get("failures", []) if f["device"] == j["device"] and f["failure_s"] < j["join_s"]]
            before = fails[-1].get("throughput_after") if fails else None
            if j["replanned"]:
                text += (f" When {j['device']} returns ({rejoin['scenario']}, at {j['join_s']:.0f} s) the coordinator "
                         f"plans it back in: {j['decision'].split(': ', 1)[0].split('; ', 1)[-1]}; "
                         f"{j['state_transfer_bytes'] / 1e6:.0f} MB move in {j['state_transfer_s']:.2f} s, and "
                         f"the throughput goes from {c.fmt(before, 1)} to {c.fmt(j.get('throughput_after'), 1)} "
                         "samples/s.")
            else:
                text += f" When {j['device']} returns at {j['join_s']:.0f} s the plan stays: {j['decision']}."
    c.write_text(os.path.join(out, "summary.md"), text + "\n")


if __name__ == "__main__":
    c.main_guard(main)
