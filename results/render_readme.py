#!/usr/bin/python3
"""Writes <outroot>/README.md from results/README.template.md, replacing
  {{file:PATH}}   by the file <outroot>/PATH (a table or summary a script wrote); relative links and
                  images in it are rewritten to stay valid from <outroot>,
  {{assumptions}} by the set-up the results rest on, read from the scenario and trace files and the
                  outputs (environments, models, batch sizes, trace provenance, latency and network
                  models),
  {{timings}}     by the run times make_all.sh recorded in <outroot>/timings.csv.
Usage: render_readme.py [OUTROOT]
"""
import glob
import os
import re
import sys

import common as c

TEMPLATE = os.path.join(c.RESULTS, "README.template.md")


def include(outroot, rel):
    path = os.path.join(outroot, rel)
    if not os.path.isfile(path):
        return f"*(not generated: {rel} is missing; see make_all.sh's output)*\n"
    with open(path) as f:
        text = f.read()
    base = os.path.dirname(rel)

    def fix(m):
        target = m.group(2)
        if re.match(r"^[a-z]+:|^/|^#", target) or not base:
            return m.group(0)
        return f"{m.group(1)}({base}/{target})"

    return re.sub(r"(!?\[[^\]]*\])\(([^)]+)\)", fix, text)


def first_json(pattern):
    files = sorted(glob.glob(pattern, recursive=True))
    return c.load_json(files[0]) if files else None


def assumptions(outroot):
    envs = {}
    for path in sorted(glob.glob(os.path.join(c.SCENARIOS, "env?_*_100mbps.json"))):
        e = os.path.basename(path)[3]
        envs.setdefault(e, c.env_composition(path))
    lines = ["Environments (scenarios/, device lists):\n\n",
             c.md_table(["environment", "devices"], [[e, comp] for e, comp in sorted(envs.items())])]

    rows, kinds, errors = [], {}, []
    for m in c.MODELS:
        path = c.scenario_path("A", m, 100)
        s = c.load_json(path)
        sizes = s["planner"].get("microbatch_sizes", [])
        rows.append([c.MODEL_LABELS[m], s["model"].get("input", ""), s["training"]["batch_size"],
                     ", ".join(str(x) for x in sizes) or "every divisor", s["training"]["optimizer"],
                     len(c.layer_names(path))])
        for t in ("jetson_nano", "jetson_tx2", "jetson_xavier_nx"):
            tp = os.path.join(c.REPO, "traces", t, f"{m}.json")
            if os.path.isfile(tp):
                prov = c.load_json(tp).get("provenance", {})
                kinds.setdefault(prov.get("kind", "?"), set()).add(c.TYPE_LABELS[t])
                errors += [abs(v) for v in prov.get("fit_error", {}).values()]
    lines.append("\nModels and training set-up (scenario files; the choices are explained in "
                 "scenarios/README.md):\n\n")
    lines.append(c.md_table(["model", "input", "batch size B", "micro-batch sizes allowed", "optimizer",
                             "layers (cut points)"], rows))
    trace_txt = "; ".join(f"{k}: {', '.join(sorted(v))}" for k, v in sorted(kinds.items()))
    lines.append(f"\nJetson traces by provenance kind ({trace_txt})."
                 + (f" The fit reproduces the paper's Table 1 epoch times within {100 * max(errors):.1f}%"
                    " (tools/calibrate/fit_report.md)." if errors else ""))
    plan = first_json(os.path.join(outroot, "table4", "data", "**", "plan_asteroid.json"))
    if plan:
        lines.append(f" Latency model of the cost model and planner: `{plan.get('latency_model')}`.")
    rep = first_json(os.path.join(outroot, "*", "data", "**", "report.json"))
    if rep:
        cfg = rep.get("config", {})
        lines.append(f" Simulator network model: `{cfg.get('network_model')}`, topology "
                     f"`{cfg.get('topology')}`.")
    return "".join(lines) + "\n"


def timings(outroot):
    path = os.path.join(outroot, "timings.csv")
    if not os.path.isfile(path):
        return ""
    rows = c.read_csv(path)
    total = sum(float(r["seconds"]) for r in rows)
    return (c.md_table(["script", "status", "seconds"],
                       [[r["script"], r["status"], r["seconds"]] for r in rows]
                       + [["total", "", f"{total:.0f}"]], ["---", "---", "---:"]))


def main():
    outroot = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else c.RESULTS)
    with open(TEMPLATE) as f:
        text = f.read()
    text = re.sub(r"\{\{file:([^}]+)\}\}", lambda m: include(outroot, m.group(1).strip()), text)
    text = text.replace("{{assumptions}}", assumptions(outroot))
    text = text.replace("{{timings}}", timings(outroot))
    c.write_text(os.path.join(outroot, "README.md"), text)


if __name__ == "__main__":
    c.main_guard(main)
