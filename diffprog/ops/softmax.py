"""softmax, log_softmax (fused, numerically stable: they are hot in training) and one_hot."""
import warnings

from .._array import xp
from .._dims import _dims
from .batching import along, leading
from .op import Op, quiet
from .reduction import _np_dtype


def _shifted(ctx, x, dim, dtype):
    """x minus its max along dim, as a new float array (the dim kept); sets ctx.dim."""
    if dtype is not None:
        x = x.astype(dtype, copy=False)
    elif x.dtype.kind != "f":
        raise RuntimeError(f"{ctx.name()}: expected a floating point input, got {x.dtype} "
                           "(pass dtype= to compute in a floating type)")
    d = ctx.dim = _dims(dim, x.ndim)[0]
    x = x.reshape(x.shape or (1,))
    if x.shape[d] == 0:
        return x.copy()
    return x - x.max(axis=d, keepdims=True)


class Softmax(Op):
    """exp(x) / sum(exp(x)) along dim."""

    batch = along("dim")

    @quiet
    def forward(ctx, x, dim, dtype=None):
        y = _shifted(ctx, x, dim, dtype)
        xp.exp(y, out=y)
        y /= y.sum(axis=ctx.dim, keepdims=True)
        return y.reshape(x.shape)

    def vjp(ctx, g):
        y = ctx.output
        return y * (g - (g * y).sum(ctx.dim, keepdim=True))

    def jvp(ctx, dx):
        y = ctx.output
        return y * (dx - (dx * y).sum(ctx.dim, keepdim=True))


class LogSoftmax(Op):
    """x - logsumexp(x) along dim."""

    op_name = "log_softmax"

    batch = along("dim")

    @quiet
    def forward(ctx, x, dim, dtype=None):
        y = _shifted(ctx, x, dim, dtype)
        y -= xp.log(xp.exp(y).sum(axis=ctx.dim, keepdims=True))
        return y.reshape(x.shape)

    def vjp(ctx, g):
        return g - ctx.output.exp() * g.sum(ctx.dim, keepdim=True)

    def jvp(ctx, dx):
        return dx - (ctx.output.exp() * dx).sum(ctx.dim, keepdim=True)


class OneHot(Op):
    """int64 tensor of shape input.shape + (num_classes,), 1 at each input value."""

    op_name = "one_hot"

    batch = leading

    def forward(ctx, x, num_classes=-1):
        if x.dtype != xp.int64:
            raise RuntimeError(f"one_hot: one_hot is only applicable to index tensor (int64), got {x.dtype}")
        if x.size and x.min() < 0:
            raise RuntimeError("one_hot: Class values must be non-negative.")
        if num_classes == -1:
            if x.size == 0:
                raise RuntimeError("one_hot: Can not infer total number of classes from empty tensor.")
            num_classes = int(x.max()) + 1
        elif x.size and x.max() >= num_classes:
            raise RuntimeError(f"one_hot: Class values must be smaller than num_classes ({num_classes}).")
        out = xp.zeros(x.shape + (num_classes,), dtype=xp.int64, like=x)
        xp.put_along_axis(out, x[..., None], 1, axis=-1)
        return out


def _legacy_dim(name, ndim):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to "
                  "include dim=X as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, dtype=None):
    if dim is None:
        dim = _legacy_dim("softmax", input.ndim)
    return Softmax.apply(input, dim=dim, dtype=_np_dtype(dtype))


def log_softmax(input, dim=None, dtype=None):
    if dim is None:
        dim = _legacy_dim("log_softmax", input.ndim)
    return LogSoftmax.apply(input, dim=dim, dtype=_np_dtype(dtype))


def one_hot(tensor, num_classes=-1):
    return OneHot.apply(tensor, num_classes=num_classes)


METHODS = {"softmax": softmax, "log_softmax": log_softmax}

__all__ = ["softmax", "log_softmax", "one_hot"]
