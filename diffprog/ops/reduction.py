"""Reductions over dimensions: sum, mean, ... and `sum_to_size`, the engine's unbroadcast."""
from ..backend import xp
from .op import Op


def _dims(dim, ndim):
    """Normalise `dim` (None, int or sequence) to a sorted tuple of non-negative axes."""
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(ndim))
    if isinstance(dim, int):
        dim = (dim,)
    n = max(ndim, 1)
    out = []
    for d in dim:
        if not -n <= d < n:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                             f"but got {d})")
        out.append(d % n)
    return tuple(sorted(set(out)))


def _expand_back(g, shape, dims, keepdim):
    """Broadcast a reduced gradient back to `shape` (re-inserting reduced dims)."""
    if not keepdim and dims:
        g = g.reshape([1 if i in dims else s for i, s in enumerate(shape)])
    return g.expand(shape)


class Sum(Op):
    def forward(ctx, x, dim=None, keepdim=False, dtype=None):
        ctx.dims = _dims(dim, x.ndim) if x.ndim else ()
        ctx.keepdim = keepdim
        ctx.shape = x.shape
        if dtype is None and x.dtype.kind in "bui":
            dtype = xp.int64
        return xp.sum(x, axis=ctx.dims, keepdims=keepdim, dtype=dtype)

    def vjp(ctx, g):
        return _expand_back(g, ctx.shape, ctx.dims, ctx.keepdim)

    def jvp(ctx, dx):
        return dx.sum(ctx.dims, keepdim=ctx.keepdim)


class SumToSize(Op):
    """Sum a broadcast tensor back to `shape` (the inverse of expand)."""

    op_name = "sum_to_size"

    def forward(ctx, x, shape):
        ctx.shape, ctx.in_shape = tuple(shape), x.shape
        lead = x.ndim - len(ctx.shape)
        if lead < 0:
            raise RuntimeError(f"size {list(shape)} is not expandable to size {list(x.shape)}")
        axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(ctx.shape)
                                          if s == 1 and x.shape[i + lead] != 1)
        out = xp.sum(x, axis=axes, keepdims=True) if axes else x
        return out.reshape(ctx.shape)

    def vjp(ctx, g):
        return g.expand(ctx.in_shape)

    def jvp(ctx, dx):
        return dx.sum_to_size(ctx.shape)


def sum(input, dim=None, keepdim=False, *, dtype=None):
    return Sum.apply(input, dim=dim, keepdim=keepdim, dtype=dtype)


def sum_to_size(input, *size):
    shape = size[0] if len(size) == 1 and not isinstance(size[0], int) else size
    if tuple(shape) == tuple(input.shape):
        return input
    return SumToSize.apply(input, shape=tuple(shape))


METHODS = {"sum": sum, "sum_to_size": sum_to_size}

__all__ = ["sum", "sum_to_size"]
