#!/usr/bin/python3
"""Failure sweeps: asteroid-sim under every single device of environments A-D leaving (ResNet50 and
MobileNetV2, 1 Gbps) with each recovery strategy; every pair of devices of environment C leaving
together; a leave at time 0, in the first round and during an all-reduce; a device slowed 10x and
1000x; a link down to 1 kbit/s. Each case must either recover with nothing lost (every round
committed once, no layer without a live copy, at least one copy of every checkpoint) or stop
cleanly with its reason (exit status 1, a stop event, the reason on the console); anything else -
a crash, a hang, a run that says it completed with weights lost or a round missing - is a failure,
and the script exits 1.

Needs asteroid-sim. Writes <outroot>/failure_sweep/: sweep.csv (one row per case), sweep.md (per
group: cases, recovered, stopped and why, failed), summary.md, and data/<case>/ (scenario,
stdout and report.json of every case that did not recover).
"""
import itertools
import json
import os
import subprocess
import tempfile

import common as c

ROUNDS = 20
RECOVERIES = ["lightweight", "replan", "restart", "adaptive"]
MODELS = ["resnet50", "mobilenetv2"]
ENVS = ["A", "B", "C", "D"]


def add_args(p):
    p.add_argument("--quick", action="store_true",
                   help="the fast subset of the test suite: environment C's devices, three pairs, the timing "
                        "and extreme cases, one model, lightweight and replan")
    p.add_argument("--rounds", type=int, default=ROUNDS, help=f"rounds per run (default {ROUNDS})")


def scenario_json(env, model):
    s = c.load_json(c.scenario_path(env, model, 1000))
    for t in s["traces"]:
        s["traces"][t] = os.path.join(c.SCENARIOS, s["traces"][t])
    return s


def devices_of(env, model):
    return [name for name, _ in c.env_devices(c.scenario_path(env, model, 1000))]


def run_sim(scenario, workdir, rounds, recovery, extra=()):
    """Runs asteroid-sim; returns (exit status, report or None, stdout+stderr)."""
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, "scenario.json")
    with open(path, "w") as f:
        json.dump(scenario, f, indent=1)
    cmd = [c.require("asteroid-sim"), path, "-o", workdir, "--rounds", str(rounds), "--no-spans"]
    if recovery:
        cmd += ["--recovery", recovery]
    cmd += list(extra)
    try:
        r = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=float(os.environ.get("ASTEROID_SIM_TIMEOUT", 600)))
        status, text = r.returncode, r.stdout + r.stderr
    except subprocess.TimeoutExpired:
        status, text = "timeout", ""
    report = None
    if os.path.exists(os.path.join(workdir, "report.json")):
        report = c.load_json(os.path.join(workdir, "report.json"))
    return status, report, text


def judge(status, report, text, rounds):
    """(outcome, why): recovered, stopped, or FAILED."""
    if status == "timeout":
        return "FAILED", "did not finish (hang)"
    if report is None:
        return "FAILED", f"exit status {status}, no report"
    s = report["summary"]
    committed = [x["round"] for x in report["rounds"]]
    lost = s["weights_lost"] or any(f["lost_layers"] for f in s["failures"])
    if status == 0:
        if not s["completed"] or committed != list(range(rounds)):
            return "FAILED", f"exit 0 but rounds {committed[:3]}..{committed[-3:]} of {rounds}"
        if lost:
            return "FAILED", "completed with weights lost"
        if s["min_checkpoint_copies"] == 0:
            return "FAILED", "a checkpoint with 0 copies"
        return "recovered", ""
    if status == 1:
        reason = s.get("stop_reason", "")
        if s["completed"] or not reason:
            return "FAILED", "exit 1 without a stop reason"
        if f"stopped: {reason}" not in text:
            return "FAILED", "the stop reason is not on the console"
        return "stopped", reason
    return "FAILED", f"exit status {status}: {text.strip().splitlines()[-1] if text.strip() else ''}"


def fault_free(env, model, rounds, root):
    """The fault-free run of a scenario: its length, plan, and the all-reduce spans of one round."""
    s = scenario_json(env, model)
    s["faults"] = {}
    workdir = os.path.join(root, f"env{env}_{model}_fault_free")
    path = os.path.join(workdir, "scenario.json")
    os.makedirs(workdir, exist_ok=True)
    with open(path, "w") as f:
        json.dump(s, f)
    c.run([c.require("asteroid-sim"), path, "-o", workdir, "--rounds", "2"], timeout=600)
    rep = c.load_json(os.path.join(workdir, "report.json"))
    reduce_spans = [x for x in rep.get("spans", []) if x["op"] == "ALLREDUCE" and x["end_s"] > x["start_s"]]
    round_s = rep["rounds"][0]["end_s"] - rep["rounds"][0]["start_s"]
    return {"round_s": round_s, "plan": rep["plans"][0], "allreduce": reduce_spans}


def cases(args, root):
    """Every case: (group, name, scenario JSON, recovery)."""
    models = MODELS[:1] if args.quick else MODELS
    recoveries = ["lightweight", "replan"] if args.quick else RECOVERIES
    envs = ["C"] if args.quick else ENVS
    out = []
    needed = set(itertools.product(envs, models)) | {("C", "resnet50"), ("B", "resnet50")}
    base = dict(zip(sorted(needed), c.parallel(lambda em: fault_free(*em, args.rounds, root), sorted(needed))))

    def variant(env, model, events):
        s = scenario_json(env, model)
        s["faults"] = {"heartbeat_interval": "1s", "missed_heartbeats": 3, "replication_interval_rounds": 1,
                       "events": events}
        return s

    for env, model in itertools.product(envs, models):
        ff = base[(env, model)]
        at = f"{0.4 * args.rounds * ff['round_s']:.3f}s"
        for d in devices_of(env, model):
            for rec in recoveries:
                out.append(("single leave", f"env{env}_{model}_{d}_{rec}",
                            variant(env, model, [{"at": at, "device": d, "kind": "leave"}]), rec))
    ff = base[("C", "resnet50")]
    at = f"{0.4 * args.rounds * ff['round_s']:.3f}s"
    pairs = list(itertools.combinations(devices_of("C", "resnet50"), 2))
    if args.quick:
        pairs = pairs[:3]
    for a, b in pairs:
        for rec in recoveries:
            out.append(("pair leaves (env C)", f"envC_resnet50_{a}+{b}_{rec}",
                        variant("C", "resnet50", [{"at": at, "device": a, "kind": "leave"},
                                                  {"at": at, "device": b, "kind": "leave"}]), rec))
    # Timing: at time 0, in the first round, during an all-reduce (env B: its plan has groups).
    for env in ["C", "B"]:
        ff = base[(env, "resnet50")]
        first = ff["plan"]["stages"][0]["devices"][0]
        for rec in recoveries:
            out.append(("timing", f"env{env}_resnet50_{first}_at0_{rec}",
                        variant(env, "resnet50", [{"at": "0s", "device": first, "kind": "leave"}]), rec))
            out.append(("timing", f"env{env}_resnet50_{first}_first_round_{rec}",
                        variant(env, "resnet50",
                                [{"at": f"{0.5 * ff['round_s']:.4f}s", "device": first, "kind": "leave"}]), rec))
            for span in ff["allreduce"][:1]:
                mid = 0.5 * (span["start_s"] + span["end_s"])
                out.append(("timing", f"env{env}_resnet50_{span['device']}_in_allreduce_{rec}",
                            variant(env, "resnet50",
                                    [{"at": f"{mid:.6f}s", "device": span["device"], "kind": "leave"}]), rec))
    # Extremes: one device of env C slowed 10x and 1000x, its link down to 1 kbit/s; and several
    # devices leaving in turn while the recovery of the first is under way.
    ff = base[("C", "resnet50")]
    at = f"{0.2 * args.rounds * ff['round_s']:.3f}s"
    devices = devices_of("C", "resnet50")
    for d in devices[:2] if args.quick else devices:
        for name, ev in [("slow10", {"kind": "slowdown", "factor": 0.1}),
                         ("slow1000", {"kind": "slowdown", "factor": 0.001}),
                         ("link1kbps", {"kind": "link_slowdown", "bandwidth": "1kbps"})]:
            out.append(("extreme", f"envC_resnet50_{d}_{name}",
                        variant("C", "resnet50", [dict(at=at, device=d, **ev)]), "lightweight"))
    t0 = 0.4 * args.rounds * ff["round_s"]
    out.append(("extreme", "envC_resnet50_three_in_turn",
                variant("C", "resnet50", [{"at": f"{t0:.3f}s", "device": devices[0], "kind": "leave"},
                                          {"at": f"{t0 + 2.5:.3f}s", "device": devices[1], "kind": "leave"},
                                          {"at": f"{t0 + 5:.3f}s", "device": devices[3], "kind": "leave"}]),
                "lightweight"))
    return out


def main():
    args = c.parse_args(__doc__, add_args)
    if args.smoke:
        args.quick = True
        args.rounds = min(args.rounds, 10)
    out = c.out_dir(args.outroot, "failure_sweep")
    c.require("asteroid-sim")
    with tempfile.TemporaryDirectory(prefix="asteroid-sweep-") as root:
        todo = cases(args, root)
        c.log(f"failure_sweep: {len(todo)} cases")

        def one(case):
            group, name, scen, rec = case
            scen["name"] = name.replace("+", "_")
            workdir = os.path.join(root, name)
            status, report, text = run_sim(scen, workdir, args.rounds, rec)
            outcome, why = judge(status, report, text, args.rounds)
            row = {"group": group, "case": name, "recovery": rec, "outcome": outcome, "why": why,
                   "exit_status": status}
            if report:
                s = report["summary"]
                fails = s.get("failures", [])
                row.update({"rounds_committed": s["rounds_committed"], "run_s": s["run_s"],
                            "failures": len(fails), "min_checkpoint_copies": s["min_checkpoint_copies"],
                            "weights_lost": s["weights_lost"],
                            "recovery_s": max((f.get("recovery_s", 0) for f in fails), default=None),
                            "replans": sum(1 for e in report["events"] if e["kind"] == "replan")})
            if outcome != "recovered":  # keep what is needed to look at it
                keep = os.path.join(out, "data", name)
                os.makedirs(keep, exist_ok=True)
                kept = json.loads(json.dumps(scen))  # trace paths relative to the kept copy
                kept["traces"] = {k: os.path.relpath(v, keep) for k, v in kept["traces"].items()}
                with open(os.path.join(keep, "scenario.json"), "w") as f:
                    json.dump(kept, f, indent=1)
                with open(os.path.join(keep, "stdout.txt"), "w") as f:
                    f.write(text.replace(workdir, "data/" + name).replace(c.REPO + "/", ""))
                if report:
                    with open(os.path.join(keep, "report.json"), "w") as f:
                        json.dump(report, f, indent=1)
            return row

        rows = c.parallel(one, todo)
    cols = ["group", "case", "recovery", "outcome", "why", "exit_status", "rounds_committed", "run_s", "failures",
            "replans", "recovery_s", "min_checkpoint_copies", "weights_lost"]
    c.write_csv(os.path.join(out, "sweep.csv"), rows, cols)
    groups = []
    for r in rows:
        if r["group"] not in groups:
            groups.append(r["group"])
    table = []
    for g in groups:
        mine = [r for r in rows if r["group"] == g]
        reasons = sorted({r["why"] for r in mine if r["outcome"] == "stopped"})
        failed = [r["case"] for r in mine if r["outcome"] == "FAILED"]
        table.append([g, str(len(mine)), str(sum(r["outcome"] == "recovered" for r in mine)),
                      str(sum(r["outcome"] == "stopped" for r in mine)) + (f" ({'; '.join(reasons)})" if reasons else ""),
                      str(len(failed)) + (f" ({', '.join(failed)})" if failed else "")])
    md = (f"asteroid-sim, {args.rounds} rounds per run, 1 Gbps scenarios; heartbeat 1 s, 3 missed beats, copies "
          "every round. Recovered: every round committed once, no layer lost, every checkpoint with a live copy. "
          "Stopped: exit status 1 with the reason in the report and on the console.\n\n"
          + c.md_table(["group", "cases", "recovered", "stopped (why)", "failed"], table,
                       ["---", "---:", "---:", "---", "---"]))
    c.write_text(os.path.join(out, "sweep.md"), md)
    n_failed = sum(r["outcome"] == "FAILED" for r in rows)
    text = (f"{len(rows)} failure cases simulated: {sum(r['outcome'] == 'recovered' for r in rows)} recovered with "
            f"nothing lost, {sum(r['outcome'] == 'stopped' for r in rows)} stopped cleanly with their reason, "
            f"{n_failed} failed.")
    c.write_text(os.path.join(out, "summary.md"), text + "\n")
    c.log("failure_sweep: " + text)
    if n_failed:
        raise c.ToolError(f"{n_failed} case(s) failed: see {os.path.join(out, 'sweep.csv')}")


if __name__ == "__main__":
    c.main_guard(main)
