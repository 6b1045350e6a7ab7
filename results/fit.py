#!/usr/bin/python3
"""Which fine-tuning modes of T5-Large and GPT-2 355M fit on one device and which only across
devices, on environments A-D (their devices and 1 Gbps star network, scenarios/env*_1000mbps.json),
mini-batch 16 x 128 tokens, FP32, Adam; each mode's planned throughput (asteroid-plan: the whole
model on the fastest device that fits, and Asteroid's plan across the devices) and Asteroid's plan
simulated (asteroid-sim, textbook network, 5 rounds). Inference alone: the devices that hold it.
What recomputation buys: the scenarios leave training.recomputation at "auto" (the planner chooses
per stage); each case is planned again with it "off", and the table gives both throughputs and the
stages the chosen plan recomputes.

Writes <outroot>/fit/: fit.csv, fit.md, summary.md, data/ (scenarios, plans, simulator reports).
"""
import json
import os
import time

import common as c

MODELS = ["t5_large", "gpt2_355m"]
ENVS = ["A", "B", "C", "D"]
BATCH = 16
SIM_ROUNDS = 5


def usable_by_type(scen):
    """{device type: usable bytes} from the traces the scenario names."""
    s = c.load_json(scen)
    base = os.path.dirname(os.path.abspath(scen))
    return {t: c.load_json(os.path.join(base, p))["device"]["usable_memory_bytes"] for t, p in s["traces"].items()}


def one_case(case):
    model, env, mode, data = case
    tag = f"{model}_env{env}_{mode}"
    scen = c.lm_scenario(env, model, os.path.join(data, tag, "scenario.json"), BATCH, mode)
    exe = c.require("asteroid-plan")
    mem = json.loads(c.run([exe, scen, "--memory", "--strategy", "device", "--json"]))
    c.write_text(os.path.join(data, tag, "memory_device.json"), json.dumps(mem, indent=1))
    single = c.plan(scen, "device", save=os.path.join(data, tag, "plan_device.json"))
    t0 = time.monotonic()
    hpp = c.plan(scen, "asteroid", save=os.path.join(data, tag, "plan_asteroid.json"))
    wall = time.monotonic() - t0
    off = c.scenario_variant(scen, os.path.join(data, tag, "scenario_no_recompute.json"),
                             lambda s: s["training"].update({"recomputation": "off"}))
    plain = c.plan(off, "asteroid", save=os.path.join(data, tag, "plan_no_recompute.json"))
    row = {"model": model, "env": env, "mode": mode, "devices": c.env_composition(scen),
           "one_device": bool(single.get("feasible")),
           "one_device_throughput": single.get("throughput_samples_per_s") if single.get("feasible") else None,
           "one_device_name": single["plan"]["stages"][0]["devices"][0] if single.get("feasible") else "",
           "across": bool(hpp.get("feasible")),
           "asteroid_throughput": hpp.get("throughput_samples_per_s") if hpp.get("feasible") else None,
           "asteroid_plan": c.plan_text(hpp), "plan_wall_s": wall,
           "planning_time_s": hpp.get("planning_time_s"),
           "recomputing_stages": sum(1 for st in hpp["plan"]["stages"] if st.get("recompute"))
           if hpp.get("feasible") else 0,
           "stages": len(hpp["plan"]["stages"]) if hpp.get("feasible") else 0,
           "no_recompute_throughput": plain.get("throughput_samples_per_s") if plain.get("feasible") else None,
           "whole_model_bytes": mem["whole_model"]["training"]["total_bytes"],
           "inference_bytes": mem["whole_model"]["inference"]["total_bytes"]}
    usable = usable_by_type(scen)
    row["inference_fits_on"] = ", ".join(sorted(c.TYPE_LABELS.get(t, t) for t, u in usable.items()
                                                if row["inference_bytes"] <= u)) or "none"
    row["sim_throughput"] = None
    if hpp.get("feasible") and c.have("asteroid-sim"):
        rep, rounds = c.simulate(scen, os.path.join(data, tag, "sim"), rounds=SIM_ROUNDS)
        row["sim_throughput"] = c.sim_throughput_of(rep, rounds)
    return row


def verdict(r):
    if r["one_device"]:
        return "one device"
    return "only across devices" if r["across"] else "does not fit"


def main():
    args = c.parse_args(__doc__.split("\n")[0])
    out = c.out_dir(args.outroot, "fit")
    data = os.path.join(out, "data")
    cases = [(m, e, mode, data) for m in MODELS for e in ENVS for mode, _ in c.LM_MODES]
    if args.smoke:
        cases = [("gpt2_355m", "D", "lora", data)]
    sim = c.have("asteroid-sim")
    rows = c.parallel(one_case, cases)
    for r in rows:
        r["fits"] = verdict(r)
    cols = ["model", "env", "mode", "devices", "fits", "one_device", "one_device_name", "one_device_throughput",
            "across", "asteroid_throughput", "sim_throughput", "recomputing_stages", "stages",
            "no_recompute_throughput", "asteroid_plan", "planning_time_s", "plan_wall_s",
            "whole_model_bytes", "inference_bytes", "inference_fits_on"]
    c.write_csv(os.path.join(out, "fit.csv"), rows, cols)
    labels = dict(c.LM_MODES)
    parts = []
    for m in MODELS:
        rs = [r for r in rows if r["model"] == m]
        if not rs:
            continue
        inf = rs[0]["inference_bytes"] / 2**30
        parts.append(f"**{c.LM_LABELS[m]}** (mini-batch {BATCH} x 128 tokens, FP32, Adam; inference alone "
                     f"{inf:.2f} GiB)\n\n" + c.md_table(
            ["env", "devices", "mode", "fits", "one device (samples/s)", "across devices: planned (samples/s)",
             "simulated (samples/s)", "recomputing stages", "without recomputation (samples/s)", "Asteroid's plan",
             "planning (s)", "inference fits on"],
            [[r["env"], r["devices"], labels[r["mode"]], r["fits"],
              (f"{r['one_device_throughput']:.2f} ({r['one_device_name']})" if r["one_device"] else "-"),
              c.fmt(r["asteroid_throughput"], 2) if r["across"] else "-",
              (c.fmt(r["sim_throughput"], 2) if r["sim_throughput"] is not None
               else ("not run (no asteroid-sim)" if not sim else "-")),
              f"{r['recomputing_stages']} of {r['stages']}" if r["across"] else "-",
              (c.fmt(r["no_recompute_throughput"], 2) if r["no_recompute_throughput"] is not None
               else "does not fit"),
              r["asteroid_plan"] if r["across"] else "-", c.fmt(r["plan_wall_s"], 1), r["inference_fits_on"]]
             for r in rs]))
    c.write_text(os.path.join(out, "fit.md"), "\n".join(parts))
    counts = {}
    for r in rows:
        counts[r["fits"]] = counts.get(r["fits"], 0) + 1
    slow = max(rows, key=lambda r: r["plan_wall_s"])
    gains = [r for r in rows if r["across"] and r["recomputing_stages"] > 0]
    only = [r for r in gains if r["no_recompute_throughput"] is None]
    faster = [r["asteroid_throughput"] / r["no_recompute_throughput"] for r in gains
              if r["no_recompute_throughput"]]
    summary = (f"- {len(rows)} cases: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) + ".\n"
               f"- Slowest plan: {c.LM_LABELS[slow['model']]} on environment {slow['env']} ({slow['mode']}), "
               f"{slow['plan_wall_s']:.1f} s of asteroid-plan wall time on this machine.\n"
               f"- Recomputation (the planner's choice per stage): chosen in {len(gains)} of {len(rows)} cases; "
               f"{len(only)} of them fit across the devices only with it"
               + (f"; where both fit, the plan with it trains {min(faster):.2f}x to {max(faster):.2f}x as fast "
                  "as the best plan without" if faster else "") + ".\n"
               "- Throughputs are derived: the cost model and the simulator on the derived Jetson traces "
               "(tools/calibrate), not measured on boards; memory per docs/method.md §3.5.\n")
    c.write_text(os.path.join(out, "summary.md"), summary)
    c.log(f"fit: {len(rows)} cases -> {out}")


if __name__ == "__main__":
    c.main_guard(main)
