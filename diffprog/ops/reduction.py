"""Reductions over dimensions (sum, mean, prod, max, var, logsumexp, ...), scans (cumsum,
cummax, ...), sorting-like ops, and `sum_to_size`, the engine's unbroadcast.

Three shared derivative patterns:
  - ops whose values are input elements picked by an index along `dim` (max/min with dim,
    sort, topk, median/mode with dim, cummax) subclass `_Select`: the VJP puts the gradient
    back at the picked places, the JVP picks the tangent (indexing's gather-style `Index`);
  - ops that are linear in x for fixed weights W (amax and ties, nansum, nanmean) subclass
    `_Weighted`: VJP = g * W, JVP = sum(dx * W);
  - the others (sum, mean, prod, var, logsumexp, cumsum, cumprod) write theirs.
(`norm` lives with the other norms in linalg.py.)
"""
import warnings
from collections import namedtuple

from .. import dtypes as _dt
from .._array import as_array, broadcast_view, eye, ones, sum_to, ufunc_method, xp
from .._dims import _dims
from ..tensor import Tensor
from . import selection
from .batching import along, array_of, shift
from .indexing import Index, IndexBackward, _along_key
from .op import Op, quiet
from .shape import cat


# --- helpers --------------------------------------------------------------------------

def _axes(dim, ndim):
    """`_dims` as NumPy axes: a 0-d tensor accepts dim 0 / -1 but has no axis to reduce."""
    dims = _dims(dim, ndim)
    return dims if ndim else ()


def _expand_back(g, shape, dims, keepdim):
    """Broadcast a reduced gradient (a tensor, or an array in a plain backward) back to
    `shape` (re-inserting reduced dims)."""
    if not keepdim and dims and g.ndim:
        g = g.reshape(_kept(shape, dims))
    return g.expand(shape) if isinstance(g, Tensor) else broadcast_view(g, shape)


def _kept(shape, dims):
    """The shape of a reduction over dims with keepdim=True."""
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


def _numel(shape, dims):
    n = 1
    for d in dims:
        n *= shape[d]
    return n


def _const(a):
    """A tensor that carries no gradient (masks, weights, counts)."""
    return Tensor._make(a)


def _np_dtype(dtype):
    return None if dtype is None else _dt.to_dtype(dtype).np


def _need_float(x, what):
    if x.dtype.kind not in "fc":
        raise RuntimeError(f"{what}: expected a floating point or complex input, got "
                           f"{_dt.from_numpy_dtype(x.dtype).name}")


def _nonempty(x, dims):
    for d in dims:
        if x.shape[d] == 0:
            raise IndexError(f"Expected reduction dim {d} to have non-zero size.")


def _return_type(name, fields=("values", "indices")):
    """A named tuple like PyTorch's `torch.return_types.<name>`."""
    cls = namedtuple(name, fields)
    cls.__module__ = "diffprog.return_types"
    return cls


# --- sum, mean, prod ---------------------------------------------------------------------

class Sum(Op):
    raw = True
    batch = along("dim")

    def forward(ctx, x, dim=None, keepdim=False, dtype=None):
        ctx.dims = _axes(dim, x.ndim)
        ctx.keepdim = keepdim
        ctx.shape = x.shape
        if dtype is None and x.dtype.kind in "bui":
            dtype = xp.int64
        return x.sum(axis=ctx.dims, keepdims=keepdim, dtype=dtype)

    def vjp(ctx, g):
        return _expand_back(g, ctx.shape, ctx.dims, ctx.keepdim)

    def jvp(ctx, dx):
        return dx.sum(ctx.dims, keepdim=ctx.keepdim)


class SumToSize(Op):
    """Sum a broadcast tensor back to `shape` (the inverse of expand)."""

    op_name = "sum_to_size"

    @classmethod
    def batch(cls, n, args, batched, kwargs):
        x, shape = args[0], tuple(kwargs["shape"])
        lead = x.ndim - 1 - len(shape)
        if lead > 0:                               # an element's extra leading dims
            x = x.sum(tuple(range(1, lead + 1)))
        return x if tuple(x.shape[1:]) == shape else cls.apply(x, shape=(n,) + shape)

    def forward(ctx, x, shape):
        ctx.shape, ctx.in_shape = tuple(shape), x.shape
        return sum_to(x, ctx.shape)

    def vjp(ctx, g):
        return g.expand(ctx.in_shape)

    def jvp(ctx, dx):
        return dx.sum_to_size(ctx.shape)


class Mean(Op):
    raw = True
    batch = along("dim")

    def forward(ctx, x, dim=None, keepdim=False, dtype=None):
        if dtype is None:
            _need_float(x, "mean")
        ctx.dims, ctx.keepdim, ctx.shape = _axes(dim, x.ndim), keepdim, x.shape
        ctx.n = _numel(x.shape, ctx.dims)
        if not ctx.n:       # NaN, without NumPy's "Mean of empty slice" warning (PyTorch has none)
            return as_array(xp.sum(x, axis=ctx.dims, keepdims=keepdim, dtype=dtype) * xp.nan)
        return as_array(xp.mean(x, axis=ctx.dims, keepdims=keepdim, dtype=dtype))

    def vjp(ctx, g):
        return _expand_back(g, ctx.shape, ctx.dims, ctx.keepdim) / ctx.n

    def jvp(ctx, dx):
        return dx.mean(ctx.dims, keepdim=ctx.keepdim)


class Prod(Op):
    batch = along("dim")

    def forward(ctx, x, dim=None, keepdim=False, dtype=None):
        ctx.dims = _axes(dim, x.ndim)
        ctx.keepdim, ctx.shape = keepdim, x.shape
        if dtype is None and x.dtype.kind in "bui":
            dtype = xp.int64
        return as_array(xp.prod(x, axis=ctx.dims, keepdims=keepdim, dtype=dtype))

    def _others(ctx, x):
        """d out / d x: for each element, the product of the others it was reduced with."""
        if xp.all(x._data != 0):
            return _expand_back(ctx.output, ctx.shape, ctx.dims, ctx.keepdim) / x
        if len(ctx.dims) == 1:
            return _prod_others(x, ctx.dims[0])
        # several dims (all of them, or those of one element inside vmap): as one last dim
        keep = [d for d in range(x.ndim) if d not in ctx.dims]
        order = keep + list(ctx.dims)
        moved = x.permute(order)
        flat = moved.reshape(tuple(moved.shape[:len(keep)]) + (-1,))
        others = _prod_others(flat, len(keep)).reshape(moved.shape)
        return others.permute(tuple(xp.argsort(order).tolist()))

    def vjp(ctx, g):
        return _expand_back(g, ctx.shape, ctx.dims, ctx.keepdim) * ctx._others(ctx.inputs[0])

    def jvp(ctx, dx):
        return (dx * ctx._others(ctx.args[0])).sum(ctx.dims, keepdim=ctx.keepdim)


def _prod_others(x, d):
    """Product of all the other elements along d, for inputs with zeros: (product of those
    before) * (product of those after), two exclusive cumprods, as PyTorch does."""
    return _exclusive_cumprod(x, d, False) * _exclusive_cumprod(x, d, True)


def _exclusive_cumprod(x, d, reverse):
    """Products of the elements strictly before (after, if reverse) each one along d:
    the cumprod of x shifted by one, a 1 entering at the start (end)."""
    n = x.shape[d]
    one = _const(ones(_kept(x.shape, (d,)), dtype=x.dtype.np, like=array_of(x)))
    shifted = cat([x.narrow(d, 1, n - 1), one] if reverse else [one, x.narrow(d, 0, n - 1)], d)
    return Cumprod.apply(shifted, dim=d, reverse=reverse)


# --- scans: cumsum, cumprod ----------------------------------------------------------------

class Cumsum(Op):
    """Cumulative sum along dim; `reverse` (internal) sums from the end, for the VJP."""

    batch = along("dim")

    def forward(ctx, x, dim, dtype=None, reverse=False):
        ctx.dim, ctx.reverse = _dims(dim, x.ndim)[0], reverse
        if dtype is None and x.dtype.kind in "bui":
            dtype = xp.int64
        return _scan(xp.cumsum, x, ctx.dim, dtype, reverse)

    def vjp(ctx, g):
        return Cumsum.apply(g, dim=ctx.dim, reverse=not ctx.reverse)

    def jvp(ctx, dx):
        return Cumsum.apply(dx, dim=ctx.dim, reverse=ctx.reverse)


class Cumprod(Op):
    """Cumulative product along dim; `reverse` (internal) multiplies from the end."""

    batch = along("dim")

    def forward(ctx, x, dim, dtype=None, reverse=False):
        ctx.dim, ctx.reverse = _dims(dim, x.ndim)[0], reverse
        if dtype is None and x.dtype.kind in "bui":
            dtype = xp.int64
        return _scan(xp.cumprod, x, ctx.dim, dtype, reverse)

    def vjp(ctx, g):
        x, d, rev = ctx.inputs[0], ctx.dim, ctx.reverse
        if x.ndim == 0:
            return g
        if xp.all(x._data != 0):      # dy_i/dx_k = y_i / x_k for the i after k
            return Cumsum.apply(g * ctx.output, dim=d, reverse=not rev) / x
        return (_cumprod_terms(x, d, rev) * g.unsqueeze(d)).sum(d + 1)

    def jvp(ctx, dx):
        x, d, rev = ctx.args[0], ctx.dim, ctx.reverse
        if x.ndim == 0:
            return dx
        if xp.all(x._data != 0):
            return ctx.output * Cumsum.apply(dx / x, dim=d, reverse=rev)
        return (_cumprod_terms(x, d, rev) * dx.unsqueeze(d + 1)).sum(d)


class LogCumSumExp(Op):
    """log(cumsum(exp(x), dim)) by a running logaddexp (stable; -inf entries allowed).

    With y the output, dy_t/dx_s = exp(x_s - y_t) for s <= t (a softmax over the prefix).
    Both derivatives are evaluated as logcumsumexps of log|g| (positive and negative parts
    apart), so nothing overflows."""

    batch = along("dim")

    def forward(ctx, x, *, dim):
        ctx.dim = _dims(dim, x.ndim)[0]
        return ufunc_method(xp.logaddexp, "accumulate", x.reshape(x.shape or (1,)), axis=ctx.dim).reshape(x.shape)

    def _safe_output(ctx):
        """y with -inf (a prefix of -inf terms, all zero) replaced by 0, so that x - y is
        -inf there instead of nan."""
        y = ctx.output
        return selection.where(y == float("-inf"), 0.0, y)

    def vjp(ctx, g):
        d, x, y = ctx.dim, ctx.input(0), ctx._safe_output()
        total = 0
        for sign, logs in _signed_logs(g):
            suffix = LogCumSumExp.apply((logs - y).flip(d), dim=d).flip(d)   # sum over t >= s
            total = total + sign * (x + suffix).exp()
        return total

    def jvp(ctx, dx):
        d, x, y = ctx.dim, ctx.args[0], ctx._safe_output()
        total = 0
        for sign, logs in _signed_logs(dx):
            total = total + sign * (LogCumSumExp.apply(x + logs, dim=d) - y).exp()
        return total


def _signed_logs(v):
    """(+1, log max(v, 0)) and (-1, log max(-v, 0)), -inf where that part is 0 (the log taken of
    1 there, so that no derivative divides by zero)."""
    where = selection.where
    return [(sign, where(keep, where(keep, sign * v, 1.0).log(), float("-inf")))
            for sign, keep in ((1, v > 0), (-1, v < 0))]


def _scan(fn, x, d, dtype, reverse):
    x1 = x.reshape(x.shape or (1,))
    if reverse:
        out = xp.flip(fn(xp.flip(x1, d), axis=d, dtype=dtype), d)
    else:
        out = fn(x1, axis=d, dtype=dtype)
    return out.reshape(x.shape)


def _cumprod_terms(x, d, reverse):
    """T[.., k, i, ..] = d y_i / d x_k for y = cumprod(x) along d, k a new dim before d:
    the running product with x_k replaced by 1, kept where i >= k (i <= k if reverse).
    O(n^2): used only when x has zeros, where y / x_k is undefined."""
    n = x.shape[d]
    trail = (1,) * (x.ndim - d - 1)
    i = eye(n, dtype=x.dtype.np, like=array_of(x))
    tri = (xp.tril if reverse else xp.triu)(xp.ones_like(i)).reshape((n, n) + trail)
    i = i.reshape((n, n) + trail)
    z = x.unsqueeze(d) * _const(1 - i) + _const(i)
    return Cumprod.apply(z, dim=d + 1, reverse=reverse) * _const(tri)


# --- weighted reductions: amax/amin (ties share), nansum, nanmean ------------------------

class _Weighted(Op):
    """out = sum over dims of W * x for weights W that do not depend on x's small changes;
    subclasses give `weights(x_array)`."""

    batch = along("dim")

    def vjp(ctx, g):
        x = ctx.inputs[0]
        return _expand_back(g, ctx.shape, ctx.dims, ctx.keepdim) * _const(ctx.weights(x._data))

    def jvp(ctx, dx):
        w = _const(ctx.weights(ctx.args[0]._data))
        return (dx * w).sum(ctx.dims, keepdim=ctx.keepdim)

    def _setup(ctx, x, dim, keepdim):
        ctx.dims, ctx.keepdim, ctx.shape = _axes(dim, x.ndim), keepdim, x.shape
        return ctx.dims


def _tie_weights(x, y, dims):
    """1/count where x equals its reduction y (kept dims; NaN matches NaN), else 0: how
    PyTorch splits the gradient of max-like reductions among equal elements."""
    hit = x == y
    if x.dtype.kind == "f":
        hit |= xp.isnan(x) & xp.isnan(y)
    hit = hit.astype(x.dtype)
    hit /= hit.sum(axis=dims, keepdims=True)
    return hit


class Amax(_Weighted):
    batch = along("dim")
    reduce = staticmethod(xp.amax)

    def forward(ctx, x, dim=None, keepdim=False):
        dims = ctx._setup(x, dim, keepdim)
        _nonempty(x, dims)
        return as_array(ctx.reduce(x, axis=dims, keepdims=keepdim))

    def weights(ctx, x):
        return _tie_weights(x, ctx.output._data.reshape(_kept(ctx.shape, ctx.dims)), ctx.dims)


class Amin(Amax):
    reduce = staticmethod(xp.amin)


class Max(Amax):
    """max() without dim: amax over everything (the gradient is shared among ties)."""
    op_name = "max"


class Min(Amin):
    op_name = "min"


class Median(Amax):
    """median() without dim: the lower of the two middle values, NaN if there is a NaN
    (nanmedian: of the non-NaN values).  The gradient is shared among the elements equal to it."""

    batch = None            # (no rule: under vmap, once per element)

    skip_nan = False

    def forward(ctx, x):
        ctx._setup(x, None, False)
        flat = x.reshape(-1)
        if x.dtype.kind == "f":
            nan = xp.isnan(flat)
            if ctx.skip_nan:
                flat = flat[~nan]
            elif nan.any():
                return xp.asarray(xp.nan, dtype=x.dtype)
        if flat.size == 0:
            return xp.asarray(xp.nan, dtype=x.dtype)
        k = (flat.size - 1) // 2
        return as_array(xp.partition(flat, k)[k])


class Nanmedian(Median):
    skip_nan = True


class Nansum(_Weighted):
    """sum treating NaN as zero (NaNs get no gradient)."""

    def forward(ctx, x, dim=None, keepdim=False, dtype=None):
        dims = ctx._setup(x, dim, keepdim)
        if dtype is None and x.dtype.kind in "bui":
            dtype = xp.int64
        return as_array(xp.nansum(x, axis=dims, keepdims=keepdim, dtype=dtype))

    def weights(ctx, x):
        return (~xp.isnan(x)).astype(x.dtype)


class Nanmean(Nansum):
    """mean over the non-NaN elements."""

    @quiet
    def forward(ctx, x, dim=None, keepdim=False, dtype=None):
        if dtype is None:
            _need_float(x, "nanmean")
        dims = ctx._setup(x, dim, keepdim)
        total = as_array(xp.nansum(x, axis=dims, keepdims=keepdim, dtype=dtype))
        count = (~xp.isnan(x)).sum(axis=dims, keepdims=keepdim)
        return total / count.astype(total.dtype)        # 0 / 0 where all are NaN, as PyTorch: NaN

    def weights(ctx, x):
        w = (~xp.isnan(x)).astype(x.dtype)
        w /= w.sum(axis=ctx.dims, keepdims=True)
        return w


# --- selections: max/min with dim, sort, topk, median/mode with dim, cummax -----------------

class _Select(Op):
    """values = x picked at `index` along dim (gather), where subclasses' `pick(x, dim,
    **options)` returns the int64 index (same ndim as x).  `reduces`: dim is reduced (kept
    if keepdim)."""

    batch = along("dim")
    n_out = 2
    reduces = True

    def forward(ctx, x, dim=-1, keepdim=False, **options):
        ctx.dim, ctx.shape = _dims(dim, x.ndim)[0], x.shape
        x1 = x.reshape(x.shape or (1,))
        if ctx.reduces:
            _nonempty(x1, (ctx.dim,))
        index = ctx.pick(x1, ctx.dim, **options)
        ctx.key, ctx.kept_shape = _along_key(x1, ctx.dim, index, ctx.name()), index.shape
        values = x1[ctx.key]
        if not x.ndim:
            return values.reshape(()), index.reshape(())
        if ctx.reduces and not keepdim:
            return values.squeeze(ctx.dim), index.squeeze(ctx.dim)
        return values, index

    def vjp(ctx, g, _):
        if g.shape != ctx.kept_shape:
            g = g.reshape(ctx.kept_shape)
        out = IndexBackward.apply(g, key=ctx.key, shape=ctx.shape or (1,))
        return out if ctx.shape else out.reshape(())

    def jvp(ctx, dx):
        if not ctx.shape:
            dx = dx.reshape(1)
        return Index.apply(dx, key=ctx.key), None      # the engine reshapes to the output


class MaxDim(_Select):
    op_name = "max"

    def pick(ctx, x, d):
        return xp.argmax(x, axis=d, keepdims=True)


class MinDim(_Select):
    op_name = "min"

    def pick(ctx, x, d):
        return xp.argmin(x, axis=d, keepdims=True)


class MedianDim(_Select):
    """Lower median along dim; a NaN if the slice has one (nanmedian: skipping NaNs)."""

    op_name = "median"
    skip_nan = False

    def pick(ctx, x, d):
        order = xp.argsort(x, axis=d, kind="stable")         # NaNs last, in order
        n = x.shape[d]
        nans = xp.isnan(x).sum(axis=d, keepdims=True)
        if ctx.skip_nan:
            pos = xp.maximum(n - nans - 1, 0) // 2
        else:
            pos = xp.where(nans > 0, n - nans, (n - 1) // 2)
        return xp.take_along_axis(order, pos, axis=d)


class NanmedianDim(MedianDim):
    op_name = "nanmedian"
    skip_nan = True


class Mode(_Select):
    """Most frequent value along dim (the smallest on ties), at its last position."""

    def pick(ctx, x, d):
        s = xp.moveaxis(xp.sort(x, axis=d), d, -1)
        n = s.shape[-1]
        pos = xp.arange(n, like=s)
        starts = ones(s.shape, dtype=bool, like=s)
        starts[..., 1:] = s[..., 1:] != s[..., :-1]
        run = pos - ufunc_method(xp.maximum, "accumulate", xp.where(starts, pos, 0), axis=-1)   # run length - 1
        value = xp.take_along_axis(s, xp.argmax(run, axis=-1)[..., None], axis=-1)
        last = n - 1 - xp.argmax((xp.moveaxis(x, d, -1) == value)[..., ::-1], axis=-1)
        return xp.moveaxis(last[..., None], -1, d)


def _argsort(x, d, descending):
    """Stable argsort along d (NaN counts as largest); descending keeps ties in order."""
    if not descending:
        return xp.argsort(x, axis=d, kind="stable")
    # Sort the reversed axis ascending and read it backwards: ties stay first-come.
    n = x.shape[d]
    return xp.flip(n - 1 - xp.argsort(xp.flip(x, d), axis=d, kind="stable"), d)


class Sort(_Select):
    reduces = False

    def pick(ctx, x, d, descending=False):
        return _argsort(x, d, descending)


class Topk(_Select):
    reduces = False

    def pick(ctx, x, d, k, largest=True):
        n = x.shape[d]
        if not 0 <= k <= n:
            raise RuntimeError(f"topk: selected index k out of range (k={k}, size {n} in dim {d})")
        if k in (0, n):
            return xp.take(_argsort(x, d, largest), xp.arange(k, like=x), axis=d)
        part = xp.argpartition(x, n - k if largest else k - 1, axis=d)
        part = xp.take(part, xp.arange(n - k, n, like=x) if largest else xp.arange(k, like=x), axis=d)
        order = _argsort(xp.take_along_axis(x, part, axis=d), d, largest)
        return xp.take_along_axis(part, order, axis=d)


class Cummax(_Select):
    """Running max along dim, with the index of the last element equal to it (or of the
    last NaN, once there is one)."""

    reduces = False
    scan = xp.maximum

    def pick(ctx, x, d):
        hit = x == ufunc_method(ctx.scan, "accumulate", x, axis=d)
        if x.dtype.kind == "f":
            hit |= xp.isnan(x)
        pos = xp.arange(x.shape[d], like=x).reshape((-1,) + (1,) * (x.ndim - d - 1))
        return ufunc_method(xp.maximum, "accumulate", xp.where(hit, pos, 0), axis=d)


class Cummin(Cummax):
    scan = xp.minimum


# --- var, std, logsumexp ------------------------------------------------------------------

class Var(Op):
    batch = along("dim")

    def forward(ctx, x, dim=None, correction=1, keepdim=False):
        _need_float(x, ctx.name())
        ctx.dims, ctx.keepdim, ctx.shape = _axes(dim, x.ndim), keepdim, x.shape
        n = _numel(x.shape, ctx.dims) - correction
        ctx.scale = 2 / n if n else float("inf")
        if n > 0:
            return as_array(xp.var(x, axis=ctx.dims, ddof=correction, keepdims=keepdim))
        warnings.warn(f"{ctx.name()}(): degrees of freedom is <= 0. Correction should be strictly less "
                      "than the reduction factor (input numel divided by output numel).", stacklevel=4)
        return _var_without_dof(x, ctx.dims, keepdim)

    def _dvar(ctx, x):
        """d var / d x (the weights of the incoming gradient)."""
        return (x - x.mean(ctx.dims, keepdim=True)) * ctx.scale

    def vjp(ctx, g):
        return _expand_back(g, ctx.shape, ctx.dims, ctx.keepdim) * ctx._dvar(ctx.inputs[0])

    def jvp(ctx, dx):
        return (dx * ctx._dvar(ctx.args[0])).sum(ctx.dims, keepdim=ctx.keepdim)


@quiet
def _var_without_dof(x, dims, keepdim):
    """The variance when the correction leaves no degree of freedom: inf, or NaN where the
    squared deviations sum to 0 (NumPy's var would warn about it, twice)."""
    mean = x.sum(axis=dims, keepdims=True) / _numel(x.shape, dims)
    return as_array(((x - mean) ** 2).sum(axis=dims, keepdims=keepdim) / 0)


class Std(Var):
    """sqrt(var); d std = d var / (2 std), taken as 0 where std is 0 (as PyTorch)."""

    def forward(ctx, x, dim=None, correction=1, keepdim=False):
        v = Var.forward(ctx, x, dim, correction, keepdim)
        return xp.sqrt(v, out=v)

    def _half_inv(ctx):
        y = ctx.output
        zero = y._data == 0
        return _const(~zero) / (y * 2 + _const(zero))

    def vjp(ctx, g):
        return Var.vjp(ctx, g * ctx._half_inv())

    def jvp(ctx, dx):
        return Var.jvp(ctx, dx) * ctx._half_inv()


class Logsumexp(Op):
    """log(sum(exp(x))) over dims, computed after subtracting the max (stable)."""

    batch = along("dim")
    promote = "float"

    @quiet
    def forward(ctx, x, dim, keepdim=False):
        dims = ctx.dims = _axes(dim, x.ndim)
        ctx.keepdim, ctx.shape = keepdim, x.shape
        out_shape = _kept(x.shape, dims) if keepdim else [n for i, n in enumerate(x.shape) if i not in dims]
        x = x.reshape(x.shape or (1,))
        m = xp.amax(x, axis=dims, keepdims=True) if x.size else xp.zeros(_kept(x.shape, dims), x.dtype, like=x)
        m[~xp.isfinite(m)] = 0                                # all -inf, or an inf: no shift
        s = xp.sum(xp.exp(x - m), axis=dims, keepdims=True)
        xp.log(s, out=s)
        s += m
        return s.reshape(out_shape)

    def _softmax(ctx, x):
        return (x - _expand_back(ctx.output, ctx.shape, ctx.dims, ctx.keepdim)).exp()

    def vjp(ctx, g):
        return _expand_back(g, ctx.shape, ctx.dims, ctx.keepdim) * ctx._softmax(ctx.inputs[0])

    def jvp(ctx, dx):
        return (dx * ctx._softmax(ctx.args[0])).sum(ctx.dims, keepdim=ctx.keepdim)


# --- integer / boolean results ------------------------------------------------------------

class Argmax(Op):
    find = staticmethod(xp.argmax)

    @classmethod
    def batch(cls, n, args, batched, kwargs):
        x, dim, keepdim = args[0], kwargs.get("dim"), kwargs.get("keepdim", False)
        nd = x.ndim - 1
        if dim is not None and nd:
            return cls.apply(x, dim=shift(dim, nd), keepdim=keepdim)
        if dim is not None:
            shift(dim, 0)                                  # (checks it)
        out = cls.apply(x.reshape(n, -1), dim=1)          # the index in the flattened element
        return out.reshape((n,) + (1,) * nd) if keepdim else out

    def forward(ctx, x, dim=None, keepdim=False):
        if dim is None:
            if x.size == 0:
                raise RuntimeError(f"{ctx.name()}: Expected reduction dim to be specified for "
                                   "input.numel() == 0.")
            return as_array(ctx.find(x), dtype=xp.int64).reshape((1,) * x.ndim if keepdim else ())
        d = _dims(dim, x.ndim)[0]
        x1 = x.reshape(x.shape or (1,))
        _nonempty(x1, (d,))
        out = ctx.find(x1, axis=d, keepdims=keepdim)
        return out if x.ndim else out.reshape(())


class Argmin(Argmax):
    find = staticmethod(xp.argmin)


class All(Op):
    batch = along("dim")
    reduce = staticmethod(xp.all)

    def forward(ctx, x, dim=None, keepdim=False):
        out = as_array(ctx.reduce(x, axis=_axes(dim, x.ndim), keepdims=keepdim))
        return out.astype(xp.uint8) if x.dtype == xp.uint8 else out


class Any(All):
    reduce = staticmethod(xp.any)


class CountNonzero(Op):
    batch = along("dim")
    op_name = "count_nonzero"

    def forward(ctx, x, dim=None):
        return as_array(xp.count_nonzero(x, axis=_axes(dim, x.ndim)), dtype=xp.int64)


# --- public functions ---------------------------------------------------------------------

_max, _min = _return_type("max"), _return_type("min")
_sort, _topk = _return_type("sort"), _return_type("topk")
_median, _nanmedian, _mode = _return_type("median"), _return_type("nanmedian"), _return_type("mode")
_cummax, _cummin = _return_type("cummax"), _return_type("cummin")
_aminmax = _return_type("aminmax", ("min", "max"))


def sum(input, dim=None, keepdim=False, *, dtype=None):
    return Sum.apply(input, dim=dim, keepdim=keepdim, dtype=_np_dtype(dtype))


def sum_to_size(input, *size):
    shape = size[0] if len(size) == 1 and not isinstance(size[0], int) else size
    if tuple(shape) == tuple(input.shape):
        return input
    return SumToSize.apply(input, shape=tuple(shape))


def mean(input, dim=None, keepdim=False, *, dtype=None):
    return Mean.apply(input, dim=dim, keepdim=keepdim, dtype=_np_dtype(dtype))


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    return Nansum.apply(input, dim=dim, keepdim=keepdim, dtype=_np_dtype(dtype))


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    return Nanmean.apply(input, dim=dim, keepdim=keepdim, dtype=_np_dtype(dtype))


def prod(input, dim=None, keepdim=False, *, dtype=None):
    if dim is not None and not isinstance(dim, int):
        raise TypeError(f"prod: dim must be an int, got {dim!r}")
    return Prod.apply(input, dim=dim, keepdim=keepdim, dtype=_np_dtype(dtype))


def max(input, dim=None, keepdim=False, *, out=None):
    """max(x): the largest value; max(x, dim): (values, indices); max(x, y): maximum."""
    if isinstance(dim, Tensor):
        return selection.maximum(input, dim)
    if dim is None:
        return Max.apply(input)
    return _max(*MaxDim.apply(input, dim=dim, keepdim=keepdim))


def min(input, dim=None, keepdim=False, *, out=None):
    """min(x): the smallest value; min(x, dim): (values, indices); min(x, y): minimum."""
    if isinstance(dim, Tensor):
        return selection.minimum(input, dim)
    if dim is None:
        return Min.apply(input)
    return _min(*MinDim.apply(input, dim=dim, keepdim=keepdim))


def amax(input, dim=(), keepdim=False):
    return Amax.apply(input, dim=dim, keepdim=keepdim)


def amin(input, dim=(), keepdim=False):
    return Amin.apply(input, dim=dim, keepdim=keepdim)


def aminmax(input, *, dim=None, keepdim=False):
    return _aminmax(amin(input, dim, keepdim), amax(input, dim, keepdim))


def argmax(input, dim=None, keepdim=False):
    return Argmax.apply(input, dim=dim, keepdim=keepdim)


def argmin(input, dim=None, keepdim=False):
    return Argmin.apply(input, dim=dim, keepdim=keepdim)


def _correction(unbiased, correction):
    if correction is not None:
        return correction
    return 0 if unbiased is False else 1


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """var(x, dim, *, correction=1, keepdim) and the older var(x, dim, unbiased, keepdim)."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    return Var.apply(input, dim=dim, correction=_correction(unbiased, correction), keepdim=keepdim)


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    return Std.apply(input, dim=dim, correction=_correction(unbiased, correction), keepdim=keepdim)


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return var(input, dim, unbiased, keepdim, correction=correction), \
        mean(input, None if isinstance(dim, bool) else dim, keepdim)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return std(input, dim, unbiased, keepdim, correction=correction), \
        mean(input, None if isinstance(dim, bool) else dim, keepdim)


def logsumexp(input, dim, keepdim=False):
    return Logsumexp.apply(input, dim=dim, keepdim=keepdim)


def cumsum(input, dim, *, dtype=None):
    return Cumsum.apply(input, dim=dim, dtype=_np_dtype(dtype))


def logcumsumexp(input, dim):
    """log(cumsum(exp(input), dim)), computed stably."""
    return LogCumSumExp.apply(input, dim=dim)


def cumprod(input, dim, *, dtype=None):
    return Cumprod.apply(input, dim=dim, dtype=_np_dtype(dtype))


def cummax(input, dim):
    return _cummax(*Cummax.apply(input, dim=dim))


def cummin(input, dim):
    return _cummin(*Cummin.apply(input, dim=dim))


def all(input, dim=None, keepdim=False):
    return All.apply(input, dim=dim, keepdim=keepdim)


def any(input, dim=None, keepdim=False):
    return Any.apply(input, dim=dim, keepdim=keepdim)


def count_nonzero(input, dim=None):
    return CountNonzero.apply(input, dim=dim)


def sort(input, dim=-1, descending=False, *, stable=False):
    """(values, indices) along dim; always stable (equal elements keep their order)."""
    return _sort(*Sort.apply(input, dim=dim, descending=descending))


def argsort(input, dim=-1, descending=False, stable=False):
    return Sort.apply(input, dim=dim, descending=descending)[1]


def topk(input, k, dim=-1, largest=True, sorted=True):
    return _topk(*Topk.apply(input, dim=dim, k=k, largest=largest))


def median(input, dim=None, keepdim=False):
    """median(x): the lower middle value; median(x, dim): (values, indices)."""
    if dim is None:
        return Median.apply(input)
    return _median(*MedianDim.apply(input, dim=dim, keepdim=keepdim))


def nanmedian(input, dim=None, keepdim=False):
    if dim is None:
        return Nanmedian.apply(input)
    return _nanmedian(*NanmedianDim.apply(input, dim=dim, keepdim=keepdim))


def mode(input, dim=-1, keepdim=False):
    return _mode(*Mode.apply(input, dim=dim, keepdim=keepdim))


__all__ = ["sum", "sum_to_size", "mean", "nansum", "nanmean", "prod", "max", "min", "amax", "amin",
           "aminmax", "argmax", "argmin", "var", "std", "var_mean", "std_mean", "logsumexp",
           "cumsum", "cumprod", "logcumsumexp", "cummax", "cummin", "all", "any", "count_nonzero", "sort", "argsort",
           "topk", "median", "nanmedian", "mode"]

METHODS = {name: globals()[name] for name in __all__ if name not in ("var_mean", "std_mean")}
