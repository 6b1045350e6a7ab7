"""Cutting a PyTorch module into a chain of planner layers (docs/model_import.md).

The module is traced with torch.fx; every node remembers the module path it was created in. A
cut after node i is valid when exactly one value crosses it and that value is a tensor (the
planner's stages pass one activation). The module tree is then walked from the root: a module is
kept whole as one unit unless it is large (more than 1/granularity of the model's forward FLOPs)
and has valid cuts inside, in which case its children become units. Consecutive light units
(leaf modules such as a convolution, a norm or an activation, and bare functions) are merged into
one layer until the layer reaches the same size; every other unit is a layer of its own. Layer
boundaries fall only on valid cuts.
"""

import contextlib
import dis
import io
import inspect
import operator

import torch
import torch.fx as fx
from torch.fx.passes.shape_prop import ShapeProp


class ImportError_(Exception):
    """A model that cannot be imported: the message names the operation and the reason."""


def _proxy_iter(self):
    # torch 1.13's Proxy.__iter__ finds the calling instruction at f_lasti // 2, which is wrong on
    # Python 3.11 (inline caches): tuple unpacking of a shape (`n, c, h, w = x.shape`, as in
    # torchvision's ViT) then fails to trace. Find the instruction by its offset instead.
    frame = inspect.currentframe().f_back
    for inst in dis.get_instructions(frame.f_code):
        if inst.offset == frame.f_lasti:
            if inst.opname == "UNPACK_SEQUENCE":
                return (self[i] for i in range(inst.argval))
            break
    return self.tracer.iter(self)


fx.Proxy.__iter__ = _proxy_iter


class PathTracer(fx.Tracer):
    """fx tracer that notes, on every node, the path of the module whose forward created it."""

    def __init__(self):
        super().__init__()
        self.path = []

    def call_module(self, m, forward, args, kwargs):
        name = self.path_of_module(m)
        self.path.append(name)
        try:
            return super().call_module(m, forward, args, kwargs)
        finally:
            self.path.pop()

    def create_node(self, kind, target, args, kwargs, name=None, type_expr=None):
        node = super().create_node(kind, target, args, kwargs, name, type_expr)
        node.meta["module_path"] = self.path[-1] if self.path else ""
        return node


def _trace_graph(model):
    tracer = PathTracer()
    try:
        return tracer, tracer.trace(model)
    except Exception as e:  # fx raises many types; the message is what the user needs
        raise ImportError_(f"torch.fx cannot trace the model: {type(e).__name__}: {first_line(e)}")


def _bind_training_flags(model, graph):
    """Makes train/eval behaviour of functional calls follow the layer's mode.

    fx evaluates `self.training` while tracing, so `F.dropout(x, p, self.training)` or torchvision's
    stochastic depth would be frozen in the mode of the trace. The model is traced in both modes;
    where a node's argument is True in one and False in the other, it is replaced by the
    module's own `training` flag (a get_attr), which TorchScript keeps live.
    """
    was = model.training
    model.eval()
    _, other = _trace_graph(model)
    model.train(was)
    a = [n for n in graph.nodes]
    b = [n for n in other.nodes]
    if len(a) != len(b):
        raise ImportError_("the model traces to different graphs in train and eval mode "
                           "(control flow on self.training cannot be cut)")
    flag = None
    for n, m in zip(a, b):
        if n.op != m.op or n.target != m.target:
            raise ImportError_(f"the model traces to different graphs in train and eval mode at {n.name} "
                               "(control flow on self.training cannot be cut)")
        def swap(x, y):
            nonlocal flag
            if isinstance(x, bool) and isinstance(y, bool) and x != y:
                if flag is None:
                    first = next(n for n in graph.nodes if n.op != "placeholder")
                    with graph.inserting_before(first):
                        flag = graph.get_attr("training")
                return flag
            return x
        n.args = tuple(swap(x, y) for x, y in zip(n.args, m.args))
        n.kwargs = {k: swap(v, m.kwargs.get(k)) for k, v in n.kwargs.items()}
    return flag


def trace(model, example):
    """Traces `model` (an nn.Module) and propagates `example` (a batch) through it.

    Returns the fx.GraphModule with `tensor_meta` on every tensor node. Raises ImportError_ naming
    the operation when tracing or running fails.
    """
    tracer, graph = _trace_graph(model)
    flag = _bind_training_flags(model, graph)
    gm = fx.GraphModule(tracer.root, graph, type(model).__name__)
    if flag is not None:
        flag.meta["module_path"] = ""
    inputs = [n for n in gm.graph.nodes if n.op == "placeholder"]
    if len(inputs) != 1:
        raise ImportError_(f"the model's forward takes {len(inputs)} inputs; a chain of layers takes one tensor")
    prop = _Shapes(gm)
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # ShapeProp prints its own traceback
            prop.propagate(example)
    except Exception as e:
        cause = e.__cause__ or e.__context__ or e  # ShapeProp wraps the op's error
        n = prop.current
        where = f" at {n.name} ({_target_name(n)})" if n is not None else ""
        raise ImportError_(f"the traced model fails on the example input{where}: {type(cause).__name__}: "
                           f"{first_line(cause)}")
    return gm


class _Shapes(ShapeProp):
    """ShapeProp that remembers the node it runs, to name it when an op fails."""

    current = None

    def run_node(self, n):
        self.current = n
        return super().run_node(n)


def _target_name(n):
    t = n.target
    return t if isinstance(t, str) else getattr(t, "__name__", str(t))


def first_line(e):
    s = str(e).strip().splitlines()
    return s[0] if s else type(e).__name__


def _is_tensor(node):
    meta = node.meta.get("tensor_meta")
    return meta is not None and hasattr(meta, "shape")


def compute_nodes(gm):
    """The graph's nodes in order without placeholders, get_attr (re-made in every layer) and output."""
    return [n for n in gm.graph.nodes if n.op in ("call_module", "call_function", "call_method")]


def valid_cuts(gm, nodes):
    """cut[i] is True when exactly one tensor crosses the cut after nodes[i] (placeholder = before 0)."""
    pos = {n: i for i, n in enumerate(nodes)}
    end = len(nodes)
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    if len(placeholders) != 1:
        raise ImportError_(f"the model's forward takes {len(placeholders)} inputs; a chain takes one tensor")
    values = placeholders + nodes
    delta = [0] * (end + 1)
    crossing_non_tensor = [0] * (end + 1)
    for v in values:
        d = pos.get(v, -1)
        last = d
        for u in v.users:
            last = max(last, pos.get(u, end) if u.op != "output" else end)
        # v crosses cuts d .. last-1 (cut k lies after node k)
        if last > d:
            lo = max(d, 0)  # the placeholder (d = -1) crosses every cut before its last use
            delta[lo] += 1
            delta[last] -= 1
            if not _is_tensor(v):
                crossing_non_tensor[lo] += 1
                crossing_non_tensor[last] -= 1
    cuts = [False] * end
    run = nt = 0
    for k in range(end):
        run += delta[k]
        nt += crossing_non_tensor[k]
        cuts[k] = run == 1 and nt == 0
    if end:
        cuts[end - 1] = True  # the model's output
    return cuts


class Unit:
    __slots__ = ("name", "lo", "hi", "light", "flops", "function")

    def __init__(self, name, lo, hi, light, flops, function=False):
        self.name, self.lo, self.hi, self.light, self.flops = name, lo, hi, light, flops
        self.function = function  # a bare function call (its name is the fx node's)


def _child_key(path, prefix):
    """The component of `path` right below `prefix` ("" when the node is in prefix's own forward)."""
    if prefix == "":
        return path.split(".")[0] if path else ""
    if path == prefix:
        return ""
    rest = path[len(prefix) + 1:]
    return rest.split(".")[0]


def units(gm, nodes, cuts, flops, granularity):
    """Walks the module tree (see the module docstring); returns the units in node order."""
    total = sum(flops) or 1.0
    threshold = total / granularity
    modules = dict(gm.named_modules())
    out = []

    def walk(prefix, lo, hi):
        i = lo
        while i < hi:
            key = _child_key(nodes[i].meta["module_path"], prefix)
            j = i + 1
            while j < hi and key and _child_key(nodes[j].meta["module_path"], prefix) == key:
                j += 1
            if not key:
                out.append(Unit(nodes[i].name, i, i + 1, True, flops[i], function=True))
                i += 1
                continue
            name = key if prefix == "" else prefix + "." + key
            mod = modules.get(name)
            leaf = mod is None or len(list(mod.children())) == 0
            run_flops = sum(flops[i:j])
            # worth cutting inside: some inner cut leaves at least half a layer's size on both sides
            inner_cut = any(cuts[k] and sum(flops[i:k + 1]) >= threshold / 2 and sum(flops[k + 1:j]) >= threshold / 2
                            for k in range(i, j - 1))
            if not leaf and run_flops > threshold and inner_cut:
                walk(name, i, j)
            else:
                out.append(Unit(name, i, j, leaf, run_flops))
            i = j

    walk("", 0, len(nodes))
    return out, threshold


def layers_from_units(us, cuts, threshold):
    """Groups units into layers: [(name, lo, hi)] node ranges, boundaries on valid cuts only.

    Units first join into atoms (the units between two valid cuts). An atom holding a whole
    non-leaf module is heavy and a layer of its own; light atoms join their neighbours until the
    layer would exceed the size threshold.
    """
    atoms, cur = [], []
    for u in us:
        cur.append(u)
        if cuts[u.hi - 1]:
            atoms.append(cur)
            cur = []
    if cur:
        atoms.append(cur)
    heavy = [any(not u.light for u in a) for a in atoms]
    flops = [sum(u.flops for u in a) for a in atoms]
    groups, g, gf, gheavy = [], [], 0.0, False
    for a, h, f in zip(atoms, heavy, flops):
        if g and (h or gheavy or gf + f > threshold):
            groups.append((g, gheavy))
            g, gf = [], 0.0
        g, gf, gheavy = g + a, gf + f, h
    if g:
        groups.append((g, gheavy))
    heavy_at = [k for k, (_, h) in enumerate(groups) if h]
    named, seen = [], {}
    for k, (g, h) in enumerate(groups):
        modules_in = [u for u in g if not u.function]
        if len(g) == 1:
            name = g[0].name
        elif heavy_at and k < heavy_at[0]:
            name = "stem"
        elif heavy_at and k > heavy_at[-1]:
            name = "head"
        elif modules_in:
            name = max(modules_in, key=lambda u: u.flops).name  # the first of the heaviest
        else:
            name = g[0].name
        if name in seen:  # a module called twice, or two groups named alike: number them apart
            seen[name] += 1
            name = f"{name}#{seen[name]}"
        else:
            seen[name] = 0
        named.append((name, g[0].lo, g[-1].hi))
    return named


def segment_module(gm, nodes, lo, hi):
    """A GraphModule computing nodes[lo:hi] from the one tensor that crosses into them."""
    inside = set(nodes[lo:hi])
    g = fx.Graph()
    env = {}
    outside_inputs = []
    for n in nodes[lo:hi]:
        for a in n.all_input_nodes:
            if a not in inside and a.op != "get_attr" and a not in outside_inputs:
                outside_inputs.append(a)
    if len(outside_inputs) != 1:
        raise ImportError_(f"internal: layer at {nodes[lo].name} takes {len(outside_inputs)} values")
    env[outside_inputs[0]] = g.placeholder("x")
    attrs = {}

    def arg(a):
        if a in env:
            return env[a]
        if a.op == "get_attr":
            if a not in attrs:
                attrs[a] = g.get_attr(a.target)
            return attrs[a]
        raise ImportError_(f"internal: value {a.name} not available in layer at {nodes[lo].name}")

    for n in nodes[lo:hi]:
        env[n] = g.node_copy(n, arg)
    g.output(env[nodes[hi - 1]])
    return fx.GraphModule(gm, g, "Layer")


def used_parameters(gm, nodes, lo, hi):
    """Qualified names of the parameters the nodes read (through their modules or get_attr)."""
    params = dict(gm.named_parameters())
    names = set()
    for n in nodes[lo:hi]:
        refs = []
        if n.op == "call_module":
            refs.append(n.target)
        for a in n.all_input_nodes:
            if a.op == "get_attr":
                refs.append(a.target)
        for r in refs:
            for p in params:
                if p == r or p.startswith(r + "."):
                    names.add(p)
    return names


def is_view(n):
    """Ops that produce a view or metadata only (free in the description)."""
    free_methods = {"view", "reshape", "permute", "transpose", "flatten", "unsqueeze", "squeeze",
                    "expand", "size", "dim", "contiguous", "chunk", "split", "unflatten", "t"}
    free_functions = {torch.flatten, torch.reshape, torch.permute, torch.transpose, torch.unsqueeze,
                      torch.squeeze, torch.chunk, torch.split, operator.getitem, getattr, torch.t}
    if n.op == "call_method":
        return n.target in free_methods
    if n.op == "call_function":
        return n.target in free_functions
    if n.op == "call_module":
        return type(n.graph.owning_module.get_submodule(n.target)).__name__ in ("Flatten", "Unflatten", "Identity")
    return False
