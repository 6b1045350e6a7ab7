#!/usr/bin/python3
"""Writes the layer descriptions of GPT-2 (124M, 355M) and T5 (Small, Large) to traces/models/.

    /usr/bin/python3 tools/lm_zoo/describe_lm.py [--seq 128] [--out-dir traces/models] [--check]

Each planner layer of tools/lm_zoo/lm_layers.py is traced with torch.fx and priced by the importer's
counting rules (tools/import_model/count.py, exec/README.md "Layer descriptions"), FP32, with the
linear maps LoRA and adapters need (docs/formats.md, `linear_maps`). The importer itself cannot take
these models (GPT-2 ties its head to its embedding, T5 has two inputs), so the chains are written by
hand in lm_layers.py and only the counting is shared.

Tied weights are counted once, in the first layer that uses them: GPT-2's head and T5's decoder.embed
and head hold no bytes for the token embedding, T5's relative position tables count in block 0 of
the encoder and of the decoder only. So the parameters of a description add up to the published
figure; a stage holding a later user of a tied matrix without its first user is short of that matrix
(GPT-2 124M: 154 MB, T5-Large: 132 MB), which the description says in its provenance.

--check recounts the parameters of each configuration (PyTorch modules, tied once) against the
published figures and compares the description it makes with the one on disk; exit status 1 on a
difference.
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "import_model"))
sys.path.insert(0, HERE)

import torch  # noqa: E402
import torch.fx as fx  # noqa: E402
from torch.fx.passes.shape_prop import ShapeProp  # noqa: E402

import chain  # noqa: E402,F401  (installs the importer's fx fix for Python 3.11)
import count  # noqa: E402
import lm_layers as L  # noqa: E402

# Published parameter counts (tied matrices once): GPT-2 from Radford et al. 2019 as released
# (Hugging Face gpt2 and gpt2-medium), T5 v1.0 from Raffel et al. 2020 as released (t5-small, t5-large).
PUBLISHED = {"gpt2_124m": 124_439_808, "gpt2_355m": 354_823_168,
             "t5_small": 60_506_624, "t5_large": 737_668_096}
BATCH = 2  # the example batch the shapes come from (as the importer)


class _Tracer(fx.Tracer):
    """torch.nn modules and T5's RMSNorm are leaves (priced as norms by count.py)."""

    def is_leaf_module(self, m, qualname):
        return isinstance(m, L.RMSNorm) or super().is_leaf_module(m, qualname)


def configs():
    return {**{k: (v, L.gpt2_layers) for k, v in L.GPT2.items()}, **{k: (v, L.t5_layers) for k, v in L.T5.items()}}


def owned_parameters(lname, layer):
    """The parameter names this layer counts: all but tied matrices counted at their first user."""
    names = [n for n, _ in layer.named_parameters()]
    skip = set(getattr(layer, "TIED", {}))
    if not lname.endswith("block.0"):
        skip |= set(getattr(layer, "SHARED", ()))
    return [n for n in names if n not in skip]


def describe(model, seq):
    c, layers_of = configs()[model]
    torch.manual_seed(0)
    out, unpriced, params = [], set(), 0
    for lname, cls in layers_of(model, seq):
        layer = cls(c, seq).train()
        gm = fx.GraphModule(layer, _Tracer().trace(layer), cls.__name__)
        ShapeProp(gm).propagate(*L.example_inputs(layer, c, seq, BATCH))
        nodes = chain.compute_nodes(gm)
        owned = owned_parameters(lname, layer)
        d, guessed = count.describe_layer(lname, gm, nodes, 0, len(nodes), BATCH, owned)
        unpriced.update(guessed)
        params += sum(dict(layer.named_parameters())[n].numel() for n in owned)
        maps = {}
        for mname, path in getattr(cls, "MAPS", {}).items():
            lin = layer.get_submodule(path)
            maps[mname] = {"in_features": lin.in_features, "out_features": lin.out_features,
                           "weight_bytes": lin.in_features * lin.out_features * 4, "rows_per_sample": seq}
        if maps:
            d["linear_maps"] = maps
        out.append(d)
    tied = {"gpt2": "the token embedding wte is counted in `embed` only; `head` uses it as its output map "
                    "and holds no bytes for it",
            "t5": "the shared token embedding is counted in `encoder.embed` only (decoder.embed and head use it "
                  "and hold no bytes for it); each attention's relative position table (32 x heads) is "
                  "counted in block 0 of the encoder and of the decoder only"}["t5" if model.startswith("t5") else "gpt2"]
    prov = {
        "kind": "derived",
        "tool": "tools/lm_zoo/describe_lm.py",
        "method": ("each planner layer of tools/lm_zoo/lm_layers.py traced with torch.fx on a batch of "
                   f"{BATCH} and priced by tools/import_model/count.py (exec/README.md, 'Layer descriptions'); "
                   f"FP32; sequence length {seq} tokens per sample (the input's name says it)"),
        "parameters": params,
        "published_parameters": PUBLISHED[model],
        "tied_weights": tied + ("; a stage that holds a later user without the first one is short of that "
                                "matrix's bytes"),
        "config": dict(c),
    }
    if model.startswith("t5"):
        prov["chain"] = ("encoder layers then decoder layers; decoder.embed and the decoder blocks output "
                         "the decoder hidden state and the encoder output together ([2 x seq, d] per sample), "
                         "so a cut inside the decoder carries both; the decoder's input ids enter at "
                         "decoder.embed")
    if unpriced:
        prov["unpriced_ops"] = sorted(unpriced)
    return {"schema_version": 1, "model": model, "input": f"tokens_{seq}", "provenance": prov,
            "layers": out}, params


def write_whole(path, doc):
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seq", type=int, default=128, help="tokens per sample (default 128)")
    ap.add_argument("--out-dir", default=os.path.join(ROOT, "traces", "models"))
    ap.add_argument("--models", default=",".join(PUBLISHED))
    ap.add_argument("--check", action="store_true",
                    help="recount and compare with the published figures and the files on disk; write nothing")
    a = ap.parse_args()
    if not 1 <= a.seq <= 1024:
        sys.exit("--seq: 1 to 1024 tokens (GPT-2's position table)")
    bad = 0
    for m in [x for x in a.models.split(",") if x]:
        if m not in PUBLISHED:
            sys.exit(f"--models: unknown model {m!r} (known: {', '.join(PUBLISHED)})")
        doc, params = describe(m, a.seq)
        path = os.path.join(a.out_dir, m + ".json")
        same = None
        if a.check:
            try:
                with open(path) as f:
                    same = json.load(f) == json.loads(json.dumps(doc))
            except (OSError, ValueError):
                same = False
        ok = params == PUBLISHED[m] and same is not False
        bad += not ok
        print(f"{m}: {len(doc['layers'])} layers, {params:,} parameters (published {PUBLISHED[m]:,})"
              + ("" if same is None else f"; {path} {'is' if same else 'is NOT'} what this tool makes")
              + ("" if ok else "  MISMATCH"))
        if not a.check:
            write_whole(path, doc)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
