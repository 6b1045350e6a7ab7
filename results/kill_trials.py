#!/usr/bin/python3
"""Kill trials: asteroid-exec's answer to real deaths. A 4-stage pipeline of lenet5 (no batch norm,
no dropout: any plan computes the same update) trains on 4 worker processes of this machine, with
recovery on (lightweight re-plan, a copy of every stage after every round). Each trial kills one
worker chosen at random with SIGKILL, from outside, at a random time within the fault-free run's
training; a killed worker is a failure like a leave (exec/README.md). A trial passes when the run
exits 0 with every round committed once and the loss of every round within 1e-4 (relative) of the
fault-free run's: no trained state was lost. Anything else - a hang, a crash, a lost round, a
different loss - fails the trial, and the script exits 1.

Then two deaths at once: scenarios/local_mobilenetv2_3dev_fail.json with its second device leaving
at the same moment as the first (cpu1 and cpu2; cpu0 holds every layer's copy), run --two-kill-trials
times. A run passes when it exits 0 with every round committed once, both devices declared before
the one re-plan, and the last plan on cpu0 alone.

Needs asteroid-exec. Writes <outroot>/kill_trials/: trials.csv (one row per trial: victim, kill
time, the round it came in, detection delay, replayed round, final loss, verdict), trials.md,
two_kills.csv and two_kills.md, and data/trial_<n>/ and data/two_kill_<n>/ (console and report.json
of every trial that did not pass).
"""
import json
import os
import random
import signal
import subprocess
import tempfile
import time

import common as c

TRIALS = 20
ROUNDS = 100
PLAN = {"microbatch_size": 8, "microbatches": 4,
        "stages": [{"layers": [0, 0], "devices": ["cpu0"]}, {"layers": [1, 1], "devices": ["cpu1"]},
                   {"layers": [2, 2], "devices": ["cpu2"]}, {"layers": [3, 4], "devices": ["cpu3"]}]}


def add_args(p):
    p.add_argument("--trials", type=int, default=TRIALS, help=f"trials (default {TRIALS})")
    p.add_argument("--rounds", type=int, default=ROUNDS, help=f"rounds per run (default {ROUNDS})")
    p.add_argument("--seed", type=int, default=1, help="seed of the victims and kill times (default 1)")
    p.add_argument("--two-kill-trials", type=int, default=TRIALS,
                   help=f"runs of the two-deaths-at-once case (default {TRIALS})")


def scenario():
    s = c.load_json(os.path.join(c.SCENARIOS, "local_lenet5_4dev.json"))
    for t in s["traces"]:
        s["traces"][t] = os.path.join(c.SCENARIOS, s["traces"][t])
    # Recovery on, with a leave that never comes: the deaths are the trials' own.
    s["faults"] = {"heartbeat_interval": "0.5s", "missed_heartbeats": 3, "replication_interval_rounds": 1,
                   "recovery": "lightweight", "events": [{"at": "100000s", "device": "cpu0", "kind": "leave"}]}
    return s


def workers_of(launcher_pid):
    r = subprocess.run(["pgrep", "-P", str(launcher_pid), "-a"], capture_output=True, text=True)
    out = {}
    for line in r.stdout.splitlines():
        pid, _, cmd = line.partition(" ")
        args = cmd.split()
        if "--device" in args:
            out[args[args.index("--device") + 1]] = int(pid)
    return out


def run_exec(workdir, rounds, victim=None, at_s=None):
    """Runs asteroid-exec; kills victim's worker at_s seconds after training started.
    Returns (exit status, report or None, console text, kill time in s since training started or None)."""
    tmp = os.path.dirname(workdir)
    cmd = [c.require("asteroid-exec"), os.path.join(tmp, "scenario.json"), "--plan", os.path.join(tmp, "plan.json"),
           "--rounds", str(rounds), "--timeout", "300", "--token-file", os.path.join(tmp, "token"), "-o", workdir]
    console = open(os.path.join(workdir + ".log"), "w")
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=console, stderr=subprocess.STDOUT)
    killed_at = None
    if victim is not None:
        # at_s counts from the start of training (the line the coordinator prints when every worker
        # has joined), as the scenario's events do.
        while p.poll() is None and "training:" not in open(workdir + ".log").read():
            time.sleep(0.02)
        t0 = time.monotonic()
        while time.monotonic() - t0 < at_s and p.poll() is None:
            time.sleep(0.02)
        pid = workers_of(p.pid).get(victim)
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
                killed_at = time.monotonic() - t0
            except ProcessLookupError:
                pass
    try:
        status = p.wait(timeout=600)
    except subprocess.TimeoutExpired:
        p.kill()
        status = "hang"
    console.close()
    text = open(workdir + ".log").read()
    report = None
    path = os.path.join(workdir, "report.json")
    if os.path.exists(path):
        report = json.load(open(path))
    return status, report, text, killed_at


def verdict(report, status, reference, rounds):
    if status != 0:
        return f"exit status {status}"
    if report is None:
        return "no report"
    got = [r["round"] for r in report["rounds"]]
    if got != list(range(rounds)):
        return f"rounds {got}"
    if not report["summary"].get("completed"):
        return "not completed"
    for a, b in zip((r["loss"] for r in report["rounds"]), reference):
        if abs(a - b) > 1e-4 * abs(b):
            return f"loss {a:.6g}, fault-free {b:.6g}"
    return "pass"


def keep_failed(out, name, text, report):
    """A run that did not pass: its console and report under <out>/data/<name>/."""
    keep = os.path.join(out, "data", name)
    os.makedirs(keep, exist_ok=True)
    with open(os.path.join(keep, "console.txt"), "w") as f:
        f.write(text)
    if report is not None:
        with open(os.path.join(keep, "report.json"), "w") as f:
            json.dump(report, f, indent=1)


def two_kill_scenario():
    s = c.load_json(os.path.join(c.SCENARIOS, "local_mobilenetv2_3dev_fail.json"))
    for t in s["traces"]:
        s["traces"][t] = os.path.join(c.SCENARIOS, s["traces"][t])
    s["name"] += "_two"
    s["training"]["rounds"] = 16
    s["faults"]["events"] = [{"at": "3s", "device": "cpu2", "kind": "leave"},
                             {"at": "3s", "device": "cpu1", "kind": "leave"}]
    return s


def two_kill_verdict(status, report):
    if status != 0:
        return f"exit status {status}"
    if report is None:
        return "no report"
    declared = sorted(e["device"] for e in report["events"] if e["kind"] == "detection")
    if declared != ["cpu1", "cpu2"]:
        return f"declared {declared}"
    replans = sum(e["kind"] == "replan" for e in report["events"])
    if replans != 1:
        return f"{replans} re-plans"
    if [r["round"] for r in report["rounds"]] != list(range(16)):
        return "rounds " + str([r["round"] for r in report["rounds"]])
    last = report["plans"][report["rounds"][-1]["plan_id"]]
    devices = [d for st in last["stages"] for d in st["devices"]]
    if devices != ["cpu0"]:
        return f"last plan on {devices}"
    return "pass"


def two_kill_trials(out, trials):
    rows, failed = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "two.json")
        with open(path, "w") as f:
            json.dump(two_kill_scenario(), f)
        for n in range(trials):
            work = os.path.join(tmp, f"two_{n}")
            with open(work + ".log", "w") as console:
                try:
                    status = subprocess.run([c.require("asteroid-exec"), path, "--timeout", "300", "--token-file",
                                             os.path.join(tmp, "token"), "-o", work], stdout=console,
                                            stderr=subprocess.STDOUT, timeout=600).returncode
                except subprocess.TimeoutExpired:
                    status = "hang"
            text = open(work + ".log").read()
            rep = json.load(open(os.path.join(work, "report.json"))) if os.path.exists(
                os.path.join(work, "report.json")) else None
            v = two_kill_verdict(status, rep)
            det = [e["time_s"] for e in (rep or {}).get("events", []) if e["kind"] == "detection"]
            rows.append({"trial": n, "declared_s": " ".join(f"{t:.3f}" for t in det),
                         "rounds": len((rep or {}).get("rounds", [])), "verdict": v})
            c.log(f"  two kills {n}: {v}")
            if v != "pass":
                failed += 1
                keep_failed(out, f"two_kill_{n}", text, rep)
    c.write_csv(os.path.join(out, "two_kills.csv"), rows, ["trial", "declared_s", "rounds", "verdict"])
    table = c.md_table(["run", "declared at (s)", "rounds committed", "verdict"],
                       [[r["trial"], r["declared_s"], r["rounds"], r["verdict"]] for r in rows])
    c.write_text(os.path.join(out, "two_kills.md"),
                 f"{len(rows) - failed} of {len(rows)} runs passed: local_mobilenetv2_3dev_fail with cpu1 and "
                 f"cpu2 leaving together at 3 s (16 rounds); each must declare both before its one re-plan and "
                 f"train on with cpu0 alone.\n\n{table}\n")
    c.log(f"kill_trials: two kills at once, {len(rows) - failed} of {len(rows)} passed")
    return failed


def main():
    args = c.parse_args(__doc__.split("\n\n")[0], add_args)
    out = c.out_dir(args.outroot, "kill_trials")
    trials, rounds = (2, 40) if args.smoke else (args.trials, args.rounds)
    rng = random.Random(args.seed)
    rows, failed = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "scenario.json"), "w") as f:
            json.dump(scenario(), f)
        with open(os.path.join(tmp, "plan.json"), "w") as f:
            json.dump(PLAN, f)
        c.log("kill_trials: the fault-free run")
        status, ref, text, _ = run_exec(os.path.join(tmp, "ref"), rounds)
        if status != 0 or ref is None:
            raise c.ToolError(f"the fault-free run failed ({status}): {text.strip()[-400:]}")
        length = ref["rounds"][-1]["end_s"]  # training, from its start
        reference = [r["loss"] for r in ref["rounds"]]
        for n in range(trials):
            victim = rng.choice(["cpu0", "cpu1", "cpu2", "cpu3"])
            # Training lengths wander with the machine's load: a run that ended before its kill is
            # run again with the kill earlier, so that every trial kills.
            at_s = rng.uniform(0, 0.8 * length)
            for attempt in range(4):
                work = os.path.join(tmp, f"trial_{n}_{attempt}")
                status, rep, text, killed_at = run_exec(work, rounds, victim, at_s)
                if killed_at is not None:
                    break
                at_s /= 2
            v = verdict(rep, status, reference, rounds) if killed_at is not None else "the run ended before the kill"
            ev = {e["kind"]: e for e in (rep or {}).get("events", [])}
            fail = ev.get("failure", {})
            det = ev.get("detection", {})
            f0 = ((rep or {}).get("summary", {}).get("failures") or [{}])[0]
            row = {"trial": n, "victim": victim, "kill_s": killed_at,
                   "failure_recorded": fail.get("detail", ""),
                   "round": fail.get("round"),
                   "detection_delay_s": (det["time_s"] - fail["time_s"]) if fail and det else None,
                   "replay_round": f0.get("replay_round"),
                   "final_loss": rep["rounds"][-1]["loss"] if rep and rep["rounds"] else None,
                   "fault_free_loss": reference[-1], "verdict": v}
            rows.append(row)
            c.log(f"  trial {n}: {victim} killed at {c.fmt(killed_at, 2)} s: {v}")
            if v != "pass":
                failed += 1
                keep_failed(out, f"trial_{n}", text, rep)
    cols = ["trial", "victim", "kill_s", "round", "failure_recorded", "detection_delay_s", "replay_round", "final_loss",
            "fault_free_loss", "verdict"]
    c.write_csv(os.path.join(out, "trials.csv"), rows, cols)
    table = c.md_table(["trial", "victim", "killed at (s)", "in round", "recorded as", "detected after (s)", "replayed from round",
                        "final loss", "verdict"],
                       [[r["trial"], r["victim"], c.fmt(r["kill_s"], 2), r["round"], r["failure_recorded"],
                         c.fmt(r["detection_delay_s"], 3), r["replay_round"], c.fmt(r["final_loss"], 6), r["verdict"]]
                        for r in rows])
    c.write_text(os.path.join(out, "trials.md"),
                 f"{len(rows) - failed} of {len(rows)} trials passed: a random worker of a 4-stage lenet5 "
                 f"pipeline killed with SIGKILL at a random time of the fault-free run's {length:.1f} s "
                 f"of training ({rounds} rounds); fault-free final loss {reference[-1]:.6f}.\n\n{table}\n")
    c.log(f"kill_trials: {len(rows) - failed} of {len(rows)} passed")
    two_failed = two_kill_trials(out, 1 if args.smoke else args.two_kill_trials)
    if failed or two_failed:
        raise c.ToolError(f"{failed} of {len(rows)} trials and {two_failed} two-kill runs failed "
                          f"(see {out}/trials.md, {out}/two_kills.md)")


if __name__ == "__main__":
    c.main_guard(main)
