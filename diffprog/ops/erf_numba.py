"""erf, the exact GELU and its derivative on float32 arrays, as numba ufuncs.  The ops
(`Erf`, `Gelu`, `_GeluDeriv`) load this module only where numba is installed
(`pip install diffprog[fast]`, see `fast.py`) and use SciPy / NumPy otherwise.

SciPy's `ndtr` and numba's `math.erf` / `math.exp` are scalar library calls (10-16 ns an
element here); these ufuncs are plain arithmetic, which LLVM vectorises.  Each element is
computed in float64 and rounded once to float32:

    erf(z) = z P(z^2) / Q(z^2) for |z| < C, else +-1   (tools/fit_erf.py; relative error
             2e-9, so within one float32 ulp of erf; erfc(C) is below half an ulp of 1)
    e^t    = 2^k e^r with t = k ln 2 + r, |r| <= ln 2 / 2, e^r by its Taylor polynomial
             to degree 7 (relative error 6e-9), 2^k written into the exponent bits of a float64

GELU(x) = x (1 + erf(x / sqrt 2)) / 2 as PyTorch computes it, so for x < -5.5 (where
x Phi(x) > -1e-7) it is 0, as PyTorch's float32 GELU.  The derivative takes Phi(x) back
from the output as y / x (0.5 at 0) in float32, as `_GeluDeriv`'s NumPy path does (a
float64 division would cost a fifth more time).
"""
import math

import numba
import numpy as np

_C = 3.925
_P = (1.1283791691424994, 0.18514540192275594, 0.05424924913652183, 0.003839531817199337,
      0.00037693860687272953, 4.613923702676889e-06, -1.2825557054781032e-08)
_Q = (1.0, 0.4974142467699002, 0.11388141288283257, 0.015432512160623597,
      0.0013019482995090261, 6.244306954992582e-05)
_SQRT_HALF = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_FMA = {"contract"}     # fused multiply-adds; NaN, inf and signed zeros keep their meaning
_LN2_HI, _LN2_LO = 0.693145751953125, 1.4286068203094173e-06     # ln 2 = hi + lo, hi exact in few bits


@numba.njit(inline="always", fastmath=_FMA)
def _erf(z):
    a = min(max(z, -_C), _C)
    t = a * a
    p = _P[0] + t * (_P[1] + t * (_P[2] + t * (_P[3] + t * (_P[4] + t * (_P[5] + t * _P[6])))))
    q = _Q[0] + t * (_Q[1] + t * (_Q[2] + t * (_Q[3] + t * (_Q[4] + t * _Q[5]))))
    r = a * p / q
    return 1.0 if z >= _C else (-1.0 if z <= -_C else r)


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
    return np.float32(_erf(np.float64(x)))


@numba.vectorize(["float32(float32)"], cache=True, fastmath=_FMA)
def gelu(x):
    """x Phi(x) of a float32 array."""
    z = np.float64(x)
    return np.float32(0.5 * z * (1.0 + _erf(z * _SQRT_HALF)))


@numba.vectorize(["float32(float32, float32)"], cache=True, fastmath=_FMA)
def gelu_deriv(x, y):
    """GELU'(x) = Phi(x) + x phi(x) from x and y = GELU(x), float32."""
    cdf = y / (x + np.float32(x == 0))          # never 0 / 0, which would make NumPy warn
    cdf = np.float32(0.5) if x == 0 else cdf
    z = np.float64(x)
    return np.float32(cdf + z * _exp(-0.5 * z * z) * _INV_SQRT_2PI)
