#!/usr/bin/python3
"""The language models of the zoo (tools/lm_zoo): their descriptions in traces/models/ carry the published
parameter counts, recounted here from each architecture by hand; every block lists the linear maps
LoRA and adapters need; a T5 decoder block passes the encoder output on with its own; and every
derived trace of these models has the description's layers, sizes and maps.

Usage: lm_zoo_test.py SOURCE_DIR
"""
import glob
import json
import os
import sys

src = sys.argv[1]
fails = []


def check(ok, msg):
    if not ok:
        fails.append(msg)


def gpt2(layers, d, ffn, vocab=50257, positions=1024):
    # token and position tables; per block two layer norms (scale and shift), q, k, v, o with
    # biases, the feed-forward pair with biases; the final norm. The head is the token table (tied).
    block = 2 * 2 * d + 4 * (d * d + d) + (d * ffn + ffn) + (ffn * d + d)
    return vocab * d + positions * d + layers * block + 2 * d


def t5(layers, d, heads, d_kv, ffn, vocab=32128):
    # shared token table (encoder, decoder and head: tied); no biases; RMS norms have a scale only;
    # a 32 x heads relative position table in the first block of the encoder and of the decoder.
    inner = heads * d_kv
    enc = 2 * d + 4 * d * inner + 2 * d * ffn
    dec = 3 * d + 8 * d * inner + 2 * d * ffn
    return vocab * d + layers * (enc + dec) + 2 * 32 * heads + 2 * d


# Published figures (tied matrices once): GPT-2 as released (gpt2, gpt2-medium), T5 v1.0 (t5-small,
# t5-large); the hand count must give the same.
PUBLISHED = {"gpt2_124m": 124_439_808, "gpt2_355m": 354_823_168, "t5_small": 60_506_624, "t5_large": 737_668_096}
HAND = {"gpt2_124m": gpt2(12, 768, 3072), "gpt2_355m": gpt2(24, 1024, 4096),
        "t5_small": t5(6, 512, 8, 64, 2048), "t5_large": t5(24, 1024, 16, 64, 4096)}
ATTENTION = ["query", "key", "value", "attention_output"]
FFN = ["ffn_input", "ffn_output"]

for model, published in PUBLISHED.items():
    check(HAND[model] == published, f"{model}: the hand count {HAND[model]:,} is not the published {published:,}")
    path = os.path.join(src, "traces", "models", model + ".json")
    desc = json.load(open(path))
    layers = desc["layers"]
    params = sum(l["param_bytes"] for l in layers)
    check(params == 4 * published, f"{model}: the description holds {params / 4:,.0f} FP32 parameters, "
                                   f"published {published:,}")
    check(desc["input"] == "tokens_128", f"{model}: input {desc['input']} is not 128 tokens")
    seq_bytes = {"gpt2_124m": 768, "gpt2_355m": 1024, "t5_small": 512, "t5_large": 1024}[model] * 128 * 4
    for l in layers:
        name = l["name"]
        block = ".block." in name or name.startswith("h.")
        maps = l.get("linear_maps", {})
        want = ATTENTION + FFN + (["cross_" + m for m in ATTENTION] if name.startswith("decoder.block.") else [])
        check(sorted(maps) == sorted(want) if block else not maps, f"{model}: {name}: maps {sorted(maps)}")
        for m, v in maps.items():
            check(v["weight_bytes"] == 4 * v["in_features"] * v["out_features"] and v["rows_per_sample"] == 128,
                  f"{model}: {name}.{m}: {v}")
        check(sum(v["weight_bytes"] for v in maps.values()) <= l["param_bytes"], f"{model}: {name}: maps > params")
        if model.startswith("t5") and name.startswith("decoder."):
            # the decoder's hidden state and the encoder output cross every cut inside the decoder
            check(l["output_activation_bytes_per_sample"] == 2 * seq_bytes,
                  f"{model}: {name} sends {l['output_activation_bytes_per_sample']} bytes, not both halves")
        elif name != "head":
            check(l["output_activation_bytes_per_sample"] == seq_bytes, f"{model}: {name}: output bytes")
    traces = [p for p in glob.glob(os.path.join(src, "traces", "*", model + ".json")) if "/models/" not in p]
    check(len(traces) == 7, f"{model}: {len(traces)} traces, want 7 (3 Jetson, 4 datasheet devices)")
    for p in traces:
        t = json.load(open(p))
        check(t["provenance"]["kind"] == "derived", f"{p}: provenance kind {t['provenance']['kind']}")
        same = [(l["name"], l["param_bytes"], l.get("linear_maps")) for l in t["layers"]] == \
               [(l["name"], l["param_bytes"], l.get("linear_maps")) for l in layers]
        check(same, f"{p}: layers, sizes or maps differ from traces/models/{model}.json")

for f in fails:
    print("FAIL:", f)
if not fails:
    print("lm_zoo: parameter counts, maps, decoder pairs and traces as described")
sys.exit(1 if fails else 0)
