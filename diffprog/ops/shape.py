"""Shape operations: views (reshape, expand, transpose, ...) and copies (clone, cast)."""
from .. import dtypes as _dt
from ..backend import xp
from .op import Op


def _shape_arg(shape):
    """Accept f(2, 3) and f((2, 3)) alike."""
    if len(shape) == 1 and not isinstance(shape[0], int):
        return tuple(int(s) for s in shape[0])
    return tuple(int(s) for s in shape)


class Reshape(Op):
    is_view = True

    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise RuntimeError(f"reshape: shape '{list(shape)}' is invalid for input of size {x.size}") from None

    def vjp(ctx, g):
        return g.reshape(ctx.in_shape)

    def jvp(ctx, dx):
        return dx.reshape(ctx.output.shape)


class Expand(Op):
    is_view = True

    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        lead = len(shape) - x.ndim
        if lead < 0:
            raise RuntimeError(f"expand: the number of sizes provided ({len(shape)}) must be greater or "
                               f"equal to the number of dimensions in the tensor ({x.ndim})")
        shape = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
        try:
            return xp.broadcast_to(x, shape)
        except ValueError:
            raise RuntimeError(f"expand: the expanded size {list(shape)} is not compatible with the "
                               f"existing size {list(x.shape)}") from None

    def vjp(ctx, g):
        return g.sum_to_size(ctx.in_shape)

    def jvp(ctx, dx):
        return dx.expand(ctx.output.shape)


class Cast(Op):
    """Change dtype (a copy). Gradients are cast back to the input's dtype."""

    op_name = "to"

    def forward(ctx, x, dtype):
        ctx.in_dtype = _dt.from_numpy_dtype(x.dtype)
        return x.astype(dtype.np)

    def vjp(ctx, g):
        return g.to(ctx.in_dtype)

    def jvp(ctx, dx):
        return dx.to(ctx.output.dtype)


class Clone(Op):
    def forward(ctx, x, memory_format=None):
        return x.copy()

    def vjp(ctx, g):
        return g

    def jvp(ctx, dx):
        return dx


def reshape(input, *shape):
    return Reshape.apply(input, shape=_shape_arg(shape))


def expand(input, *sizes):
    shape = _shape_arg(sizes)
    return Expand.apply(input, shape=shape)


def clone(input, *, memory_format=None):
    return Clone.apply(input)


def _cast(input, dtype):
    return Cast.apply(input, dtype=dtype)


def view_as(input, other):
    return Reshape.apply(input, shape=tuple(other.shape))


METHODS = {"view_as": view_as, "reshape": reshape, "view": reshape, "expand": expand, "clone": clone, "_cast": _cast}

__all__ = ["reshape", "expand", "clone", "view_as"]
