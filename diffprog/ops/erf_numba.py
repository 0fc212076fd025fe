"""erf, the exact GELU and its derivative on float32 arrays, as numba ufuncs, and binary
cross entropy with logits.  The ops (`Erf`, `Gelu`, `_GeluDeriv`, `BceWithLogits`) load this
module only where numba is installed (`pip install diffprog[fast]`, see `fast.py`) and use
SciPy / NumPy otherwise.

SciPy's `ndtr` and numba's `math.erf` / `math.exp` are scalar library calls (10-16 ns an
element here); these ufuncs are plain arithmetic, which LLVM vectorises (1 ns or less):

    erf(z) = z P(z^2) for |z| < 1, 1 - R(|z| - M) up to C, +-1 beyond C (erfc(C) is
             below half an ulp of 1), in float32 (tools/fit_erf.py: within 2 ulps of erf)
    e^t    = 2^k e^r with t = k ln 2 + r, |r| <= ln 2 / 2, e^r by its Taylor polynomial
             to degree 7 (relative error 6e-9), 2^k written into the exponent bits of a
             float64; the derivative is computed in float64 (in float32 it was no faster)

    log1p(e) = 2 atanh(s) with s = e / (2 + e), for 0 <= e <= 1 (so s <= 1/3), by its
             series s (1 + s^2/3 + s^4/5 + ...) to s^18 (relative error below 3e-10)

GELU(x) = x (1 + erf(x / sqrt 2)) / 2 in float32, as PyTorch computes it (so for x < 0
the sum cancels: absolute errors up to ~2e-7, and 0 for x < -5.5, where x Phi(x) > -1e-7).
The derivative takes Phi(x) back from the output as y / x (0.5 at 0) in float32, as
`_GeluDeriv`'s NumPy path does (a float64 division would cost a fifth more time).
"""
import math

import numba
import numpy as np

# tools/fit_erf.py
_SPLIT, _C, _M = np.float32(1.0), np.float32(3.925), np.float32(2.4625)
_P = np.array([1.128379167058018, -0.3761263843463962, 0.11283781973789904, -0.026865400010343075,
               0.005220945299496507, -0.0008482826217818483, 0.00011256923655980374,
               -9.641431515476093e-06], np.float32)
_P0_LO = np.float32(1.128379167058018 - np.float64(_P[0]))   # what float32 drops of P(0) = 2 / sqrt(pi)
_R = np.array([0.0004967535460454626, -0.002623749980285689, 0.006461156956834991,
               -0.00973371873312631, 0.009829382656401486, -0.00675561508049208,
               0.002929336268870801, -0.00046629240298700654, -0.00034957612092267047,
               0.0002976565715176708, -7.619806146693384e-05, -2.4170641298176947e-05,
               1.721613461947362e-05, -1.3461715009315463e-07, -1.0782154262224111e-06], np.float32)
_SQRT_HALF = np.float32(1 / math.sqrt(2))
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_FMA = {"contract"}     # fused multiply-adds; NaN, inf and signed zeros keep their meaning
_LN2_HI, _LN2_LO = 0.693145751953125, 1.4286068203094173e-06     # ln 2 = hi + lo, hi exact in few bits


@numba.njit(inline="always", fastmath=_FMA)
def _horner(coefficients, u, start):
    """sum of coefficients[start + i] u^i."""
    r = coefficients[-1]
    for i in range(len(coefficients) - 2, start - 1, -1):
        r = r * u + coefficients[i]
    return r


@numba.njit(inline="always", fastmath=_FMA)
def _erf(z):
    """erf of a float32, in float32 (+-1 for NaN: `erf` puts the NaN back, and in `gelu` the
    factor x is NaN already).  Both pieces are computed, then one is chosen: a choice
    between expressions still to compute would be a branch, which LLVM does not vectorise."""
    a = min(abs(z), _C)
    small = a * _P[0] + a * (_P0_LO + a * a * _horner(_P, a * a, 1))
    large = min(np.float32(1) - _horner(_R, a - _M, 0), np.float32(1))
    large = np.float32(1) if a >= _C else large
    return math.copysign(small if a < _SPLIT else large, z)


@numba.njit(inline="always", fastmath=_FMA)
def _exp(t):
    """e^t for t <= 0 (t below -708 is taken as -708: e^t is 0 in float32 either way)."""
    t = max(t, -708.0)
    k = math.floor(t * 1.4426950408889634 + 0.5)
    r = (t - k * _LN2_HI) - k * _LN2_LO
    e = 1.0 + r * (1.0 + r * (1 / 2 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r * (
        1 / 720 + r * (1 / 5040)))))))
    return e * np.int64((np.int64(k) + 1023) << 52).view(np.float64)


@numba.vectorize(["float32(float32)"], cache=True, fastmath=_FMA)
def erf(x):
    """erf of a float32 array."""
    e = _erf(x)
    return e if x == x else x


@numba.vectorize(["float32(float32)"], cache=True, fastmath=_FMA)
def gelu(x):
    """x Phi(x) of a float32 array."""
    return np.float32(0.5) * x * (np.float32(1) + _erf(x * _SQRT_HALF))


@numba.vectorize(["float32(float32, float32)"], cache=True, fastmath=_FMA)
def gelu_deriv(x, y):
    """GELU'(x) = Phi(x) + x phi(x) from x and y = GELU(x), float32."""
    cdf = y / (x + np.float32(x == 0))          # never 0 / 0, which would make NumPy warn
    cdf = np.float32(0.5) if x == 0 else cdf
    z = np.float64(x)
    return np.float32(cdf + z * _exp(-0.5 * z * z) * _INV_SQRT_2PI)


_ODD_RECIPROCALS = np.array([1 / (2 * k + 1) for k in range(10)])


@numba.njit(cache=True, error_model="numpy", fastmath=_FMA)
def bce_with_logits(x, t, loss, sig):
    """On flat float32 arrays: loss = max(x, 0) - t x + log1p(e^-|x|) and sig = sigmoid(x)
    = (1 if x >= 0 else e^-|x|) / (1 + e^-|x|), written (NaN where x is NaN)."""
    for i in range(x.shape[0]):
        z = np.float64(x[i])
        e = _exp(-abs(z))
        s = e / (2.0 + e)
        log1p = 2.0 * s * _horner(_ODD_RECIPROCALS, s * s, 0)
        v = max(z, 0.0) - z * t[i] + log1p
        loss[i] = v if z == z else z
        sig[i] = (1.0 if z >= 0 else e) / (1.0 + e) if z == z else z
