#!/usr/bin/python3
"""Batteries in environment C (docs/method.md §7.2): every device of envC (resnet50, 1000 Mbps) on a
battery, the Nanos and TX2s with different charges, the Xavier NX with the most, run by asteroid-sim
until no device can go on, once with the reactive policy (a device leaves at its floor and is
recovered like a leave) and once with the proactive one (the Coordinator's forecast makes it leave,
planned, at a round boundary before), and once with the plan chosen for the batteries from the
start (the `lifetime` objective, power modes free: the most samples before the first battery
reaches its floor, docs/method.md "Energy-aware planning") with the proactive policy's departures.
Per policy: samples trained before the run could go no further, when each device left and how, and
where the energy went (compute, communication, idle). For the lifetime plan, also what
asteroid-plan predicted: samples before the first floor, its plan's and the fastest plan's.

Every figure is modelled (the power files under traces/, derived not measured) and read from
asteroid-sim's report: its `batteries` block (the charge it drained as it ran) and its `energy`
block (energy.hpp, from the spans).
Writes <outroot>/battery/: battery.csv, departures.csv, battery.md, summary.md, scenarios/,
data/<policy>/report.json (without spans).
"""
import json
import os
import shutil
import subprocess
import tempfile

import common as c

BASE = "envC_resnet50_1000mbps"
POLICIES = ["react", "proactive", "lifetime"]
# The battery policy each column runs with; "lifetime" is the proactive policy on the lifetime plan.
FAULT_POLICY = {"react": "react", "proactive": "proactive", "lifetime": "proactive"}
# Charges at the start, joules (capacity 5 Wh each, floor 5% of it, 900 J): the NX most, then the
# TX2s, the Nanos least and all different, so that they leave one after another. --smoke scales
# charges and capacities down.
CHARGES = {"nx0": 6000, "tx2_0": 2600, "tx2_1": 2000, "nano0": 1000, "nano1": 1300, "nano2": 1600}
SMOKE_SCALE = 0.15


def battery_scenario(out_dir, policy, scale):
    def edit(s):
        s["name"] = f"battery_{policy}"
        s["training"]["rounds"] = 1000000  # until no device can go on
        for d in s["cluster"]["devices"]:
            d["battery"] = {"capacity": f"{5 * scale:g}Wh", "charge": f"{CHARGES[d['name']] * scale:g}J", "floor": "5%"}
        s.setdefault("faults", {})
        s["faults"]["battery"] = FAULT_POLICY[policy]
        if policy == "lifetime":
            s["planner"]["objective"] = "lifetime"
            s["planner"]["power_modes"] = "free"
    return c.scenario_variant(os.path.join(c.SCENARIOS, BASE + ".json"),
                              os.path.join(out_dir, "scenarios", f"battery_{policy}.json"), edit)


def simulate_to_the_end(scenario, keep_dir):
    """asteroid-sim with spans (the energy block needs them); exit status 1 is expected (the run
    stops when no device can go on). Keeps report.json without spans."""
    exe = c.require("asteroid-sim")
    with tempfile.TemporaryDirectory(prefix="asteroid-sim-") as tmp:
        cmd = [exe, scenario, "-o", tmp, "--network", "textbook"]
        r = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=float(os.environ.get("ASTEROID_SIM_TIMEOUT", 300)))
        if r.returncode not in (0, 1) or not os.path.exists(os.path.join(tmp, "report.json")):
            raise c.ToolError(f"{' '.join(cmd)} exited with {r.returncode}: {r.stderr.strip()}")
        report = c.load_json(os.path.join(tmp, "report.json"))
    report.pop("spans", None)
    os.makedirs(keep_dir, exist_ok=True)
    with open(os.path.join(keep_dir, "report.json"), "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    return report


def main():
    args = c.parse_args(__doc__)
    out = c.out_dir(args.outroot, "battery")
    scale = SMOKE_SCALE if args.smoke else 1.0
    reports, scenarios = {}, {}
    for p in POLICIES:
        c.log(f"battery: {p}")
        scenarios[p] = battery_scenario(out, p, scale)
        reports[p] = simulate_to_the_end(scenarios[p], os.path.join(out, "data", p))
    # What the objective predicted when it chose (asteroid-plan: the same scenario, the same planner).
    # Kept without the per-assignment plans and the front (216 assignments: most of its size).
    planned = c.plan(scenarios["lifetime"])
    for key in ("front", "assignment_fastest", "assignment_least_energy", "assignment_most_samples"):
        planned["objective"].pop(key, None)
    with open(os.path.join(out, "data", "lifetime", "plan.json"), "w") as f:
        json.dump(planned, f, indent=1)
        f.write("\n")
    predicted = planned["objective"]

    rows, deps = [], []
    for p in POLICIES:
        r = reports[p]
        s = r["summary"]
        e = r.get("energy", {})
        samples = sum(x["samples"] for x in r["rounds"])
        ev = r["events"]
        # The first battery departure, and what the run trained before it: what the lifetime
        # objective plans for (the rest of the run is replanned for time after each departure).
        first = min((x["time_s"] for x in ev if x["kind"] in ("energy_departure", "planned_departure")),
                    default=r["end_s"])
        before_first = sum(x["samples"] for x in r["rounds"] if x["end_s"] <= first + 1e-9)
        rows.append({
            "policy": p, "rounds_committed": s["rounds_committed"], "samples": samples, "end_s": r["end_s"],
            "first_departure_s": first, "samples_before_first_departure": before_first,
            "energy_departures": sum(1 for x in ev if x["kind"] == "energy_departure"),
            "planned_departures": sum(1 for x in ev if x["kind"] == "planned_departure"),
            "replays": sum(1 for x in ev if x["kind"] == "replay"),
            "weights_lost": "yes" if s["weights_lost"] else "no",
            "total_J": e.get("total_J"), "compute_J": e.get("compute_J"),
            "communication_J": e.get("communication_J"), "idle_J": e.get("idle_J"),
            "J_per_sample": e.get("J_per_sample"), "stop_reason": s.get("stop_reason", ""),
        })
        for b in r.get("batteries", []):
            deps.append({"policy": p, "device": b["device"], "start_J": b["start_J"], "end_J": b["end_J"],
                         "floor_J": b["floor_J"], "left_s": b.get("left_s", ""), "how": b["how"] or "there to the end",
                         "drawn_J": b["start_J"] - b["end_J"]})
    c.write_csv(os.path.join(out, "battery.csv"), rows, list(rows[0].keys()))
    c.write_csv(os.path.join(out, "departures.csv"), deps, list(deps[0].keys()))

    header = ["", "reactive", "proactive", "energy-aware plan (lifetime)"]
    by_policy = {x["policy"]: x for x in rows}

    def line(label, key, digits=0):
        cells = [by_policy[p][key] for p in POLICIES]
        return [label] + [c.fmt(v, digits) if isinstance(v, (int, float)) else str(v) for v in cells]

    md = "Per policy (modelled energy; every device on a battery, run until none can go on):\n\n"
    md += c.md_table(header, [
        line("samples trained", "samples"), line("rounds committed", "rounds_committed"),
        line("first departure at (s)", "first_departure_s", 1),
        line("samples before the first departure", "samples_before_first_departure"),
        line("run ended at (s)", "end_s", 1), line("energy departures", "energy_departures"),
        line("planned departures", "planned_departures"), line("replays", "replays"),
        line("energy, total (J)", "total_J"), line("  compute (J)", "compute_J"),
        line("  communication (J)", "communication_J"), line("  idle (J)", "idle_J"),
        line("J per sample", "J_per_sample", 2), line("weights lost", "weights_lost"),
        line("why the run stopped", "stop_reason")], ["---", "---:", "---:", "---:"])
    md += "\nEach device's battery (charge at the start and when it left, modelled):\n\n"
    md += c.md_table(["policy", "device", "start (J)", "left at (s)", "how", "charge then (J)", "floor (J)"],
                     [[d["policy"], d["device"], c.fmt(d["start_J"], 0),
                       c.fmt(d["left_s"], 1) if d["left_s"] != "" else "n/a", d["how"], c.fmt(d["end_J"], 0),
                       c.fmt(d["floor_J"], 0)] for d in deps])
    ch, fa = predicted["chosen"], predicted["fastest"]

    def modes(plan):
        return ", ".join(f"{d} {m}" for d, m in plan["power_modes"].items()) or "-"

    def stages(plan):
        return " | ".join(f"{s['layers'][0]}-{s['layers'][1]}: {', '.join(s['devices'])}" for s in plan["stages"])

    md += ("\nWhat the lifetime objective predicted when it chose (asteroid-plan, the plan's modelled energy; "
           "samples before the first battery reaches its floor, the rest of the run not modelled):\n\n")
    md += c.md_table(["plan", "round (s)", "J per sample", "samples before the first floor", "first floor at (s)",
                      "first device", "stages (layers: devices)", "power modes"],
                     [[name, c.fmt(p["round_s"], 3), c.fmt(p["J_per_sample"], 2), c.fmt(p["lifetime"]["samples"], 0),
                       c.fmt(p["lifetime"]["seconds"], 1), str(p["lifetime"]["first_device"]), stages(p), modes(p)]
                      for name, p in (("fastest (any power modes)", fa), ("chosen (lifetime objective)", ch))])
    md += (f"\n{predicted['mode_assignments']} mode assignments, {predicted['plans_scored']} plans scored, "
           f"{'proven optimal' if predicted['proven_optimal'] else 'not proven optimal (a time limit cut a search)'}.\n")
    c.write_text(os.path.join(out, "battery.md"), md)
    r, pr, lt = rows[0], rows[1], rows[2]
    gain = (pr["samples"] / r["samples"] - 1) * 100 if r["samples"] else float("nan")
    lt_gain = (lt["samples"] / pr["samples"] - 1) * 100 if pr["samples"] else float("nan")
    lt_text = (f"The plan chosen for the batteries from the start (lifetime objective, power modes free; "
               f"predicted {ch['lifetime']['samples']:.0f} samples before the first floor against the fastest "
               f"plan's {fa['lifetime']['samples']:.0f}) trained {lt['samples_before_first_departure']} samples before its "
               f"first departure at {lt['first_departure_s']:.1f} s (proactive on the fastest plan: "
               f"{pr['samples_before_first_departure']} by {pr['first_departure_s']:.1f} s), and "
               f"{lt['samples']} in all with the proactive "
               f"departures ({lt_gain:+.1f}% against proactive on the fastest plan) before it stopped "
               f"({lt['stop_reason']}).")
    if lt["samples"] < pr["samples"]:
        lt_text += (" It trains fewer than the proactive run: the objective maximises the samples before the first "
                    "battery's floor, not the whole run's; after each departure the survivors are replanned for time.")
    c.write_text(os.path.join(out, "summary.md"),
                 f"Environment C with every device on a battery{' (smoke: charges x' + str(SMOKE_SCALE) + ')' if args.smoke else ''}: "
                 f"reacting trained {r['samples']} samples before the run stopped ({r['stop_reason']}), "
                 f"the proactive policy {pr['samples']} ({gain:+.1f}%) before it stopped ({pr['stop_reason']}), "
                 f"with {pr['planned_departures']} planned departures and {pr['replays']} replays against "
                 f"{r['replays']}. {lt_text} Modelled figures (derived power files), from asteroid-sim's reports.\n")


if __name__ == "__main__":
    c.main_guard(main)
