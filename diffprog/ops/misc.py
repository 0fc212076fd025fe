"""Comparisons of whole tensors, counting and searching, grids, and `dist`.

Most of these produce booleans, counts or indices and have no derivative; they are plain
functions on arrays.  `meshgrid` is built from views (reshape + expand), so gradients flow
through it; `dist` is an op with its own derivative.
"""
import math
import warnings

from .. import dtypes as _dt
from .._array import as_array, xp
from ..tensor import Tensor
from .batching import lift, ndim_of
from .linalg import vector_norm
from .op import Op
from .shape import expand, reshape


def _arr(x):
    return x._data if isinstance(x, Tensor) else xp.asarray(x)


def _tensor(a):
    return Tensor._make(xp.asarray(a))


# --- comparing whole tensors ----------------------------------------------------------------

def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|input - other| <= atol + rtol * |other|, elementwise (bool tensor)."""
    if isinstance(other, Tensor) and input.dtype is not other.dtype:
        raise RuntimeError(f"isclose: expected both arguments to have the same dtype, but got "
                           f"{input.dtype.name} and {other.dtype.name}")
    a, b = input._data, _arr(other)
    if a.dtype.kind == "b":
        return _tensor(a == b)
    return _tensor(xp.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True when every element is close (see `isclose`)."""
    return bool(xp.all(isclose(input, other, rtol, atol, equal_nan)._data))


def equal(input, other):
    """True when both have the same shape and the same values."""
    return input.shape == other.shape and bool(xp.array_equal(input._data, other._data))


# --- counting ---------------------------------------------------------------------------------

def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values (or slices along `dim`), in ascending order, optionally with the
    index of each input element's value and each value's count."""
    a = input._data
    if dim is not None:
        dim = dim % max(a.ndim, 1)
    out = xp.unique(a, return_inverse=True, return_counts=True, axis=dim)
    values, inverse, counts = out
    inverse = inverse.reshape(a.shape if dim is None else (a.shape[dim],))
    return _unique_result(values, inverse, counts, return_inverse, return_counts)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Collapse each run of equal consecutive values (or slices along `dim`) to one."""
    a = input._data
    if dim is None:
        rows = a.reshape(-1, 1)
    else:
        dim = dim % max(a.ndim, 1)
        rows = xp.moveaxis(a, dim, 0).reshape(a.shape[dim], -1)
    starts = xp.ones(len(rows), dtype=bool)
    starts[1:] = xp.any(rows[1:] != rows[:-1], axis=1)
    first = xp.flatnonzero(starts)
    values = a.reshape(-1)[first] if dim is None else xp.take(a, first, axis=dim)
    inverse = (xp.cumsum(starts) - 1).reshape(a.shape if dim is None else (-1,))
    counts = xp.diff(xp.append(first, len(rows)))
    return _unique_result(values, inverse, counts, return_inverse, return_counts)


def _unique_result(values, inverse, counts, return_inverse, return_counts):
    out = [_tensor(values)]
    if return_inverse:
        out.append(_tensor(inverse.astype(xp.int64)))
    if return_counts:
        out.append(_tensor(counts.astype(xp.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def bincount(input, weights=None, minlength=0):
    """Occurrences of each value 0..max(input) in a 1-D non-negative integer tensor (or the
    sums of their `weights`)."""
    a = input._data
    if a.ndim != 1 or a.dtype.kind not in "iub":
        raise RuntimeError(f"bincount: expected a 1-D tensor of integers, got shape {tuple(a.shape)} "
                           f"and dtype {input.dtype.name}")
    if a.size and a.min() < 0:
        raise RuntimeError("bincount: input must be non-negative")
    if minlength < 0:
        raise RuntimeError("bincount: minlength should be >= 0")
    if weights is None:
        return _tensor(xp.bincount(a, minlength=minlength).astype(xp.int64))
    w = weights._data
    if w.shape != a.shape:
        raise RuntimeError(f"bincount: weights should be 1-D and have the same length as input, got "
                           f"{tuple(w.shape)} and {tuple(a.shape)}")
    out_dtype = xp.float32 if w.dtype == xp.float32 else xp.float64      # as PyTorch
    return _tensor(xp.bincount(a, weights=w, minlength=minlength).astype(out_dtype))


def histc(input, bins=100, min=0, max=0):
    """Counts in `bins` equal-width bins over [min, max] (the data's range when min == max);
    values outside are ignored; the result has input's (floating) dtype."""
    a = input._data
    if a.dtype.kind != "f":
        raise RuntimeError(f"histc: expected a floating point tensor, got {input.dtype.name}")
    if bins <= 0:
        raise RuntimeError(f"histc: bins must be > 0, but got {bins}")
    lo, hi = float(min), float(max)
    if lo == hi and a.size:
        lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi:
        raise RuntimeError(f"histc: max must be larger than min, got min={min}, max={max}")
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise RuntimeError(f"histc: range of [{lo}, {hi}] is not finite")
    x = a.reshape(-1)
    x = x[(x >= lo) & (x <= hi)]
    # PyTorch's bin index, in input's precision: the maximum goes into the last bin.
    pos = ((x - a.dtype.type(lo)) * bins / a.dtype.type(hi - lo)).astype(xp.int64)
    xp.minimum(pos, bins - 1, out=pos)
    return _tensor(xp.bincount(pos, minlength=bins).astype(a.dtype))


# --- searching ------------------------------------------------------------------------------

def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None,
                 out=None):
    """For each value, the index where inserting it keeps the innermost rows of
    `sorted_sequence` sorted (the first such index, or the last with `right`/side='right')."""
    if side is not None:
        if side not in ("left", "right") or (right and side == "left"):
            raise RuntimeError(f"searchsorted: side must be 'left' or 'right' and agree with right, "
                               f"got side={side!r}, right={right}")
        right = side == "right"
    seq = sorted_sequence._data
    if sorter is not None:
        seq = xp.take_along_axis(seq, sorter._data, axis=-1)
    values = _arr(input)
    side = "right" if right else "left"
    if seq.ndim == 1:
        idx = xp.searchsorted(seq, values, side=side)
    else:
        if seq.shape[:-1] != values.shape[:-1]:
            raise RuntimeError(f"searchsorted: boundaries and input should have the same leading "
                               f"dimensions, got {tuple(seq.shape)} and {tuple(values.shape)}")
        rows = seq.reshape(-1, seq.shape[-1])
        vals = values.reshape(len(rows), -1)
        idx = xp.stack([xp.searchsorted(r, v, side=side) for r, v in zip(rows, vals)])
        idx = idx.reshape(values.shape)
    return _tensor(xp.asarray(idx, dtype=xp.int32 if out_int32 else xp.int64))


def bucketize(input, boundaries, *, out_int32=False, right=False, out=None):
    """The bucket of each value given 1-D sorted `boundaries`: i with
    boundaries[i-1] < x <= boundaries[i] (or boundaries[i-1] <= x < boundaries[i] with right)."""
    if boundaries.ndim != 1:
        raise RuntimeError(f"bucketize: boundaries tensor must be 1 dimension, but got dim("
                           f"{boundaries.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


# --- grids ----------------------------------------------------------------------------------

def meshgrid(*tensors, indexing=None):
    """Coordinate grids: output i varies along dimension i ('ij'); with 'xy' the first two
    dimensions are swapped (Cartesian, as NumPy's default).  Outputs are expanded views."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing is None:
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the "
                      "indexing argument.", UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"meshgrid: indexing must be one of 'xy' or 'ij', but got: {indexing}")
    for t in tensors:
        if t.ndim > 1:
            raise RuntimeError(f"meshgrid: expected 0D or 1D tensors, but got a tensor of shape "
                               f"{tuple(t.shape)}")
    sizes = [t.numel() for t in tensors]
    axes = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) >= 2:
        axes[0], axes[1] = 1, 0
        sizes[0], sizes[1] = sizes[1], sizes[0]
    out = []
    for t, ax in zip(tensors, axes):
        shape = [1] * len(tensors)
        shape[ax] = -1
        out.append(expand(reshape(t, shape), sizes))
    return tuple(out)


# --- distances ------------------------------------------------------------------------------

class Dist(Op):
    """The p-norm of input - other (broadcast): (sum |d|^p)^(1/p); p=0 counts nonzeros,
    p=inf / -inf take the largest / smallest |d|."""

    promote = "common"

    @classmethod
    def batch(cls, n, args, batched, kwargs):
        rank = max(1, *(ndim_of(a, b) for a, b in zip(args[:2], batched[:2])))
        x, y = (lift(a, rank) if b else a for a, b in zip(args[:2], batched[:2]))
        p = kwargs.get("p", args[2] if len(args) > 2 else 2)
        return vector_norm((x - y).reshape(n, -1), p, dim=1)      # each element's difference

    def forward(ctx, x, y, p=2):
        if x.dtype.kind not in "fc":
            raise RuntimeError(f"dist: expected a floating point or complex input, got {x.dtype}")
        ctx.p = p
        d = xp.abs(x - y)
        if p == 0:
            n = xp.count_nonzero(d)
        elif math.isinf(p):
            n = (d.max() if p > 0 else d.min()) if d.size else 0
        elif p == 1:
            n = d.sum()
        elif p == 2:
            n = xp.sqrt(xp.vdot(d, d))
        else:
            n = (d ** p).sum() ** (1.0 / p)
        return as_array(n, dtype=d.dtype)

    def vjp(ctx, g):
        x, y = ctx.inputs
        gx = _norm_grad(x - y, ctx.output, ctx.p) * g
        return gx, -gx

    def jvp(ctx, dx, dy):
        x, y = ctx.args
        return (_norm_grad(x - y, ctx.output, ctx.p) * (dx - dy)).sum()


def _norm_grad(d, n, p):
    """d||d||_p / dd, with 0 where the norm is 0 (and, for p < 1, where an element is 0).
    Signs and masks are locally constant, so they enter as constants."""
    dd, nd = d._data, n._data
    if p == 0:
        return d * 0
    sign = _const(xp.sign(dd), dd)
    if p == 1:
        return sign
    if math.isinf(p):
        at = xp.abs(dd) == nd            # the elements attaining the max (min) share equally
        return sign * _const(at / at.sum(), dd)
    safe_n = n + _const(nd == 0, nd)     # where n == 0, d is all zeros: gradient 0, not nan
    if p == 2:
        return d / safe_n
    abs_d = d * sign + _const(dd == 0, dd)
    return sign * abs_d.pow(p - 1) / safe_n.pow(p - 1)


def _const(a, like):
    return Tensor._make(xp.asarray(a, dtype=like.dtype, like=like))


def dist(input, other, p=2):
    """The p-norm of input - other."""
    return Dist.apply(input, other, p=float(p))


# --- small predicates ---------------------------------------------------------------------

def result_type(tensor1, tensor2):
    """The dtype an arithmetic op on the two (tensors or Python scalars) would produce."""
    return _dt.result_type(tensor1, tensor2)


def numel(input):
    return input.numel()


def is_tensor(obj):
    return isinstance(obj, Tensor)


def is_floating_point(input):
    return input.is_floating_point()


def is_complex(input):
    return input.is_complex()


def is_nonzero(input):
    if input.numel() != 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(input)


METHODS = {"isclose": isclose, "allclose": allclose, "equal": equal, "unique": unique,
           "unique_consecutive": unique_consecutive, "bincount": bincount, "histc": histc,
           "dist": dist, "is_nonzero": is_nonzero}

__all__ = ["isclose", "allclose", "equal", "unique", "unique_consecutive", "bincount", "histc",
           "searchsorted", "bucketize", "meshgrid", "dist", "result_type", "numel", "is_tensor",
           "is_floating_point", "is_complex", "is_nonzero"]
