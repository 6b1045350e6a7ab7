"""Per-layer description of an imported model: the counting rules of exec/README.md ("Layer
descriptions"), applied to torch.fx nodes with the shapes of one example batch.

The built-in models count through instrumented C++ ops (exec/models/recorded_ops.hpp); an imported
model has no such ops, so each fx node is priced here by its type with the same conventions:
FLOPs (a multiply-add counts 2), backward FLOPs, bytes moved (inputs + outputs + weights once),
the tensors autograd saves (distinct storages; views count their whole storage), and kernels
(view-only ops are free). An op with no rule is priced as an element-wise op of 1 FLOP per output
element and named in the description's `unpriced_ops`, so the user sees what was guessed.
"""

import math
import operator

import torch
import torch.nn as nn
import torch.nn.functional as F

from chain import is_view


def _meta(n):
    m = n.meta.get("tensor_meta") if hasattr(n, "meta") else None
    return m if m is not None and hasattr(m, "shape") else None


def _elems(n):
    m = _meta(n)
    return float(math.prod(m.shape)) if m is not None else 0.0


def _bytes(n):
    m = _meta(n)
    if m is None:
        return 0.0
    return float(math.prod(m.shape)) * torch.empty((), dtype=m.dtype).element_size()


def _tensor_args(n):
    return [a for a in n.all_input_nodes if _meta(a) is not None and a.op != "get_attr"]


# Element-wise activations: (FLOPs per element forward, saves "in" or "out") - exec/README.md.
_ACT_MODULES = {nn.ReLU: (1, "out"), nn.ReLU6: (2, "in"), nn.Hardtanh: (2, "in"), nn.Sigmoid: (4, "out"),
                nn.SiLU: (5, "in"), nn.Tanh: (6, "out"), nn.GELU: (8, "in"), nn.Hardswish: (4, "in"),
                nn.Hardsigmoid: (3, "in"), nn.Softmax: (5, "out"), nn.LogSoftmax: (5, "out")}
_ACT_FUNCTIONS = {F.relu: (1, "out"), torch.relu: (1, "out"), F.relu6: (2, "in"), F.hardtanh: (2, "in"),
                  torch.sigmoid: (4, "out"), F.sigmoid: (4, "out"), F.silu: (5, "in"), torch.tanh: (6, "out"),
                  F.tanh: (6, "out"), F.gelu: (8, "in"), F.hardswish: (4, "in"), F.hardsigmoid: (3, "in"),
                  F.softmax: (5, "out"), torch.softmax: (5, "out"), F.log_softmax: (5, "out")}
_ACT_METHODS = {"relu": (1, "out"), "sigmoid": (4, "out"), "tanh": (6, "out"), "softmax": (5, "out")}
_BINARY = {operator.add, operator.iadd, operator.sub, operator.mul, operator.imul, operator.truediv,
           torch.add, torch.sub, torch.mul, torch.div, "add", "add_", "sub", "mul", "mul_", "div"}


class Op:
    __slots__ = ("cls", "flops", "bwd", "act_bytes", "weight_bytes", "saves", "extra_saved", "kernel")

    def __init__(self, cls, flops, bwd, act_bytes, weight_bytes, saves=(), extra_saved=0.0, kernel=True):
        self.cls, self.flops, self.bwd = cls, flops, bwd
        self.act_bytes, self.weight_bytes = act_bytes, weight_bytes
        self.saves, self.extra_saved, self.kernel = list(saves), extra_saved, kernel


def _module_bytes(m):
    # parameters and floating buffers (running statistics); batch norm's integer step counter is
    # not read by the op
    tensors = list(m.parameters()) + [b for b in m.buffers() if b.is_floating_point()]
    return float(sum(t.numel() * t.element_size() for t in tensors))


def price(n, modules):
    """The Op (whole example batch) of fx node n, or None for a free view; second value: unpriced."""
    if is_view(n):
        return None, False
    ins = _tensor_args(n)
    io = sum(_bytes(a) for a in ins) + _bytes(n)
    out = _elems(n)
    if n.op == "call_module":
        m = modules[n.target]
        x = ins[0] if ins else None
        wb = _module_bytes(m)
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            k = math.prod(m.kernel_size)
            fl = 2 * out * (m.in_channels // m.groups) * k + (out if m.bias is not None else 0)
            dw = m.groups > 1 and m.groups == m.in_channels
            return Op("dwconv" if dw else "conv", fl, 2 * fl, io, wb, [x]), False
        if isinstance(m, nn.Linear):
            fl = 2 * out * m.in_features + (out if m.bias is not None else 0)
            return Op("linear", fl, 2 * fl, io, wb, [x]), False
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.GroupNorm, nn.LayerNorm)):
            e = _elems(x)
            stats = 2 * 4 * (e / max(1.0, float(_meta(x).shape[-1])) if isinstance(m, nn.LayerNorm)
                             else float(getattr(m, "num_features", getattr(m, "num_channels", 1))))
            return Op("norm", 7 * e, 10 * e, io, wb, [x], stats), False
        for t, (per, saves) in _ACT_MODULES.items():
            if type(m) is t:
                return Op("elementwise", per * out, out, io, wb, [x if saves == "in" else n]), False
        if isinstance(m, nn.Dropout):
            if m.p == 0:
                return None, False
            return Op("elementwise", out, out, io, 0, [], out), False  # a one-byte mask per element
        if isinstance(m, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)):
            return Op("elementwise", 9 * out, out, io, 0, [x], 8 * out), False
        if isinstance(m, (nn.AvgPool1d, nn.AvgPool2d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)):
            return Op("elementwise", _elems(x), _elems(x), io, 0), False
        if isinstance(m, nn.Embedding):
            ids = ins[0]
            return Op("embedding", 0, out, _bytes(ids) + 2 * _bytes(n), 0, [ids]), False
        if isinstance(m, nn.MultiheadAttention):
            return _attention(n, m, ins, wb), False
        return Op("elementwise", out, out, io, wb, [x] if x is not None else []), True
    target = n.target
    if n.op == "call_function" and target in _ACT_FUNCTIONS:
        per, saves = _ACT_FUNCTIONS[target]
        return Op("elementwise", per * out, out, io, 0, [ins[0] if saves == "in" else n]), False
    if n.op == "call_method" and target in _ACT_METHODS:
        per, saves = _ACT_METHODS[target]
        return Op("elementwise", per * out, out, io, 0, [ins[0] if saves == "in" else n]), False
    if target in _BINARY:
        if target in (operator.mul, operator.imul, torch.mul, "mul", "mul_") and len(ins) == 2:
            return Op("elementwise", out, 2 * out, io, 0, ins), False  # a product: both operands
        return Op("elementwise", out, out, io, 0), False
    if target in (torch.matmul, torch.bmm, operator.matmul, "matmul", "bmm"):
        a = _meta(ins[0]).shape
        fl = 2 * out * a[-1]
        return Op("attention", fl, 2 * fl, io, 0, ins), False
    if target in (torch.cat, torch.stack):
        return Op("elementwise", 0, 0, io, 0), False
    if target in (F.adaptive_avg_pool2d, F.avg_pool2d, torch.mean, "mean"):
        return Op("elementwise", _elems(ins[0]), _elems(ins[0]), io, 0), False
    if target in (F.layer_norm,):
        e = _elems(ins[0])
        return Op("norm", 7 * e, 10 * e, io, 0, [ins[0]]), False
    if target in (F.dropout,):
        return Op("elementwise", out, out, io, 0, [], out), False
    return Op("elementwise", out, out, io, 0, ins[:1]), True


def _attention(n, m, ins, wb):
    """nn.MultiheadAttention as its parts: input projections, two products, softmax, output map."""
    q = ins[0]
    shape = _meta(q).shape  # (L, N, E) or (N, L, E) with batch_first
    e = float(m.embed_dim)
    tokens = float(math.prod(shape[:-1]))
    seq = float(shape[1] if m.batch_first else shape[0])
    proj = 2 * tokens * e * (3 * e) + 2 * tokens * e * e  # in_proj (q, k, v) and out_proj, with MACs x 2
    products = 2 * 2 * tokens * seq * e                    # scores and weighted sum, all heads
    soft = 5 * tokens * seq * m.num_heads
    fl = proj + products + soft
    bwd = 2 * proj + 2 * products + tokens * seq * m.num_heads
    # saved: the input, q, k, v, the attention weights, the weighted sum (out_proj's input)
    saved = 4 * tokens * e * 4 + tokens * seq * m.num_heads * 4 + tokens * e * 4
    io = sum(_bytes(a) for a in ins) + _bytes(n)
    op = Op("attention", fl, bwd, io + 6 * tokens * e * 4 + 2 * tokens * seq * m.num_heads * 4, wb, [], saved)
    return op


def _sig9(x):
    """Nine significant digits, as the C++ describe writes its floats (planner_layers.cpp)."""
    return float(f"{x:.9g}")


def _root(n, roots):
    return roots.get(n, n)


def describe_layer(name, gm, nodes, lo, hi, batch, param_names):
    """One layer's description (per sample), in the format of traces/models/*.json."""
    modules = dict(gm.named_modules())
    roots = {}
    ops, unpriced = [], []
    for n in nodes[lo:hi]:
        if is_view(n):
            ins = _tensor_args(n)
            if ins:
                roots[n] = _root(ins[0], roots)
            continue
        op, guessed = price(n, modules)
        if op is None:
            ins = _tensor_args(n)
            if ins:
                roots[n] = _root(ins[0], roots)
            continue
        if guessed:
            unpriced.append(f"{n.op}:{n.target if isinstance(n.target, str) else getattr(n.target, '__name__', n.target)}")
        ops.append(op)
    saved, extra = {}, 0.0
    for op in ops:
        extra += op.extra_saved
        for t in op.saves:
            r = _root(t, roots)
            saved[r] = _bytes(r)
    b = float(batch)
    flops_by, bytes_by = {}, {}
    fwd = bwd = moved = 0.0
    for op in ops:
        by = op.act_bytes / b + op.weight_bytes
        fwd += op.flops / b
        bwd += op.bwd / b
        moved += by
        flops_by[op.cls] = flops_by.get(op.cls, 0.0) + op.flops / b
        bytes_by[op.cls] = bytes_by.get(op.cls, 0.0) + by
    params = dict(gm.named_parameters())
    cls = "embedding" if "embedding" in flops_by else (max(flops_by, key=flops_by.get) if flops_by else "elementwise")
    return {
        "name": name,
        "class": cls,
        "fwd_flops_per_sample": _sig9(fwd),
        "bwd_flops_per_sample": _sig9(bwd),
        "param_bytes": int(sum(params[p].numel() * 4 for p in param_names)),
        "output_activation_bytes_per_sample": int(_bytes(nodes[hi - 1]) / b),
        "stored_activation_bytes_per_sample": int(round((sum(saved.values()) + extra) / b)),
        "bytes_moved_per_sample": _sig9(moved),
        "kernels": sum(1 for op in ops if op.kernel),
        "flops_by_class": {k: _sig9(v) for k, v in flops_by.items()},
        "bytes_by_class": {k: _sig9(v) for k, v in bytes_by.items()},
    }, sorted(set(unpriced))
