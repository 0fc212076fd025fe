"""Fit the rational erf of diffprog/ops/gelu_numba.py and print its coefficients.

    python tools/fit_erf.py

erf(x) ~ x P(x^2) / Q(x^2) on [0, C] (odd, so the same on [-C, 0]), P of degree 6, Q of
degree 5 with Q(0) = 1, fitted to SciPy's float64 erf for small relative error.  Beyond C
float32's erf is 1 (erfc(C) is below half an ulp of 1), so the kernel clamps there.  The
fit is linearised least squares, x P - erf(x) (Q - 1) = erf(x) weighted by 1 / (erf(x) Q)
from the previous round, with Lawson's reweighting towards the largest errors (an
approximately minimax fit).  It reaches a relative error of about 2e-9 in float64, far
below float32's 6e-8, so the kernel's float32 results are within one ulp of erf.
"""
import numpy as np
import scipy.special

C = 3.925
DEG_P, DEG_Q = 6, 5


def fit(rounds=60):
    x = C * (1 - np.cos(np.linspace(0, np.pi / 2, 4000)[1:]))      # dense near 0 and C
    t, f = x * x, scipy.special.erf(x)
    weight, q_prev = np.ones_like(x), np.ones_like(x)
    for _ in range(rounds):
        a = np.hstack([x[:, None] * t[:, None] ** np.arange(DEG_P + 1),
                       -f[:, None] * t[:, None] ** np.arange(1, DEG_Q + 1)])
        s = weight / (f * q_prev)
        coef = np.linalg.lstsq(a * s[:, None], f * s, rcond=None)[0]
        p, q = coef[:DEG_P + 1], np.concatenate([[1.0], coef[DEG_P + 1:]])
        q_prev = np.polyval(q[::-1], t)
        err = np.abs(x * np.polyval(p[::-1], t) / q_prev / f - 1)
        weight = weight * (err / err.max()) ** 0.3 + 1e-12
        weight /= weight.max()
    return p, q, err.max()


if __name__ == "__main__":
    p, q, err = fit()
    print(f"max relative error {err:.2e} on (0, {C}]")
    print("P =", ", ".join(repr(float(c)) for c in p))
    print("Q =", ", ".join(repr(float(c)) for c in q))
