"""Recording one call for `diffprog.compile`.

While a `Tracer` is `state.tracer`, `Op.apply` hands it every op: it runs the op as usual
(a traced call is an ordinary eager call, whose caller gets the eager result) and notes a
step.  Every value a step reads is named after where a replay will find it:

    i2      the array of the call's tensor argument 2 (in flattened pytree order)
    c1      the array of a tensor read from outside (a parameter, a closure variable),
            read afresh at every replay
    v7      the output of forward step 7 (v7_1: its second output)
    k7.s    what step 7's forward kept on its ctx, for the backward
    K3      a constant made from Python values alone (zeros(3), a Python-list index)
    g0      the cotangent of differentiable output 0; w4: output of backward step 4
    T[2]    the tensor argument 2 itself (a sampler may fill it in place, a write bumps its
            version); an outside tensor itself is a constant K


Tensors entering the call that need a gradient go into the ops through an `_Enter` alias,
so that tracing the backward stops at the call's boundary.

What a replay could not reproduce makes the trace fail (`fail`), after which the call just
goes on eagerly: a tensor made outside an op from another tensor's data, Python reading
tensor values (`.item()`, `bool(t)`, `.numpy()`, printing), a random draw outside a
`random.sampler`, an in-place write into an input or outside tensor while recording
gradients, hooks, a backward pass inside the function, an op whose output shape depends
on values (boolean-mask indexing).
"""
import sys
import types

from .. import creation
from .. import random as _random
from ..autograd import engine
from ..autograd.grad_mode import state
from .._array import xp
from ..ops import inplace as _inplace, op as _op
from ..ops.indexing import Index
from ..ops.op import Op
from ..tensor import Tensor


class Ref(str):
    """The name of a value in the generated code (see the module docstring)."""


class Build:
    """A tuple, list or dict option holding references: rebuilt at each replay."""

    def __init__(self, kind, items):
        self.kind, self.items = kind, items


class Cast:
    """An operand cast to `dtype` (the promotion `Op.apply` does)."""

    def __init__(self, value, dtype):
        self.value, self.dtype = value, dtype


class Wrap:
    """A tensor argument of a sampler: a replay passes a tensor wrapping the value."""

    def __init__(self, value):
        self.value = value


class Step:
    """kind "op": fn is an Op class; "sample": a `random.sampler` function; "copy": outs[0]
    = args[0].copy() (the saved original of an in-place op); "write": args[1] written into
    args[0] in place, bumping the version counter of `bump` (a tensor's name) if any."""

    __slots__ = ("kind", "fn", "args", "kwargs", "outs", "ctx", "scalar", "bump")

    def __init__(self, kind, fn, args, kwargs, outs, ctx=None, scalar=(), bump=None):
        self.kind, self.fn, self.args, self.kwargs = kind, fn, args, kwargs
        self.outs, self.ctx, self.scalar, self.bump = outs, ctx, scalar, bump


class Untraceable(Exception):
    """Raised by `diffprog.compile(..., fullgraph=True)` where it would run eagerly."""


class _Fail(Exception):
    pass


class _Enter(Op):
    """The identity: how a tensor needing a gradient enters the traced region."""

    op_name = "compiled_region_input"
    is_view = True

    def forward(ctx, x):
        return x

    def vjp(ctx, g):
        tracer = state.tracer
        return None if tracer is not None and tracer.backward else g

    def jvp(ctx, dx):
        return dx


_SIMPLE = (bool, int, float, complex, str, type(None))


class Tracer:
    """The recorder of one traced call: its steps, the names of the values they read, and
    why it failed, if it did."""

    def __init__(self):
        self.steps, self.bsteps = [], []
        self.names = {}            # id(object) -> Ref
        self.keep = []             # the named objects (so that their ids stay theirs)
        self.consts = {}           # "K3" -> object, for the generated code's namespace
        self.origins = {}          # id(tensor) -> "T[k]" or "C3": inputs and outside tensors
        self.captured = []         # outside tensors, in order (c0, c1, ...)
        self.entered = []          # (origin tensor, alias) for tensors needing a gradient
        self.alias = {}            # id(origin) -> its _Enter alias
        self.births = {}           # id(tensor) -> where: made outside ops from unknown data
        self.fresh = set()         # constants a replay must copy (written into, or returned)
        self.vcs = {}              # id(version counter list) -> name of the origin owning it
        self.origin_list = []
        self.meta = {}             # name -> (shape, dtype) of the arrays named
        self.versions = []         # (origin, its version when first seen)
        self.bumps = {}            # version-counter owner's name -> recorded in-place changes
        self.failed = None
        self.backward = False

    def release(self):
        """Forget the traced call's values (the plan keeps only steps and constants)."""
        self.keep = self.names = self.births = self.alias = self.entered = self.origin_list = None

    # --- names ---------------------------------------------------------------------

    def _name(self, obj, name):
        self.names.setdefault(id(obj), Ref(name))
        self.keep.append(obj)
        if isinstance(obj, xp.ndarray):
            self.meta.setdefault(name, (obj.shape, obj.dtype))
        return self.names[id(obj)]

    def const(self, obj):
        name = self.names.get(id(obj))
        if name is None:
            name = self._name(obj, f"K{len(self.consts)}")
            self.consts[name] = obj
        return name

    def fail(self, reason):
        """Give up: the rest of the call runs eagerly (nothing run so far is undone)."""
        if self.failed is None:
            self.failed = reason
        state.tracer = None

    def begin(self, tensors):
        for k, t in enumerate(tensors):
            self._name(t._data, f"i{k}")
            self.origins[id(t)] = f"T[{k}]"
            self.vcs.setdefault(id(t._vc), f"T[{k}]")
            self.origin_list.append(t)
            self.versions.append((t, t._vc[0]))

    def _capture(self, t):
        name = self._name(t._data, f"c{len(self.captured)}")
        self.origins[id(t)] = self.const(t)
        self.vcs.setdefault(id(t._vc), self.origins[id(t)])
        self.captured.append(t)
        self.origin_list.append(t)
        self.versions.append((t, t._vc[0]))
        return name

    # --- values ----------------------------------------------------------------------

    def tensor(self, t):
        """(the tensor an op should get, the name of its array)."""
        name = self.names.get(id(t._data))
        if name is None:
            if id(t) in self.births:
                raise _Fail(f"a tensor made outside an op from other data ({self.births[id(t)]})")
            name = self._capture(t)
        elif name.startswith("K") and t._requires_grad and t.grad_fn is None:
            raise _Fail("a tensor created inside the function requires grad")
        if id(t) in self.origins and t._requires_grad and state.grad_enabled:
            alias = self.alias.get(id(t))
            if alias is None:
                alias = self.alias[id(t)] = _Enter.apply(t)
                self.entered.append((t, alias))
                self.keep.append(alias)
            return alias, name
        return t, name

    def value(self, v):
        """An operand or option as a constant, a reference or a `Build`.  In a backward, a
        float a forward kept on its ctx (maybe computed from data) is read from that ctx."""
        if isinstance(v, _SIMPLE):
            name = self.names.get(id(v)) if self.backward and isinstance(v, float) else None
            return v if name is None else name
        if isinstance(v, Tensor):
            if id(v) not in self.origins:
                if id(v) in self.births or id(v._data) in self.names:
                    raise _Fail("a tensor computed inside the function passed as an op option")
                self._capture(v)              # an outside tensor (a batch norm's running mean)
            return Ref(self.origins[id(v)])
        name = self.names.get(id(v))
        if name is not None:
            return name
        if isinstance(v, xp.ndarray):
            if self.backward:             # made by a vjp from saved data, or a constant
                raise _Fail("a backward rule passes an op an array it computed outside ops")
            base = v.base
            while base is not None:
                if id(base) in self.names and not self.names[id(base)].startswith("K"):
                    raise _Fail("an op option derived from tensor data outside an op")
                base = getattr(base, "base", None)
            return self.const(v)
        if isinstance(v, (tuple, list, dict)):
            items = {k: self.value(x) for k, x in v.items()} if isinstance(v, dict) else \
                [self.value(x) for x in v]
            if any(_dynamic(x) for x in (items.values() if isinstance(v, dict) else items)):
                return Build(type(v), items)
        return self.const(v)

    def _register_saved(self, obj, path, depth=0):
        """Name what a forward kept on its ctx (arrays, namespaces, tuples of them)."""
        if isinstance(obj, (bool, int, str, type(None))):     # interned: ids are shared
            return
        self._name(obj, path)
        if isinstance(obj, Tensor):
            self._name(obj._data, f"{path}._data")
        elif depth < 3:
            if type(obj) in (tuple, list):
                for j, x in enumerate(obj):
                    self._register_saved(x, f"{path}[{j}]", depth + 1)
            elif hasattr(obj, "__dict__") and not isinstance(obj, (type, types.ModuleType)):
                for a, x in vars(obj).items():     # a namespace of saved values
                    self._register_saved(x, f"{path}.{a}", depth + 1)

    # --- what Op.apply and the patched functions call --------------------------------

    def apply(self, cls, args, kwargs):
        state.tracer = None            # the op and whatever it calls run untraced
        refs = kw = None
        try:
            try:
                args, refs = self._operands(cls, args)
                kw = {k: self.value(v) for k, v in kwargs.items()}
                if cls is Index and any(isinstance(k, xp.ndarray) and k.dtype == bool
                                        for k in _flat(kwargs.get("key"))):
                    raise _Fail("boolean-mask indexing (its output's shape depends on values)")
            except _Fail as e:
                self.fail(str(e))
            buffers = [t for v in kwargs.values() for t in _tensors_in(v)]
            before = [t._vc[0] for t in buffers]
            out = cls.apply(*args, **kwargs)
        finally:
            if self.failed is None:
                state.tracer = self
        for t, v in zip(buffers, before):      # a forward's own in-place update: replayed
            owner = self.vcs.get(id(t._vc))
            if owner is not None:
                self.bumps[owner] = self.bumps.get(owner, 0) + t._vc[0] - v
        if self.failed is None:
            self._record(cls, refs, kw, out)
        return out

    def _operands(self, cls, args):
        new, refs = list(args), []
        for j, a in enumerate(args):
            if isinstance(a, Tensor):
                new[j], name = self.tensor(a)
                refs.append(name)
            else:
                refs.append(self.value(a))
        if cls.promote is not None:
            arrays = [a._data if isinstance(a, Tensor) else a for a in new]
            before = list(arrays)
            _op._promote(cls, new, arrays)
            for j, (b, a) in enumerate(zip(before, arrays)):
                if a is not b:
                    refs[j] = Cast(refs[j], a.dtype) if isinstance(a, xp.ndarray) else a
        return new, refs

    def _record(self, cls, refs, kw, out):
        phase = "w" if self.backward else "v"
        n = len(self.bsteps if self.backward else self.steps)
        results = out if cls.n_out != 1 else (out,)
        outs = [Ref(f"{phase}{n}" if cls.n_out == 1 else f"{phase}{n}_{j}") for j in range(len(results))]
        for r, name in zip(results, outs):
            self._name(r._data, name)
        ctx = None
        node = next((r.grad_fn for r in results if type(r.grad_fn) is cls), None)
        if node is not None and not self.backward:
            ctx = Ref(f"k{n}")
            for a, v in node.__dict__.items():
                if not a.startswith("_"):
                    self._register_saved(v, f"{ctx}.{a}")
        step = Step("op", cls, refs, kw, outs, ctx, tuple(r._data.ndim == 0 for r in results))
        (self.bsteps if self.backward else self.steps).append(step)

    def sample(self, fn, args, kwargs):
        """A `random.sampler` call: one step that a replay runs again."""
        state.tracer = None
        refs = kw = None
        try:
            try:
                refs = [self._sample_arg(a) for a in args]
                kw = {k: self._sample_arg(v) for k, v in kwargs.items()}
                if self.backward:
                    raise _Fail("a random draw in a backward rule")
            except _Fail as e:
                self.fail(str(e))
            out = fn(*args, **kwargs)
        finally:
            if self.failed is None:
                state.tracer = self
        if self.failed is None:
            if isinstance(out, Tensor) and not (args and out is args[0]):
                if out._requires_grad:
                    self.fail(f"{fn.__name__}(..., requires_grad=True) inside the function")
                    return out
                outs = [Ref(f"v{len(self.steps)}")]
                self._name(out._data, outs[0])
            else:
                outs = []
                owner = self.vcs.get(id(args[0]._vc)) if args and isinstance(args[0], Tensor) else None
                if owner is not None:                  # a fill of an input or outside tensor
                    self.bumps[owner] = self.bumps.get(owner, 0) + 1
            self.steps.append(Step("sample", fn, refs, kw, outs))
        return out

    def _sample_arg(self, a):
        if not isinstance(a, Tensor):
            return self.value(a)
        if id(a) in self.origins:
            return Ref(self.origins[id(a)])        # the tensor itself: fills bump its version
        name = self.names.get(id(a._data))
        if name is not None:
            if name in self.consts and name not in self.fresh:     # a fill may write into it
                self.fresh.add(name)
                self.consts[name] = self.consts[name].copy()
            return Wrap(name)
        if id(a) in self.births:
            raise _Fail(f"a tensor made outside an op from other data ({self.births[id(a)]})")
        self._capture(a)
        return Ref(self.origins[id(a)])

    def born(self, t, frame):
        """A tensor made outside an op (`Tensor._make`): an alias of a named array, the
        saved original of an in-place op, a constant, or unknown (fails if used)."""
        a = t._data
        if id(a) in self.names:
            return
        while frame.f_code.co_name in ("<listcomp>", "<genexpr>", "<dictcomp>") or \
                frame.f_code is Tensor._new_plain.__code__:          # (the engine's maker)
            frame = frame.f_back
        code = frame.f_code
        if code is _inplace._original.__code__:
            src = frame.f_locals["self"]
            if self.backward or id(src._data) not in self.names:
                self.fail("an in-place op on a tensor made outside an op")
                return
            out = Ref(f"v{len(self.steps)}")
            self.steps.append(Step("copy", None, [self.names[id(src._data)]], {}, [out]))
            self._name(a, out)
        elif code in _constant_makers() and not _from_tensor_data(frame):
            self.const(a)
        else:
            self.births[id(t)] = f"{code.co_filename.rsplit('/', 1)[-1]}:{frame.f_lineno} in {code.co_name}"
            self.keep.append(t)

    def write(self, target, result):
        """`op.write_into(target, result)`: an in-place op's result copied into target."""
        tname, rname = self.names.get(id(target._data)), self.names.get(id(result._data))
        if self.backward:
            return self.fail("an in-place op in a backward rule")
        if tname is None or rname is None:
            return self.fail("an in-place op on a tensor the trace does not know")
        bump = self.vcs.get(id(target._vc))
        grad = state.grad_enabled and (target._requires_grad or result._requires_grad)
        if bump is not None and grad:
            return self.fail("an in-place op on an input or outside tensor while recording gradients")
        if bump is None and any(xp.shares_memory(target._data, o._data) for o in self.origin_list):
            return self.fail("an in-place op writing into an input's or outside tensor's memory")
        for name, c in self.consts.items():
            if isinstance(c, xp.ndarray) and xp.shares_memory(c, target._data) and name not in self.fresh:
                self.fresh.add(name)
                self.consts[name] = c.copy()      # its value before the trace wrote into it
        self.steps.append(Step("write", None, [tname, rname], {}, [], bump=bump))
        if bump is not None:
            self.bumps[bump] = self.bumps.get(bump, 0) + 1

    def check_versions(self):
        """Fail if an input or outside tensor changed in place other than through the
        recorded steps (an optimiser's step, say): a replay would not change it."""
        for t, v in self.versions:
            if t._vc[0] != v + self.bumps.get(self.vcs[id(t._vc)], 0):
                return self.fail("an input or outside tensor is modified in place outside ops "
                                 "(an optimiser step?)")

    # --- the backward -----------------------------------------------------------------

    def trace_backward(self, outputs, real_run):
        """Record the vjps the engine runs for `outputs` (tensors needing a gradient),
        down to the `_Enter` aliases; return the names of the aliases' gradients."""
        cotangents = []
        for i, t in enumerate(outputs):
            g = Tensor._make(xp.ones_like(t._data))
            self._name(g._data, f"g{i}")
            cotangents.append(g)
        aliases = [a for _, a in self.entered]
        self.backward = True
        state.tracer = self
        try:
            grads = real_run(outputs, aliases, cotangents)
        finally:
            state.tracer = None
        names = []
        for g in grads:
            name = None if g is None else self.names.get(id(g._data))
            if g is not None and name is None:
                self.fail("a gradient computed outside ops")
            names.append(name)
        return names


def _dynamic(x):
    """Does this option value change from call to call (not a constant)?"""
    return isinstance(x, (Build, Cast, Wrap)) or (isinstance(x, Ref) and not x.startswith("K"))


def _root(name):
    """The variable a reference reads: 'k3.s.coef' -> 'k3', 'T[0]' -> 'T'."""
    for sep in ".[":
        name = name.split(sep, 1)[0]
    return name


def _refs(v):
    if isinstance(v, Ref):
        yield v
    elif isinstance(v, (Cast, Wrap)):
        yield from _refs(v.value)
    elif isinstance(v, Build):
        for x in (v.items.values() if v.kind is dict else v.items):
            yield from _refs(x)


def _step_refs(s):
    for a in s.args:
        yield from _refs(a)
    for a in s.kwargs.values():
        yield from _refs(a)
    if s.bump is not None:
        yield Ref(s.bump)


def _tensors_in(obj):
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (tuple, list)):
        for x in obj:
            yield from _tensors_in(x)


def _flat(x):
    if isinstance(x, (tuple, list)):
        for y in x:
            yield from _flat(y)
    else:
        yield x


_MAKERS = None
# The originals of what tracing replaces (see _PATCHES).
_engine_run, _real_write, _grad = engine._run, _inplace.write_into, vars(Tensor)["grad"]
_plain_make = vars(Tensor)["_make"].__func__


def _constant_makers():
    """Functions whose `Tensor._make` calls make constants (from shapes and Python values:
    zeros, a causal mask, pooling matrices); any other tensor made outside an op from
    arrays the trace does not know fails the trace."""
    global _MAKERS
    if _MAKERS is None:
        from ..ops import attention, elementwise, indexing, loss, pool, shape
        _MAKERS = {f.__code__ for f in (
            creation._finish, elementwise._zeros, shape._zeros, loss._unit_grad, _engine_run,
            indexing._setitem, pool._const, pool.MaxPool.vjp, attention.scaled_dot_product_attention)}
    return _MAKERS


def _from_tensor_data(frame):
    """Is this `creation._finish` call copying a tensor's data (`tensor(t)`, `as_tensor`)?"""
    makers = (creation.tensor.__code__, creation.as_tensor.__code__, creation.asarray.__code__)
    f = frame.f_back
    for _ in range(3):
        if f is None:
            return False
        if f.f_code in makers:
            data = f.f_locals.get("data", f.f_locals.get("obj"))
            return any(isinstance(x, Tensor) for x in _flat(data))
        f = f.f_back
    return False


# --- tracing mode: what changes while a call is traced -----------------------------------

_LEAKS = ("item", "tolist", "numpy", "__array__", "__bool__", "__float__", "__int__", "__index__",
          "__complex__", "__repr__", "__format__", "register_hook", "retain_grad")


class _Watch:
    """A generator's NumPy generator, watched: a draw outside ops and samplers fails the trace."""

    def __init__(self, rng, tracer):
        self.rng, self.tracer = rng, tracer

    def __getattr__(self, name):
        if state.tracer is self.tracer:
            self.tracer.fail(f"a random draw outside diffprog's random functions (Generator.{name}); "
                             "a replay could not draw it again")
        return getattr(self.rng, name)


class tracing:
    """Context manager: make `tracer` the recorder, with `_PATCHES` and the generators'
    watches in place."""

    def __init__(self, tracer):
        self.tracer = tracer

    def __enter__(self):
        self.saved = [(owner, name, vars(owner)[name]) for owner, name, _ in _PATCHES]
        for owner, name, replacement in _PATCHES:
            setattr(owner, name, replacement)
        self.watches = [(g, _Watch(g._rng, self.tracer)) for g in list(_random.generators)]
        for g, w in self.watches:
            g._rng = w
        self.prev, state.tracer = state.tracer, self.tracer
        return self.tracer

    def __exit__(self, *exc):
        state.tracer = self.prev
        for owner, name, value in self.saved:
            setattr(owner, name, value)
        for g, w in self.watches:
            if g._rng is w:
                g._rng = w.rng
            else:
                self.tracer.fail("the function re-seeds a generator")


def _traced_make(cls, data, requires_grad=False):
    t = _plain_make(cls, data, requires_grad)
    if state.tracer is not None:
        state.tracer.born(t, sys._getframe(1))
    return t


def _traced_write(target, result):
    if state.tracer is not None:
        state.tracer.write(target, result)
    return _real_write(target, result)


def _traced_run(*args):
    if state.tracer is not None and not state.tracer.backward:
        state.tracer.fail("a backward pass inside the function")
    return _engine_run(*args)


def _read_grad(t):
    if state.tracer is not None:
        state.tracer.fail("the function reads a .grad (a replay would read the old one)")
    return _grad.fget(t)


def _guarded_setter(name, prop):
    """A Tensor property whose setting (p.data = ..., requires_grad_()) fails the trace."""
    def set_(self, value):
        if state.tracer is not None:
            state.tracer.fail(f"the function sets Tensor.{name} (a replay would not)")
        prop.fset(self, value)
    return property(prop.fget, set_)


def _leak(name, method):
    """A Tensor method that hands tensor values to Python: it fails the trace."""
    def leak(self, *args, **kwargs):
        if state.tracer is not None:
            state.tracer.fail(f"Tensor.{name}() reads tensor values in Python (data-dependent "
                              "control flow or a side effect a replay would not repeat)")
        return method(self, *args, **kwargs)
    leak.__name__ = name
    return leak


# (owner, attribute, its replacement while a call is traced): births, in-place writes and
# backward passes are reported to the tracer; reading values or .grad, setting .data or
# requires_grad, and hooks make the trace fail.
_PATCHES = [(Tensor, "_make", classmethod(_traced_make)), (_inplace, "write_into", _traced_write),
            (engine, "_run", _traced_run), (Tensor, "grad", property(_read_grad, _grad.fset))]
_PATCHES += [(Tensor, n, _guarded_setter(n, vars(Tensor)[n])) for n in ("data", "requires_grad")]
_PATCHES += [(Tensor, n, _leak(n, vars(Tensor)[n])) for n in _LEAKS]
