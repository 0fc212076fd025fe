"""Draw the autograd graph of a tensor as Graphviz DOT text (and render it with `dot`).

Boxes are backward nodes (`MulBackward0`), leaves are ellipses labelled with their parameter
name (from `params`) and shape, and the output is highlighted.  The walk is an explicit
stack, so graphs thousands of ops deep don't hit Python's recursion limit.
"""
import os
import shutil
import subprocess

__all__ = ["make_dot", "render_graph", "save_graph"]


def _shape(t):
    return str(tuple(t.shape))


def _quote(s):
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def make_dot(tensor, params=None, show_attrs=False):
    """DOT source of the graph that produced `tensor` (or a tuple/list of tensors).

    `params` maps names to tensors (e.g. `dict(model.named_parameters())`) to label leaves;
    `show_attrs` adds each node's options (dim, shape, ...) to its label."""
    names = {id(t): n for n, t in (params or {}).items()}
    outputs = list(tensor) if isinstance(tensor, (tuple, list)) else [tensor]
    lines = ["digraph autograd {",
             '  graph [rankdir=BT];',
             '  node [shape=box, style=filled, fillcolor=lightgrey, fontname=monospace, fontsize=10];']
    seen, stack = set(), []

    def leaf(t):
        label = f"{names[id(t)]}\n{_shape(t)}" if id(t) in names else _shape(t)
        lines.append(f"  n{id(t)} [label={_quote(label)}, shape=ellipse, fillcolor=lightblue];")

    for k, out in enumerate(outputs):
        oid = f"out{k}"
        label = f"{names.get(id(out), 'output')}\n{_shape(out)}"
        lines.append(f"  {oid} [label={_quote(label)}, fillcolor=darkolivegreen1];")
        node = out.grad_fn
        if node is None:                       # the output is itself a leaf
            continue
        lines.append(f"  n{id(node)} -> {oid};")
        stack.append(node)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        label = f"{type(node).__name__}Backward0"
        if show_attrs:
            attrs = {k: v for k, v in vars(node).items() if not k.startswith("_")
                     and isinstance(v, (int, float, bool, str, tuple, type(None)))}
            label += "".join(f"\n{k}={v}" for k, v in attrs.items())
        lines.append(f"  n{id(node)} [label={_quote(label)}];")
        for edge in node.edges or ():
            if edge is None:
                continue
            src, out_nr = edge
            if out_nr is None:                 # a leaf tensor that requires grad
                if id(src) not in seen:
                    seen.add(id(src))
                    leaf(src)
            else:
                stack.append(src)
            lines.append(f"  n{id(src)} -> n{id(node)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


render_graph = make_dot


def save_graph(dot_source, path, format=None):
    """Write `dot_source` to `path` as 'dot' text, or render it to 'svg'/'png' with Graphviz.

    The format defaults to `path`'s extension.  Returns `path`."""
    format = (format or os.path.splitext(path)[1].lstrip(".") or "dot").lower()
    if format in ("dot", "gv"):
        with open(path, "w") as f:
            f.write(dot_source)
        return path
    if format not in ("svg", "png", "pdf"):
        raise ValueError(f"save_graph: unknown format {format!r} (use 'dot', 'svg', 'png' or 'pdf')")
    exe = shutil.which("dot")
    if exe is None:
        raise RuntimeError(
            f"save_graph: rendering to {format!r} needs the Graphviz 'dot' program, which was not "
            "found on PATH. Install Graphviz (`apt-get install graphviz`, `brew install graphviz` "
            "or `conda install graphviz`), or save with format='dot' and render it elsewhere.")
    done = subprocess.run([exe, f"-T{format}", "-o", path], input=dot_source.encode(),
                          capture_output=True)
    if done.returncode != 0:
        raise RuntimeError(f"save_graph: dot failed: {done.stderr.decode(errors='replace').strip()}")
    return path
