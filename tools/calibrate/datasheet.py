"""Reading a device's datasheet, traces/<type>/device.json (docs/formats.md, "Datasheet device").

Every figure is an object {"value": ..., "source": ID | "assumption": WHY, "note": ..., "range":
[LOW, HIGH]}: a quantity carries its unit ("68GBps", "1.28TFLOPS", "8GiB", "1.5GHz"), a count or a
score is a plain number, and each figure names the public document it comes from (an entry of
"sources": title and URL) or says that it is an assumption. "range" (optional) is the spread the
figure may have (a clock that depends on the laptop's power limit, a score that differs between
reports); derive_traces.py propagates it into the trace's uncertainty.

Refusals are DatasheetError: one line naming the file, the field and the problem (the tool exits 2).
Standard library only.
"""

import hashlib
import json
import math
import re

# Units, as in core/src/input/units.cpp (sizes and bandwidths), plus throughput and clock, which only
# datasheets carry.
BYTES = {"B": 1.0, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
         "KiB": 1024.0, "MiB": 1024.0 ** 2, "GiB": 1024.0 ** 3, "TiB": 1024.0 ** 4}
BANDWIDTH = {"bps": 1 / 8, "kbps": 1e3 / 8, "Mbps": 1e6 / 8, "Gbps": 1e9 / 8,
             "Bps": 1.0, "kBps": 1e3, "MBps": 1e6, "GBps": 1e9, "TBps": 1e12}
FLOPS = {"FLOPS": 1.0, "kFLOPS": 1e3, "MFLOPS": 1e6, "GFLOPS": 1e9, "TFLOPS": 1e12, "PFLOPS": 1e15}
HERTZ = {"Hz": 1.0, "kHz": 1e3, "MHz": 1e6, "GHz": 1e9}
KIND_EXAMPLE = {"size": ("8GiB", BYTES), "bandwidth": ("68GBps", BANDWIDTH),
                "throughput": ("1.28TFLOPS", FLOPS), "clock": ("1.5GHz", HERTZ)}

# The GPU architectures the law knows (jetson_law.arch_eff): the Table 1 anchors are Maxwell and
# Pascal, the NX's Volta has eff_volta, and newer ones get eff_volta by assumption.
ARCHITECTURES = ("Maxwell", "Pascal", "Volta", "Turing", "Ampere", "Ada")

# field -> kind: "size" | "bandwidth" | "throughput" | "clock" | "count" | "score" | "text" | "architecture"
SCHEMA = {
    "gpu": {"name": "text", "architecture": "architecture", "fp32_peak": "throughput",
            "fp16_peak": "throughput", "cuda_cores": "count", "clock": "clock"},
    "memory": {"size": "size", "bandwidth": "bandwidth", "reserved": "size"},
    "cpu": {"name": "text", "core": "text", "cores": "count", "clock": "clock", "fp32_peak": "throughput",
            "geekbench5_single_core": "score", "geekbench5_single_core_per_ghz": "score"},
}
REQUIRED = {"gpu": ("architecture", "fp32_peak"), "memory": ("size", "bandwidth"), "cpu": ("clock",)}
FIGURE_KEYS = ("value", "source", "assumption", "note", "range")
TOP = ("schema_version", "device_type", "description", "power_mode", "gpu", "memory", "cpu", "sources",
       "assumptions")
PLAIN_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
NUMBER_UNIT = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*(.*?)\s*$")


class DatasheetError(Exception):
    """One line: FILE: FIELD: PROBLEM."""


def parse_quantity(text, kind):
    """(SI value, None) or (None, why) for a string with a unit of the given kind."""
    example, table = KIND_EXAMPLE[kind]
    m = NUMBER_UNIT.match(text)
    if not m:
        return None, f"\"{text}\" is not a number with a unit (for example \"{example}\")"
    number, unit = float(m.group(1)), m.group(2)
    if not unit:
        return None, f"\"{text}\" has no unit; write the {kind} with a unit, e.g. \"{example}\""
    if unit not in table:
        return None, f"unknown {kind} unit \"{unit}\" (known: {', '.join(table)})"
    if not math.isfinite(number) or number <= 0:
        return None, f"\"{text}\" must be a finite, positive {kind}"
    return number * table[unit], None


class Datasheet:
    """A validated datasheet: .figures (the law's device figures, SI units), .ranges (figure -> (low,
    high) in SI units), .provenance (what a trace records of it)."""

    def __init__(self, path, display_path=None):
        self.path = path
        self.display = display_path or path
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError as e:
            self.fail("", f"cannot read the file ({e.strerror or e})")
        self.sha256 = hashlib.sha256(raw).hexdigest()
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            self.fail("", f"not valid JSON ({e})")
        if not isinstance(doc, dict):
            self.fail("", "must be a JSON object")
        self.doc = doc
        self.values = {}   # "gpu.fp32_peak" -> SI value (or text / count)
        self.ranges = {}   # "gpu.fp32_peak" -> (low, high)
        self._check()

    def fail(self, field, problem):
        raise DatasheetError(f"{self.display}: {field + ': ' if field else ''}{problem}")

    def _check(self):
        d = self.doc
        for k in d:
            if k not in TOP:
                self.fail(k, f"unknown field (known: {', '.join(TOP)})")
        for k in ("schema_version", "device_type", "description", "memory", "cpu", "sources"):
            if k not in d:
                self.fail(k, "missing")
        if d["schema_version"] != 1:
            self.fail("schema_version", f"this tool reads schema_version 1; the file has {d['schema_version']!r}")
        for k in ("device_type", "description", "power_mode"):
            if k in d and not (isinstance(d[k], str) and d[k].strip()):
                self.fail(k, "must be a non-empty string")
        if not PLAIN_NAME.match(d["device_type"]) or d["device_type"] == "models":
            self.fail("device_type", f"\"{d['device_type']}\" must be 1 to 100 letters, digits, '_', '-' or '.' "
                                     "(it names the folder traces/<device_type>/), and not \"models\"")
        if "assumptions" in d and not (isinstance(d["assumptions"], list)
                                       and all(isinstance(a, str) for a in d["assumptions"])):
            self.fail("assumptions", "must be a list of strings")
        self._check_sources(d["sources"])
        for section, fields in SCHEMA.items():
            if section not in d:
                continue
            sec = d[section]
            if not isinstance(sec, dict):
                self.fail(section, "must be an object")
            for k in sec:
                if k not in fields:
                    self.fail(f"{section}.{k}", f"unknown field (known: {', '.join(fields)})")
            for k in REQUIRED[section]:
                if k not in sec:
                    self.fail(f"{section}.{k}", "missing")
            for k, kind in fields.items():
                if k in sec:
                    self._figure(f"{section}.{k}", sec[k], kind)
        cpu = d["cpu"]
        scores = [k for k in ("geekbench5_single_core", "geekbench5_single_core_per_ghz") if k in cpu]
        if len(scores) != 1:
            self.fail("cpu.geekbench5_single_core", "give exactly one of geekbench5_single_core and "
                                                    "geekbench5_single_core_per_ghz (the law scales the CPU "
                                                    "cost per op by it)")
        if "gpu" not in d and "fp32_peak" not in cpu:
            self.fail("cpu.fp32_peak", "missing: a device without a GPU computes on its CPU, whose FP32 peak "
                                       "the law needs")

    def _check_sources(self, sources):
        if not isinstance(sources, dict) or not sources:
            self.fail("sources", "must be a non-empty object: id -> {\"title\": ..., \"url\": ...}")
        for sid, s in sources.items():
            if not isinstance(s, dict):
                self.fail(f"sources.{sid}", "must be an object with \"title\" and \"url\"")
            for k in s:
                if k not in ("title", "url", "note"):
                    self.fail(f"sources.{sid}.{k}", "unknown field (known: title, url, note)")
            for k in ("title", "url"):
                if not isinstance(s.get(k), str) or not s[k].strip():
                    self.fail(f"sources.{sid}.{k}", "missing or not a non-empty string")
            if not re.match(r"^https?://\S+$", s["url"]):
                self.fail(f"sources.{sid}.url", f"\"{s['url']}\" is not an http(s) URL")

    def _scalar(self, field, v, kind):
        """A figure's value (or one end of its range) in SI units; refuses what does not fit."""
        if kind in ("text", "architecture"):
            if not isinstance(v, str) or not v.strip():
                self.fail(field, "must be a non-empty string")
            if kind == "architecture" and v not in ARCHITECTURES:
                self.fail(field, f"unknown GPU architecture \"{v}\" (known: {', '.join(ARCHITECTURES)})")
            return v
        if kind in ("count", "score"):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                self.fail(field, f"{v!r} must be a plain positive number (a {kind} has no unit)")
            if kind == "count" and not isinstance(v, int):
                self.fail(field, f"{v!r} must be a whole number")
            if not math.isfinite(v) or v <= 0:
                self.fail(field, f"{v!r} must be a finite, positive number")
            return float(v)
        if isinstance(v, bool) or isinstance(v, (int, float)):
            example = KIND_EXAMPLE[kind][0]
            self.fail(field, f"a bare number has no unit; write it as a string with a unit, e.g. \"{example}\"")
        if not isinstance(v, str):
            self.fail(field, f"{v!r} must be a string with a unit")
        value, why = parse_quantity(v, kind)
        if why:
            self.fail(field, why)
        return value

    def _figure(self, field, fig, kind):
        if kind == "text":
            self.values[field] = self._scalar(field, fig, kind)
            return
        if not isinstance(fig, dict):
            self.fail(field, "must be an object {\"value\": ..., \"source\": ID} (or \"assumption\": WHY instead "
                             "of a source)")
        for k in fig:
            if k not in FIGURE_KEYS:
                self.fail(f"{field}.{k}", f"unknown field (known: {', '.join(FIGURE_KEYS)})")
        if "value" not in fig:
            self.fail(f"{field}.value", "missing")
        has_src, has_ass = "source" in fig, "assumption" in fig
        if has_src == has_ass:
            self.fail(field, "needs exactly one of \"source\" (an id of \"sources\") and \"assumption\" (why)")
        if has_src and fig["source"] not in self.doc["sources"]:
            self.fail(f"{field}.source", f"\"{fig['source']}\" is not an id of \"sources\" "
                                         f"(ids: {', '.join(self.doc['sources'])})")
        if has_ass and not (isinstance(fig["assumption"], str) and fig["assumption"].strip()):
            self.fail(f"{field}.assumption", "must be a non-empty string saying why")
        if "note" in fig and not isinstance(fig["note"], str):
            self.fail(f"{field}.note", "must be a string")
        value = self._scalar(f"{field}.value", fig["value"], kind)
        self.values[field] = value
        if "range" in fig:
            r = fig["range"]
            if kind in ("text", "architecture") or not (isinstance(r, list) and len(r) == 2):
                self.fail(f"{field}.range", "must be [LOW, HIGH] in the value's units")
            lo = self._scalar(f"{field}.range[0]", r[0], kind)
            hi = self._scalar(f"{field}.range[1]", r[1], kind)
            if not lo <= value <= hi:
                self.fail(f"{field}.range", f"{r[0]!r} to {r[1]!r} does not contain the value {fig['value']!r}")
            self.ranges[field] = (lo, hi)

    def score(self, values=None):
        """Geekbench 5 single-core score of the training-loop core (per GHz times the clock, or given)."""
        v = values or self.values
        if "cpu.geekbench5_single_core" in v:
            return v["cpu.geekbench5_single_core"]
        return v["cpu.geekbench5_single_core_per_ghz"] * v["cpu.clock"] / 1e9

    def figures(self, overrides=None, reserve_bytes=None):
        """The law's device figures (jetson_law.device_figures form); overrides: {field: SI value}
        (one end of a figure's range, for the uncertainty)."""
        v = dict(self.values)
        v.update(overrides or {})
        has_gpu = "gpu" in self.doc
        reserve = v.get("memory.reserved", reserve_bytes)
        return {
            "device_type": self.doc["device_type"],
            "has_gpu": has_gpu,
            "architecture": v["gpu.architecture"] if has_gpu else "CPU",
            "fp32_peak_flops": v["gpu.fp32_peak"] if has_gpu else v["cpu.fp32_peak"],
            "memory_bandwidth_Bps": v["memory.bandwidth"],
            "memory_bytes": int(round(v["memory.size"])),
            "reserve_bytes": int(round(reserve)),
            "cpu_score": self.score(v),
        }

    def provenance(self, root_relative):
        """What a derived trace records of this datasheet: the file, its digest, every figure with
        its source (title and URL) or assumption, and the datasheet's own assumptions."""
        figs = {}
        for section in SCHEMA:
            for k, fig in (self.doc.get(section) or {}).items():
                if not isinstance(fig, dict):
                    figs[f"{section}.{k}"] = fig
                    continue
                out = {"value": fig["value"]}
                if "source" in fig:
                    s = self.doc["sources"][fig["source"]]
                    out["source"] = f"{s['title']} <{s['url']}>"
                else:
                    out["assumption"] = fig["assumption"]
                for extra in ("note", "range"):
                    if extra in fig:
                        out[extra] = fig[extra]
                figs[f"{section}.{k}"] = out
        prov = {"file": root_relative, "sha256": self.sha256, "figures": figs}
        if self.doc.get("assumptions"):
            prov["assumptions"] = list(self.doc["assumptions"])
        return prov
