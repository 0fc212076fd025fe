"""`diffprog.compile`: trace a function or module once per input signature, then replay.

The first call with a new signature runs eagerly under a `trace.Tracer`, which records
the ops (and, when an output needs a gradient, the ops of their backward); later calls
with that signature replay the generated plan (`plan.py`).  A signature is what can change
which ops run: each tensor argument's shape, dtype and requires_grad, the other arguments'
values, grad mode and the default dtype; and, checked at each call, the module's
attributes (train/eval, hooks, which parameters and submodules it holds) or the function's
closure variables and globals, and the shapes, dtypes and requires_grad of the outside
tensors it read.  Calls the tracer cannot record run eagerly, with a one-time warning.
"""
import warnings

from .. import dtypes as _dt
from ..autograd import engine
from ..autograd.grad_mode import state
from ..tensor import Tensor
from .plan import Plan, Retrace
from .trace import Tracer, Untraceable, tracing
from .transforms import tree_flatten, tree_unflatten

_SIMPLE = (bool, int, float, complex, str, bytes, type(None))
_MODES = (None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
_BACKENDS = ("inductor", "eager", "aot_eager", "cudagraphs")
_FUSIONS = ("auto", "numba", "numpy", "none")
_EAGER = object()


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None,
            options=None, disable=False):
    """Compile a function or module: trace it on its first call per input signature and
    replay the recorded array calls afterwards (see docs/compile.md).

    Takes torch.compile's arguments: `fullgraph=True` raises `Untraceable` where a call
    would run eagerly; `backend="eager"` (or "aot_eager") and `disable=True` run eagerly;
    `options={"fusion": "auto" | "numba" | "numpy" | "none", "cache_size_limit": 8}`;
    `mode` and `dynamic` are accepted (shapes are always specialised).  Usable as a
    decorator, with or without arguments.
    """
    if mode not in _MODES:
        raise RuntimeError(f"compile: unrecognized mode {mode!r}, expected one of {_MODES[1:]}")
    if callable(backend):
        raise RuntimeError("compile: custom backends (callables) are not supported by diffprog")
    if backend not in _BACKENDS:
        raise RuntimeError(f"compile: unknown backend {backend!r}, expected one of {_BACKENDS}")
    options = dict(options or {})
    fusion = options.pop("fusion", "auto")
    limit = options.pop("cache_size_limit", 8)
    if fusion not in _FUSIONS:
        raise RuntimeError(f"compile: options['fusion'] must be one of {_FUSIONS}, got {fusion!r}")
    if options:
        raise RuntimeError(f"compile: unknown options {sorted(options)}; diffprog knows 'fusion' "
                           "and 'cache_size_limit'")

    def wrap(fn):
        if disable or backend in ("eager", "aot_eager"):
            return fn
        return Compiled(fn, fullgraph=fullgraph, fusion=fusion, limit=limit)
    return wrap if model is None else wrap(model)


class Compiled:
    """A compiled function or module: call it as the original.  Attributes not its own
    (a module's `parameters()`, `train()`, ...) are the original's."""

    def __init__(self, fn, *, fullgraph=False, fusion="auto", limit=8):
        self._orig_mod = fn
        self._call = fn
        self._in_place = False
        self.fullgraph, self.fusion, self.limit = fullgraph, fusion, limit
        self.cache = {}             # signature -> [Plan, ...] or _EAGER
        self.warned = set()
        self.module = fn if hasattr(fn, "_modules") and hasattr(fn, "training") else None
        self._guard_state = (lambda: _module_state(fn)) if self.module is not None else \
            _function_guard(fn)
        self.__wrapped__ = fn
        self.__doc__ = getattr(fn, "__doc__", None)

    def __getattr__(self, name):
        if name == "_orig_mod":
            raise AttributeError(name)
        return getattr(self._orig_mod, name)

    def __repr__(self):
        return f"Compiled({self._orig_mod!r})"

    def in_place(self, call):
        """For `Module.compile`: the module calls this; this calls `call` (its hooks and forward)."""
        self._call, self._in_place = call, True

    def __deepcopy__(self, memo):
        import copy
        module = copy.deepcopy(self._orig_mod, memo)
        twin = Compiled(module, fullgraph=self.fullgraph, fusion=self.fusion, limit=self.limit)
        if self._in_place:
            twin.in_place(module._call_impl)
        return twin

    def __get__(self, obj, objtype=None):
        """As a decorator on a method: bind like a function would."""
        if obj is None:
            return self
        import functools
        return functools.partial(self, obj)

    def __call__(self, *args, **kwargs):
        if state.tracer is not None or state.fw_level or state.anomaly or state.vmap:
            return self._call(*args, **kwargs)        # inside another trace or vmap: eager
        key = [state.grad_enabled, _dt._defaults.float]
        tensors = args
        for a in args:
            if type(a) is not Tensor or kwargs:
                tensors, key = [], key[:2]
                _signature((args, kwargs), tensors, key)
                break
            key += (a._data.shape, a._data.dtype, a._requires_grad)
        else:
            if len(args) > 1 and len({id(a._data) for a in args}) < len(args):
                key.append(tuple(id(a._data) for a in args))
        key = tuple(key)
        guard = self._guard_state()
        entry = self.cache.get(key)
        if entry is _EAGER:
            return self._call(*args, **kwargs)
        if entry is not None:
            for plan in entry:
                if plan.guard == guard:
                    try:
                        flat = plan.run(tensors, state.grad_enabled)
                    except Retrace:
                        continue
                    return flat[0] if plan.spec is None else tree_unflatten(flat, plan.spec)
        if entry is not None and len(entry) >= self.limit or len(self.cache) >= self.limit * 8:
            return self._eager(key, f"more than {self.limit} traces (cache_size_limit)", args, kwargs)
        return self._trace(key, guard, tensors, args, kwargs)

    def _eager(self, key, reason, args, kwargs):
        self.cache[key] = _EAGER
        self._explain(reason)
        return self._call(*args, **kwargs)

    def _explain(self, reason):
        if self.fullgraph:
            raise Untraceable(f"diffprog.compile(fullgraph=True): {reason}")
        if reason not in self.warned:
            self.warned.add(reason)
            warnings.warn(f"diffprog.compile: {_name(self._orig_mod)} runs eagerly for this input "
                          f"signature: {reason}", stacklevel=4)

    def _trace(self, key, guard, tensors, args, kwargs):
        if self.module is not None and _has_hooks(self.module):
            return self._eager(key, "the module has forward hooks (a replay would not call them)",
                               args, kwargs)
        tracer = Tracer()
        with tracing(tracer):
            tracer.begin(tensors)
            result = self._call(*args, **kwargs)
            state.tracer = None
            tracer.check_versions()
            plan = None
            if tracer.failed is None:
                try:
                    plan = _build(tracer, result, self.fusion)
                except Exception as e:       # the call itself succeeded: keep its result
                    tracer.fail(f"it could not be traced ({type(e).__name__}: {e})")
        if tracer.failed is None and self._guard_state() != guard:
            tracer.fail("the function changes the state it reads (module attributes, globals)")
        if tracer.failed is not None:
            self.cache[key] = _EAGER
            self._explain(tracer.failed)
            return result
        plan.guard = guard
        self.cache.setdefault(key, []).append(plan)
        return result


def _build(tracer, result, fusion):
    """The Plan for a finished trace (None if it failed on the way)."""
    leaves, spec = tree_flatten(result)
    if _has_namedtuple(spec):
        tracer.fail("the function returns a named tuple")
        return None
    outputs, seen, diff = [], {}, []
    origin_arrays = [t._data for t in tracer.origin_list]
    for leaf in leaves:
        if not isinstance(leaf, Tensor):
            outputs.append(("const", leaf))
            continue
        if id(leaf) in seen:
            outputs.append(("dup", seen[id(leaf)]))
            continue
        seen[id(leaf)] = len(outputs)
        if id(leaf) not in tracer.origins and id(leaf._data) not in tracer.names:
            if id(leaf) in tracer.births:
                tracer.fail(f"it returns a tensor made outside an op ({tracer.births[id(leaf)]})")
                return None
            tracer.value(leaf)               # an outside tensor, returned as it is
        if id(leaf) in tracer.origins:
            outputs.append(("origin", tracer.origins[id(leaf)]))
            continue
        name = tracer.names[id(leaf._data)]
        if any(_shares(leaf._data, a) for a in origin_arrays):
            tracer.fail("it returns a view of an input or outside tensor")
            return None
        for k, c in tracer.consts.items():
            if k == name or (hasattr(c, "shape") and hasattr(c, "strides") and _shares(leaf._data, c)):
                tracer.fresh.add(k)
        outputs.append(("array", (name, leaf._requires_grad)))
        if leaf._requires_grad:
            diff.append(leaf)
    grad_names = None
    if diff:
        grad_names = tracer.trace_backward(diff, _traced_grad)
        if tracer.failed is not None:
            return None
    plan = Plan(tracer, outputs, grad_names, fusion)
    plan.spec = spec
    return plan


def _traced_grad(outputs, inputs, cotangents):
    return engine.grad(outputs, inputs, grad_outputs=cotangents, retain_graph=True,
                       allow_unused=True)


def _shares(a, b):
    from .._array import xp
    return xp.shares_memory(a, b)


def _has_namedtuple(spec):
    if spec is None:
        return False
    kind, specs = spec
    if kind is dict:
        specs = specs[1]
    return hasattr(kind, "_fields") or any(_has_namedtuple(s) for s in specs)


def _signature(obj, tensors, key):
    """Append obj's part of the signature to key, and its tensors to tensors."""
    if isinstance(obj, Tensor):
        tensors.append(obj)
        key.append((obj._data.shape, obj._data.dtype, obj._requires_grad, id(obj._data)
                    if any(t._data is obj._data for t in tensors[:-1]) else None))
    elif type(obj) in (tuple, list):
        key.append((type(obj), len(obj)))
        for x in obj:
            _signature(x, tensors, key)
    elif type(obj) is dict:
        key.append((dict, tuple(obj)))
        for x in obj.values():
            _signature(x, tensors, key)
    elif isinstance(obj, _SIMPLE):
        key.append((type(obj), obj))
    else:
        key.append(("id", id(obj)))


def _value_state(v):
    return (type(v), v) if isinstance(v, _SIMPLE) else id(v)


def _function_guard(fn):
    """A function returning what fn reads besides its arguments: the values of its closure
    cells and of the globals it names (simple values by value, others by identity)."""
    fn = getattr(fn, "__func__", fn)
    code = getattr(fn, "__code__", None)
    if code is None:
        return lambda: None
    cells, g = fn.__closure__ or (), fn.__globals__
    names = [n for n in code.co_names if n in g]
    if not cells and not names:
        return lambda: None
    return lambda: tuple([_value_state(c.cell_contents) for c in cells] +
                         [_value_state(g.get(n)) for n in names])


_HOOKS = ("_forward_pre_hooks", "_forward_hooks")


def _has_hooks(module):
    return any(getattr(m, h, None) for m in module.modules() for h in _HOOKS)


def _module_state(root):
    """A module tree's plain attributes (training, p, eps, ...), hook counts, and which
    parameters, buffers and submodules it holds."""
    out, stack = [], [root]
    while stack:
        m = stack.pop()
        d = m.__dict__
        out += [v for v in d.values() if type(v) in _SIMPLE]
        out += map(id, d["_parameters"].values())
        out += map(id, d["_buffers"].values())
        out += map(id, d["_modules"].values())
        out.append(len(d["_forward_pre_hooks"]) + len(d["_forward_hooks"]))
        stack += [c for c in d["_modules"].values() if c is not None]
    return tuple(out)


def _name(fn):
    return getattr(fn, "__qualname__", None) or type(fn).__name__
