"""diffprog's layers and its import graph: which module may import which.

    python tools/layers.py            # the layers, bottom first, with lines and arrows down
    python tools/layers.py --check    # exit 1 on an import circle or an arrow running up

Every import counts, at module level or inside a function, since both are a dependency a
reader has to follow.  `tests/test_layering.py` runs the check.
"""
import ast
import collections
import os
import sys

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "diffprog")

# Bottom first.  A module belongs to the layer of the longest prefix that names it; it may
# import its own layer and the layers below, never one above.
LAYERS = [
    ("base", ["_array", "_dims", "dtypes", "version", "parallel"]),
    ("core", ["autograd.grad_mode", "autograd.forward_ad", "autograd.anomaly", "autograd.engine",
              "_repr", "tensor"]),
    ("ops", ["ops", "creation", "random"]),
    ("autodiff", ["autograd", "func", "linalg", "fft", "special", "sparse", "relax", "ode", "testing"]),
    ("nn", ["nn", "optim", "distributions", "distributed"]),
    ("io", ["io", "utils", "serialization", "onnx", "cuda", "backends", "accelerator"]),
    ("apps", ["vision", "text", "train", "viz", "models"]),
    ("top", ["compat", "demo", "__main__", ""]),
]


def modules(package=PACKAGE):
    """{dotted module name: path} of every module in the package."""
    found = {}
    root = os.path.dirname(package)
    for folder, _, files in os.walk(package):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(folder, f)
                name = os.path.relpath(path, root)[:-3].replace(os.sep, ".")
                found[name[:-len(".__init__")] if name.endswith(".__init__") else name] = path
    return found


def imports(package=PACKAGE):
    """{module: set of the package's modules it imports}, resolving relative imports and
    `from pkg import submodule`."""
    mods = modules(package)
    graph = collections.defaultdict(set)
    for name, path in mods.items():
        here = name if path.endswith("__init__.py") else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(open(path, encoding="utf-8").read(), path)):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = here.split(".")[:len(here.split(".")) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            else:
                continue
            for t in targets:
                while t not in mods and "." in t:
                    t = t.rpartition(".")[0]
                if t in mods and t != name:
                    graph[name].add(t)
    return mods, graph


def layer_of(module):
    """The index in LAYERS of a dotted module name (None if no layer names it)."""
    name = module.partition(".")[2]
    best = None
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if name == p or (p and name.startswith(p + ".")):
                if best is None or len(p) > best[1]:
                    best = (i, len(p))
    return None if best is None else best[0]


def cycles(graph):
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on, stack, found, counter = {}, {}, set(), [], [], [0]
    for start in list(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on.add(start)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def problems(package=PACKAGE):
    """Every module without a layer, every import that runs up a layer, every circle."""
    mods, graph = imports(package)
    out = [f"{m}: in no layer (add it to LAYERS in tools/layers.py)" for m in sorted(mods)
           if layer_of(m) is None]
    for m in sorted(graph):
        for t in sorted(graph[m]):
            lm, lt = layer_of(m), layer_of(t)
            if lm is not None and lt is not None and lt > lm:
                out.append(f"{m} ({LAYERS[lm][0]}) imports {t} ({LAYERS[lt][0]}): an arrow up")
    out += [f"import circle: {' -> '.join(c)}" for c in cycles(graph)]
    return out


def draw(package=PACKAGE):
    mods, graph = imports(package)
    for i, (layer, _) in enumerate(LAYERS):
        members = sorted(m for m in mods if layer_of(m) == i)
        lines = sum(sum(1 for _ in open(mods[m], encoding="utf-8")) for m in members)
        down = sum(1 for m in members for t in graph[m] if layer_of(t) is not None and layer_of(t) < i)
        print(f"{i}  {layer:9s} {len(members):3d} modules {lines:6d} lines, {down:4d} imports down")


if __name__ == "__main__":
    if "--check" in sys.argv:
        found = problems()
        print("\n".join(found) or "no circles, no arrows up")
        sys.exit(1 if found else 0)
    draw()
