"""Convolutions (1d/2d/3d, transposed) and unfold/fold, one N-d implementation.

Forward is im2col + GEMM: a strided view of the zero-padded input holds every window,
copied once (batch chunk by batch chunk, so temporaries stay bounded) into columns
(groups, C/g * prod(K), n * L) with the batch folded into the GEMM's columns (one large GEMM
instead of n skinny ones), multiplied by the weight (groups, O/g, C/g * prod(K)); the
(O, n, L) product goes to (n, O, *out) in the same pass that adds the bias.  With a handful
of output channels (LeNet's first layer) the GEMMs go sample by sample instead, straight
into (n, O, *out).

Three ops share one trilinear form T(x, w, gy) = <conv(x, w), gy>, so each one's VJP is
made of the others and double backward works to any order:

    Conv(x, w)            = y    VJP: x <- ConvTranspose(gy, w),  w <- ConvWeight(x, gy)
    ConvTranspose(gy, w)  = x    VJP: gy <- Conv(gx, w),          w <- ConvWeight(gx, gy)
    ConvWeight(x, gy)     = w    VJP: x <- ConvTranspose(gy, gw), gy <- Conv(x, gw)

All are bilinear, so a JVP is the op applied to one tangent at a time.  ConvTranspose is
computed as correlations, one per stride phase (no scatter) or, where every kernel size is
a multiple of its stride (DCGAN's 4x4 stride 2), all phases as one "sub-pixel" correlation
with s^d times the channels; or, where that would multiply mostly zeros or copy many more
channels (1x1 -> 7x7, 64 -> 1 channels), as GEMM + col2im: one strided slice add per kernel
offset, or in 2-d with numba installed a scatter kernel (`conv_numba.py`).
Unfold (im2col) and Fold (col2im) are each other's adjoint.
"""
import math

from .._array import as_strided, xp
from ..tensor import Tensor
from .batching import fold_batch, folding, materialize, unfold_batch
from .fast import conv_kernels
from .op import Op

_CHUNK = 1 << 22       # elements of one im2col temporary (batch chunks keep it below this)


# --- array helpers --------------------------------------------------------------------------

def _out_size(size, ksize, stride, padding, dilation):
    return tuple((s + lo + hi - d * (k - 1) - 1) // st + 1
                 for s, k, st, (lo, hi), d in zip(size, ksize, stride, padding, dilation))


def _pad(x, padding):
    """x (N, C, *S) zero-padded by (low, high) per spatial dim (x itself without padding);
    a negative amount crops."""
    if not any(lo or hi for lo, hi in padding):
        return x
    if any(lo < 0 or hi < 0 for lo, hi in padding):
        x = x[(slice(None), slice(None)) + tuple(slice(max(-lo, 0), s - max(-hi, 0))
                                                 for s, (lo, hi) in zip(x.shape[2:], padding))]
        padding = tuple((max(lo, 0), max(hi, 0)) for lo, hi in padding)
        if not any(lo or hi for lo, hi in padding):
            return x
    buf = xp.zeros(x.shape[:2] + tuple(s + lo + hi for s, (lo, hi) in zip(x.shape[2:], padding)),
                   dtype=x.dtype, like=x)
    buf[(slice(None), slice(None)) + tuple(slice(lo, lo + s) for s, (lo, _) in
                                           zip(x.shape[2:], padding))] = x
    return buf


def _strided(a, shape, strides):
    """A read-only strided view of a (as_strided, without its overhead where a is contiguous)."""
    if type(a) is not xp.ndarray or not a.flags.c_contiguous:
        return as_strided(a, shape, strides)
    view = xp.ndarray(shape, a.dtype, a, 0, strides)
    view.flags.writeable = False
    return view


def _windows(x, ksize, out, stride, padding, dilation):
    """(N, C, *K, *out) read-only view of every window of the zero-padded x."""
    x = _pad(x, padding)
    st = x.strides
    strides = st[:2] + tuple(s * d for s, d in zip(st[2:], dilation)) + \
        tuple(s * t for s, t in zip(st[2:], stride))
    return _strided(x, x.shape[:2] + tuple(ksize) + tuple(out), strides)


def _batches(n, per_sample):
    step = max(1, _CHUNK // max(per_sample, 1))
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


def _cols(x, ksize, out, stride, dilation, groups):
    """im2col of the padded x (n, C, *S): (groups, C/g * prod(K), n * L), the batch folded
    into the columns.  2-d with short rows (LeNet-sized planes) in two copies: first the row
    windows (C, kw, n, H, ow), then from them whole (oh, ow) blocks per kernel offset: fewer,
    longer runs than one copy of ow-long rows (measured 1.5x faster there, slower for wide rows)."""
    n, c = x.shape[:2]
    if len(ksize) == 2 and out[1] < 16 and stride[0] == 1:
        sn, sc, sh, sw = x.strides
        shape = (c, ksize[1], n, x.shape[2], out[1])
        rows = xp.empty(shape, dtype=x.dtype, like=x)
        xp.copyto(rows, _strided(x, shape, (sc, sw * dilation[1], sn, sh, sw * stride[1])))
        r = rows.strides
        win = _strided(rows, (c,) + tuple(ksize) + (n,) + tuple(out),
                       (r[0], r[3] * dilation[0], r[1], r[2], r[3], r[4]))
    else:
        d = len(ksize)
        win = _windows(x, ksize, out, stride, ((0, 0),) * d, dilation)
        win = win.transpose((1,) + tuple(range(2, 2 + d)) + (0,) + tuple(range(2 + d, 2 + 2 * d)))
    cols = xp.empty(win.shape, dtype=x.dtype, like=x)
    xp.copyto(cols, win)
    return cols.reshape(groups, -1, n * math.prod(out))


def _per_sample(o, L, rows=8):
    """Multiply sample by sample (the GEMMs' columns one sample's L points) rather than the
    whole batch at once?  OpenBLAS is 1.2-3x slower on a GEMM with a handful of rows (O) and
    n * L columns than on n GEMMs of L columns (LeNet's layers: 6 and 16 channels, L = 784
    and 100); with more rows the single GEMM is as fast or faster (measured on LeNet, DCGAN
    and ResNet shapes).  The weight gradient's sum over the samples pays only up to 8 rows."""
    return o <= rows and L >= 64


def _sample_cols(cols, n):
    """The im2col matrix (groups, K, n * L) as (groups, n, K, L): a strided view."""
    g, k = cols.shape[:2]
    return cols.reshape(g, k, n, -1).transpose(0, 2, 1, 3)


def _gmat(gy, groups):
    """(n, O, *out) -> (groups, O/g, n * L): the batch folded into the columns (a copy)."""
    n, o = gy.shape[:2]
    return gy.reshape(n, o, -1).transpose(1, 0, 2).reshape(groups, o // groups, -1)


def _col2im(buf, cols, ksize, stride, dilation):
    """col2im: add the columns (n, C, *K, *out) (any strides) of each kernel offset into
    buf (n, C, *padded): one strided slice add per offset."""
    out = cols.shape[2 + len(ksize):]
    for k in xp.ndindex(*ksize):
        idx = tuple(slice(i * d, i * d + t * (o - 1) + 1, t) for i, d, t, o in zip(k, dilation, stride, out))
        buf[(slice(None), slice(None)) + idx] += cols[(slice(None), slice(None)) + k]


def _col2im_shifts(gy, wt, c, ksize, padded, dilation):
    """col2im for stride 1, fast: gy (n, O, *out) is placed in a zero grid (O, n, *padded), so
    that in that grid's flat index every kernel offset is a shift, and the columns
    (C, prod(K), n * P) = wt @ grid scatter back with one contiguous add per offset (instead
    of short strided rows).  Returns the sums (C, n, *padded)."""
    n, o, out = gy.shape[0], gy.shape[1], gy.shape[2:]
    grid = xp.zeros((o, n) + padded, dtype=gy.dtype, like=gy)
    grid[(slice(None), slice(None)) + tuple(slice(0, t) for t in out)] = gy.swapaxes(0, 1)
    groups = wt.shape[0]
    cols = xp.matmul(wt, grid.reshape(groups, o // groups, -1)).reshape(c, math.prod(ksize), -1)
    buf = xp.zeros((c, cols.shape[2]), dtype=gy.dtype, like=gy)
    steps = [math.prod(padded[i + 1:]) * d for i, d in enumerate(dilation)]
    m = cols.shape[2]
    for j, k in enumerate(xp.ndindex(*ksize)):
        shift = sum(i * st for i, st in zip(k, steps))
        buf[:, shift:] += cols[:, j, :m - shift]
    return buf.reshape((c, n) + padded)


def _crop(buf, padding):
    return buf[(slice(None), slice(None)) + tuple(slice(lo, buf.shape[2 + i] - hi)
                                                  for i, (lo, hi) in enumerate(padding))]


def _bias_grad(g):
    """The gradient of a per-channel bias: g (N, C, *spatial) summed to (C,).  Summing the
    batch first, then the contiguous spatial block, is ~10x faster than one sum over
    (0, 2, ...) in NumPy."""
    return g.sum(0).sum(tuple(range(1, g.ndim - 1)))


def _channels_bias(b, nd):
    """A bias (C,) as (C, 1, ..., 1) against (N, C, *spatial)."""
    return b.reshape((b.shape[0],) + (1,) * nd)


def _whole(ksize, padded, dilation, groups):
    """Is the kernel as large as the padded input (one window, one output point: DCGAN's
    7x7 layers)?  Then each of the three ops is one plain GEMM, without im2col."""
    return groups == 1 and tuple(padded) == tuple(ksize) and all(d == 1 for d in dilation)


def _conv(x, w, b, out, stride, padding, dilation, groups):
    """The convolution's arrays: y (n, O, *out) and x's im2col matrix when it was made in
    one piece (else None), which the weight gradient reuses."""
    ksize = w.shape[2:]
    out = out or _out_size(x.shape[2:], ksize, stride, padding, dilation)
    x = _pad(x, padding)
    n, o, L = x.shape[0], w.shape[0], math.prod(out)
    if _whole(ksize, x.shape[2:], dilation, groups):
        y = xp.matmul(x.reshape(n, -1), w.reshape(o, -1).T)
        if b is not None:
            y += b
        return y.reshape((n, o) + (1,) * len(ksize)), None
    y = xp.empty((n, o) + tuple(out), dtype=x.dtype, like=x)
    w3 = w.reshape(groups, o // groups, -1)
    batches, cols = _batches(n, w3.shape[2] * groups * L), None
    per_sample = _per_sample(o // groups, L, rows=16) and type(x) is xp.ndarray
    for sl in batches:
        cols = _cols(x[sl], ksize, out, stride, dilation, groups)
        if per_sample:          # straight into y, seen as (groups, n, O/g, L)
            dst = y[sl].reshape(-1, groups, o // groups, L).transpose(1, 0, 2, 3)
            xp.matmul(w3[:, None], _sample_cols(cols, sl.stop - sl.start), out=dst)
            if b is not None:
                y[sl] += _channels_bias(b, len(out))
            continue
        ym = xp.matmul(w3, cols).reshape(o, -1, L)            # (O, n, L)
        dst = y[sl].reshape(-1, o, L).transpose(1, 0, 2)     # a view of y as (O, n, L)
        if b is None:
            xp.copyto(dst, ym)
        else:
            xp.add(ym, b[:, None, None], out=dst)
    return y, (cols if len(batches) == 1 else None)


def _flipped(w, groups, taps=None):
    """The weight (O, C/g, *K) of a transposed convolution as that of the correlation it
    equals: (C, O/g, *K') with the kernel taps (by default all) in reverse order."""
    o, cg, ksize = w.shape[0], w.shape[1], w.shape[2:]
    if taps is not None:
        w = w[(slice(None), slice(None)) + taps]
    w = w[(slice(None), slice(None)) + (slice(None, None, -1),) * len(ksize)]
    w = w.reshape((groups, o // groups, cg) + w.shape[2:]).swapaxes(1, 2)
    return w.reshape((groups * cg, o // groups) + w.shape[3:])


def _direct_pays(o, c, out, size, stride, dilation):
    """Does a transposed convolution (O -> C channels, out -> size) run faster as
    correlations than as GEMM + col2im?  The correlations do GEMM work for every output
    point and copy O channels' windows; the scatter works per input point and adds C
    channels' columns.  Measured: correlations win where the two GEMMs are about as large and
    O <= 4 C (ResNet's 3x3 and DCGAN's 4x4 stride-2 layers); a 1x1 -> 7x7 layer (49x the
    GEMM) or 64 -> 1 channels scatter faster."""
    return (all(d == 1 for d in dilation) and o <= 4 * c
            and math.prod(size) <= 1.5 * math.prod(stride) * math.prod(out))


def _conv_transpose_direct(gy, w, size, stride, padding, groups):
    """A transposed convolution without a col2im scatter (dilation 1): the output points
    whose padded index is r mod s (each r, per dim: s ** d phases) receive only the kernel
    taps r, r + s, ...; so each phase is the correlation of gy with those taps reversed,
    stride 1, and is written into its strided slice of y.  Same GEMM work as im2col's
    columns, but a gather instead of a scatter."""
    n, c = gy.shape[0], w.shape[1] * groups
    ksize, out = w.shape[2:], gy.shape[2:]
    y = xp.empty((n, c) + tuple(size), dtype=gy.dtype, like=gy)
    for phase in xp.ndindex(*stride):
        taps, pads, dst, shape = [], [], [], []
        for r, s, k, o, (lo, _), m in zip(phase, stride, ksize, out, padding, size):
            q0 = -(-(lo - r) // s)                     # first phase point inside the crop
            nq = max(0, (m - 1 + lo - r) // s - q0 + 1)
            ka = len(range(r, k, s))
            first = s * q0 + r - lo
            taps.append(slice(r, k, s))
            pads.append((ka - 1 - q0, nq - o + q0))
            dst.append(slice(first, first + s * (nq - 1) + 1 if nq else first, s))
            shape.append((nq, ka))
        region = y[(slice(None), slice(None)) + tuple(dst)]
        if any(nq == 0 for nq, _ in shape):
            continue
        if any(ka == 0 for _, ka in shape):
            region[...] = 0
            continue
        part, _ = _conv(gy, _flipped(w, groups, tuple(taps)), None, tuple(nq for nq, _ in shape),
                        (1,) * len(stride), tuple(pads), (1,) * len(stride), groups)
        xp.copyto(region, part)
    return y


def _subpixel_pays(ksize, stride, dilation):
    """Does a transposed convolution run as one sub-pixel correlation?  When every kernel size
    is a multiple of its stride (DCGAN's 4x4 stride 2), each stride phase has the same number
    of taps, so no zero taps are multiplied."""
    return (all(d == 1 for d in dilation) and math.prod(stride) > 1
            and all(k % s == 0 for k, s in zip(ksize, stride)))


def _conv_transpose_subpixel(gy, w, size, stride, padding, groups):
    """A transposed convolution with kernel sizes that are multiples of the strides, as ONE
    stride-1 correlation with s^d times the output channels, then a depth-to-space copy
    (a "sub-pixel" convolution).  The padded output point s * m + r receives the taps
    r, r + s, ... at gy[m], gy[m - 1], ...; so phase r is the correlation of gy with those
    taps reversed, and all phases read the same K/s windows of gy: one im2col and one GEMM
    (s^d * C rows) instead of one per phase."""
    n, c, o = gy.shape[0], w.shape[1] * groups, w.shape[0]
    ksize, d = w.shape[2:], len(stride)
    kq = tuple(k // s for k, s in zip(ksize, stride))                 # taps per phase
    w = w.reshape((groups, o // groups, c // groups) + sum(((q, s) for q, s in zip(kq, stride)), ()))
    w = w[(slice(None),) * 3 + (slice(None, None, -1), slice(None)) * d]     # tap u*s + r, u reversed
    axes = (0,) + tuple(4 + 2 * i for i in range(d)) + (2, 1) + tuple(3 + 2 * i for i in range(d))
    wsub = w.transpose(axes).reshape((-1, o // groups) + kq)          # (g * s^d * C/g, O/g, *K/s)
    m0 = tuple(lo // s for (lo, _), s in zip(padding, stride))
    m = tuple((lo + t - 1) // s - a + 1 for (lo, _), t, s, a in zip(padding, size, stride, m0))
    pads = tuple((q - 1 - a, b - i + a) for q, a, b, i in zip(kq, m0, m, gy.shape[2:]))
    sub, _ = _conv(gy, wsub, None, m, (1,) * d, pads, (1,) * d, groups)
    sub = sub.reshape((n, groups, math.prod(stride), c // groups) + m)
    y = xp.empty((n, c) + tuple(size), dtype=gy.dtype, like=gy)
    yg = y.reshape((n, groups, c // groups) + tuple(size))
    for p, phase in enumerate(xp.ndindex(*stride)):
        src, dst = [], []
        for r, s, (lo, _), t, a in zip(phase, stride, padding, size, m0):
            q0 = -(-(lo - r) // s)                     # first m whose point s * m + r - lo >= 0
            nq = max(0, (t - 1 + lo - r) // s - q0 + 1)
            first = s * q0 + r - lo
            src.append(slice(q0 - a, q0 - a + nq))
            dst.append(slice(first, first + s * (nq - 1) + 1 if nq else first, s))
        xp.copyto(yg[(slice(None),) * 3 + tuple(dst)], sub[(slice(None), slice(None), p, slice(None)) + tuple(src)])
    return y


def _conv_transpose_scatter(gy, w, size, stride, padding, dilation, groups):
    """A transposed convolution as GEMM then col2im (any dilation): the columns
    w.T @ gy scattered back into place."""
    n, o = gy.shape[:2]
    ksize, out, c = w.shape[2:], gy.shape[2:], w.shape[1] * groups
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(size, padding))
    wt = w.reshape(groups, o // groups, -1).transpose(0, 2, 1)
    y = xp.empty((n, c) + tuple(size), dtype=gy.dtype, like=gy)
    # stride 1: the shifted adds beat the strided ones unless the zero margins make the
    # GEMM much wider (small planes, many channels; crossover measured on ResNet shapes)
    # or the columns much longer (an output far smaller than the input, e.g. 7x7 -> 1x1)
    p, L = math.prod(padded), math.prod(out)
    plain = len(ksize) == 2 and all(t == 1 for t in tuple(stride) + tuple(dilation))
    fast = conv_kernels(gy, w) if plain else None
    unit = (fast is None and all(t == 1 for t in stride) and (p - L) * (o // groups) <= 150 * L
            and p <= 2.5 * L)
    for sl in _batches(n, wt.shape[1] * groups * math.prod(padded if unit else out)):
        if fast is not None:        # per-sample GEMMs (groups, n, C/g * K, L), then the kernel
            buf = xp.zeros((sl.stop - sl.start, c) + padded, dtype=gy.dtype)
            gys = gy[sl].reshape(-1, groups, o // groups, L).transpose(1, 0, 2, 3)
            fast.col2im(xp.matmul(wt[:, None], gys), buf, *ksize, *out)
        elif unit:
            buf = _col2im_shifts(gy[sl], wt, c, ksize, padded, dilation).swapaxes(0, 1)
        else:
            buf = xp.zeros((sl.stop - sl.start, c) + padded, dtype=gy.dtype, like=gy)
            cols = xp.matmul(wt, _gmat(gy[sl], groups)).reshape((c,) + ksize + (-1,) + out)
            _col2im(buf, xp.moveaxis(cols, 1 + len(ksize), 0), ksize, stride, dilation)
        xp.copyto(y[sl], _crop(buf, padding))
    return y


# --- the three ops ----------------------------------------------------------------------------

class _ConvBase(Op):
    def geometry(ctx, stride, padding, dilation, groups):
        ctx.geom = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)


def _grouped(x, n):
    """Physical (n, N, C, *S) as (N, n * C, *S): each element's channels a group of their own."""
    x = x.movedim(0, 1)
    shape = tuple(x.shape)
    return x.reshape((shape[0], n * shape[2]) + shape[3:])


def _ungrouped(y, n):
    """(N, n * C, *S) back to physical (n, N, C, *S)."""
    shape = tuple(y.shape)
    return y.reshape((shape[0], n, shape[1] // n) + shape[2:]).movedim(1, 0)


def _per_element(w, n, batched):
    """Weights (or a bias) per element, (n, O, ...) -> (n * O, ...)."""
    w = materialize(w, n, batched)
    return w.reshape((n * w.shape[1],) + tuple(w.shape[2:]))


def _convolve(cls, n, args, batched, kwargs):
    """The batching rule of Conv and ConvTranspose: the batch folded into N when only the
    input is batched; else each element's channels, weights and bias a group of their own
    (groups * n): one convolution for the whole batch either way."""
    if not any(batched[1:]):
        return unfold_batch(cls.apply(fold_batch(args[0]), *args[1:], **kwargs), n)
    x, *params = args
    params = [_per_element(p, n, b) for p, b in zip(params, batched[1:])]
    y = cls.apply(_grouped(materialize(x, n, batched[0]), n), *params,
                  **{**kwargs, "groups": kwargs["groups"] * n})
    return _ungrouped(y, n)


class Conv(_ConvBase):
    """y = correlation of x (N, C, *S) with w (O, C/g, *K), plus b (O,); `out` fixes the
    output size (a transposed convolution's VJP reads only its first windows)."""

    batch = classmethod(_convolve)

    def forward(ctx, x, w, b=None, *, stride, padding, dilation, groups, out=None):
        ctx.geometry(stride, padding, dilation, groups)
        y, ctx.cols = _conv(x, w, b, out, stride, padding, dilation, groups)
        return y

    def vjp(ctx, g):
        need_x, need_w, need_b = ctx.needs_input_grad + (False,) * (3 - len(ctx.args))
        x, w = ctx.args[0], ctx.args[1]
        gx = ConvTranspose.apply(g, ctx.input(1), size=x.shape[2:], **ctx.geom) if need_x else None
        gw = ConvWeight.apply(ctx.input(0), g, ksize=w.shape[2:], cols=ctx.cols, **ctx.geom) \
            if need_w else None
        gb = _bias_grad(g) if need_b else None
        return (gx, gw, gb)[:len(ctx.args)]

    def jvp(ctx, dx, dw, db=None):
        x, w, b = ctx.args + (None,) * (3 - len(ctx.args))
        out = ctx.output.shape[2:]
        dy = Conv.apply(dx, w, out=out, **ctx.geom) + Conv.apply(x, dw, out=out, **ctx.geom)
        return dy + db.reshape(_channels_bias(db, len(out)).shape) if b is not None else dy


class ConvTranspose(_ConvBase):
    """The adjoint of Conv in x: gy (N, O, *out) and w (O, C/g, *K) give (N, C, *size),
    plus b (C,)."""
    op_name = "conv_transpose"

    batch = classmethod(_convolve)

    def forward(ctx, gy, w, b=None, *, size, stride, padding, dilation, groups):
        ctx.geometry(stride, padding, dilation, groups)
        direct = _direct_pays(gy.shape[1], w.shape[1] * groups, gy.shape[2:], size, stride, dilation)
        padded = tuple(s + lo + hi for s, (lo, hi) in zip(size, padding))
        if all(t == 1 for t in gy.shape[2:]) and _whole(w.shape[2:], padded, dilation, groups):
            y = xp.matmul(gy.reshape(gy.shape[0], -1), w.reshape(w.shape[0], -1)).reshape(gy.shape[:1] + w.shape[1:])
            if any(lo or hi for lo, hi in padding):
                y = _crop(y, padding).copy()
        elif direct and _subpixel_pays(w.shape[2:], stride, dilation):
            y = _conv_transpose_subpixel(gy, w, size, stride, padding, groups)
        elif direct:
            y = _conv_transpose_direct(gy, w, size, stride, padding, groups)
        else:
            y = _conv_transpose_scatter(gy, w, size, stride, padding, dilation, groups)
        if b is not None:
            y += _channels_bias(b, w.ndim - 2)
        return y

    def vjp(ctx, g):
        need_gy, need_w, need_b = ctx.needs_input_grad + (False,) * (3 - len(ctx.args))
        gy, w = ctx.args[0], ctx.args[1]
        ggy = Conv.apply(g, ctx.input(1), out=gy.shape[2:], **ctx.geom) if need_gy else None
        gw = ConvWeight.apply(g, ctx.input(0), ksize=w.shape[2:], **ctx.geom) if need_w else None
        gb = _bias_grad(g) if need_b else None
        return (ggy, gw, gb)[:len(ctx.args)]

    def jvp(ctx, dgy, dw, db=None):
        gy, w, b = ctx.args + (None,) * (3 - len(ctx.args))
        size = ctx.output.shape[2:]
        dy = (ConvTranspose.apply(dgy, w, size=size, **ctx.geom)
              + ConvTranspose.apply(gy, dw, size=size, **ctx.geom))
        return dy + db.reshape(_channels_bias(db, len(size)).shape) if b is not None else dy


class ConvWeight(_ConvBase):
    """The adjoint of Conv in w: x (N, C, *S) and gy (N, O, *out) give (O, C/g, *ksize)."""
    op_name = "conv_weight"

    @classmethod
    def batch(cls, n, args, batched, kwargs):
        x, gy = (_grouped(materialize(a, n, b), n) for a, b in zip(args, batched))
        gw = cls.apply(x, gy, **{**kwargs, "groups": kwargs["groups"] * n, "cols": None})
        return gw.reshape((n, gw.shape[0] // n) + tuple(gw.shape[1:]))

    def forward(ctx, x, gy, *, ksize, stride, padding, dilation, groups, cols=None):
        """`cols`: x's im2col matrix when the forward convolution kept it."""
        ctx.geometry(stride, padding, dilation, groups)
        n, o = gy.shape[:2]
        out = gy.shape[2:]
        cg = x.shape[1] // groups
        if cols is None:
            x = _pad(x, padding)
            if _whole(ksize, x.shape[2:], dilation, groups):
                return xp.matmul(gy.reshape(n, o).T, x.reshape(n, -1)).reshape((o, cg) + tuple(ksize))
        gwt = xp.zeros((groups, cg * math.prod(ksize), o // groups), dtype=x.dtype, like=x)
        L = math.prod(out)
        per_sample = _per_sample(o // groups, L) and type(x) is xp.ndarray
        for sl in _batches(n, x.shape[1] * math.prod(ksize) * L):
            c = cols if cols is not None else _cols(x[sl], ksize, out, stride, dilation, groups)
            if per_sample:      # sum over the samples of cols_i @ gy_i.T, no copy of gy
                gys = gy[sl].reshape(-1, groups, o // groups, L).transpose(1, 0, 3, 2)
                gwt += xp.matmul(_sample_cols(c, sl.stop - sl.start), gys).sum(1)
                continue
            # cols @ gy.T, then transposed: BLAS is ~1.5x faster with the long sum this way
            gwt += xp.matmul(c, _gmat(gy[sl], groups).transpose(0, 2, 1))
        return gwt.transpose(0, 2, 1).reshape((o, cg) + tuple(ksize))

    def vjp(ctx, g):
        need_x, need_gy = ctx.needs_input_grad
        x, gy = ctx.args
        gx = ConvTranspose.apply(ctx.input(1), g, size=x.shape[2:], **ctx.geom) if need_x else None
        ggy = Conv.apply(ctx.input(0), g, out=gy.shape[2:], **ctx.geom) if need_gy else None
        return gx, ggy

    def jvp(ctx, dx, dgy):
        x, gy = ctx.args
        ksize = ctx.output.shape[2:]
        return (ConvWeight.apply(dx, gy, ksize=ksize, **ctx.geom)
                + ConvWeight.apply(x, dgy, ksize=ksize, **ctx.geom))


# --- unfold / fold (im2col / col2im as in nn.functional) ----------------------------------

class Unfold(Op):
    """(N, C, *S) -> (N, C * prod(K), L): every window as a column."""

    batch = folding()

    def forward(ctx, x, *, ksize, stride, padding, dilation):
        ctx.geom = dict(ksize=ksize, stride=stride, padding=padding, dilation=dilation)
        ctx.size = x.shape[2:]
        out = _out_size(x.shape[2:], ksize, stride, padding, dilation)
        win = _windows(x, ksize, out, stride, padding, dilation)
        return win.reshape(x.shape[0], x.shape[1] * math.prod(ksize), -1)

    def vjp(ctx, g):
        return Fold.apply(g, size=ctx.size, **ctx.geom)

    def jvp(ctx, dx):
        return Unfold.apply(dx, **ctx.geom)


class Fold(Op):
    """(N, C * prod(K), L) -> (N, C, *size): columns summed back into place."""

    batch = folding()

    def forward(ctx, cols, *, size, ksize, stride, padding, dilation):
        ctx.geom = dict(ksize=ksize, stride=stride, padding=padding, dilation=dilation)
        ctx.size = size
        out = _out_size(size, ksize, stride, padding, dilation)
        n, c = cols.shape[0], cols.shape[1] // math.prod(ksize)
        buf = xp.zeros((n, c) + tuple(s + lo + hi for s, (lo, hi) in zip(size, padding)), dtype=cols.dtype, like=cols)
        _col2im(buf, cols.reshape((n, c) + tuple(ksize) + out), ksize, stride, dilation)
        return _crop(buf, padding)

    def vjp(ctx, g):
        return Unfold.apply(g, **ctx.geom)

    def jvp(ctx, dcols):
        return Fold.apply(dcols, size=ctx.size, **ctx.geom)


# --- argument handling ------------------------------------------------------------------------

def _tuple(v, d, what, name):
    t = tuple(v) if isinstance(v, (tuple, list)) else (v,) * d
    if len(t) != d or not all(isinstance(i, int) for i in t):
        raise RuntimeError(f"{name}: expected {what} to be a single integer or a tuple of {d} "
                           f"integers, got {v!r}")
    return t


def _pairs(padding, ksize, stride, dilation, name):
    """Padding as (low, high) per spatial dim; 'same' puts any odd extra on the high side."""
    d = len(ksize)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * d
        if padding != "same":
            raise ValueError(f"{name}: invalid padding string {padding!r}, should be one of "
                             f"'valid' or 'same'")
        if any(s != 1 for s in stride):
            raise ValueError(f"{name}: padding='same' is not supported for strided convolutions")
        totals = [dl * (k - 1) for dl, k in zip(dilation, ksize)]
        return tuple((t // 2, t - t // 2) for t in totals)
    pad = _tuple(padding, d, "padding", name)
    if any(p < 0 for p in pad):
        raise RuntimeError(f"{name}: negative padding {pad} is not supported")
    return tuple((p, p) for p in pad)


def _check_dtypes(name, x, w, b):
    dts = [x.dtype, w.dtype] + ([b.dtype] if b is not None else [])
    if not x.is_floating_point() or len(set(dts)) != 1:
        raise RuntimeError(f"{name}: expected floating point input, weight and bias of the same "
                           f"dtype, got " + ", ".join(t.name for t in dts))


def _batched(name, x, d):
    if x.ndim not in (d + 1, d + 2):
        raise RuntimeError(f"{name}: expected {d + 1}D (unbatched) or {d + 2}D (batched) input, "
                           f"got input of shape {tuple(x.shape)}")
    return x.ndim == d + 2


def _convnd(d, input, weight, bias, stride, padding, dilation, groups):
    name = f"conv{d}d"
    batched = _batched(name, input, d)
    x = input if batched else input.unsqueeze(0)
    if weight.ndim != d + 2:
        raise RuntimeError(f"{name}: expected weight of {d + 2} dims (out_channels, in_channels/groups, "
                           f"*kernel_size), got {tuple(weight.shape)}")
    _check_dtypes(name, x, weight, bias)
    stride, dilation = _tuple(stride, d, "stride", name), _tuple(dilation, d, "dilation", name)
    if min(stride) < 1 or min(dilation) < 1 or groups < 1:
        raise RuntimeError(f"{name}: stride, dilation and groups must be positive, got stride={stride}, "
                           f"dilation={dilation}, groups={groups}")
    o, ksize = weight.shape[0], tuple(weight.shape[2:])
    if o % groups:
        raise RuntimeError(f"{name}: expected weight {tuple(weight.shape)} to have out_channels "
                           f"divisible by groups={groups}")
    if x.shape[1] != weight.shape[1] * groups:
        raise RuntimeError(f"{name}: expected input with {weight.shape[1] * groups} channels, got "
                           f"{tuple(input.shape)} (weight {tuple(weight.shape)}, groups={groups})")
    if bias is not None and tuple(bias.shape) != (o,):
        raise RuntimeError(f"{name}: expected bias of shape ({o},), got {tuple(bias.shape)}")
    pads = _pairs(padding, ksize, stride, dilation, name)
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(x.shape[2:], pads))
    span = tuple(dl * (k - 1) + 1 for dl, k in zip(dilation, ksize))
    if any(k > s for k, s in zip(span, padded)):
        raise RuntimeError(f"{name}: kernel size {ksize} (dilated {span}) is larger than the padded "
                           f"input size {padded} (input {tuple(input.shape)})")
    args = (x, weight) if bias is None else (x, weight, bias)
    y = Conv.apply(*args, stride=stride, padding=pads, dilation=dilation, groups=groups)
    return y if batched else y.squeeze(0)


def _conv_transposend(d, input, weight, bias, stride, padding, output_padding, groups, dilation):
    name = f"conv_transpose{d}d"
    batched = _batched(name, input, d)
    x = input if batched else input.unsqueeze(0)
    if weight.ndim != d + 2:
        raise RuntimeError(f"{name}: expected weight of {d + 2} dims (in_channels, out_channels/groups, "
                           f"*kernel_size), got {tuple(weight.shape)}")
    _check_dtypes(name, x, weight, bias)
    stride, dilation = _tuple(stride, d, "stride", name), _tuple(dilation, d, "dilation", name)
    pad = _tuple(padding, d, "padding", name)
    opad = _tuple(output_padding, d, "output_padding", name)
    if min(stride) < 1 or min(dilation) < 1 or groups < 1 or min(pad) < 0:
        raise RuntimeError(f"{name}: stride, dilation, groups must be positive and padding non-negative, "
                           f"got stride={stride}, padding={pad}, dilation={dilation}, groups={groups}")
    if any(not 0 <= p < max(s, dl) for p, s, dl in zip(opad, stride, dilation)):
        raise RuntimeError(f"{name}: output padding {opad} must be smaller than either stride {stride} "
                           f"or dilation {dilation}")
    c, ksize = weight.shape[0], tuple(weight.shape[2:])
    if c % groups or x.shape[1] != c:
        raise RuntimeError(f"{name}: expected input with {c} channels (weight {tuple(weight.shape)}, "
                           f"groups={groups}), got {tuple(input.shape)}")
    o = weight.shape[1] * groups
    if bias is not None and tuple(bias.shape) != (o,):
        raise RuntimeError(f"{name}: expected bias of shape ({o},), got {tuple(bias.shape)}")
    size = tuple((i - 1) * s - 2 * p + dl * (k - 1) + 1 + op
                 for i, s, p, dl, k, op in zip(x.shape[2:], stride, pad, dilation, ksize, opad))
    if any(s < 1 for s in size):
        raise RuntimeError(f"{name}: output size {size} is too small (input {tuple(input.shape)}, "
                           f"weight {tuple(weight.shape)})")
    args = (x, weight) if bias is None else (x, weight, bias)
    y = ConvTranspose.apply(*args, size=size, stride=stride, padding=tuple((p, p) for p in pad),
                            dilation=dilation, groups=groups)
    return y if batched else y.squeeze(0)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _convnd(1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _convnd(2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _convnd(3, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return _conv_transposend(1, input, weight, bias, stride, padding, output_padding, groups, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return _conv_transposend(2, input, weight, bias, stride, padding, output_padding, groups, dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return _conv_transposend(3, input, weight, bias, stride, padding, output_padding, groups, dilation)


def _fold_args(name, ksize, dilation, padding, stride):
    """unfold/fold options (2-d, as in PyTorch) as the ops' keywords."""
    ksize, dilation = _tuple(ksize, 2, "kernel_size", name), _tuple(dilation, 2, "dilation", name)
    pad, stride = _tuple(padding, 2, "padding", name), _tuple(stride, 2, "stride", name)
    return dict(ksize=ksize, stride=stride, padding=tuple((p, p) for p in pad), dilation=dilation)


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding blocks of a (N, C, H, W) (or unbatched (C, H, W)) input as columns
    (N, C * kh * kw, L) (nn.functional.unfold)."""
    batched = _batched("unfold", input, 2)
    x = input if batched else input.unsqueeze(0)
    geom = _fold_args("unfold", kernel_size, dilation, padding, stride)
    out = _out_size(x.shape[2:], **geom)
    if any(o < 1 for o in out):
        raise RuntimeError(f"unfold: kernel size {geom['ksize']} with dilation {geom['dilation']} does not "
                           f"fit in the padded input {tuple(input.shape)} (padding {padding})")
    y = Unfold.apply(x, **geom)
    return y if batched else y.squeeze(0)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sum columns (N, C * kh * kw, L) back into a (N, C, *output_size) tensor (nn.functional.fold)."""
    if input.ndim not in (2, 3):
        raise RuntimeError(f"fold: expected 2D (unbatched) or 3D (batched) input, got {tuple(input.shape)}")
    batched = input.ndim == 3
    x = input if batched else input.unsqueeze(0)
    geom = _fold_args("fold", kernel_size, dilation, padding, stride)
    size = _tuple(output_size, 2, "output_size", "fold")
    k = math.prod(geom["ksize"])
    blocks = math.prod(_out_size(size, **geom))
    if x.shape[1] % k or x.shape[2] != blocks:
        raise RuntimeError(f"fold: expected input of shape (N, C * {k}, {blocks}) for output size {size} "
                           f"and kernel size {geom['ksize']}, got {tuple(input.shape)}")
    y = Fold.apply(x, size=size, **geom)
    return y if batched else y.squeeze(0)


# --- non-zero padding modes of the conv layers ------------------------------------------------

_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _pad_mode(x, pads, mode):
    """Pad the trailing spatial dims of x by (low, high) pairs with reflect/replicate/circular
    values: an index_select per dim, so it is differentiable (to any order)."""
    nd = len(pads)
    for i, (lo, hi) in enumerate(pads):
        size = x.shape[x.ndim - nd + i]
        if mode != "replicate" and (lo > size or hi > size or (mode == "reflect" and max(lo, hi) >= size)):
            raise RuntimeError(f"pad ({mode}): padding {pads} is too large for input of shape {tuple(x.shape)}")
        idx = xp.pad(xp.arange(size), (lo, hi), mode=_MODES[mode])
        x = x.index_select(x.ndim - nd + i, Tensor._make(idx))
    return x


METHODS = {}

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]
