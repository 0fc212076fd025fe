"""In-place changes through a view: rewriting the base's history (PyTorch's CopySlices)."""
from ..backend import xp
from ..tensor import Tensor
from .op import Op


class CopySlices(Op):
    """The base after one of its views was overwritten by `src`: base outside, src inside."""

    op_name = "copy_slices"

    def vjp(ctx, g):
        mask = xp.ones(g._data.shape, dtype=g._data.dtype)
        ctx.view_fn(Tensor._make(mask))._data[...] = 0
        return g * Tensor._make(mask), ctx.view_fn(g)

    def jvp(ctx, d_base, d_src):
        out = d_base.clone()
        ctx.view_fn(out).copy_(d_src)
        return out


def rebase_view(view, result):
    """After `view` took `result`'s values in place, make its base's grad_fn a CopySlices."""
    base = view._base
    old = Tensor._make(base._data, base._requires_grad)
    old.grad_fn, old._out_nr, old._vc = base.grad_fn, base._out_nr, [base._vc[0]]
    node = object.__new__(CopySlices)
    node.args = (old, result)
    node.view_fn = view._view_fn
    node._connect((old, result), [base._data], [base])
    base.grad_fn, base._out_nr, base._requires_grad = node, 0, True
    fresh = view._view_fn(base)
    view.grad_fn, view._out_nr, view._requires_grad = fresh.grad_fn, fresh._out_nr, True
