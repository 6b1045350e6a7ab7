#!/usr/bin/python3
"""Benchmark of `asteroid-plan SCENARIO --evaluate PLANS.json --json` (issue target: 100,000 plans
scored in under a minute). Writes N random plans of the scenario's search space (contiguous layer
ranges on contiguous slices of its devices, any micro-batch size dividing B, shares left to Alg. 1)
to a temporary file, runs asteroid-plan once on all of them, checks that it answered every plan in
order, and prints the wall-clock time against the target.

Usage: bench_evaluate.py [--plans N] [--asteroid-plan PATH] [SCENARIO]
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TARGET_S = 60.0


def random_plans(devices, layers, batch, n, rng):
    divisors = [b for b in range(1, batch + 1) if batch % b == 0]
    plans = []
    for _ in range(n):
        used = rng.randint(1, len(devices))
        stages = rng.randint(1, min(used, layers))
        device_cuts = sorted(rng.sample(range(1, used), stages - 1))
        layer_cuts = sorted(rng.sample(range(1, layers), stages - 1))
        d = [0] + device_cuts + [used]
        l = [0] + layer_cuts + [layers]
        beta = rng.choice(divisors)
        plans.append({"microbatch_size": beta, "microbatches": batch // beta,
                      "stages": [{"layers": [l[i], l[i + 1] - 1], "devices": devices[d[i]:d[i + 1]]}
                                 for i in range(stages)]})
    return plans


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", nargs="?", default=os.path.join(ROOT, "scenarios", "envC_resnet50_100mbps.json"))
    ap.add_argument("--plans", type=int, default=100000)
    ap.add_argument("--asteroid-plan", default=os.path.join(ROOT, "build", "core", "asteroid-plan"))
    args = ap.parse_args()

    # The scenario's own plan tells the device names, the layer count and the batch size.
    out = subprocess.run([args.asteroid_plan, args.scenario, "--json"], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"bench_evaluate: asteroid-plan failed: {out.stderr.strip()}")
    planned = json.loads(out.stdout)
    with open(args.scenario) as f:
        devices = [d["name"] for d in json.load(f)["cluster"]["devices"]]
    layers = planned["plan"]["stages"][-1]["layers"][1] + 1
    batch = planned["batch_size"]

    plans = random_plans(devices, layers, batch, args.plans, random.Random(1))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "plans.json")
        with open(path, "w") as f:
            json.dump(plans, f)
        t0 = time.monotonic()
        out = subprocess.run([args.asteroid_plan, args.scenario, "--evaluate", path, "--json"],
                             capture_output=True, text=True)
        seconds = time.monotonic() - t0
    if out.returncode != 0:
        sys.exit(f"bench_evaluate: asteroid-plan --evaluate failed: {out.stderr.strip()}")
    results = json.loads(out.stdout)
    if not isinstance(results, list) or len(results) != len(plans):
        sys.exit(f"bench_evaluate: expected {len(plans)} results, got {len(results) if isinstance(results, list) else 'one'}")
    feasible = sum(1 for r in results if r["feasible"])
    print(f"{len(plans)} plans of {os.path.basename(args.scenario)} ({len(devices)} devices, {layers} layers, "
          f"B = {batch}): {seconds:.2f} s, {feasible} feasible "
          f"(target {TARGET_S:.0f} s for 100,000 plans: {'met' if seconds <= TARGET_S * len(plans) / 100000 else 'MISSED'})")


if __name__ == "__main__":
    main()
