"""Custom differentiable functions: `class F(autograd.Function)` with your own derivative.

    class Exp(Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            y, = ctx.saved_tensors
            return g * y

    y = Exp.apply(x)

Each Function subclass gets a graph-node class (an `Op`), so the engine runs it like any
built-in op: `ctx` *is* that node, its `vjp` calls your `backward` and its `jvp` your `jvp`.
`forward` runs on tensors with recording switched off; a `backward` written with tensor
ops is itself differentiable (double backward).  Inside `func.vmap`, a Function with a
`vmap` static method (torch.func's `vmap(info, in_dims, *args) -> (output, out_dims)`)
uses it; any other runs once per batch element.
"""
import collections
import functools

from ..ops import batching
from ..ops.op import Op, _forward_ad, _modified_error
from ..tensor import Tensor
from .engine import freed_error
from .grad_mode import state

VmapInfo = collections.namedtuple("VmapInfo", ["batch_size", "randomness"])


class FunctionCtx(Op):
    """The node a Function call leaves in the graph; the `ctx` its methods receive."""

    _fn = None                  # the Function subclass this node belongs to
    materialize_grads = True    # read by the engine: turn missing output grads into zeros

    # --- what forward / setup_context may call ---------------------------------------

    def save_for_backward(self, *tensors):
        """Keep tensors (inputs, outputs or others) for backward; read via `saved_tensors`."""
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save variables, but argument {i} "
                                f"is of type {type(t).__name__}")
        self._to_save = tensors

    save_for_forward = save_for_backward

    def mark_non_differentiable(self, *tensors):
        self._non_differentiable = {id(t) for t in tensors}

    def mark_dirty(self, *tensors):
        """Declare inputs that forward modified in place (they must be returned)."""
        self._dirty = {id(t) for t in tensors}

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)

    @property
    def saved_tensors(self):
        """The saved tensors, checked not to have been modified in place since forward."""
        if self._freed:
            raise freed_error()
        saved = self.__dict__.get("_saved", ())
        outs = self.outputs if any(s[0] == "out" for s in saved) else None
        result = []
        for kind, value, version in saved:
            if kind == "out":
                result.append(outs[value])
                continue
            if value is not None and value._vc[0] != version:
                raise _modified_error(value, version, self)
            result.append(value)
        return tuple(result)

    # --- what the engine calls -------------------------------------------------------

    def vjp(self, *grads):
        slots = [None] * self._n_results
        for i, g in zip(self._positions, grads):
            slots[i] = g
        result = self._fn.backward(self, *slots)
        return self._check_grads(result)

    def jvp(self, *tangents):
        tangents = [None if not isinstance(a, Tensor) else t for a, t in zip(self.args, tangents)]
        out = self._fn.jvp(self, *tangents)
        out = out if isinstance(out, tuple) else (out,)
        out = [out[i] for i in self._positions]
        return out[0] if len(out) == 1 else tuple(out)

    def _check_grads(self, grads):
        grads = grads if isinstance(grads, tuple) else (grads,)
        n = len(self.args)
        if len(grads) < n or any(g is not None for g in grads[n:]):
            raise RuntimeError(f"function {self.name()}Backward0 returned an incorrect number of "
                               f"gradients (expected {n}, got {len(grads)})")
        for i, (a, g) in enumerate(zip(self.args, grads)):
            if g is None:
                continue
            if not isinstance(a, Tensor):
                raise RuntimeError(f"function {self.name()}Backward0 returned a gradient different "
                                   f"than None at position {i + 1}, but the corresponding forward "
                                   f"input was not a Variable")
            if not isinstance(g, Tensor):
                raise TypeError(f"function {self.name()}Backward0 returned a {type(g).__name__} at "
                                f"position {i + 1}; expected a Tensor or None")
        return grads[:n]

    @classmethod
    def name(cls):
        return cls._fn.__name__


class Function:
    """Base class for custom autograd functions; subclasses define static methods
    `forward(ctx, *args)` and `backward(ctx, *grad_outputs)`, optionally `jvp` and the
    new-style `setup_context(ctx, inputs, output)` (then `forward(*args)` has no ctx)."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "vjp" in cls.__dict__ and "backward" not in cls.__dict__:     # vjp: backward's alias
            cls.backward = cls.__dict__["vjp"]
        cls._backward_cls = type(cls.__name__, (FunctionCtx,), {"_fn": cls})   # <NameBackward0>

    def __init__(self, *args, **kwargs):
        raise RuntimeError("autograd.Function is not instantiated: call the static method "
                           f"{type(self).__name__}.apply(...) instead")

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for "
                                  "your custom autograd.Function to use it with backward mode AD.")

    vmap = None                 # optional: vmap(info, in_dims, *args) -> (output, out_dims)
    generate_vmap_rule = False  # (accepted for torch.func; without `vmap`, a loop is used)

    @staticmethod
    def jvp(ctx, *grad_inputs):
        raise NotImplementedError("You must implement the jvp function for custom "
                                  "autograd.Function to use it with forward mode AD.")

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run forward without recording, then put one node for the whole call in the graph."""
        if kwargs:
            raise TypeError(f"{cls.__name__}.apply() takes positional arguments only")
        if state.vmap:
            level = batching.innermost(args)
            if level is not None:
                return _apply_batched(cls, args, level)
        ctx = object.__new__(cls._backward_cls)
        ctx.args = args
        needs = [isinstance(a, Tensor) and a._requires_grad and state.grad_enabled for a in args]
        record = any(needs)
        ctx.needs_input_grad = tuple(needs)
        ctx._freed = False

        grad_mode, level = state.grad_enabled, state.fw_level
        state.grad_enabled, state.fw_level = False, 0
        try:
            if cls.setup_context is Function.setup_context:
                output = cls.forward(ctx, *args)
            else:
                output = cls.forward(*args)
                cls.setup_context(ctx, args, output)
        finally:
            state.grad_enabled, state.fw_level = grad_mode, level

        single = not isinstance(output, tuple)
        output = (output,) if single else output
        results, arrays, positions = list(output), [], []
        dirty = ctx.__dict__.pop("_dirty", ())
        for i, o in enumerate(output):
            if isinstance(o, Tensor):
                if id(o) not in dirty and any(o is a for a in args):    # input returned as is:
                    o = results[i] = Tensor._make(o._data)                # a new alias of it
                    o._vc = output[i]._vc
                positions.append(i)
                arrays.append(o._data)
        if dirty:
            _check_dirty(cls, args, dirty, results)
        ctx._positions, ctx._n_results, ctx.n_out = positions, len(results), len(positions)
        _save(ctx, args, results)

        if record and arrays:
            no_diff = ctx.__dict__.pop("_non_differentiable", ())
            tensors = [results[i] for i in positions]
            ctx._connect(args, arrays, tensors)
            for k, t in enumerate(tensors):
                differentiable = t._data.dtype.kind in "fc" and id(t) not in no_diff
                t._requires_grad = differentiable
                t.grad_fn, t._out_nr = (ctx, k) if differentiable else (None, 0)
        if level and arrays:
            _forward_ad(ctx, args, [results[i] for i in positions])
        return results[0] if single else tuple(results)


def _apply_batched(cls, args, level):
    """Function.apply inside vmap: the Function's own `vmap` rule, or once per element."""
    phys, batched = batching.unwrap(args, level)
    if cls.vmap is not None:
        out, out_dims = cls.vmap(VmapInfo(level.size, level.randomness),
                                 tuple(0 if b else None for b in batched), *phys)
        single = not isinstance(out, tuple)
        outs, dims = ((out,), (out_dims,)) if single else (out, out_dims)
        result = tuple(o if d is None else batching.BatchedTensor.wrap(o.movedim(d, 0), level)
                       for o, d in zip(outs, dims))
        return result[0] if single else result
    return batching.wrap(batching.fallback(cls._backward_cls, level.size, phys, batched, {},
                                           run=cls.apply), level)


def _check_dirty(cls, args, dirty, results):
    for a in args:
        if isinstance(a, Tensor) and id(a) in dirty:
            if not any(a is r for r in results):
                raise RuntimeError(f"{cls.__name__}: a tensor marked dirty with mark_dirty must be "
                                   f"returned by forward")
            if a._requires_grad and a.grad_fn is None and state.grad_enabled:
                raise RuntimeError("a leaf Variable that requires grad is being used in an "
                                   "in-place operation.")


def _save(ctx, args, results):
    """Record what save_for_backward got: outputs by position, others with their version."""
    saved = []
    for t in ctx.__dict__.pop("_to_save", ()):
        out = next((k for k, i in enumerate(ctx._positions) if results[i] is t), None)
        if out is not None:
            saved.append(("out", out, None))
        else:
            saved.append(("tensor", t, None if t is None else t._vc[0]))
    ctx._saved = saved


def once_differentiable(backward):
    """Decorator for a `backward` that is not itself differentiable: it runs without
    recording, so a double backward through it gets no gradient instead of a wrong one."""
    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        prev, state.grad_enabled = state.grad_enabled, False
        try:
            return backward(ctx, *grads)
        finally:
            state.grad_enabled = prev
    return wrapper
