"""Replay code for a trace, and the autograd node of a compiled region.

`Plan(tracer, ...)` turns the recorded steps into two generated Python functions, one
straight line of array calls each (print `plan.source` to read them):

    forward(T)      T: the call's tensors -> (output arrays, what the backward keeps)
    backward(S, G)  S: what forward kept, G: the outputs' cotangent arrays -> the
                    gradient arrays of the region's inputs that need one

Ops run their `forward` on a fresh ctx, without `Op.apply`: no dtype promotion logic (the
casts the trace saw are written out), no tensors for intermediates, no graph.  Steps
whose results nothing reads are dropped; chains of elementwise ops become one kernel
(`fuse.py`).  A replayed region appears to autograd as one `CompiledRegion` node whose
`vjp` runs `backward`.
"""
import math

from ..autograd import engine
from ..autograd.grad_mode import state
from .._array import xp
from ..ops import inplace as _inplace, op as _op
from ..ops.op import Op
from ..tensor import Tensor
from . import fuse
from .trace import Build, Cast, Ref, Wrap, _dynamic, _refs, _root, _step_refs, _tensors_in

_new = object.__new__


class Retrace(Exception):
    """An outside tensor changed shape, dtype or requires_grad since the trace."""


class CompiledRegion(Op):
    """The graph node of one replayed call: its vjp replays the traced backward."""

    op_name = "compiled_region"

    def vjp(self, *grads):
        if self._freed:
            raise engine.freed_error()
        for t, v in self.checks:
            if t._vc[0] != v:
                raise _op._modified_error(t, v, self)
        if state.grad_enabled or state.fw_level:
            return self.plan.eager_vjp(self, grads)
        out = self.plan.backward(self.saved, [g._data for g in grads])
        return tuple(None if a is None else Tensor._make(a) for a in out)


class Plan:
    """What one traced signature replays (see the module docstring)."""

    def __init__(self, tracer, outputs, grad_names, fusion):
        self.tracer = tracer
        self.captured = tracer.captured
        self.entered = [self._origin(t) for t, _ in tracer.entered]
        self.grad_names = grad_names          # None: no backward (no output needs a gradient)
        self.outputs = outputs                # [(kind, value)] in flattened output order
        out_names = [v[0] for kind, v in outputs if kind == "array"]
        self.guards = [(t, t._data.shape, t._data.dtype, t._requires_grad) for t in self.captured]
        self.ns = {"_new": _new, "asarray": xp.asarray, "copyto": xp.copyto, "_T": Tensor._make,
                   "_tuple_new": tuple.__new__, "Retrace": Retrace, "C": self.captured}
        for name, c in tracer.consts.items():
            self.ns[name + "_" if name in tracer.fresh else name] = c

        grads = {n for n in grad_names or () if n}
        bsteps = fuse.fuse(_live(tracer.bsteps, grads, self._has_effect), grads, tracer.meta,
                           self.ns, fusion)
        backward_reads = _roots(bsteps) | {_root(n) for n in grad_names or () if n}
        backward_defined = {o for s in bsteps for o in s.outs} | {f"g{i}" for i in range(self.n_diff)}
        samples = {s.outs[0] for s in tracer.steps if s.kind == "sample" and s.outs}
        self.saved_names = sorted(n for n in (backward_reads - backward_defined) | (
            samples if grad_names is not None else set()) if not n.startswith("K") or n in tracer.fresh)
        steps = _live(tracer.steps, set(out_names) | set(self.saved_names), self._has_effect)
        steps = fuse.fuse(steps, set(out_names) | set(self.saved_names), tracer.meta, self.ns, fusion)
        # Inputs and outputs the backward reads: their versions are checked, as Op.inputs does.
        self.checked_inputs = [int(n[1:]) for n in self.saved_names if n.startswith("i")]
        self.checked_captured = [int(n[1:]) for n in self.saved_names if n.startswith("c")]
        arrays = {tracer.names[id(o)]: o for o in tracer.keep if isinstance(o, xp.ndarray)}
        saved = [arrays[n] for n in self.saved_names if n in arrays]
        self.checked_outputs = [j for j, n in enumerate(out_names) if n in self.saved_names or any(
            xp.shares_memory(arrays[n], a) for a in saved)]

        fwd = self._forward_source(steps, out_names)
        bwd = self._backward_source(bsteps) if grad_names is not None else ""
        self.source = fwd + "\n" + bwd + "\n" + self._run_source()
        self.ns.update(PLAN=self, CompiledRegion=CompiledRegion, _refresh_view=_op._refresh_view,
                       _sequence=_op.sequence)
        exec(compile(self.source, "<diffprog.compile>", "exec"), self.ns)
        self.forward, self.run = self.ns["forward"], self.ns["run"]
        self.backward = self.ns.get("backward")
        tracer.release()

    def _has_effect(self, s):
        """Writes, draws, and ops given outside tensors (batch norm's running statistics)."""
        return s.kind in ("write", "sample") or any(
            isinstance(r, Ref) and (r.startswith("T") or _holds_tensor(self.ns.get(r)))
            for v in s.kwargs.values() for r in _refs(v))

    @property
    def n_diff(self):
        return sum(1 for kind, v in self.outputs if kind == "array" and v[1])

    def _origin(self, t):
        return self.tracer.origins[id(t)]

    # --- code ----------------------------------------------------------------------

    def _forward_source(self, steps, out_names):
        lines = ["def forward(T):"]
        reads = _roots(steps) | set(out_names) | set(self.saved_names)
        for k in sorted({int(n[1:]) for n in reads if n.startswith("i")}):
            lines.append(f"    i{k} = T[{k}]._data")
        for j, t in enumerate(self.captured):
            if f"c{j}" in reads:
                lines.append(f"    c{j} = C[{j}]._data")
        if self.guards:
            lines.append("    for t, shape, dtype, rg in GUARDS:")
            lines.append("        if t._data.shape != shape or t._data.dtype != dtype or "
                         "t._requires_grad is not rg:")
            lines.append("            raise Retrace")
            self.ns["GUARDS"] = self.guards
        for name in sorted(self.tracer.fresh):
            lines.append(f"    {name} = {name}_.copy()")
        ctx_needed = {n for n in self.saved_names if n.startswith("k")}
        for s in steps:
            lines += self._step_source(s, ctx_needed)
        outs = "".join(f"{n}, " for n in out_names)
        saved = "".join(f"{n}, " for n in self.saved_names)
        lines.append(f"    return ({outs}), ({saved})")
        return "\n".join(lines) + "\n"

    def _backward_source(self, bsteps):
        lines = ["def backward(S, G):"]
        if self.saved_names:
            lines.append(f"    {', '.join(self.saved_names)}, = S")
        for i in range(self.n_diff):
            lines.append(f"    g{i} = G[{i}]")
        for s in bsteps:
            lines += self._step_source(s, set())
        lines.append(f"    return ({''.join(f'{n}, ' for n in self.grad_names)})")
        return "\n".join(lines) + "\n"

    def _step_source(self, s, ctx_needed):
        ns = self.ns
        if s.kind == "copy":
            return [f"    {s.outs[0]} = {s.args[0]}.copy()"]
        if s.kind == "write":
            line = [f"    copyto({s.args[0]}, {s.args[1]}, casting='unsafe')"]
            if s.bump is not None:
                line.append(f"    {s.bump}._vc[0] += 1")
            return line
        if s.kind == "kernel":
            return [f"    {s.outs[0]} = {s.fn}"] + ([f"    {s.outs[0]} = asarray({s.outs[0]})"]
                                                   if s.scalar[0] else [])
        name = f"{s.fn.__name__}{len(ns)}"
        ns[name] = s.fn
        fn = name if s.kind == "sample" else f"{name}.forward"
        args = [self._code(a) for a in s.args]
        if s.kind == "op":
            ctx = s.ctx if s.ctx in ctx_needed else None
            cls = name
            args.insert(0, ctx or f"_new({cls})")
        if s.kwargs and not any(_dynamic(v) or v in self.tracer.fresh for v in s.kwargs.values()
                                if isinstance(v, (Ref, Build, Cast, Wrap))):
            d = f"D{len(ns)}"
            ns[d] = {k: (ns[v] if isinstance(v, Ref) else v) for k, v in s.kwargs.items()}
            args.append(f"**{d}")
        else:
            args += [f"{k}={self._code(v)}" for k, v in s.kwargs.items()]
        call = f"{fn}({', '.join(args)})"
        lines = [f"    {ctx} = _new({cls})"] if s.kind == "op" and ctx else []
        if s.kind == "sample":
            return lines + ([f"    {s.outs[0]} = {call}._data"] if s.outs else [f"    {call}"])
        lines.append(f"    {', '.join(s.outs)}{',' if len(s.outs) > 1 else ''} = {call}")
        for o, scalar in zip(s.outs, s.scalar):
            if scalar:
                lines.append(f"    {o} = asarray({o})")
        return lines

    def _code(self, v):
        if isinstance(v, Ref):
            return str(v)
        if isinstance(v, Cast):
            return f"{self._code(v.value)}.astype({self._const(v.dtype)})"
        if isinstance(v, Wrap):
            return f"_T({self._code(v.value)})"
        if isinstance(v, Build):
            if v.kind is dict:
                return "{" + ", ".join(f"{k!r}: {self._code(x)}" for k, x in v.items.items()) + "}"
            items = "".join(f"{self._code(x)}, " for x in v.items)
            if v.kind is list:
                return f"[{items}]"
            return f"({items})" if v.kind is tuple else f"_tuple_new({self._const(v.kind)}, ({items}))"
        if isinstance(v, (bool, int, str, type(None))) or (isinstance(v, float) and math.isfinite(v)):
            return repr(v)
        return self._const(v)

    def _const(self, obj):
        name = f"K_{len(self.ns)}"
        self.ns[name] = obj
        return name

    # --- running -------------------------------------------------------------------

    def _run_source(self):
        """run(T, grad): replay, then wrap the outputs (and connect them to a node)."""
        arrays = [f"o{j}" for j, (kind, _) in enumerate(self.outputs) if kind == "array"]
        lines = ["def run(T, grad):", f"    ({''.join(a + ', ' for a in arrays)}), S = forward(T)"]
        wrap = []
        for j, (kind, v) in enumerate(self.outputs):
            if kind == "array":
                wrap.append(f"t{j} = _T(o{j})")
            elif kind == "origin":
                wrap.append(f"t{j} = {v}")
            elif kind == "dup":
                wrap.append(f"t{j} = t{v}")
            else:
                self.ns[f"R{j}"] = v
                wrap.append(f"t{j} = R{j}")
        results = "[" + ", ".join(f"t{j}" for j in range(len(self.outputs))) + "]"
        if self.grad_names is None:
            return "\n".join(lines + ["    " + w for w in wrap] + [f"    return {results}"]) + "\n"
        lines.append("    if not grad:")
        lines += ["        " + w for w in wrap]
        lines.append(f"        return {results}")
        args = []
        for k, e in enumerate(self.entered):
            lines.append(f"    a{k} = {e}")
            lines.append(f"    if a{k}._base is not None and a{k}._view_version != a{k}._vc[0]:")
            lines.append(f"        _refresh_view(a{k})")
            args.append(f"a{k}")
        tup = "(" + "".join(a + ", " for a in args) + ")"
        lines += ["    node = _new(CompiledRegion)",
                  f"    node.args = {tup}",
                  "    node.edges = [" + ", ".join(
                      f"({a}.grad_fn, {a}._out_nr) if {a}.grad_fn is not None else ({a}, None)"
                      for a in args) + "]",
                  "    node._seq = next(_sequence)",
                  f"    node.needs_input_grad = {(True,) * len(args)!r}",
                  "    node._versions = [" + ", ".join(f"{a}._vc[0]" for a in args) + "]",
                  f"    node.n_out = {self.n_diff}",
                  "    node._out_vc = [0]",
                  "    node._out_version = 0",
                  "    node.plan = PLAN",
                  "    node.saved = S",
                  "    node.T = T"]
        lines += ["    " + w for w in wrap]
        diff, made = [], []
        for j, (kind, v) in enumerate(self.outputs):
            if kind == "array":
                made.append(f"t{j}")
                if v[1]:
                    lines.append(f"    t{j}._requires_grad = True")
                    lines.append(f"    t{j}.grad_fn = node")
                    lines.append(f"    t{j}._out_nr = {len(diff)}")
                    diff.append(f"o{j}")
        lines.append(f"    node._out = [{', '.join(diff)}]")
        checks = [f"(T[{k}], T[{k}]._vc[0])" for k in self.checked_inputs] + \
            [f"(C[{k}], C[{k}]._vc[0])" for k in self.checked_captured] + \
            [f"({made[k]}, 0)" for k in self.checked_outputs]
        lines.append(f"    node.checks = [{', '.join(checks)}]")
        lines.append(f"    return {results}")
        return "\n".join(lines) + "\n"

    def eager_vjp(self, node, grads):
        """The backward when it must itself be differentiable (create_graph, forward-over-
        reverse): run the recorded forward again as ordinary ops and differentiate that.
        Random draws are not redrawn (the forward's are reused); in-place effects on outside
        tensors (running statistics) are undone afterwards."""
        saved = dict(zip(self.saved_names, node.saved))
        env = {e: a for e, a in zip(self.entered, node.args)}
        touched = {id(t): t for t in _effect_tensors(self.tracer.steps, self.ns)}
        touched = {k: (t, t._data.copy(), t._vc[0]) for k, t in touched.items()}

        def tensor(name):
            if name not in env:
                if name.startswith("i"):
                    env[name] = env.get(f"T[{name[1:]}]", node.T[int(name[1:])])
                elif name.startswith("c"):
                    t = self.captured[int(name[1:])]
                    env[name] = env.get(self.tracer.origins[id(t)], t)
                else:
                    env[name] = Tensor._make(self.ns[name + "_"].copy() if name in self.tracer.fresh
                                             else self.ns[name])
            return env[name]

        def option(v):
            if isinstance(v, Ref):
                return node.T[int(v[2:-1])] if v.startswith("T[") else \
                    self.ns[v] if v.startswith("K") else tensor(v)._data
            if isinstance(v, Build):
                items = v.items
                if v.kind is dict:
                    return {k: option(x) for k, x in items.items()}
                vals = [option(x) for x in items]
                return v.kind(vals) if v.kind in (tuple, list) else tuple.__new__(v.kind, vals)
            return v

        try:
            for s in self.tracer.steps:
                if s.kind == "op":
                    args = [tensor(a) if isinstance(a, Ref) else tensor(a.value)
                            if isinstance(a, Cast) else a for a in s.args]
                    out = s.fn.apply(*args, **{k: option(v) for k, v in s.kwargs.items()})
                    env.update(zip(s.outs, out if len(s.outs) > 1 else (out,)))
                elif s.kind == "copy":
                    env[s.outs[0]] = _inplace._original(tensor(s.args[0]))
                elif s.kind == "write":
                    _inplace.write_into(tensor(s.args[0]), tensor(s.args[1]))
                elif s.outs:
                    env[s.outs[0]] = Tensor._make(saved[s.outs[0]])
                else:
                    raise RuntimeError("compiled_region: double backward through an in-place "
                                       "random fill is not supported; call the function eagerly")
            outs = [tensor(v[0]) for kind, v in self.outputs if kind == "array" and v[1]]
            return engine.grad(outs, node.args, grad_outputs=list(grads), create_graph=True,
                               allow_unused=True)
        finally:
            for t, data, version in touched.values():
                xp.copyto(t._data, data)
                t._vc[0] = version


def _effect_tensors(steps, ns):
    """Outside tensors the forward changes in place (buffers given to ops, write targets)."""
    for s in steps:
        for v in s.kwargs.values():
            for r in _refs(v):
                yield from _tensors_in(ns.get(r))
        if s.kind == "write" and s.bump is not None and s.bump.startswith("K"):
            yield ns[s.bump]


def _roots(steps):
    return {_root(r) for s in steps for r in _step_refs(s)}


def _holds_tensor(obj):
    return isinstance(obj, Tensor) or (isinstance(obj, (tuple, list)) and any(map(_holds_tensor, obj)))


def _live(steps, needed, has_effect):
    """The steps that make something needed, or have effects."""
    needed = {_root(n) for n in needed}
    keep = []
    for s in reversed(steps):
        if has_effect(s) or any(o in needed for o in s.outs) or (s.ctx is not None and s.ctx in needed):
            keep.append(s)
            needed |= {_root(r) for r in _step_refs(s)}
    keep.reverse()
    return keep
