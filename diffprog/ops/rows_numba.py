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
        xr, yr = x[r], y[r]
        s = 0.0
        for j in range(d):
            s += xr[j]
        m = s / d
        v = 0.0
        for j in range(d):
            c = xr[j] - m
            v += c * c
        sd = 1.0 / math.sqrt(v / d + eps)
        mean[r], rstd[r] = m, sd
        m, sd = xr.dtype.type(m), xr.dtype.type(sd)
        for j in range(d):
            yr[j] = (xr[j] - m) * sd * w[j] + b[j]


@numba.njit(cache=True, error_model="numpy", fastmath=_FAST)
def layer_norm_vjp(x, g, w, mean, rstd, gx, gw, gb):
    """The VJP of `layer_norm` at output gradient g (R, D): gx (R, D) is written, gw and gb
    (D,) (float64) are added into.  With xhat = (x - mean) rstd and d = g w,
    gx = (d - mean(d) - xhat mean(d xhat)) rstd, gw = sum of g xhat, gb = sum of g."""
    rows, n = x.shape
    for r in range(rows):
        xr, gr, gxr = x[r], g[r], gx[r]
        m, sd = mean[r], rstd[r]
        sum_d, sum_dx = 0.0, 0.0
        for j in range(n):
            xhat = (xr[j] - m) * sd
            d = gr[j] * w[j]
            sum_d += d
            sum_dx += d * xhat
            gw[j] += gr[j] * xhat
            gb[j] += gr[j]
        a, c = xr.dtype.type(sum_d / n), xr.dtype.type(sum_dx / n)
        for j in range(n):
            xhat = (xr[j] - m) * sd
            gxr[j] = (gr[j] * w[j] - a - xhat * c) * sd


@numba.njit(cache=True, error_model="numpy", fastmath=_FAST)
def softmax_scores(p, scale, bias, empty_rows_zero):
    """In place, each row r of float32 scores p (R, S) becomes softmax(p * scale + bias row
    r % len(bias)), the exponentials in float64.  A row whose scores are all -inf becomes 0
    with empty_rows_zero, NaN without (0 / 0, as NumPy computes it).  (Scaling and the
    maximum in float32 vectorise twice as wide as in float64.)"""
    rows, n = p.shape
    period = bias.shape[0]
    scale = np.float32(scale)
    for r in range(rows):
        row, b = p[r], bias[r % period]
        top = np.float32(-np.inf)
        for j in range(n):
            s = row[j] * scale + b[j]
            row[j] = s
            top = max(top, s)
        if top == -np.inf:
            fill = 0.0 if empty_rows_zero else np.nan
            for j in range(n):
                row[j] = fill
            continue
        total = 0.0
        for j in range(n):
            e = _exp(np.float64(row[j] - top))
            row[j] = e
            total += e
        inv = np.float32(1.0 / total)
        for j in range(n):
            row[j] *= inv


@numba.njit(cache=True, error_model="numpy", fastmath=_FAST)
def softmax_scores_vjp(d, p, keep):
    """In place, the gradient at the scores from d (R, S), the gradient at the dropped
    weights p * keep (keep row r % len(keep): the dropout mask, or a row of ones): with
    e = d keep, ds = p (e - sum(e p)) in each row."""
    rows, n = d.shape
    period = keep.shape[0]
    for r in range(rows):
        dr, pr, kr = d[r], p[r], keep[r % period]
        s = 0.0
        for j in range(n):
            e = dr[j] * kr[j]
            dr[j] = e
            s += e * pr[j]
        s = dr.dtype.type(s)
        for j in range(n):
            dr[j] = pr[j] * (dr[j] - s)
