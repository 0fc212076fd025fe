"""In-place ops: `x.op_(...)` computes op(x, ...) and writes the result into x's storage.

The written tensor takes the new node as its history (PyTorch's rebase).  When it is a view,
its base's history is rewritten too (PyTorch's CopySlices), and in forward mode the base's
tangent, so that gradients and tangents flow through the base.
"""
from ..autograd.forward_ad import track
from ..autograd.grad_mode import state
from .._array import ones, xp
from ..tensor import Tensor
from . import batching
from .batching import array_of, BatchedTensor
from .op import Op, _refresh_view


def apply_inplace(cls, self, *args, **kwargs):
    """`self.op_(...)`: compute op(self, ...) and write the result into self's storage.

    With autograd, self takes the new node as its grad_fn (PyTorch's rebase); when self is a
    view, its base's history is rewritten too, so gradients flow through the base.
    """
    tensor, level = self, batching.innermost((self,) + args) if state.vmap else None
    if level is not None:           # inside vmap: write the batched result into self's values
        if not (type(self) is BatchedTensor and self._level is level):
            raise RuntimeError(f"vmap: {cls.name()}_(self, *args) is not possible because self is "
                               "the same for every batch element and the result is not; use the "
                               "out-of-place form")
        self = self._value
    if self._requires_grad and self.grad_fn is None and state.grad_enabled:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
    base = self._base
    if base is not None and self._view_version != self._vc[0]:
        _refresh_view(self)
    if base is not None and base._requires_grad and base.grad_fn is None and state.grad_enabled:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                           "in-place operation.")
    recording = state.grad_enabled and (self._requires_grad or any(
        isinstance(a, Tensor) and a._requires_grad for a in args))
    source = _original(self) if recording else self
    if level is None:
        result = cls.apply(source, *args, **kwargs)
    else:
        result = cls.apply(BatchedTensor.wrap(source, level), *args, **kwargs)._value
    if (recording and result.grad_fn is None and self._requires_grad) or (
            state.fw_level and self._tangent is not None and result._tangent is None):
        # A non-differentiable result (a comparison) written into a float tensor: its
        # history continues with a zero derivative, as in PyTorch.
        result = _Overwritten.apply(source, value=result._data)
    if result._data.dtype != self._data.dtype:
        if not xp.can_cast(result._data.dtype, self._data.dtype, "same_kind") or \
                (result._data.dtype.kind == "f" and self._data.dtype.kind in "iub"):
            raise RuntimeError(f"{cls.name()}_: result type {result.dtype.name} can't be cast to the "
                               f"desired output type {self.dtype.name}")
    write_into(self, result)
    return tensor


class _Overwritten(Op):
    """x replaced by constant values: the derivative is zero."""

    op_name = "overwrite"

    def forward(ctx, x, value):
        return value.astype(x.dtype)

    def vjp(ctx, g):
        return g * 0

    def jvp(ctx, dx):
        return dx * 0


def _original(self):
    """self's current values with self's history: the operand an in-place op's node saves,
    so that writing the result into self does not invalidate it (PyTorch's original self)."""
    t = Tensor._make(self._data.copy(), self._requires_grad)
    t.grad_fn, t._out_nr, t._tangent = self.grad_fn, self._out_nr, self._tangent
    return t


def write_into(self, result):
    """Copy result's values into self's storage, taking over its autograd history."""
    xp.copyto(self._data, result._data, casting="unsafe")
    self._vc[0] += 1
    if self._base is not None:
        rebase_view(self, result)        # the base's history and tangent change too
        return
    if result.grad_fn is not None:
        self.grad_fn, self._out_nr = result.grad_fn, result._out_nr
        self._requires_grad = result._requires_grad
        # The node's saved output must follow the tensor it now belongs to.
        result.grad_fn._out_vc, result.grad_fn._out_version = self._vc, self._vc[0]
    if result._tangent is not None or self._tangent is not None:
        self._tangent = result._tangent
        track(self)


# --- views: the base's history and tangent --------------------------------------------

class CopySlices(Op):
    """The base after one of its views was overwritten by `src`: base outside, src inside."""

    op_name = "copy_slices"

    def vjp(ctx, g):
        mask = ones(tuple(g.shape), dtype=g.dtype.np, like=array_of(g))
        ctx.view_fn(Tensor._make(mask))._data[...] = 0
        return g * Tensor._make(mask), ctx.view_fn(g)


def rebase_view(view, result):
    """After `view` took `result`'s values in place, make its base's grad_fn a CopySlices
    and its base's tangent the old tangent with the view's part replaced."""
    base = view._base
    if result.grad_fn is not None:
        old = Tensor._make(base._data, base._requires_grad)
        old.grad_fn, old._out_nr, old._vc = base.grad_fn, base._out_nr, [base._vc[0]]
        node = object.__new__(CopySlices)
        node.args = (old, result)
        node.view_fn = view._view_fn
        node._connect((old, result), [base._data], [base])
        base.grad_fn, base._out_nr, base._requires_grad = node, 0, True
        fresh = view._view_fn(base)
        view.grad_fn, view._out_nr, view._requires_grad = fresh.grad_fn, fresh._out_nr, True
        view._view_version = view._vc[0]
    if state.fw_level and (result._tangent is not None or base._tangent is not None):
        _rebase_tangent(view, base, result._tangent)


def _rebase_tangent(view, base, src):
    level, state.fw_level = state.fw_level, 0        # tangent math carries no tangents
    try:
        t = base._tangent.clone() if base._tangent is not None else \
            Tensor._make(xp.zeros_like(base._data))
        view._view_fn(t).copy_(src if src is not None else 0)
        view._tangent = view._view_fn(t)
    finally:
        state.fw_level = level
    base._tangent = t
    track(base)
    track(view)
