"""Row-wise kernels (numba) for the two normalizations of a Transformer layer: layer norm
(forward and VJP) and the softmax of attention scores (forward and VJP).

Each reads and writes a row of the last dimension in one or two passes where NumPy makes
five to eight (a mean, a subtraction, a square, another mean, ...), each a temporary array.
`LayerNorm` and `Attention` (`nn.py`, `attention.py`) load this module only where numba is
installed (`pip install diffprog[fast]`, see `fast.py`), for C-contiguous float32/float64
NumPy arrays, and compute with NumPy otherwise.  Sums are accumulated in float64; the
fastmath flags allow reassociating them (which vectorises the loops) but keep NaN and inf
meaningful, so a fully masked row of scores behaves as in the NumPy path.
"""
import math

import numba
import numpy as np

from .erf_numba import _exp

_FAST = {"contract", "reassoc", "nsz", "arcp"}


@numba.njit(cache=True, error_model="numpy", fastmath=_FAST)
def layer_norm(x, w, b, eps, y, mean, rstd):
    """y = (x - mean) * rstd * w + b over each row of x (R, D); w, b: (D,) (ones and zeros
    when absent); mean, rstd: (R,), written."""
    rows, d = x.shape
    for r in range(rows):
        s = 0.0
        for j in range(d):
            s += x[r, j]
        m = s / d
        v = 0.0
        for j in range(d):
            c = x[r, j] - m
            v += c * c
        sd = 1.0 / math.sqrt(v / d + eps)
        mean[r], rstd[r] = m, sd
        for j in range(d):
            y[r, j] = (x[r, j] - m) * sd * w[j] + b[j]


@numba.njit(cache=True, error_model="numpy", fastmath=_FAST)
def layer_norm_vjp(x, g, w, mean, rstd, gx, gw, gb):
    """The VJP of `layer_norm` at output gradient g (R, D): gx (R, D) is written, gw and gb
    (D,) (float64) are added into.  With xhat = (x - mean) rstd and d = g w,
    gx = (d - mean(d) - xhat mean(d xhat)) rstd, gw = sum of g xhat, gb = sum of g."""
    rows, n = x.shape
    for r in range(rows):
        m, sd = mean[r], rstd[r]
        sum_d, sum_dx = 0.0, 0.0
        for j in range(n):
            xhat = (x[r, j] - m) * sd
            d = g[r, j] * w[j]
            sum_d += d
            sum_dx += d * xhat
            gw[j] += g[r, j] * xhat
            gb[j] += g[r, j]
        a, c = sum_d / n, sum_dx / n
        for j in range(n):
            xhat = (x[r, j] - m) * sd
            gx[r, j] = (g[r, j] * w[j] - a - xhat * c) * sd


@numba.njit(cache=True, error_model="numpy", fastmath=_FAST)
def softmax_scores(p, scale, bias, period, empty_rows_zero):
    """In place, each row of scores p (R, S) becomes softmax(p * scale + bias), bias row
    r % period (bias: (period, S), or (0, S) for none).  A row whose scores are all -inf
    becomes 0 with empty_rows_zero, NaN without (0 / 0, as NumPy computes it)."""
    rows, n = p.shape
    has_bias = bias.shape[0] > 0
    for r in range(rows):
        top = -np.inf
        for j in range(n):
            s = p[r, j] * scale
            if has_bias:
                s += bias[r % period, j]
            p[r, j] = s
            top = max(top, s)
        if top == -np.inf:
            fill = 0.0 if empty_rows_zero else np.nan
            for j in range(n):
                p[r, j] = fill
            continue
        total = 0.0
        for j in range(n):
            e = _exp(np.float64(p[r, j]) - top)
            p[r, j] = e
            total += e
        inv = 1.0 / total
        for j in range(n):
            p[r, j] *= inv


@numba.njit(cache=True, error_model="numpy", fastmath=_FAST)
def softmax_scores_vjp(d, p, keep):
    """In place, the gradient at the scores from d (R, S), the gradient at the dropped
    weights p * keep (keep: (R, S), or (0, S) for no dropout): with e = d keep,
    ds = p (e - sum(e p)) in each row."""
    rows, n = d.shape
    dropped = keep.shape[0] > 0
    for r in range(rows):
        s = 0.0
        for j in range(n):
            e = d[r, j] * keep[r, j] if dropped else d[r, j]
            d[r, j] = e
            s += e * p[r, j]
        for j in range(n):
            d[r, j] = p[r, j] * (d[r, j] - s)
