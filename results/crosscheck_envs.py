#!/usr/bin/python3
"""Cross-check on environments A-D: the same plan simulated by asteroid-sim and run by asteroid-exec
with emulated devices (--emulate: each compute step lasts its Jetson trace time) on network
namespace hosts whose links are shaped to the scenario's bandwidth (tools/netns-cluster.sh), both
with a time dilation F (docs/emulation.md). One model per environment at 100 and 1000 Mbps, and
envC_fail (a device leaves) with its detection and recovery both ways.

The simulator's network is the one the run has: the scenario's star at its bandwidth, no latency
(namespace hosts add none: this kernel has no netem), CM02 (--network textbook). What TCP and Gloo
add on top (headers, acknowledgements, the receiver's notice before each message) is in the
difference, broken down by instruction kind (asteroid-compare, kept under data/).

F starts at --dilation and doubles (up to 64) while more than 5% of the run's compute steps ran over
their budget. Needs root (network namespaces), asteroid-plan, asteroid-sim,
asteroid-exec and asteroid-compare. Writes <outroot>/crosscheck_envs/: envs.csv, envs.md,
failure.md, summary.md, data/<case>/.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import common as c

# Models this machine's CPUs can compute within a few times the boards' time (BERT-small's 32 x 512
# tokens and ResNet50 would need a dilation of 30 and more: hours of runs).
ROWS = [("A", "mobilenetv2"), ("B", "efficientnet_b1"), ("C", "mobilenetv2"), ("D", "efficientnet_b1")]
TARGET, GOAL = 0.05, 0.03
CLUSTER = os.path.join(os.path.dirname(c.SCENARIOS), "tools", "netns-cluster.sh")


def add_args(p):
    p.add_argument("--rounds", type=int, default=4, help="rounds per run (default 4; the first is warm-up)")
    p.add_argument("--dilation", type=float, default=8, help="the first time dilation tried (default 8)")
    p.add_argument("--fail-dilation", type=float, default=16,
                   help="the first time dilation tried for envC_fail (ResNet50; default 16)")
    p.add_argument("--failure-only", action="store_true",
                   help="run envC_fail only, keeping the environment rows of an earlier run (envs.csv)")


def mean_round(report, skip):
    rows = [r for r in report["rounds"] if r["round"] >= skip]
    return sum(r["end_s"] - r["start_s"] for r in rows) / len(rows) if rows else None


def as_run(scenario_file, tmp, rounds=None, events=None):
    """The scenario as the namespace hosts run it: no latency, traces by absolute path."""
    s = c.load_json(scenario_file)
    base = os.path.dirname(os.path.abspath(scenario_file))
    s["traces"] = {k: os.path.normpath(os.path.join(base, v)) for k, v in s["traces"].items()}
    net = s["cluster"]["network"]
    net["latency"] = "0ms"
    net.pop("overrides", None)
    if rounds:
        s["training"]["rounds"] = rounds
    if events is not None:
        s["faults"]["events"] = events
    out = os.path.join(tmp, s["name"] + ".json")
    with open(out, "w") as f:
        json.dump(s, f, indent=1)
    return out


def cluster_up(scenario, name, dilation):
    text = c.run([CLUSTER, "up", scenario, "--name", name, "--time-dilation", f"{dilation:g}"], timeout=120)
    devices, coordinator = {}, None
    for line in text.splitlines():
        w = line.split()
        if w[0] == "cluster":
            coordinator = w[5]
        elif w[0] == "device":
            devices[w[1]] = w[3]
    return coordinator, devices


def run_emulated(scenario, plan_file, rounds, dilation, tmp, tag):
    """asteroid-exec --emulate on namespace hosts; returns the report."""
    name = f"acx{os.getpid() % 4096:x}{tag}"[:12]
    coordinator, namespaces = cluster_up(scenario, name, dilation)
    try:
        s = c.load_json(scenario)
        for d in s["cluster"]["devices"]:
            d["host"] = namespaces[d["name"]]
        hosts = os.path.join(tmp, "hosts.json")
        with open(hosts, "w") as f:
            json.dump(s, f)
        ssh = os.path.join(tmp, "ssh")
        with open(ssh, "w") as f:
            f.write('#!/bin/sh\n# ssh -o BatchMode=yes HOST COMMAND, HOST a namespace\n'
                    f'cd "{tmp}" && exec ip netns exec "$3" sh -c "$4"\n')
        os.chmod(ssh, 0o755)
        out = os.path.join(tmp, "exec")
        shutil.rmtree(out, ignore_errors=True)
        exe = c.require("asteroid-exec")
        cmd = [exe, hosts, "--emulate", "--time-dilation", f"{dilation:g}", "--listen", f"{coordinator}:0",
               "--token-file", os.path.join(tmp, "token"), "--remote-exec", exe, "-o", out]
        if plan_file:
            cmd += ["--plan", plan_file]
        if rounds:
            cmd += ["--rounds", str(rounds)]
        env = dict(os.environ, ASTEROID_SSH=ssh)
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
        if r.returncode != 0:
            raise c.ToolError(f"asteroid-exec --emulate exited with {r.returncode}: {r.stderr.strip()[-500:]}")
        return c.load_json(os.path.join(out, "report.json"))
    finally:
        subprocess.run([CLUSTER, "down", "--name", name], capture_output=True)


def over_after_first(report):
    """Share of the run's compute steps over budget (the first round's warm-up included)."""
    m = report["emulation"]
    return m["over_budget_steps"] / max(1, m["budgeted_steps"])


def emulate_until_faithful(scenario, plan_file, rounds, dilation, tmp, tag):
    while True:
        rep = run_emulated(scenario, plan_file, rounds, dilation, tmp, tag)
        share = over_after_first(rep)
        if share <= 0.05 or dilation >= 64:
            return rep, dilation
        c.log(f"crosscheck_envs: {100 * share:.1f}% of compute steps over budget at F = {dilation:g}; "
              f"again at {2 * dilation:g}")
        dilation *= 2


def compare(sim_file, exec_file, keep):
    r = subprocess.run([c.require("asteroid-compare"), sim_file, exec_file, "--rows", "12"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise c.ToolError(f"asteroid-compare: {r.stderr.strip()}")
    c.write_text(os.path.join(keep, "compare.txt"), r.stdout)
    return r.stdout


def busy_by_kind(report, skip):
    """Seconds per instruction kind summed over devices, rounds >= skip."""
    out = {}
    for x in report.get("spans", []):
        if x["round"] >= skip:
            out[x["op"]] = out.get(x["op"], 0) + x["end_s"] - x["start_s"]
    return out


def keep_reports(keep, sim, real):
    for kind, rep in (("sim", sim), ("exec", real)):
        rep = dict(rep)
        rep.pop("spans", None)
        with open(os.path.join(keep, f"{kind}_report.json"), "w") as f:
            json.dump(rep, f, indent=1)
            f.write("\n")


def one_row(env, model, mbps, rounds, dilation, out, tmp):
    scen = as_run(c.scenario_path(env, model, mbps), tmp)
    name = f"env{env}_{model}_{mbps}mbps"
    keep = os.path.join(out, "data", name)
    os.makedirs(keep, exist_ok=True)
    planned = c.plan(scen, "asteroid")
    if not planned["feasible"]:
        raise c.ToolError(f"{name}: no plan ({planned.get('reason', '')})")
    plan_file = os.path.join(keep, "plan.json")
    with open(plan_file, "w") as f:
        json.dump(planned["plan"], f, indent=1)
    c.run([c.require("asteroid-sim"), scen, "--plan", plan_file, "--rounds", str(rounds), "-o",
           os.path.join(tmp, "sim"), "--network", "textbook"], timeout=600)
    sim = c.load_json(os.path.join(tmp, "sim", "report.json"))
    real, f_used = emulate_until_faithful(scen, plan_file, rounds, dilation, tmp, env)
    compare(os.path.join(tmp, "sim", "report.json"), os.path.join(tmp, "exec", "report.json"), keep)
    skip = 1 if rounds > 1 else 0
    s, e = mean_round(sim, skip), mean_round(real, skip)
    bs, be = busy_by_kind(sim, skip), busy_by_kind(real, skip)
    kinds = sorted(set(bs) | set(be), key=lambda k: -abs(be.get(k, 0) - bs.get(k, 0)))
    why = ", ".join(f"{k} {be.get(k, 0) - bs.get(k, 0):+.3f} s" for k in kinds[:3])
    keep_reports(keep, sim, real)
    devices = sum(len(st["devices"]) for st in planned["plan"]["stages"])
    return {"case": name, "env": env, "model": model, "mbps": mbps, "plan": c.plan_text(planned),
            "workers": devices, "dilation": f_used, "simulated_s": s, "emulated_s": e, "error": e / s - 1,
            "over_budget": real["emulation"]["over_budget_steps"], "budgeted": real["emulation"]["budgeted_steps"],
            "busy_difference": why}


def failure_row(rounds, dilation, out, tmp):
    """envC_fail both ways, the leave moved to the middle of round 5 so that the run stays short
    (the real run's first round is longer, its warm-up: both are in steady training by then, and
    the copies of the rounds before have landed)."""
    src = os.path.join(c.SCENARIOS, "envC_fail.json")
    planned = c.plan(as_run(src, tmp), "asteroid")
    at = 5.5 * planned["round_latency_s"]
    scen = as_run(src, tmp, rounds=rounds, events=[{"at": f"{at:.3f}s", "device": "nx0", "kind": "leave"}])
    keep = os.path.join(out, "data", "envC_fail")
    os.makedirs(keep, exist_ok=True)
    c.run([c.require("asteroid-sim"), scen, "-o", os.path.join(tmp, "sim"), "--network", "textbook"], timeout=600)
    sim = c.load_json(os.path.join(tmp, "sim", "report.json"))
    real, f_used = emulate_until_faithful(scen, None, None, dilation, tmp, "F")
    first_sim = next(r for r in sim["rounds"] if r["round"] == 0)
    first_exec = next(r for r in real["rounds"] if r["round"] == 0)
    compare(os.path.join(tmp, "sim", "report.json"), os.path.join(tmp, "exec", "report.json"), keep)
    keep_reports(keep, sim, real)
    rows = []
    for kind, rep in (("asteroid-sim", sim), (f"asteroid-exec --emulate (F = {f_used:g})", real)):
        f = rep["summary"]["failures"][0]
        rows.append([kind, c.fmt(f["failure_s"], 3), c.fmt(f.get("detection_s"), 3), c.fmt(f.get("replan_s"), 4),
                     c.fmt(f.get("state_transfer_s"), 3), c.fmt(f.get("replay_s"), 3), c.fmt(f.get("recovery_s"), 3),
                     str(len(rep["rounds"]))])
    md = (f"scenarios/envC_fail.json (ResNet50 on environment C, 1000 Mbps), nx0 leaving at {at:.2f} s "
          f"(5.5 predicted rounds, so that the run stays short), {rounds} rounds, both ways. The emulated "
          "run's times are real / F; its state transfer includes restarting the workers' processes, "
          "which is not dilated (docs/emulation.md). Seconds. Both send the checkpoint copies beside "
          "training (docs/emulation.md, \"Replication\"); before the failure, round 0 took "
          f"{first_sim['end_s'] - first_sim['start_s']:.2f} s simulated and "
          f"{first_exec['end_s'] - first_exec['start_s']:.2f} s emulated, and the replay after it started "
          f"at round {replayed_from(sim)} simulated, round {replayed_from(real)} emulated (the round "
          "after the checkpoint).\n\n"
          + c.md_table(["backend", "failure", "detection", "re-plan", "state transfer", "replay",
                        "failure to the replayed round's end", "rounds"], rows,
                       ["---"] + ["---:"] * 7))
    c.write_text(os.path.join(out, "failure.md"), md)
    fs, fe = sim["summary"]["failures"][0], real["summary"]["failures"][0]
    return (f"envC_fail both ways: detection {fs['detection_s']:.2f} s simulated, {fe['detection_s']:.2f} s "
            f"emulated; recovery {fs['recovery_s']:.2f} s simulated, {fe['recovery_s']:.2f} s emulated.")


def replayed_from(rep):
    """The first round replayed after the failure (the checkpoint's round + 1), from the report's
    replay event; "-" when there was none."""
    ev = next((e for e in rep["events"] if e["kind"] == "replay"), None)
    return ev["round"] if ev is not None and "round" in ev else "-"


def main():
    args = c.parse_args(__doc__, add_args)
    if not (1 <= args.dilation <= 1000 and 1 <= args.fail_dilation <= 1000):
        raise c.ToolError("--dilation and --fail-dilation: expected numbers in [1, 1000]")
    out = c.out_dir(args.outroot, "crosscheck_envs", clean=not args.failure_only)
    for tool in ("asteroid-plan", "asteroid-sim", "asteroid-exec", "asteroid-compare"):
        c.require(tool)
    if os.geteuid() != 0:
        why = "Not run: the namespace hosts need root (network namespaces and tc)."
        for f in ("envs.md", "summary.md", "failure.md"):
            c.write_text(os.path.join(out, f), why + "\n")
        c.write_csv(os.path.join(out, "envs.csv"), [], ["case"])
        c.log("crosscheck_envs: " + why)
        return
    cases = [(e, m, mbps) for e, m in ROWS for mbps in (100, 1000)]
    rounds = args.rounds
    if args.smoke:
        cases, rounds, args.dilation = [("A", "mobilenetv2", 1000)], 2, 4
    rows = []
    if args.failure_only:
        cases = []
        if not os.path.exists(os.path.join(out, "envs.csv")):
            raise c.ToolError(f"--failure-only: {out}/envs.csv is missing: run without it first")
        for r in c.read_csv(os.path.join(out, "envs.csv")):
            r.update({k: float(r[k]) for k in ("dilation", "simulated_s", "emulated_s", "error")})
            rows.append(r)
    with tempfile.TemporaryDirectory(prefix="asteroid-envs-") as tmp:
        for env, model, mbps in cases:
            c.log(f"crosscheck_envs: env{env} {model} {mbps} Mbps")
            rows.append(one_row(env, model, mbps, rounds, args.dilation, out, tmp))
        fail_text = ("(The failure is left out of --smoke runs.)" if args.smoke
                     else failure_row(10, args.fail_dilation, out, tmp))
    if args.smoke:
        c.write_text(os.path.join(out, "failure.md"), fail_text + "\n")
    cols = ["case", "env", "model", "mbps", "workers", "plan", "dilation", "simulated_s", "emulated_s", "error",
            "over_budget", "budgeted", "busy_difference"]
    c.write_csv(os.path.join(out, "envs.csv"), rows, cols)
    md = (f"Round latency (s, mean of rounds 2-{rounds}) of Asteroid's plan, simulated (asteroid-sim, CM02, "
          "the star at the scenario's bandwidth, no latency) and run emulated on namespace hosts "
          "(asteroid-exec --emulate, links shaped to bandwidth / F). Target: within 5% (goal 3%). "
          "\"busy time, emulated - simulated\": the instruction kinds whose summed time differs most "
          "(all devices, rounds 2 on; waits included).\n\n"
          + c.md_table(["scenario", "plan", "F", "simulated", "emulated", "error", "over budget",
                        "busy time, emulated - simulated"],
                       [[r["case"], r["plan"], f"{r['dilation']:g}", c.fmt(r["simulated_s"], 4),
                         c.fmt(r["emulated_s"], 4), f"{100 * r['error']:+.1f}%",
                         f"{r['over_budget']} of {r['budgeted']}", r["busy_difference"]] for r in rows],
                       ["---", "---", "---:", "---:", "---:", "---:", "---:", "---"]))
    c.write_text(os.path.join(out, "envs.md"), md)
    within = sum(abs(r["error"]) <= TARGET for r in rows)
    goal = sum(abs(r["error"]) <= GOAL for r in rows)
    errs = sorted(100 * r["error"] for r in rows)
    text = (f"{len(rows)} environment rows emulated across namespace hosts: round error {errs[0]:+.1f}% to "
            f"{errs[-1]:+.1f}%; {within} of {len(rows)} within the 5% target, {goal} within the 3% goal. "
            + fail_text)
    c.write_text(os.path.join(out, "summary.md"), text + "\n")
    print(text)


if __name__ == "__main__":
    try:
        main()
    except c.ToolError as e:
        print(f"crosscheck_envs: {e}", file=sys.stderr)
        sys.exit(1)
