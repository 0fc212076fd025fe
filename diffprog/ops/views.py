"""In-place changes through a view: rewriting the base's history (PyTorch's CopySlices)
and, in forward mode, the base's tangent."""
from ..autograd.forward_ad import track
from ..autograd.grad_mode import state
from ..backend import xp
from ..tensor import Tensor
from .op import Op


class CopySlices(Op):
    """The base after one of its views was overwritten by `src`: base outside, src inside."""

    op_name = "copy_slices"

    def vjp(ctx, g):
        mask = xp.ones(tuple(g.shape), dtype=g.dtype.np)
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
