"""diffprog.special against torch.special (oracle.check: forward, VJP, double VJP, JVP,
finite differences)."""
import numpy as np
import pytest

import diffprog as dp
from oracle import check, rand, torch

pytest.importorskip("scipy")

X = rand(3, 4, seed=1, low=-2.0, high=2.0)
POS = rand(3, 4, seed=2, low=0.2, high=3.0)
P = rand(3, 4, seed=3, low=0.05, high=0.95)


def _both(fn):
    return (lambda *a: fn(dp, *a)), (lambda *a: fn(torch, *a))


DIFFERENTIABLE = [
    ("i0", lambda m, x: m.special.i0(x), X), ("i1", lambda m, x: m.special.i1(x), X),
    ("i0e", lambda m, x: m.special.i0e(x), X), ("i1e", lambda m, x: m.special.i1e(x), X),
    ("ndtr", lambda m, x: m.special.ndtr(x), X), ("ndtri", lambda m, p: m.special.ndtri(p), P),
    ("log_ndtr", lambda m, x: m.special.log_ndtr(x), X), ("erfcx", lambda m, x: m.special.erfcx(x), X),
    ("entr", lambda m, x: m.special.entr(x), POS), ("sinc", lambda m, x: m.special.sinc(x), X),
    ("xlogy", lambda m, x, y: m.special.xlogy(x, y), X, POS),
    ("xlog1py", lambda m, x, y: m.special.xlog1py(x, y), X, POS),
    ("xlogy_scalar", lambda m, y: m.special.xlogy(2.0, y), POS),
    ("multigammaln", lambda m, x: m.special.multigammaln(x + 2, 3), POS),
    ("psi", lambda m, x: m.special.psi(x), POS), ("gammaln", lambda m, x: m.special.gammaln(x), POS),
    ("expit", lambda m, x: m.special.expit(x), X), ("logit", lambda m, p: m.special.logit(p), P),
    ("exp2", lambda m, x: m.special.exp2(x), X), ("polygamma", lambda m, x: m.special.polygamma(2, x), POS),
    ("softmax", lambda m, x: m.special.softmax(x, 1), X),
    ("log_softmax", lambda m, x: m.special.log_softmax(x, 0), X),
    ("logsumexp", lambda m, x: m.special.logsumexp(x, 1), X),
    ("torch_i0", lambda m, x: m.i0(x), X), ("torch_sinc", lambda m, x: x.sinc(), X),
    ("torch_xlogy", lambda m, x, y: x.xlogy(y), X, POS),
    ("mvlgamma", lambda m, x: (x + 2).mvlgamma(2), POS),
    ("gammainc", lambda m, x: m.special.gammainc(m.tensor(1.5, dtype=m.float64), x), POS),
    ("gammaincc", lambda m, x: m.special.gammaincc(m.tensor(2.5, dtype=m.float64), x), POS),
    ("igammac", lambda m, x: m.igammac(m.tensor(0.7, dtype=m.float64), x), POS),
]
# SciPy's and PyTorch's digamma / polygamma agree to about 1e-10, not to the last bits.
POLYGAMMA_TOL = dict(rtol=1e-8, atol=1e-8)
# PyTorch has no forward-mode rule for the incomplete gamma functions: their JVP is checked
# against their own VJP below.
NO_TORCH_JVP = {"gammainc", "gammaincc", "igammac"}


@pytest.mark.parametrize("case", DIFFERENTIABLE, ids=[c[0] for c in DIFFERENTIABLE])
def test_differentiable_special_functions(case):
    name, fn, *args = case
    tol = POLYGAMMA_TOL if name in ("psi", "gammaln", "multigammaln", "mvlgamma") else None
    check(*_both(fn), *args, tol=tol, jvp=name not in NO_TORCH_JVP)


@pytest.mark.parametrize("upper", [False, True])
def test_incomplete_gamma_jvp_is_the_transposed_vjp(upper):
    from diffprog.autograd import forward_ad as fw
    f = dp.special.gammaincc if upper else dp.special.gammainc
    a, x, v = dp.tensor(1.5, dtype=dp.float64), dp.tensor(POS, requires_grad=True), rand(3, 4, seed=9)
    (g,) = dp.autograd.grad(f(a, x), x, dp.tensor(v))
    with fw.dual_level():
        tangent = fw.unpack_dual(f(a, fw.make_dual(x.detach(), dp.ones(3, 4, dtype=dp.float64)))).tangent
    np.testing.assert_allclose((tangent.numpy() * v), g.numpy(), rtol=1e-12)


def test_at_zero_the_derivatives_take_their_limits():
    z = np.array([0.0, 1e-3, -0.5])
    for name in ["i1", "i1e"]:
        check(*_both(lambda m, x: getattr(m.special, name)(x)), z, fd=False)
    # sinc'' at 0: PyTorch's formula gives NaN, ours 0 (both mask the 0/0); compare to first order
    check(*_both(lambda m, x: m.special.sinc(x)), z, gradgrad=False, fd=False)
    check(*_both(lambda m, x, y: m.special.xlogy(x, y)), np.array([0.0, 1.0]), np.array([0.0, 2.0]),
          gradgrad=False, fd=False)


OUTSIDE = ["airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "modified_bessel_i0",
           "modified_bessel_i1", "modified_bessel_k0", "modified_bessel_k1", "scaled_modified_bessel_k0",
           "scaled_modified_bessel_k1", "spherical_bessel_j0"]


@pytest.mark.parametrize("name", OUTSIDE)
def test_functions_without_derivative(name):
    x = rand(10, seed=5, low=0.1, high=4.0)
    check(*_both(lambda m, t: getattr(m.special, name)(t)), x, grad=False,
          tol=dict(rtol=1e-8, atol=1e-9))      # SciPy's and PyTorch's series differ in the last bits
    assert not getattr(dp.special, name)(dp.tensor(x, requires_grad=True)).requires_grad


POLYNOMIALS = ["chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
               "chebyshev_polynomial_w", "shifted_chebyshev_polynomial_t",
               "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
               "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he",
               "laguerre_polynomial_l", "legendre_polynomial_p"]


@pytest.mark.parametrize("name", POLYNOMIALS)
def test_orthogonal_polynomials(name):
    x = rand(8, seed=6, low=-0.9, high=0.9)
    for n in (0, 1, 2, 5):
        check(*_both(lambda m, t: getattr(m.special, name)(t, n)), x, grad=False)
    n = np.array([-1, 0, 1, 2, 3, 4, 5, 6])
    check(*_both(lambda m, t, k: getattr(m.special, name)(t, k)), x, n, grad=False)


def test_zeta_and_the_missing_derivatives():
    x, q = np.array([2.0, 3.5]), np.array([1.0, 0.5])
    check(*_both(lambda m, a, b: m.special.zeta(a, b)), x, q, grad=False)
    with pytest.raises(RuntimeError, match="derivative for 'zeta' is not implemented"):
        dp.special.zeta(dp.tensor(x, requires_grad=True), dp.tensor(q)).sum().backward()
    with pytest.raises(RuntimeError, match="derivative for 'igamma: input' is not implemented"):
        dp.special.gammainc(dp.tensor(x, requires_grad=True), dp.tensor(q)).sum().backward()
    with pytest.raises(RuntimeError, match=r"greater than \(p-1\)/2"):
        dp.special.multigammaln(dp.tensor([0.5]), 3)


def test_inplace_special_methods():
    for method, args in [("i0_", ()), ("sinc_", ()), ("xlogy_", (dp.tensor(POS),)),
                         ("igamma_", (dp.tensor(POS),))]:
        d = dp.tensor(POS.copy())
        t = torch.tensor(POS.copy())
        getattr(d, method)(*args)
        getattr(t, method)(*[torch.tensor(a.numpy()) for a in args])
        np.testing.assert_allclose(d.numpy(), t.numpy(), rtol=1e-10)
