#!/usr/bin/python3
"""asteroid-import: a PyTorch model -> an Asteroid model archive (docs/model_import.md).

    import_model.py torchvision:resnet18 -o models/tv_resnet18 [--num-classes 10] [--input-shape 3x224x224]
    import_model.py examples/tiny_vit.py:TinyViT --args '{"depth": 4}' --input-shape 3x32x32 -o models/tiny_vit

The model is traced with torch.fx, cut into a chain of planner layers (chain.py), each layer is
compiled to TorchScript and described by the counting rules of exec/README.md (count.py). The chain
of scripted layers must reproduce the model's output on a random batch (eval mode) within 1e-4,
else the import is refused. The archive (a folder) holds model.json (the manifest), description.json
(the layer description, the format of traces/models/), and layers/NNN.pt. It is written whole: to a
temporary folder beside it, then renamed.

Errors: one line on stderr naming the model, the operation and the reason; exit status 2.
"""

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import chain  # noqa: E402
from chain import ImportError_  # noqa: E402


def fail(msg):
    print(f"asteroid-import: {msg}", file=sys.stderr)
    sys.exit(2)


def parse_shape(s, what):
    try:
        dims = [int(x) for x in s.lower().split("x")]
    except ValueError:
        fail(f"{what} \"{s}\": expected dimensions like 3x224x224")
    if not dims or any(d < 1 or d > 1 << 20 for d in dims):
        fail(f"{what} \"{s}\": every dimension must be 1..1048576")
    return dims


def load_model(spec, args_json, num_classes):
    """Builds the nn.Module named by `spec`: torchvision:NAME or FILE.py:CLASS."""
    import torch
    if spec.startswith("torchvision:"):
        import torchvision
        name = spec.split(":", 1)[1]
        if name not in torchvision.models.list_models() if hasattr(torchvision.models, "list_models") else \
                not callable(getattr(torchvision.models, name, None)) or name.startswith("_"):
            fail(f"{spec}: torchvision has no model \"{name}\"")
        kwargs = dict(args_json)
        if num_classes:
            kwargs["num_classes"] = num_classes
        try:
            return getattr(torchvision.models, name)(**kwargs), name
        except Exception as e:
            fail(f"{spec}: the constructor raised {type(e).__name__}: {chain.first_line(e)}")
    if ":" not in spec:
        fail(f"{spec}: expected torchvision:NAME or FILE.py:CLASS")
    path, cls = spec.rsplit(":", 1)
    if not os.path.isfile(path):
        fail(f"{spec}: no file {path}")
    try:
        mod_spec = importlib.util.spec_from_file_location("asteroid_user_model", path)
        module = importlib.util.module_from_spec(mod_spec)
        mod_spec.loader.exec_module(module)
    except Exception as e:
        fail(f"{path}: importing it raised {type(e).__name__}: {chain.first_line(e)}")
    ctor = getattr(module, cls, None)
    if ctor is None or not isinstance(ctor, type) or not issubclass(ctor, torch.nn.Module):
        fail(f"{path}: no nn.Module class \"{cls}\"")
    kwargs = dict(args_json)
    if num_classes:
        kwargs["num_classes"] = num_classes
    try:
        return ctor(**kwargs), cls.lower()
    except Exception as e:
        fail(f"{spec}: the constructor raised {type(e).__name__}: {chain.first_line(e)}")


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(prog="import_model.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="torchvision:NAME or FILE.py:CLASS")
    ap.add_argument("-o", "--output", required=True, help="the archive folder to write")
    ap.add_argument("--name", help="the model's name in scenarios and traces (default: tv_NAME or the class)")
    ap.add_argument("--args", default="{}", help="constructor keyword arguments, a JSON object")
    ap.add_argument("--num-classes", type=int, default=0, help="passed to the constructor as num_classes")
    ap.add_argument("--input-shape", default="3x224x224", help="one sample's shape (default 3x224x224)")
    ap.add_argument("--input-dtype", default="float32", choices=["float32", "int64"])
    ap.add_argument("--vocab", type=int, default=0, help="int64 inputs: token ids are drawn in [0, vocab)")
    ap.add_argument("--input-tag", help="the input's name in traces and scenarios (default from the shape)")
    ap.add_argument("--granularity", type=int, default=16,
                    help="a layer is cut finer once it exceeds 1/N of the forward FLOPs (default 16)")
    ap.add_argument("--force", action="store_true", help="replace an existing archive")
    a = ap.parse_args()

    t0 = time.time()
    try:
        args_json = json.loads(a.args)
    except json.JSONDecodeError as e:
        fail(f"--args: not JSON: {e.msg} at column {e.colno}")
    if not isinstance(args_json, dict):
        fail("--args: expected a JSON object of keyword arguments")
    shape = parse_shape(a.input_shape, "--input-shape")
    if a.input_dtype == "int64" and a.vocab < 1:
        fail("--input-dtype int64 needs --vocab N (the token ids' range)")
    if a.granularity < 1 or a.granularity > 4096:
        fail("--granularity must be 1..4096")
    if os.path.exists(a.output) and not a.force:
        fail(f"{a.output}: exists (--force replaces it)")

    import torch
    torch.manual_seed(0)
    model, default_name = load_model(a.model, args_json, a.num_classes)
    name = a.name or (("tv_" + default_name) if a.model.startswith("torchvision:") else default_name)
    if not name.replace("_", "").isalnum():
        fail(f"--name \"{name}\": letters, digits and _ only (it names trace files)")
    model.train(True)
    batch = 2  # as the built-in describe: batch norm in train mode works on 1x1 maps
    if a.input_dtype == "int64":
        example = torch.randint(0, a.vocab, [batch] + shape)
    else:
        example = torch.randn([batch] + shape)
    try:
        gm = chain.trace(model, example)
        nodes = chain.compute_nodes(gm)
        if not nodes:
            raise ImportError_("the model computes nothing")
        out_meta = nodes[-1].meta.get("tensor_meta")
        if out_meta is None or not hasattr(out_meta, "shape"):
            raise ImportError_("the model's output is not one tensor (a chain ends in one activation)")
        cuts = chain.valid_cuts(gm, nodes)
        import count
        modules = dict(gm.named_modules())
        flops = []
        for n in nodes:
            op, _ = count.price(n, modules)
            flops.append(op.flops if op else 0.0)
        us, threshold = chain.units(gm, nodes, cuts, flops, a.granularity)
        layers = chain.layers_from_units(us, cuts, threshold)
    except ImportError_ as e:
        fail(f"{a.model}: {e}")

    # Tied weights would be untied by cutting: each layer holds its own copy.
    owner = {}
    per_layer_params = []
    for lname, lo, hi in layers:
        ps = chain.used_parameters(gm, nodes, lo, hi)
        for p in ps:
            if p in owner:
                fail(f"{a.model}: parameter {p} is used by layers {owner[p]} and {lname} (tied weights "
                     "cannot be cut apart)")
            owner[p] = lname
        per_layer_params.append(ps)

    tmp = a.output.rstrip("/") + f".tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, "layers"))
    try:
        desc_layers, unpriced, manifest_layers, scripted = [], set(), [], []
        for k, (lname, lo, hi) in enumerate(layers):
            seg = chain.segment_module(gm, nodes, lo, hi)
            try:
                with warnings.catch_warnings():  # TorchScript's notes on annotations are not the user's concern
                    warnings.simplefilter("ignore")
                    sm = torch.jit.script(seg)
            except Exception as e:
                raise ImportError_(f"layer {lname} cannot be compiled to TorchScript: {type(e).__name__}: "
                                   f"{chain.first_line(e)}")
            rel = f"layers/{k:03d}.pt"
            sm.save(os.path.join(tmp, rel))
            scripted.append(sm)
            d, guessed = count.describe_layer(lname, gm, nodes, lo, hi, batch, per_layer_params[k])
            unpriced.update(guessed)
            desc_layers.append(d)
            manifest_layers.append({"name": lname, "file": rel, "sha256": sha256(os.path.join(tmp, rel)),
                                    "fx_nodes": hi - lo})
        # The chain must compute what the model computes (eval mode: no batch statistics, no dropout).
        model.eval()
        for sm in scripted:
            sm.eval()
        with torch.no_grad():
            want = model(example)
            got = example
            for sm in scripted:
                got = sm(got)
        err = float((got - want).abs().max())
        scale = float(want.abs().max()) or 1.0
        if err > 1e-4 * max(1.0, scale):
            raise ImportError_(f"the chain of layers differs from the model by {err:g} (cutting changed "
                               "what it computes)")
    except ImportError_ as e:
        shutil.rmtree(tmp, ignore_errors=True)
        fail(f"{a.model}: {e}")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

    if a.input_tag:
        tag = a.input_tag
    elif a.input_dtype == "int64":
        tag = "tokens_" + "x".join(map(str, shape))
    else:
        tag = ("image_" if len(shape) == 3 else "tensor_") + "x".join(map(str, shape))
    out_shape = list(out_meta.shape[1:])
    params = sum(p.numel() for p in model.parameters())
    description = {"schema_version": 1, "model": name, "input": tag, "layers": desc_layers}
    if unpriced:
        description["unpriced_ops"] = sorted(unpriced)
    manifest = {
        "schema_version": 1,
        "kind": "asteroid model archive",
        "model": name,
        "source": a.model,
        "constructor_args": args_json | ({"num_classes": a.num_classes} if a.num_classes else {}),
        "input": tag,
        "sample_shape": shape,
        "input_dtype": a.input_dtype,
        "vocab": a.vocab if a.input_dtype == "int64" else 0,
        "output_shape": out_shape,
        "parameters": params,
        "granularity": a.granularity,
        "chain_check": {"max_abs_error": err, "batch": batch, "mode": "eval"},
        "torch_version": torch.__version__,
        "layers": manifest_layers,
    }
    with open(os.path.join(tmp, "description.json"), "w") as f:
        json.dump(description, f, indent=1, sort_keys=True)
        f.write("\n")
    with open(os.path.join(tmp, "model.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    if os.path.exists(a.output):
        old = a.output.rstrip("/") + f".old-{os.getpid()}"
        os.rename(a.output, old)
        os.rename(tmp, a.output)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, a.output)
    fwd = sum(l["fwd_flops_per_sample"] for l in desc_layers)
    print(f"{name}: {len(layers)} layers, {params:,} parameters, {fwd / 1e9:.3f} GFLOPs forward per sample, "
          f"input {tag}, output {'x'.join(map(str, out_shape))}; chain checked (max error {err:.1e}); "
          f"{a.output} ({time.time() - t0:.1f} s)")
    for l in desc_layers:
        print(f"  {l['name']:<28} {l['class']:<11} {l['fwd_flops_per_sample'] / 1e6:10.2f} MFLOPs "
              f"{l['param_bytes'] / 2**20:8.2f} MiB params  out {l['output_activation_bytes_per_sample'] / 1024:9.1f} KiB")
    if unpriced:
        print(f"  priced by the default rule (1 FLOP per output element): {', '.join(sorted(unpriced))}")


if __name__ == "__main__":
    main()
