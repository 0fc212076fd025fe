"""Pooling and resampling over the trailing (spatial) dims: max/avg/adaptive/LP pooling,
unpooling, padding, interpolation, pixel (un)shuffle, local response norm.

  - `MaxPool`: each output takes the largest input of its window; the windows are given
    as input positions per dim, so regular (padding, dilation, ceil mode) and adaptive
    pooling are the same op.  Its VJP writes the gradient at the argmax positions
    (`IndexPut`, or `IndexBackward` where windows overlap), its JVP gathers the tangent
    (`Index`): differentiable again.
  - Everything else linear is separable over the spatial dims: average pooling (padding,
    ceil mode, divisor), adaptive average pooling and linear/bilinear/bicubic
    interpolation are a small constant matrix per dim, `M_h @ x @ M_w.T`, so matmul gives
    the derivatives of every order.  (Unlike PyTorch's window loops, a non-finite input
    then reaches its whole row and column: 0 * inf is NaN.)
  - Nearest upsampling by whole factors is `Repeat` (strided copies; adjoint `BlockSum`),
    other nearest resizing an index gather; reflect/replicate/circular padding is slices
    and `cat`, constant padding an `IndexPut` into a filled tensor.

`__all__` holds the functions PyTorch also has at the top level (`torch.max_pool2d`, ...);
the rest are imported by `diffprog.nn.functional`.
"""
import functools
import itertools
import math

from .._array import full, xp
from .._array.device import key_for
from ..tensor import Tensor
from .batching import array_of, batch_function, fold_batch, leading, materialize, unfold_batch
from .indexing import Index, IndexBackward, IndexPut
from .op import Op
from .shape import cat


# --- helpers ---------------------------------------------------------------------------

def _ntuple(v, k, name, op):
    """An int or a sequence of k ints as a k-tuple."""
    t = (v,) * k if isinstance(v, (int, float)) else tuple(v)
    if len(t) == 1 and k > 1:
        t = t * k
    if len(t) != k:
        raise RuntimeError(f"{op}: {name} must be an int or a tuple of {k} ints, got {v}")
    return t


def _check_rank(x, k, op):
    """The input must be (C, *spatial) or (N, C, *spatial) with k spatial dims."""
    if x.ndim not in (k + 1, k + 2) or 0 in x.shape[-k:]:
        raise RuntimeError(f"{op}: expected a {k + 1}D (unbatched) or {k + 2}D (batched) input "
                           f"with non-empty spatial dims, got shape {tuple(x.shape)}")


def _check_float(x, op):
    if not x.is_floating_point():
        raise RuntimeError(f"{op}: expected a floating point input, got {x.dtype.name} of shape "
                           f"{tuple(x.shape)}")


def _const(a, like):
    return Tensor._make(xp.asarray(a, dtype=like.dtype.np, like=array_of(like)))


def _separable(x, mats, op):
    """Apply one matrix (out_j, in_j) to each of the trailing len(mats) dims of x."""
    _check_float(x, op)
    y = x @ _const(mats[-1].T, x)
    if len(mats) >= 2:
        y = _const(mats[-2], x) @ y
    if len(mats) == 3:                 # the depth dim: the (H, W) planes as one matrix's columns
        lead, (d, h, w) = tuple(y.shape[:-3]), tuple(y.shape[-3:])
        y = (_const(mats[0], x) @ y.reshape(*lead, d, h * w)).reshape(*lead, mats[0].shape[0], h, w)
    return y


def _pool_len(n, k, s, p, d, ceil_mode):
    """PyTorch's pooling output length (a window may start in the right padding only with
    ceil_mode, and never past it)."""
    out = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def _pool_args(x, k, op, kernel_size, stride, padding, dilation, ceil_mode):
    """Checked per-dim (n, kernel, stride, padding, dilation, out) for a k-d pooling."""
    _check_rank(x, k, op)
    kernel = _ntuple(kernel_size, k, "kernel_size", op)
    stride = _ntuple(kernel if stride is None or stride in ([], ()) else stride, k, "stride", op)
    padding, dilation = _ntuple(padding, k, "padding", op), _ntuple(dilation, k, "dilation", op)
    if min(kernel + stride + dilation) <= 0 or min(padding) < 0:
        raise RuntimeError(f"{op}: kernel_size, stride and dilation must be positive and padding "
                           f"non-negative, got kernel_size={kernel}, stride={stride}, "
                           f"padding={padding}, dilation={dilation}")
    dims = []
    for n, kk, s, p, d in zip(x.shape[-k:], kernel, stride, padding, dilation):
        if p > (d * (kk - 1) + 1) // 2:
            raise RuntimeError(f"{op}: pad should be at most half of effective kernel size, but got "
                               f"padding={padding}, kernel_size={kernel} and dilation={dilation}")
        out = _pool_len(n, kk, s, p, d, ceil_mode)
        if out < 1:
            raise RuntimeError(f"{op}: kernel_size={kernel} (dilation={dilation}) is larger than the "
                               f"padded input: input shape {tuple(x.shape)}, padding={padding}")
        dims.append((n, kk, s, p, d, out))
    return dims


def _adaptive_bounds(n, out):
    """PyTorch's adaptive windows: [floor(i n / out), ceil((i + 1) n / out))."""
    i = xp.arange(out)
    return (i * n) // out, ((i + 1) * n + out - 1) // out


def _adaptive_size(x, output_size, k, op):
    _check_rank(x, k, op)
    size = _ntuple(output_size, k, "output_size", op) if output_size is not None else (None,) * k
    size = tuple(n if s is None else s for s, n in zip(size, x.shape[-k:]))
    if min(size) < 0:
        raise RuntimeError(f"{op}: output_size must be non-negative, got {output_size}")
    return size


# --- max pooling -----------------------------------------------------------------------

class MaxPool(Op):
    """The maximum over windows of the last k dims, and its position as PyTorch's flat
    index into each input plane.  `spec`: per spatial dim (n, kernel, stride, padding,
    dilation, out) for regular windows or (n, out) for adaptive ones; `_scan` turns it into
    input positions per window, those outside [0, n) reading padding (-inf)."""

    n_out = 2
    op_name = "max_pool"

    batch = leading

    def forward(ctx, x, *, spec):
        pads, index, table, disjoint = _scan(spec)
        k, lead = len(spec), x.shape[:x.ndim - len(spec)]
        plane, ctx.size, ctx.shape = x.shape[len(lead):], x.size, x.shape
        if any(lo or hi for lo, hi in pads):
            x = xp.pad(x, [(0, 0)] * len(lead) + list(pads), constant_values=-xp.inf)
        parts = [x[key_for(x, (Ellipsis,) + idx)] for idx in index]    # each window element, in scan order
        values = parts[0].copy()
        for v in parts[1:]:
            xp.maximum(values, v, out=values)              # NaN propagates, as in PyTorch
        # the position of the first maximum in PyTorch's scan order (of the first NaN, where
        # PyTorch takes the last): `code` counts the window elements before the first hit
        # (branch-free passes over small dtypes; masked writes are slower), then picks its
        # flat index from the table of every element's index
        nan = xp.isnan(values).any()
        code = xp.zeros(values.shape, xp.uint8 if len(parts) < 256 else xp.int64, like=values)
        miss = None
        for v in parts[:-1]:
            m = v != values
            if nan:
                m &= v == v
            miss = m if miss is None else xp.logical_and(miss, m, out=miss)
            code += miss.view(xp.uint8) if code.dtype == xp.uint8 else miss
        table = xp.asarray(table, like=values)
        # table[code, position] as one take from the flat table (2x faster than the 2-d gather)
        at = code.reshape(-1, table.shape[1]).astype(xp.intp) * table.shape[1]
        at += xp.arange(table.shape[1], like=values)
        flat = xp.take(table.reshape(-1), at).reshape(values.shape)
        lead_start = xp.arange(math.prod(lead), like=values).reshape(lead + (1,) * k) * math.prod(plane)
        ctx.key = (flat + lead_start,)
        ctx.disjoint = disjoint     # no input shared by two windows: the gradient is written
        return values, flat

    def vjp(ctx, g, _):
        if ctx.disjoint:
            zeros = Tensor._make(xp.zeros(ctx.size, dtype=g.dtype.np, like=array_of(g)))
            gx = IndexPut.apply(zeros, g, key=ctx.key)
        else:
            gx = IndexBackward.apply(g, key=ctx.key, shape=(ctx.size,))
        return gx.reshape(ctx.shape)

    def jvp(ctx, dx):
        return Index.apply(dx.reshape(-1), key=ctx.key), None


@functools.lru_cache(maxsize=256)
def _scan(spec):
    """What MaxPool needs of a window geometry, computed once per geometry: the padding,
    per window element how to read it from the padded input (slices where the windows are
    regular, else positions to gather), the table (elements, outputs) of flat plane
    indices, and whether the windows are disjoint."""
    windows = [_window_positions(*d) for d in spec]
    plane = tuple(d[0] for d in spec)
    k = len(windows)
    pads = tuple((max(-int(w.min()), 0), max(int(w.max()) - n + 1, 0)) for w, n in zip(windows, plane))
    index, ats = [], []
    for offsets in itertools.product(*(range(w.shape[1]) for w in windows)):
        pos = [w[:, o].reshape((-1,) + (1,) * (k - 1 - j))
               for j, (w, o) in enumerate(zip(windows, offsets))]
        slices = [_as_slice(w[:, o] + lo) for w, o, (lo, _) in zip(windows, offsets, pads)]
        if None in slices:
            slices = [p + lo for p, (lo, _) in zip(pos, pads)]
        index.append(tuple(slices))
        ats.append(sum(p * math.prod(plane[j + 1:]) for j, p in enumerate(pos)))
    out = tuple(w.shape[0] for w in windows)
    table = xp.stack([xp.broadcast_to(at, out).ravel() for at in ats])
    disjoint = all(_disjoint(w, n) for w, n in zip(windows, plane))
    return pads, index, table, disjoint


def _window_positions(n, *geometry):
    """(out, kernel) input positions of each window along one dim: regular windows from
    (kernel, stride, padding, dilation, out), adaptive ones from (out,)."""
    if len(geometry) == 1:
        start, end = _adaptive_bounds(n, geometry[0])
        pos = start[:, None] + xp.arange(max(int((end - start).max(initial=0)), 1))
        # shorter windows repeat their first position (later in scan order: never picked)
        return xp.where(pos < end[:, None], pos, start[:, None])
    kk, s, p, d, out = geometry
    return (xp.arange(out) * s - p)[:, None] + xp.arange(kk) * d


def _disjoint(windows, n):
    """Do no two windows share an input position (inside [0, n))?"""
    rows = [set(r[(r >= 0) & (r < n)].tolist()) for r in windows]
    return sum(map(len, rows)) == len(set().union(*rows))


def _as_slice(positions):
    """The slice that reads these positions (an arithmetic progression), or None."""
    start, n = int(positions[0]), len(positions)
    step = int(positions[1] - start) if n > 1 else 1
    if step <= 0 or not (positions == start + step * xp.arange(n)).all():
        return None
    return slice(start, start + step * (n - 1) + 1, step)


def _max_pool(x, k, op, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    _check_float(x, op)
    spec = tuple(_pool_args(x, k, op, kernel_size, stride, padding, dilation, ceil_mode))
    values, indices = MaxPool.apply(x, spec=spec)
    return (values, indices) if return_indices else values


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Maximum over sliding windows of the last dim ((C, L) or (N, C, L) input)."""
    return _max_pool(input, 1, "max_pool1d", kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Maximum over sliding windows of the last two dims ((C, H, W) or (N, C, H, W))."""
    return _max_pool(input, 2, "max_pool2d", kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Maximum over sliding windows of the last three dims ((C, D, H, W) or (N, C, D, H, W))."""
    return _max_pool(input, 3, "max_pool3d", kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def _with_indices(pool):
    def f(*args, **kwargs):
        kwargs.pop("return_indices", None)
        return pool(*args, return_indices=True, **kwargs)
    f.__name__ = pool.__name__ + "_with_indices"
    f.__doc__ = f"{pool.__name__} returning (values, indices)."
    return f


max_pool1d_with_indices = _with_indices(max_pool1d)
max_pool2d_with_indices = _with_indices(max_pool2d)
max_pool3d_with_indices = _with_indices(max_pool3d)


def _adaptive_max_pool(x, output_size, return_indices, k, op):
    _check_float(x, op)
    spec = tuple(zip(x.shape[-k:], _adaptive_size(x, output_size, k, op)))
    values, indices = MaxPool.apply(x, spec=spec)
    return (values, indices) if return_indices else values


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max pooling of the last dim into output_size windows."""
    return _adaptive_max_pool(input, output_size, return_indices, 1, "adaptive_max_pool1d")


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max pooling of the last two dims into an output_size grid of windows."""
    return _adaptive_max_pool(input, output_size, return_indices, 2, "adaptive_max_pool2d")


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Max pooling of the last three dims into an output_size grid of windows."""
    return _adaptive_max_pool(input, output_size, return_indices, 3, "adaptive_max_pool3d")


adaptive_max_pool1d_with_indices = _with_indices(adaptive_max_pool1d)
adaptive_max_pool2d_with_indices = _with_indices(adaptive_max_pool2d)
adaptive_max_pool3d_with_indices = _with_indices(adaptive_max_pool3d)


def _unpool_rule(k):
    """vmap of max_unpool{k}d: the batch folded into the batch of planes."""
    def rule(n, a, batched):
        x, idx = materialize(a["input"], n, "input" in batched), materialize(a["indices"], n, "indices" in batched)
        options = (f"max_unpool{k}d", a["kernel_size"], a["stride"], a["padding"], a["output_size"])
        if x.ndim == k + 2:                  # one element is (C, *spatial): already a batch of those
            return _max_unpool(x, idx, k, *options)
        return unfold_batch(_max_unpool(fold_batch(x), fold_batch(idx), k, *options), n)
    return rule


@batch_function(_unpool_rule(1))
def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The inverse of max_pool1d."""
    return _max_unpool(input, indices, 1, "max_unpool1d", kernel_size, stride, padding, output_size)


@batch_function(_unpool_rule(2))
def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The inverse of max_pool2d: zeros with each input value written at its index."""
    return _max_unpool(input, indices, 2, "max_unpool2d", kernel_size, stride, padding, output_size)


@batch_function(_unpool_rule(3))
def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The inverse of max_pool3d."""
    return _max_unpool(input, indices, 3, "max_unpool3d", kernel_size, stride, padding, output_size)


def _max_unpool(input, indices, k, op, kernel_size, stride, padding, output_size):
    _check_rank(input, k, op)
    kernel = _ntuple(kernel_size, k, "kernel_size", op)
    stride = _ntuple(stride if stride is not None else kernel, k, "stride", op)
    padding = _ntuple(padding, k, "padding", op)
    if output_size is None:
        size = tuple((n - 1) * s - 2 * p + kk
                     for n, s, p, kk in zip(input.shape[-k:], stride, padding, kernel))
    else:
        size = tuple(output_size)[-k:]
    idx = indices._data if isinstance(indices, Tensor) else xp.asarray(indices)
    if idx.shape != tuple(input.shape) or idx.dtype.kind not in "iu":
        raise RuntimeError(f"{op}: expected integer indices of the input's shape {tuple(input.shape)}, "
                           f"got {idx.dtype} indices of shape {idx.shape}")
    plane = math.prod(size)
    if idx.size and (idx.min() < 0 or idx.max() >= plane):
        raise RuntimeError(f"{op}: found an invalid max index {idx.max()} for an output of size "
                           f"{size} (input shape {tuple(input.shape)})")
    lead = tuple(input.shape[:-k])
    start = xp.arange(math.prod(lead), like=idx).reshape(lead + (1,) * k) * plane     # each plane's offset
    zeros = Tensor._make(xp.zeros(math.prod(lead) * plane, dtype=input.dtype.np, like=array_of(input)))
    return IndexPut.apply(zeros, input, key=(idx + start,)).reshape(lead + size)


# --- average pooling (separable linear maps) ---------------------------------------------

def _avg_matrix(n, k, s, p, out, count_include_pad):
    """(out, n): row o averages the window of output o (PyTorch's divisor per dim)."""
    m = xp.zeros((out, n))
    for o in range(out):
        start = o * s - p
        end = min(start + k, n + p)
        size = end - start
        start, end = max(start, 0), min(end, n)
        m[o, start:end] = 1 / (size if count_include_pad else end - start)
    return m


def _avg_pool(x, k, op, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    dims = _pool_args(x, k, op, kernel_size, stride, padding, 1, ceil_mode)
    mats = [_avg_matrix(n, kk, s, p, out, count_include_pad) for n, kk, s, p, _, out in dims]
    if divisor_override:
        # one divisor for the whole window instead of the window's size
        mats = [(m > 0) * 1.0 for m in mats]
        mats[0] /= divisor_override
    return _separable(x, mats, op)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over sliding windows of the last dim."""
    return _avg_pool(input, 1, "avg_pool1d", kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over sliding windows of the last two dims."""
    return _avg_pool(input, 2, "avg_pool2d", kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over sliding windows of the last three dims."""
    return _avg_pool(input, 3, "avg_pool3d", kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def _adaptive_avg_pool(x, output_size, k, op):
    mats = []
    for n, out in zip(x.shape[-k:], _adaptive_size(x, output_size, k, op)):
        m = xp.zeros((out, n))
        for o, (start, end) in enumerate(zip(*_adaptive_bounds(n, out))):
            m[o, start:end] = 1 / (end - start)
        mats.append(m)
    return _separable(x, mats, op)


def adaptive_avg_pool1d(input, output_size):
    """Mean pooling of the last dim into output_size windows."""
    return _adaptive_avg_pool(input, output_size, 1, "adaptive_avg_pool1d")


def adaptive_avg_pool2d(input, output_size):
    """Mean pooling of the last two dims into an output_size grid (None keeps a dim)."""
    return _adaptive_avg_pool(input, output_size, 2, "adaptive_avg_pool2d")


def adaptive_avg_pool3d(input, output_size):
    """Mean pooling of the last three dims into an output_size grid."""
    return _adaptive_avg_pool(input, output_size, 3, "adaptive_avg_pool3d")


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum of x^p over each window)^(1/p), as PyTorch: via avg_pool1d."""
    out = avg_pool1d(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    k = _ntuple(kernel_size, 1, "kernel_size", "lp_pool1d")[0]
    return (out.sign() * out.abs().relu()).mul(k).pow(1.0 / norm_type)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum of x^p over each window)^(1/p), as PyTorch: via avg_pool2d."""
    out = avg_pool2d(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    kh, kw = _ntuple(kernel_size, 2, "kernel_size", "lp_pool2d")
    return (out.sign() * out.abs().relu()).mul(kh * kw).pow(1.0 / norm_type)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum of x^p over each window)^(1/p), as PyTorch: via avg_pool3d."""
    out = avg_pool3d(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    kd, kh, kw = _ntuple(kernel_size, 3, "kernel_size", "lp_pool3d")
    return (out.sign() * out.abs().relu()).mul(kd * kh * kw).pow(1.0 / norm_type)


def channel_shuffle(input, groups):
    """Interleave the channels of `groups` groups: (N, g * c, ...) -> channels c-major."""
    n, ch = input.shape[0], input.shape[1]
    if groups <= 0 or ch % groups:
        raise RuntimeError(f"channel_shuffle: the number of channels ({ch}) must be divisible by "
                           f"groups ({groups})")
    rest = tuple(input.shape[2:])
    return input.reshape(n, groups, ch // groups, *rest).transpose(1, 2).reshape(n, ch, *rest)


# --- padding ---------------------------------------------------------------------------

def _pad_dim(x, d, left, right, mode):
    """x with its dim d extended by the reflect/replicate/circular rule (slices and cat,
    whose gradients are cheap)."""
    n = x.shape[d]
    if mode == "reflect":          # mirrored about the edge element, which is not repeated
        parts = (x.narrow(d, 1, left).flip(d), x, x.narrow(d, n - 1 - right, right).flip(d))
    elif mode == "replicate":
        size = list(x.shape)
        edge = lambda i, m: x.narrow(d, i, 1).expand(*size[:d], m, *size[d + 1:])
        parts = (edge(0, left), x, edge(n - 1, right))
    else:                          # circular
        parts = (x.narrow(d, n - left, left), x, x.narrow(d, 0, right))
    return cat([p for p in parts if p.shape[d]], d)


def pad(input, pad, mode="constant", value=None):
    """Pad the last len(pad) // 2 dims: pad = (left, right) of the last dim, then of the
    one before, ... (negative constant padding crops)."""
    pad = tuple(pad)
    k = len(pad) // 2
    if len(pad) % 2 or k > input.ndim:
        raise RuntimeError(f"pad: padding length must be even and at most twice the input's number of "
                           f"dims, got pad={pad} for input shape {tuple(input.shape)}")
    dims = range(input.ndim - 1, input.ndim - 1 - k, -1)         # the padded dims, last first
    pairs = {d: pad[2 * i: 2 * i + 2] for i, d in enumerate(dims)}
    if mode == "constant":
        shape = tuple(n + sum(pairs.get(d, (0, 0))) for d, n in enumerate(input.shape))
        if min(shape, default=1) < 0:
            raise RuntimeError(f"pad: the padded shape {shape} of input {tuple(input.shape)} with "
                               f"pad={pad} is negative")
        if min(pad, default=0) < 0:           # negative padding crops
            input = input[tuple(slice(-min(p[0], 0), n + min(p[1], 0)) if (p := pairs.get(d)) else
                                slice(None) for d, n in enumerate(input.shape))]
        key = tuple(slice(max(pairs[d][0], 0), max(pairs[d][0], 0) + n) if d in pairs else slice(None)
                    for d, n in enumerate(input.shape))
        fill = full(shape, 0 if value is None else value, dtype=input.dtype.np, like=array_of(input))
        return IndexPut.apply(Tensor._make(fill), input, key=key)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"pad: unknown padding mode {mode!r} (expected constant, reflect, "
                                  "replicate or circular)")
    if value:
        raise ValueError(f'Padding mode "{mode}" doesn\'t take in value argument')
    for d, (left, right) in pairs.items():
        n = input.shape[d]
        limit = {"reflect": n - 1, "circular": n}.get(mode, float("inf"))
        if min(left, right) < 0 or max(left, right) > limit or n == 0:
            raise RuntimeError(f"pad: {mode} padding ({left}, {right}) of dim {d} must be non-negative "
                               f"and at most {limit} for input shape {tuple(input.shape)}")
    for d, (left, right) in pairs.items():
        if left or right:
            input = _pad_dim(input, d, left, right, mode)
    return input


# --- interpolation ---------------------------------------------------------------------

_CUBIC_A = -0.75


def _source(dst, n_in, n_out, scale, align_corners, cubic=False):
    """PyTorch's source coordinate of each output position (area_pixel_compute_source_index)."""
    if align_corners:
        return dst * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
    ratio = 1.0 / scale if scale is not None and scale > 0 else n_in / n_out
    src = (dst + 0.5) * ratio - 0.5
    return src if cubic else xp.maximum(src, 0.0)


def _interp_matrix(n_in, n_out, scale, align_corners, mode):
    """(n_out, n_in): the linear or cubic interpolation weights along one dim."""
    dst = xp.arange(n_out, dtype=xp.float64)
    m = xp.zeros((n_out, n_in))
    rows = xp.arange(n_out)
    if mode == "cubic":
        src = _source(dst, n_in, n_out, scale, align_corners, cubic=True)
        i0 = xp.floor(src).astype(xp.int64)
        t = src - i0
        a = _CUBIC_A
        near = lambda x: ((a + 2) * x - (a + 3)) * x * x + 1               # |x| <= 1
        far = lambda x: ((a * x - 5 * a) * x + 8 * a) * x - 4 * a          # 1 < |x| < 2
        for tap, w in zip((-1, 0, 1, 2), (far(t + 1), near(t), near(1 - t), far(2 - t))):
            xp.add.at(m, (rows, (i0 + tap).clip(0, n_in - 1)), w)
        return m
    if n_in == n_out and not align_corners:
        return xp.eye(n_in)
    src = _source(dst, n_in, n_out, scale, align_corners)
    i0 = src.astype(xp.int64)
    i1 = i0 + (i0 < n_in - 1)
    lam = (src - i0).clip(0, 1)
    xp.add.at(m, (rows, i0), 1 - lam)
    xp.add.at(m, (rows, i1), lam)
    return m


def _nearest_index(n_in, n_out, scale, exact):
    """PyTorch's nearest source index (computed in float32, as its CPU kernel; plain
    nearest copies or doubles a dim exactly, whatever the scale factor)."""
    if not exact and n_out in (n_in, 2 * n_in):
        return xp.arange(n_out) // (n_out // n_in)
    ratio = xp.float32(1.0 / scale if scale is not None and scale > 0 else n_in / n_out)
    dst = xp.arange(n_out, dtype=xp.float32) + xp.float32(0.5 if exact else 0.0)
    return xp.minimum(xp.floor(dst * ratio).astype(xp.int64), n_in - 1)


def _blocks(factors):
    """Keys of the strided slices that interleave into r_j-blocks of the last k dims."""
    return [(Ellipsis,) + tuple(slice(o, None, r) for o, r in zip(offsets, factors))
            for offsets in itertools.product(*map(range, factors))]


class Repeat(Op):
    """Each element of the last k dims repeated factors[j] times along dim j: nearest
    upsampling by whole factors, written as strided copies."""

    op_name = "upsample_nearest"

    batch = leading

    def forward(ctx, x, factors):
        ctx.factors = factors
        k = len(factors)
        out = xp.empty(x.shape[:-k] + tuple(n * r for n, r in zip(x.shape[-k:], factors)), dtype=x.dtype, like=x)
        for key in _blocks(factors):
            out[key] = x
        return out

    def vjp(ctx, g):
        return BlockSum.apply(g, factors=ctx.factors)

    def jvp(ctx, dx):
        return Repeat.apply(dx, factors=ctx.factors)


class BlockSum(Op):
    """The sum over each factors-sized block of the last k dims: Repeat's adjoint."""

    op_name = "upsample_nearest_backward"

    batch = leading

    def forward(ctx, g, factors):
        ctx.factors = factors
        keys = _blocks(factors)
        out = g[keys[0]].copy()
        for key in keys[1:]:
            out += g[key]
        return out

    def vjp(ctx, g):
        return Repeat.apply(g, factors=ctx.factors)

    def jvp(ctx, dg):
        return BlockSum.apply(dg, factors=ctx.factors)


_MODE_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dims (all but N and C) to `size` or by `scale_factor`."""
    k = input.ndim - 2
    if k < 1:
        raise ValueError(f"interpolate: expected an input of shape (N, C, *spatial), got shape "
                         f"{tuple(input.shape)}")
    if mode in _MODE_DIMS and _MODE_DIMS[mode] != k:
        raise NotImplementedError(f"interpolate: got {input.ndim}D input, but {mode} mode needs "
                                  f"{_MODE_DIMS[mode] + 2}D input")
    if mode not in ("nearest", "nearest-exact", "area", "linear", "bilinear", "bicubic"):
        raise NotImplementedError(f"interpolate: mode {mode!r} is not supported")
    if align_corners is not None and mode not in _MODE_DIMS:
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if (size is None) == (scale_factor is None):
        raise ValueError("only one of size or scale_factor should be defined" if size is not None
                         else "either size or scale_factor should be defined")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    n_in = tuple(input.shape[2:])
    if size is not None:
        out, scales = _ntuple(size, k, "size", "interpolate"), (None,) * k
    else:
        scales = tuple(float(s) for s in _ntuple(scale_factor, k, "scale_factor", "interpolate"))
        out = tuple(int(math.floor(n * s)) for n, s in zip(n_in, scales))
        if recompute_scale_factor:
            scales = (None,) * k
    if min(out) <= 0:
        raise ValueError(f"interpolate: the output size {out} must be positive (input shape "
                         f"{tuple(input.shape)})")
    if mode == "area":
        return _adaptive_avg_pool(input, out, k, "interpolate")
    factors = tuple(o // n for n, o in zip(n_in, out))
    if mode == "nearest" and all(o == n * r and (r <= 2 or s in (None, r))
                                 for n, o, s, r in zip(n_in, out, scales, factors)):
        return Repeat.apply(input, factors=factors)
    if mode.startswith("nearest"):
        exact = mode == "nearest-exact"
        key = tuple(_nearest_index(n, o, s, exact).reshape((-1,) + (1,) * (k - 1 - j))
                    for j, (n, o, s) in enumerate(zip(n_in, out, scales)))
        return Index.apply(input, key=(Ellipsis,) + key)
    if k > 2:
        raise NotImplementedError(f"interpolate: {mode} mode is not supported")
    kind = "cubic" if mode == "bicubic" else "linear"
    mats = [_interp_matrix(n, o, s, bool(align_corners), kind) for n, o, s in zip(n_in, out, scales)]
    return _separable(input, mats, "interpolate")


# --- pixel shuffle, local response norm --------------------------------------------------

def pixel_shuffle(input, upscale_factor):
    """(*, C r^2, H, W) -> (*, C, H r, W r): channels become r x r spatial blocks."""
    r = upscale_factor
    if input.ndim < 3 or input.shape[-3] % (r * r):
        raise RuntimeError(f"pixel_shuffle: expected an input of shape (*, C * {r}^2, H, W), got "
                           f"shape {tuple(input.shape)}")
    *lead, c, h, w = input.shape
    nl = len(lead)
    y = input.reshape(tuple(lead) + (c // (r * r), r, r, h, w))
    y = y.permute(*range(nl), nl, nl + 3, nl + 1, nl + 4, nl + 2)
    return y.reshape(tuple(lead) + (c // (r * r), h * r, w * r))


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H r, W r) -> (*, C r^2, H, W): the inverse of pixel_shuffle."""
    r = downscale_factor
    if input.ndim < 3 or input.shape[-1] % r or input.shape[-2] % r:
        raise RuntimeError(f"pixel_unshuffle: expected an input of shape (*, C, H * {r}, W * {r}), "
                           f"got shape {tuple(input.shape)}")
    *lead, c, h, w = input.shape
    nl = len(lead)
    y = input.reshape(tuple(lead) + (c, h // r, r, w // r, r))
    y = y.permute(*range(nl), nl, nl + 2, nl + 4, nl + 1, nl + 3)
    return y.reshape(tuple(lead) + (c * r * r, h // r, w // r))


def local_response_norm(input, size, alpha=0.0001, beta=0.75, k=1.0):
    """x / (k + alpha * mean of x^2 over `size` neighbouring channels)^beta (AlexNet)."""
    if input.ndim < 3:
        raise ValueError(f"local_response_norm: expected 3D or higher dimensionality input, got "
                         f"shape {tuple(input.shape)}")
    n, c = input.shape[0], input.shape[1]
    # the channel window of PyTorch: size // 2 before, (size - 1) // 2 after, zeros outside
    m = xp.zeros((c, c))
    for o in range(c):
        m[o, max(o - size // 2, 0): min(o + (size - 1) // 2 + 1, c)] = 1 / size
    sq = (input * input).reshape(n, c, -1)
    div = (_const(m, input) @ sq).reshape(input.shape)
    return input / (div * alpha + k).pow(beta)


METHODS = {}

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "adaptive_avg_pool1d",
           "adaptive_max_pool1d", "max_pool1d_with_indices", "pixel_shuffle", "pixel_unshuffle",
           "channel_shuffle"]
