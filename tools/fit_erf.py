"""Fit the float32 erf of diffprog/ops/erf_numba.py and print its coefficients.

    python tools/fit_erf.py

Two polynomials, both evaluated in float32 and with no division (so that LLVM vectorises
them eight floats at a time):

    |z| < 1:      erf(|z|) = |z| P(z^2)                 P of degree 7, small relative error
    1 <= |z| < C: erf(|z|) = 1 - R(|z| - M)             R of degree 14, small absolute error

and erf(z) = +-1 beyond C, where erfc is below half a float32 ulp of 1.  Each is fitted to
SciPy's float64 erf / erfc by least squares with Lawson's reweighting towards the largest
errors (an approximately minimax fit); their own errors (~1e-10) are far below float32's,
so the kernel's errors are those of float32 rounding, below 2 ulps (tests/test_fast_kernels.py).
"""
import numpy as np
import scipy.special

SPLIT, C = 1.0, 3.925
M = (SPLIT + C) / 2
DEG_P, DEG_R = 7, 14


def lawson(basis, f, scale, rounds=80):
    """Coefficients c minimising about max |(basis @ c - f) * scale|, and that maximum."""
    w = np.full(len(f), 1.0 / len(f))
    for _ in range(rounds):
        s = np.sqrt(w) * scale
        c = np.linalg.lstsq(basis * s[:, None], f * s, rcond=None)[0]
        err = np.abs((basis @ c - f) * scale)
        w = w * (err / err.max()) ** 0.5 + 1e-14
        w /= w.sum()
    return c, err.max()


def fit():
    z = np.linspace(0, SPLIT, 3000)[1:]
    ratio = scipy.special.erf(z) / z
    p, p_err = lawson((z * z)[:, None] ** np.arange(DEG_P + 1), ratio, 1 / ratio)
    z = np.linspace(SPLIT, C, 4000)
    r, r_err = lawson((z - M)[:, None] ** np.arange(DEG_R + 1), scipy.special.erfc(z), np.ones_like(z))
    return p, p_err, r, r_err


if __name__ == "__main__":
    p, p_err, r, r_err = fit()
    print(f"P: relative error {p_err:.1e}; R: absolute error {r_err:.1e}")
    print("P =", ", ".join(repr(float(c)) for c in p))
    print("R =", ", ".join(repr(float(c)) for c in r))
