"""`Op`: the one place where an operation meets the autograd engine.

Each operation is a subclass with three rules side by side:

    class Mul(Op):
        promote = "common"
        def forward(ctx, x, y):          # arrays in, array out
            return x * y
        def vjp(ctx, g):                 # tensors in and out: differentiable again
            x, y = ctx.inputs
            return g * y, g * x          # the engine sums over broadcast dimensions
        def jvp(ctx, dx, dy):
            x, y = ctx.inputs
            return dx * y + x * dy

An instance of the op is the graph node (`ctx`, shown as `grad_fn=<MulBackward0>`).
Everything shared lives here, once: dtype promotion, error messages, deciding whether to
record, wiring graph edges, the saved-tensor version check (`ctx.inputs`, `ctx.output`),
forward-mode tangents and marking views (in-place application: `inplace.py`).
docs/engine.md walks through this file with the engine.

Positional arguments of `apply` are the operands (tensors or Python scalars); options
(dim, keepdim, shape, ...) are keyword arguments.
`ctx.inputs` are the operands as given;
`ctx.needs_input_grad[i]` says whether argument i needs a gradient.  `vjp` returns one
gradient per operand (None where there is none); `jvp` receives one tangent per operand
(a zero for operands without one).
"""
import itertools
import traceback

from .. import dtypes as _dt
from ..autograd.engine import freed_error
from ..autograd.forward_ad import track
from ..autograd.grad_mode import state
from .._array import xp
from .._array.device import as_array, is_array, scalars_to_device
from ..tensor import Tensor
from . import batching


_new = object.__new__
_ndarray = xp.ndarray
sequence = itertools.count(0, -1)   # a node's _seq: minus its place in creation order (engine.py)

# NumPy warns where PyTorch silently gives inf or nan (log(0), x / 0, exp(1000), sqrt(-1)).
# The ops that meet such values in ordinary use decorate their forward with `quiet`
# (about 1 us a call); the hot arithmetic ops, which warn only on inf, nan or overflowing
# operands, don't: where a warnings filter turns one into an error, `apply` computes again
# quietly.
quiet = xp.errstate(all="ignore")


class Op:
    __slots__ = ("args", "edges", "needs_input_grad", "_versions", "_out", "_out_vc", "_out_version",
                 "_seq", "__dict__", "__weakref__")
    # Rarely set, so class-level defaults (instances override them in __dict__).
    _freed = False          # saved values dropped after backward
    _hooks = None           # {output_nr: [hook, ...]} from Tensor.register_hook
    _retained = None        # {output_nr: weakref(tensor)} from Tensor.retain_grad
    _trace = None           # where forward ran, under detect_anomaly

    promote = None          # None: no promotion; "common": PyTorch result type; "float": ints -> float
    n_out = 1               # number of outputs forward returns (a tuple when > 1)
    is_view = False         # outputs share the first input's storage (slices, reshape, ...)
    raw = False             # vjp runs on arrays too (see autograd/engine.py's plain mode)
    _raw = False            # set while the engine runs it so: inputs and outputs are arrays

    # --- the rules a subclass writes -------------------------------------------------

    def forward(ctx, *arrays, **kwargs):
        raise NotImplementedError

    def vjp(ctx, *grads):
        raise RuntimeError(f"{ctx.name()}: derivative not implemented")

    def jvp(ctx, *tangents):
        raise RuntimeError(f"{ctx.name()}: forward-mode derivative (jvp) not implemented")

    # --- what a rule reads -----------------------------------------------------------

    @property
    def inputs(self):
        """The operands, checked not to have been modified in place since forward."""
        return tuple(self.input(i) for i in range(len(self.args)))

    def input(self, i):
        """Operand i, checked like `inputs`.  Reading only the operands a rule needs keeps
        e.g. `y.mul_(2)` differentiable although its operand y was overwritten."""
        if self._freed:
            raise freed_error()
        a, v = self.args[i], self._versions[i]
        if v is not None and a._vc[0] != v:
            raise _modified_error(a, v, self)
        return a._data if self._raw and v is not None else a

    @property
    def output(self):
        """The (first) output as a tensor of this node, checked like `inputs`."""
        return self.outputs[0]

    @property
    def outputs(self):
        if self._freed:
            raise freed_error()
        if self._out_vc[0] != self._out_version:
            raise _modified_error(None, self._out_version, self, self._out_vc[0])
        if self._raw:
            return self._out
        recorded = self.edges is not None
        fw = self.__dict__.get("_out_tangents") if state.fw_level else None
        outs = []
        for i, a in enumerate(self._out):
            t = Tensor._make(a, recorded and a.dtype.kind in "fc")
            if t._requires_grad:
                t.grad_fn, t._out_nr = self, i
            t._vc = self._out_vc
            if fw is not None and fw[0] == state.fw_level and fw[1][i] is not None:
                t._tangent = fw[1][i]      # forward-over-reverse: the saved output's tangent
                track(t)
            outs.append(t)
        return outs

    @classmethod
    def name(cls):
        return getattr(cls, "op_name", None) or cls.__name__.lower()

    # --- applying an op --------------------------------------------------------------

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run forward on the arguments' arrays and record a node when a gradient is needed."""
        active = state.active           # vmap, compile, forward AD or anomaly detection is on
        if active:
            if state.vmap:              # inside vmap, batched operands take the op's batching rule
                out = batching.apply_op(cls, args, kwargs)
                if out is not None:
                    return out
            if state.tracer is not None:        # diffprog.compile is recording this call
                return state.tracer.apply(cls, args, kwargs)
        ctx = _new(cls)
        ctx.args = args
        record, arrays = False, []
        for a in args:
            if isinstance(a, Tensor):
                if a._base is not None and a._view_version != a._vc[0]:
                    _refresh_view(a)
                record = record or a._requires_grad
                a = a._data
            arrays.append(a)
        if cls.promote is not None:
            _promote(cls, args, arrays)
        while True:
            try:
                out = ctx.forward(*arrays, **kwargs)
            except (ValueError, TypeError, IndexError) as e:
                if scalars_to_device(arrays):       # a 0-d CPU tensor joins a GPU op: once more,
                    ctx.raw = False                 # and its vjp runs on tensors (mixed devices)
                    continue
                raise _wrap_error(cls, args, e) from None
            except (RuntimeWarning, FloatingPointError):    # NumPy made to raise: PyTorch is silent
                out = quiet(ctx.forward)(*arrays, **kwargs)
            break

        record = record and state.grad_enabled
        if cls.n_out == 1:
            if type(out) is not _ndarray:       # NumPy returns scalars for 0-d results
                out = as_array(out)
            result = _new(Tensor)
            result._data = out
            result._grad = result._tangent = None
            result._out_nr = 0
            result._vc = [0]
            result._requires_grad = record = record and out.dtype.kind in "fc"
            result.grad_fn = ctx if record else None
            results, outs = (result,), (out,)
        else:
            outs, results = [as_array(o) for o in out], []
            for i, o in enumerate(outs):
                t = Tensor._make(o)
                if record and o.dtype.kind in "fc":
                    t._requires_grad = True
                    t.grad_fn = ctx
                    t._out_nr = i
                results.append(t)
            results = tuple(results)
        if record:
            ctx._connect(args, outs, results, active)
        if cls.is_view:
            _mark_views(ctx, args[0], results, args[1:], kwargs)
        if active and state.fw_level:
            _forward_ad(ctx, args, results)
        return result if cls.n_out == 1 else results

    def _connect(ctx, args, outs, results, active=True):
        edges, needs, versions = [], [], []
        for a in args:
            if isinstance(a, Tensor):
                versions.append(a._vc[0])
                if a._requires_grad:
                    edges.append((a.grad_fn, a._out_nr) if a.grad_fn is not None else (a, None))
                    needs.append(True)
                    continue
            else:
                versions.append(None)
            edges.append(None)
            needs.append(False)
        ctx.edges = edges
        ctx._seq = next(sequence)
        ctx.needs_input_grad = tuple(needs)
        ctx._versions = versions
        ctx._out = outs
        vc = results[0]._vc
        for r in results[1:]:
            r._vc = vc
        ctx._out_vc, ctx._out_version = vc, vc[0]
        if active and state.anomaly:
            ctx._trace = "".join(traceback.format_stack()[:-3])

    def release(self):
        """Drop everything saved for backward (after a backward without retain_graph)."""
        self.args = self._out = None
        self.__dict__.clear()
        self._freed = True

    # --- hooks on non-leaf outputs (Tensor.register_hook / retain_grad) ----------------

    def output_hooks(self, out_nr):
        if self._hooks is None:
            self._hooks = {}
        return self._hooks.setdefault(out_nr, [])

    def retain_output(self, out_nr, tensor):
        import weakref
        if self._retained is None:
            self._retained = {}
        self._retained[out_nr] = weakref.ref(tensor)

    def __repr__(self):
        return f"<{type(self).__name__}Backward0 object at {id(self):#x}>"

    @property
    def next_functions(self):
        return tuple((None, 0) if e is None else
                     (_AccumulateGrad(e[0]) if e[1] is None else e[0], e[1] or 0)
                     for e in self.edges)


class _AccumulateGrad:
    """What `next_functions` shows for a leaf, as in PyTorch."""

    def __init__(self, variable):
        self.variable = variable

    def __repr__(self):
        return f"<AccumulateGrad object at {id(self):#x}>"


# --- dtype promotion -------------------------------------------------------------------

def _promote(cls, args, arrays):
    """Cast the operand arrays (in place in the list) to PyTorch's result type."""
    a, b = arrays[0], arrays[-1]
    if type(a) is _ndarray and len(arrays) <= 2 and a.dtype.kind in "fc" and (
            type(b) is float or type(b) is int or type(b) is _ndarray and b.dtype is a.dtype):
        return      # the common case (one floating dtype, Python numbers): NumPy's result type
    main, mixed, scalars = None, False, False
    for a in arrays:
        d = getattr(a, "dtype", None)
        if d is None or not (isinstance(a, xp.ndarray) or is_array(a)):     # (NumPy's: no call)
            scalars = True
        elif main is None or main.kind == "b":
            main = d if main is None or d.kind != "b" else main
        elif d != main and d.kind != "b":
            mixed = True
    # Fast path: one dtype throughout, except perhaps bool masks alongside a floating one,
    # and no scalar of a higher category: NumPy already computes PyTorch's result type.
    if main is not None and not mixed and (main.kind in "fc" or (
            cls.promote != "float" and len({x.dtype for x in arrays if isinstance(x, xp.ndarray) or is_array(x)}) == 1
            and not (scalars and _raises_category(args, main)))):
        return
    dtype = _dt.result_type(*args)
    if cls.promote == "float" and dtype._cat < 2:
        dtype = _dt.get_default_dtype()
    npd = dtype.np
    for i, a in enumerate(arrays):
        if is_array(a):
            if a.dtype != npd:
                arrays[i] = a.astype(npd)
        elif dtype._cat == 2 and isinstance(a, int) and not isinstance(a, bool):
            arrays[i] = float(a)


def _raises_category(args, npd):
    """Does a Python scalar among args lift an integer/bool dtype to a higher category?"""
    for a in args:
        if isinstance(a, float) or isinstance(a, complex) or (
                isinstance(a, int) and not isinstance(a, bool) and npd.kind == "b"):
            return True
    return False


def _mark_views(ctx, src, results, rest, kwargs):
    """Outputs that alias src's storage become views: same version counter, and a
    function that recreates them from the base (used when a view is modified in place)."""
    cls = type(ctx)
    base = src._base if src._base is not None else src
    parent_fn = src._view_fn
    for i, r in enumerate(results):
        if not xp.may_share_memory(r._data, src._data):
            continue
        r._vc, r._base, r._view_version = src._vc, base, src._vc[0]

        def view_fn(t, i=i):
            if parent_fn is not None:
                t = parent_fn(t)
            out = cls.apply(t, *rest, **kwargs)
            return out[i] if cls.n_out != 1 else out
        r._view_fn = view_fn


def _refresh_view(view):
    """The base changed in place since this view's grad_fn was made: derive the view's
    history again from the base's current one (as PyTorch does)."""
    base = view._base
    view._view_version = view._vc[0]
    if base._requires_grad and state.grad_enabled:
        fresh = view._view_fn(base)
        view.grad_fn, view._out_nr, view._requires_grad = fresh.grad_fn, fresh._out_nr, True


# --- forward mode ----------------------------------------------------------------------

def _forward_ad(ctx, args, results):
    """Give the outputs tangents when any input carries one (inside a dual level)."""
    tangents, any_t = [], False
    for a in args:
        if isinstance(a, Tensor):
            t = a._tangent
            if t is not None:
                any_t = True
            elif a._data.dtype.kind in "fc":
                t = Tensor._make(xp.zeros_like(a._data))
            else:
                t = 0
            tangents.append(t)
        else:
            tangents.append(0)
    if not any_t:
        return
    if not hasattr(ctx, "edges"):
        ctx.edges = None
        ctx._versions = [a._vc[0] if isinstance(a, Tensor) else None for a in args]
        ctx._out = [r._data for r in results]
        ctx._out_vc, ctx._out_version, ctx._freed = results[0]._vc, 0, False
    # The tangent computation is itself differentiable (forward-over-reverse), but its
    # own ops must not be given tangents of this level (no perturbation confusion).
    level, state.fw_level = state.fw_level, 0
    try:
        out_t = ctx.jvp(*tangents)
    finally:
        state.fw_level = level
    if len(results) == 1:
        out_t = (out_t,)
    for r, t in zip(results, out_t):
        if t is None or r._data.dtype.kind not in "fc":
            continue
        if not isinstance(t, Tensor):
            t = Tensor._make(xp.asarray(t, dtype=r._data.dtype, like=r._data))
        if t.shape != r.shape:
            t = t.expand(r.shape) if t.ndim <= r.ndim else t.reshape(r.shape)
        if t._data.dtype != r._data.dtype:
            t = t.to(r.dtype)
        r._tangent = t
        track(r)
    if ctx.edges is not None:        # a backward may read the outputs inside this level
        ctx._out_tangents = (level, [r._tangent for r in results])


# --- errors ----------------------------------------------------------------------------

def describe(args):
    """'(2, 3) float32 and (4,) int64': shapes and dtypes of the tensor arguments."""
    parts = [f"{tuple(a.shape)} {a.dtype.name}" for a in args if isinstance(a, Tensor)]
    return " and ".join(parts)


def _wrap_error(cls, args, e):
    msg = str(e)
    devices = sorted({str(a.device) for a in args if isinstance(a, Tensor)})
    if len(devices) > 1:
        return RuntimeError(f"{cls.name()}: Expected all tensors to be on the same device, but found at "
                            f"least two devices, {' and '.join(devices)}! ({describe(args)})")
    if "broadcast" in msg:
        shapes = " and ".join(str(tuple(a.shape)) for a in args if isinstance(a, Tensor))
        return RuntimeError(f"{cls.name()}: shapes {shapes} cannot be broadcast together "
                            f"({describe(args)})")
    return type(e)(f"{cls.name()}: {msg} (inputs: {describe(args)})")


def _modified_error(tensor, saved_version, node, now=None):
    """PyTorch's message: the variable (a saved operand, or else node's own output), the
    node that now produces it, and, as a hint, the op that saved it."""
    if tensor is not None:
        now, producer, nr = tensor._vc[0], tensor.grad_fn, tensor._out_nr
        dtype, shape = tensor.dtype, tensor.shape
    else:
        producer, nr = node, 0
        dtype, shape = _dt.from_numpy_dtype(node._out[0].dtype), node._out[0].shape
    made = f", which is output {nr} of {type(producer).__name__}Backward0," if producer is not None else ""
    return RuntimeError(
        "one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: [{dtype.name} {list(shape)}]{made} is at version {now}; expected version "
        f"{saved_version} instead. Hint: the operation that saved it was {node.name()}; avoid "
        "modifying its input or output in place, or clone() it first.")
