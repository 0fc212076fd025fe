"""diffprog.distributions against torch.distributions: densities, moments, KL and their
gradients (via `check`), sampling shapes/moments, reparameterised gradients, validation."""
import numpy as np
import pytest

from oracle import DEVICE, check, const, rand, torch

import diffprog as dp

D, TD = dp.distributions, torch.distributions


def pos(*shape, seed=None, dtype=np.float64):
    return rand(*shape, low=0.5, high=2.0, seed=seed, dtype=dtype)


def unit(*shape, seed=None):
    return rand(*shape, low=0.1, high=0.9, seed=seed)


def tril(n, batch=(), seed=0):
    """A lower-triangular factor with a positive diagonal."""
    a = np.tril(rand(*batch, n, n, seed=seed)) + 0.0
    idx = np.arange(n)
    a[..., idx, idx] = np.abs(a[..., idx, idx]) + 0.5
    return a


def simplex(*shape, seed=0):
    p = pos(*shape, seed=seed)
    return p / p.sum(-1, keepdims=True)


# Each case is (name, fn(Dist-module, *tensors), args): the same fn runs with D and TD.
CASES = [
    ("normal.log_prob", lambda M, m, s, x: M.Normal(m, s).log_prob(x), (rand(3), pos(2, 1), rand(2, 3, seed=1))),
    ("normal.cdf", lambda M, m, s, x: M.Normal(m, s).cdf(x), (rand(3), pos(3), rand(3, seed=1))),
    ("normal.icdf", lambda M, m, s, p: M.Normal(m, s).icdf(p), (rand(3), pos(3), unit(3, seed=1))),
    ("normal.entropy", lambda M, m, s: M.Normal(m, s).entropy(), (rand(2), pos(3, 1))),
    ("normal.moments", lambda M, m, s: (M.Normal(m, s).mean, M.Normal(m, s).variance, M.Normal(m, s).stddev),
     (rand(3), pos(3))),
    ("normal.0d", lambda M, m, s, x: M.Normal(m, s).log_prob(x), (rand(), pos(), rand(seed=3))),
    ("normal.f32", lambda M, m, s, x: M.Normal(m, s).log_prob(x),
     (rand(3, dtype=np.float32), pos(3, dtype=np.float32), rand(3, dtype=np.float32, seed=1))),
    ("lognormal.log_prob", lambda M, m, s, x: M.LogNormal(m, s).log_prob(x), (rand(3), pos(3), pos(2, 3, seed=1))),
    ("lognormal.cdf", lambda M, m, s, x: M.LogNormal(m, s).cdf(x), (rand(3), pos(3), pos(3, seed=1))),
    ("lognormal.icdf", lambda M, m, s, p: M.LogNormal(m, s).icdf(p), (rand(3), pos(3), unit(3, seed=1))),
    ("lognormal.entropy", lambda M, m, s: M.LogNormal(m, s).entropy(), (rand(3), pos(3))),
    ("lognormal.moments", lambda M, m, s: (M.LogNormal(m, s).mean, M.LogNormal(m, s).variance,
                                           M.LogNormal(m, s).mode), (rand(3), pos(3))),
    ("laplace.log_prob", lambda M, m, s, x: M.Laplace(m, s).log_prob(x), (rand(3), pos(3), rand(2, 3, seed=1))),
    ("laplace.cdf", lambda M, m, s, x: M.Laplace(m, s).cdf(x), (rand(3), pos(3), rand(3, seed=1))),
    ("laplace.icdf", lambda M, m, s, p: M.Laplace(m, s).icdf(p), (rand(3), pos(3), unit(3, seed=1))),
    ("laplace.entropy", lambda M, m, s: M.Laplace(m, s).entropy(), (rand(3), pos(3))),
    ("laplace.moments", lambda M, m, s: (M.Laplace(m, s).variance, M.Laplace(m, s).stddev), (rand(3), pos(3))),
    ("uniform.log_prob", lambda M, a, b, x: M.Uniform(a, b).log_prob(x), (-pos(3), pos(3, seed=1), rand(2, 3, low=-.4, high=.4))),
    ("uniform.cdf", lambda M, a, b, x: M.Uniform(a, b).cdf(x), (-pos(3), pos(3, seed=1), rand(3, low=-.4, high=.4))),
    ("uniform.icdf", lambda M, a, b, p: M.Uniform(a, b).icdf(p), (-pos(3), pos(3, seed=1), unit(3))),
    ("uniform.entropy", lambda M, a, b: M.Uniform(a, b).entropy(), (-pos(3), pos(3, seed=1))),
    ("uniform.moments", lambda M, a, b: (M.Uniform(a, b).mean, M.Uniform(a, b).variance, M.Uniform(a, b).stddev),
     (-pos(3), pos(3, seed=1))),
    ("exponential.log_prob", lambda M, r, x: M.Exponential(r).log_prob(x), (pos(3), pos(2, 3, seed=1))),
    ("exponential.cdf", lambda M, r, x: M.Exponential(r).cdf(x), (pos(3), pos(3, seed=1))),
    ("exponential.icdf", lambda M, r, p: M.Exponential(r).icdf(p), (pos(3), unit(3))),
    ("exponential.entropy", lambda M, r: M.Exponential(r).entropy(), (pos(3),)),
    ("exponential.moments", lambda M, r: (M.Exponential(r).mean, M.Exponential(r).variance,
                                          M.Exponential(r).stddev), (pos(3),)),
    ("gamma.log_prob", lambda M, c, r, x: M.Gamma(c, r).log_prob(x), (pos(3), pos(2, 1, seed=1), pos(2, 3, seed=2))),
    ("gamma.entropy", lambda M, c, r: M.Gamma(c, r).entropy(), (pos(3), pos(3, seed=1))),
    ("gamma.moments", lambda M, c, r: (M.Gamma(c, r).mean, M.Gamma(c, r).variance, M.Gamma(c, r).mode),
     (pos(3) + 1, pos(3, seed=1))),
    ("beta.log_prob", lambda M, a, b, x: M.Beta(a, b).log_prob(x), (pos(3), pos(3, seed=1), unit(2, 3))),
    ("beta.entropy", lambda M, a, b: M.Beta(a, b).entropy(), (pos(3), pos(3, seed=1))),
    ("beta.moments", lambda M, a, b: (M.Beta(a, b).mean, M.Beta(a, b).variance), (pos(3), pos(3, seed=1))),
    ("dirichlet.log_prob", lambda M, c, x: M.Dirichlet(c).log_prob(x), (pos(2, 3), const(simplex(4, 1, 3)))),
    ("dirichlet.entropy", lambda M, c: M.Dirichlet(c).entropy(), (pos(2, 3),)),
    ("dirichlet.moments", lambda M, c: (M.Dirichlet(c).mean, M.Dirichlet(c).variance), (pos(2, 3),)),
    ("poisson.log_prob", lambda M, r, x: M.Poisson(r).log_prob(x), (pos(3), const(np.array([[0., 1, 3], [2, 0, 5]])))),
    ("poisson.moments", lambda M, r: (M.Poisson(r).mean, M.Poisson(r).variance), (pos(3),)),
    ("bernoulli.log_prob.probs", lambda M, p, x: M.Bernoulli(p).log_prob(x), (unit(3), const(np.array([[0., 1, 1], [1, 0, 0]])))),
    ("bernoulli.log_prob.logits", lambda M, l, x: M.Bernoulli(logits=l).log_prob(x), (rand(3), const(np.array([0., 1, 1])))),
    ("bernoulli.entropy", lambda M, p: M.Bernoulli(p).entropy(), (unit(3),)),
    ("bernoulli.moments", lambda M, l: (M.Bernoulli(logits=l).mean, M.Bernoulli(logits=l).variance), (rand(3),)),
    ("binomial.log_prob.probs", lambda M, p, x: M.Binomial(5, p).log_prob(x), (unit(3), const(np.array([0., 2, 5])))),
    ("binomial.log_prob.logits", lambda M, l, x: M.Binomial(const_n(M), logits=l).log_prob(x),
     (rand(3), const(np.array([[0., 2, 4], [1, 1, 3]])))),
    ("binomial.moments", lambda M, p: (M.Binomial(7, p).mean, M.Binomial(7, p).variance), (unit(3),)),
    ("categorical.log_prob.probs", lambda M, p, x: M.Categorical(p).log_prob(x), (pos(2, 4), const(np.array([[0, 3], [2, 2], [1, 0]])))),
    ("categorical.log_prob.logits", lambda M, l, x: M.Categorical(logits=l).log_prob(x), (rand(4), const(np.array([0, 3, 1])))),
    ("categorical.entropy.probs", lambda M, p: M.Categorical(p).entropy(), (pos(2, 4),)),
    ("categorical.entropy.logits", lambda M, l: M.Categorical(logits=l).entropy(), (rand(2, 4),)),
    ("categorical.probs", lambda M, l: M.Categorical(logits=l).probs, (rand(2, 4),)),
    ("onehot.log_prob", lambda M, l, x: M.OneHotCategorical(logits=l).log_prob(x), (rand(2, 3), const(np.eye(3)[[0, 2]]))),
    ("onehot.entropy", lambda M, p: M.OneHotCategorical(probs=p).entropy(), (pos(2, 3),)),
    ("onehot.moments", lambda M, p: (M.OneHotCategorical(p).mean, M.OneHotCategorical(p).variance), (pos(2, 3),)),
    ("multinomial.log_prob", lambda M, p, x: M.Multinomial(4, p).log_prob(x), (pos(3), const(np.array([[0., 1, 3], [2, 2, 0]])))),
    ("multinomial.log_prob.logits", lambda M, l, x: M.Multinomial(4, logits=l).log_prob(x), (rand(2, 3), const(np.array([1., 1, 2])))),
    ("multinomial.moments", lambda M, p: (M.Multinomial(4, p).mean, M.Multinomial(4, p).variance), (pos(3),)),
    ("mvn.log_prob.scale_tril", lambda M, m, L, x: M.MultivariateNormal(m, scale_tril=L.tril()).log_prob(x),
     (rand(3), tril(3), rand(2, 3, seed=1))),
    ("mvn.log_prob.cov", lambda M, m, a, x: M.MultivariateNormal(m, covariance_matrix=a @ a.mT + eye(M, 3)).log_prob(x),
     (rand(2, 3), rand(3, 3, seed=2), rand(4, 1, 3, seed=1))),
    ("mvn.log_prob.precision", lambda M, m, a, x: M.MultivariateNormal(m, precision_matrix=a @ a.mT + eye(M, 3)).log_prob(x),
     (rand(3), rand(3, 3, seed=2), rand(2, 3, seed=1))),
    ("mvn.entropy", lambda M, m, L: M.MultivariateNormal(m, scale_tril=L.tril()).entropy(), (rand(2, 3), tril(3))),
    ("mvn.moments", lambda M, m, L: (M.MultivariateNormal(m, scale_tril=L.tril()).variance,
                                     M.MultivariateNormal(m, scale_tril=L.tril()).covariance_matrix),
     (rand(2, 3), tril(3))),
    ("mvn.precision_matrix", lambda M, m, L: M.MultivariateNormal(m, scale_tril=L.tril()).precision_matrix, (rand(3), tril(3))),
    ("independent.log_prob", lambda M, m, s, x: M.Independent(M.Normal(m, s), 1).log_prob(x), (rand(2, 3), pos(3), rand(2, 3, seed=1))),
    ("independent.entropy", lambda M, m, s: M.Independent(M.Normal(m, s), 2).entropy(), (rand(2, 3), pos(3))),
]

KL_CASES = [
    ("normal", lambda M, a, b, c, d: M.kl_divergence(M.Normal(a, b), M.Normal(c, d)), (rand(3), pos(3), rand(2, 1), pos(3, seed=4))),
    ("bernoulli", lambda M, p, q: M.kl_divergence(M.Bernoulli(p), M.Bernoulli(q)), (unit(3), unit(3, seed=4))),
    ("bernoulli.logits", lambda M, p, q: M.kl_divergence(M.Bernoulli(logits=p), M.Bernoulli(logits=q)), (rand(3), rand(3, seed=4))),
    ("categorical", lambda M, p, q: M.kl_divergence(M.Categorical(p), M.Categorical(logits=q)), (pos(2, 4), rand(4, seed=4))),
    ("onehot", lambda M, p, q: M.kl_divergence(M.OneHotCategorical(p), M.OneHotCategorical(q)), (pos(2, 4), pos(4, seed=4))),
    ("mvn", lambda M, m1, L1, m2, L2: M.kl_divergence(M.MultivariateNormal(m1, scale_tril=L1.tril()),
                                                       M.MultivariateNormal(m2, scale_tril=L2.tril())),
     (rand(2, 3), tril(3), rand(3, seed=4), tril(3, seed=5))),
    ("beta", lambda M, a, b, c, d: M.kl_divergence(M.Beta(a, b), M.Beta(c, d)), (pos(3), pos(3, seed=1), pos(3, seed=2), pos(3, seed=4))),
    ("gamma", lambda M, a, b, c, d: M.kl_divergence(M.Gamma(a, b), M.Gamma(c, d)), (pos(3), pos(3, seed=1), pos(3, seed=2), pos(3, seed=4))),
    ("uniform", lambda M, a, b, c, d: M.kl_divergence(M.Uniform(a, b), M.Uniform(c, d)), (-pos(3), pos(3, seed=1), -pos(3, seed=2) - 2, pos(3, seed=4) + 2)),
    ("exponential", lambda M, a, b: M.kl_divergence(M.Exponential(a), M.Exponential(b)), (pos(3), pos(3, seed=4))),
    ("laplace", lambda M, a, b, c, d: M.kl_divergence(M.Laplace(a, b), M.Laplace(c, d)), (rand(3), pos(3), rand(3, seed=2), pos(3, seed=4))),
    ("dirichlet", lambda M, a, b: M.kl_divergence(M.Dirichlet(a), M.Dirichlet(b)), (pos(2, 3), pos(3, seed=4))),
    ("poisson", lambda M, a, b: M.kl_divergence(M.Poisson(a), M.Poisson(b)), (pos(3), pos(3, seed=4))),
    ("independent", lambda M, a, b, c, d: M.kl_divergence(M.Independent(M.Normal(a, b), 1), M.Independent(M.Normal(c, d), 1)),
     (rand(2, 3), pos(3), rand(3, seed=2), pos(3, seed=4))),
]


def eye(M, n):
    return dp.eye(n, dtype=dp.float64, device=DEVICE) if M is D else torch.eye(n, dtype=torch.float64)


def const_n(M):
    return (dp.tensor([[3.0, 4.0, 5.0]], dtype=dp.float64, device=DEVICE) if M is D else
            torch.tensor([[3.0, 4.0, 5.0]], dtype=torch.float64))


@pytest.mark.parametrize("name,fn,args", CASES + KL_CASES, ids=[c[0] for c in CASES] + ["kl." + c[0] for c in KL_CASES])
def test_against_torch(name, fn, args):
    # torch's MultivariateNormal.precision_matrix uses cholesky_inverse, whose forward-mode
    # derivative in torch 2.13 disagrees with finite differences (ours agrees: test below).
    jvp = name != "mvn.precision_matrix"
    check(lambda *a: fn(D, *a), lambda *a: fn(TD, *a), *args, tol=_tol(name, args), jvp=jvp)


def test_precision_matrix_jvp_matches_finite_differences():
    from diffprog.autograd import forward_ad as fwAD
    L, t, h = dp.tensor(tril(3)), dp.tensor(rand(3, 3, seed=9)), 1e-6
    f = lambda L: D.MultivariateNormal(dp.zeros(3, dtype=dp.float64), scale_tril=L.tril()).precision_matrix
    with fwAD.dual_level():
        tangent = fwAD.unpack_dual(f(fwAD.make_dual(L, t))).tangent
    fd = (f(L + h * t) - f(L - h * t)) / (2 * h)
    np.testing.assert_allclose(tangent.numpy(), fd.numpy(), rtol=1e-6, atol=1e-6)


def _tol(name, args):
    """SciPy's and PyTorch's polygamma differ by ~1e-10 relative: loosen second order there."""
    if any(f in name for f in ("gamma", "beta", "dirichlet")) and args[0].dtype == np.float64:
        return dict(rtol=1e-8, atol=1e-9)
    return None


def test_uniform_kl_outside_support_is_inf():
    p, q = D.Uniform(0.0, 2.0), D.Uniform(1.0, 3.0)
    assert D.kl_divergence(p, q).item() == float("inf")
    assert D.kl_divergence(D.Categorical(dp.tensor([0.5, 0.5])), D.Categorical(dp.tensor([1.0, 0.0]))).item() == float("inf")


# --- shapes, modes, sampling --------------------------------------------------------------

def _pair(make):
    return make(D, dp), make(TD, torch)


SHAPE_CASES = {
    "normal": lambda M, T: M.Normal(T.zeros(2, 1), T.ones(3)),
    "lognormal": lambda M, T: M.LogNormal(T.zeros(2), T.ones(2) * 0.5),
    "laplace": lambda M, T: M.Laplace(T.zeros(2), T.ones(2)),
    "uniform": lambda M, T: M.Uniform(T.zeros(2), T.ones(2) * 2),
    "exponential": lambda M, T: M.Exponential(T.ones(3) * 2),
    "gamma": lambda M, T: M.Gamma(T.ones(3) * 2.5, T.ones(3) * 1.5),
    "beta": lambda M, T: M.Beta(T.ones(2) * 2, T.ones(2) * 3),
    "dirichlet": lambda M, T: M.Dirichlet(T.tensor([[1.0, 2.0, 3.0], [0.5, 0.5, 4.0]])),
    "poisson": lambda M, T: M.Poisson(T.tensor([0.5, 3.0])),
    "bernoulli": lambda M, T: M.Bernoulli(T.tensor([0.2, 0.7])),
    "binomial": lambda M, T: M.Binomial(6, T.tensor([0.2, 0.7])),
    "categorical": lambda M, T: M.Categorical(T.tensor([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]])),
    "onehot": lambda M, T: M.OneHotCategorical(T.tensor([0.1, 0.2, 0.7])),
    "multinomial": lambda M, T: M.Multinomial(5, T.tensor([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]])),
    "mvn": lambda M, T: M.MultivariateNormal(T.zeros(2, 3), scale_tril=T.tensor([[1.0, 0, 0], [0.5, 2, 0], [0, 1, 1]])),
    "independent": lambda M, T: M.Independent(M.Normal(T.zeros(2, 3), T.ones(2, 3)), 1),
}


@pytest.mark.parametrize("name", SHAPE_CASES)
def test_shapes_dtypes_and_moments(name):
    d, t = _pair(SHAPE_CASES[name])
    assert tuple(d.batch_shape) == tuple(t.batch_shape) and tuple(d.event_shape) == tuple(t.event_shape)
    assert d.has_rsample == t.has_rsample
    dp.manual_seed(0)
    s = d.sample((4000,))
    ts = t.sample((4000,))
    assert tuple(s.shape) == tuple(ts.shape) and s.dtype.name == str(ts.dtype).replace("torch.", "")
    assert not s.requires_grad
    assert bool(d.support.check(s).all())
    x = s.double().numpy() if name != "categorical" else s.numpy()
    if name == "categorical":     # sample frequencies against probs
        freq = (x[..., None] == np.arange(3)).mean(0)
        np.testing.assert_allclose(freq, t.probs.numpy(), atol=0.03)
        return
    np.testing.assert_allclose(x.mean(0), t.mean.numpy(), atol=0.1, rtol=0.05)
    np.testing.assert_allclose(x.var(0), t.variance.numpy(), atol=0.1, rtol=0.1)
    lp = d.log_prob(s[:5])                              # samples lie in the support; matches torch
    np.testing.assert_allclose(lp.numpy(), t.log_prob(torch.tensor(s[:5].numpy())).numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["normal", "laplace", "exponential", "gamma", "beta", "dirichlet", "poisson",
                                  "bernoulli", "binomial", "categorical", "onehot", "mvn", "lognormal"])
def test_mode(name):
    d, t = _pair(SHAPE_CASES[name])
    np.testing.assert_allclose(d.mode.numpy(), t.mode.numpy(), rtol=1e-6)


def test_sampling_follows_manual_seed():
    n = D.Normal(dp.zeros(3), dp.ones(3))
    dp.manual_seed(3)
    a = n.sample((2,))
    dp.manual_seed(3)
    b = n.sample((2,))
    c = n.sample((2,))
    assert dp.equal(a, b) and not dp.equal(b, c)


def test_edge_modes_and_mean_nan():
    assert np.isnan(D.Bernoulli(dp.tensor(0.5)).mode.item())
    assert np.isnan(D.Categorical(dp.tensor([0.5, 0.5])).mean.item())
    np.testing.assert_allclose(D.Dirichlet(dp.tensor([0.5, 0.8, 0.3])).mode.numpy(), [0, 1, 0])


# --- reparameterised sampling ---------------------------------------------------------------

def _noise(draw, seed=5):
    dp.manual_seed(seed)
    return draw()


@pytest.mark.parametrize("name,make,noise,formula", [
    ("normal", lambda M, a, b: M.Normal(a, b), lambda s: dp.randn(s, dtype=dp.float64),
     lambda a, b, e: a + e * b),
    ("lognormal", lambda M, a, b: M.LogNormal(a, b), lambda s: dp.randn(s, dtype=dp.float64),
     lambda a, b, e: (a + e * b).exp()),
    ("uniform", lambda M, a, b: M.Uniform(-a.abs() - 1, b), lambda s: dp.rand(s, dtype=dp.float64),
     lambda a, b, u: (-a.abs() - 1) + u * (b + a.abs() + 1)),
    ("exponential", lambda M, a, b: M.Exponential(b), lambda s: dp.rand(s, dtype=dp.float64),
     lambda a, b, u: -(-u).log1p() / b),
])
def test_rsample_matches_formula_with_same_noise(name, make, noise, formula):
    a, b = rand(3), pos(3, seed=2)
    da, db = dp.tensor(a, requires_grad=True), dp.tensor(b, requires_grad=True)
    dp.manual_seed(5)
    x = make(D, da, db).rsample((4,))
    eps = _noise(lambda: noise((4, 3)))
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    y = formula(ta, tb, torch.tensor(eps.numpy()))
    np.testing.assert_allclose(x.detach().numpy(), y.detach().numpy(), rtol=1e-12)
    (x ** 2).sum().backward()
    (y ** 2).sum().backward()
    for d, t in ((da, ta), (db, tb)):
        assert (d.grad is None) == (t.grad is None)
        if t.grad is not None:
            np.testing.assert_allclose(d.grad.numpy(), t.grad.numpy(), rtol=1e-10)


def test_mvn_rsample_matches_formula():
    m, L = rand(3), tril(3)
    dm, dL = dp.tensor(m, requires_grad=True), dp.tensor(L, requires_grad=True)
    dp.manual_seed(1)
    x = D.MultivariateNormal(dm, scale_tril=dL).rsample((5,))
    eps = torch.tensor(_noise(lambda: dp.randn((5, 3), dtype=dp.float64), seed=1).numpy())
    tm, tL = torch.tensor(m, requires_grad=True), torch.tensor(L, requires_grad=True)
    y = tm + (tL @ eps.unsqueeze(-1)).squeeze(-1)
    np.testing.assert_allclose(x.detach().numpy(), y.detach().numpy(), rtol=1e-12)
    x.sin().sum().backward()
    y.sin().sum().backward()
    np.testing.assert_allclose(dL.grad.numpy(), tL.grad.numpy(), rtol=1e-10)


def test_normal_rsample_gradient_is_unbiased():
    """d/dmu E[x^2] = 2 mu for x ~ N(mu, sigma)."""
    mu = dp.tensor([0.5, -1.0], dtype=dp.float64, requires_grad=True)
    dp.manual_seed(0)
    (D.Normal(mu, 0.7).rsample((20000,)) ** 2).mean(0).sum().backward()
    np.testing.assert_allclose(mu.grad.numpy(), [1.0, -2.0], atol=0.03)


def test_gamma_implicit_gradient_matches_torch():
    """Our dx/dalpha (finite-differenced CDF) against PyTorch's _standard_gamma_grad at the same draws."""
    alpha = dp.tensor([0.3, 1.0, 2.5, 20.0], dtype=dp.float64, requires_grad=True)
    dp.manual_seed(0)
    x = D.Gamma(alpha, 1.0).rsample((50,))
    x.sum().backward()
    ref = torch._standard_gamma_grad(torch.tensor(alpha.detach().numpy()).expand(50, 4),
                                     torch.tensor(x.detach().numpy())).sum(0)
    np.testing.assert_allclose(alpha.grad.numpy(), ref.numpy(), rtol=2e-4)    # torch approximates


def test_gamma_implicit_gradient_is_accurate():
    """dx/dalpha = -(dF/dalpha) / pdf, against high-precision mpmath (torch's own is ~1e-4 off)."""
    mpmath = pytest.importorskip("mpmath")
    from diffprog.distributions.gamma import _dsample_dalpha
    mpmath.mp.dps = 30
    for a, x in [(0.3, 0.05), (2.5, 3.1), (20.0, 18.0)]:
        dF = mpmath.diff(lambda al: mpmath.gammainc(al, 0, x, regularized=True), a)
        exact = -dF / (x ** (a - 1) * mpmath.exp(-x) / mpmath.gamma(a))
        assert _dsample_dalpha(np.array(x), np.array(a)) == pytest.approx(float(exact), rel=1e-8)


def test_gamma_rsample_gradient_is_unbiased():
    """d/dalpha E[x] = 1 / rate and d/drate E[x] = -alpha / rate^2."""
    alpha = dp.tensor([0.5, 3.0], dtype=dp.float64, requires_grad=True)
    rate = dp.tensor([2.0, 0.5], dtype=dp.float64, requires_grad=True)
    dp.manual_seed(0)
    D.Gamma(alpha, rate).rsample((20000,)).mean(0).sum().backward()
    np.testing.assert_allclose(alpha.grad.numpy(), [0.5, 2.0], rtol=0.03)
    np.testing.assert_allclose(rate.grad.numpy(), [-0.125, -12.0], rtol=0.03)


def test_beta_and_dirichlet_rsample_gradients_are_unbiased():
    """d/da E[x] = b / (a + b)^2 for Beta(a, b); Dirichlet's mean gradient likewise."""
    a = dp.tensor(2.0, dtype=dp.float64, requires_grad=True)
    b = dp.tensor(3.0, dtype=dp.float64, requires_grad=True)
    dp.manual_seed(0)
    D.Beta(a, b).rsample((20000,)).mean().backward()
    np.testing.assert_allclose([a.grad.item(), b.grad.item()], [3 / 25, -2 / 25], rtol=0.05)
    c = dp.tensor([1.0, 2.0, 3.0], dtype=dp.float64, requires_grad=True)
    D.Dirichlet(c).rsample((20000,))[:, 0].mean().backward()
    np.testing.assert_allclose(c.grad.numpy(), [5 / 36, -1 / 36, -1 / 36], atol=0.005)


@pytest.mark.parametrize("make", [lambda: D.Categorical(dp.tensor([0.5, 0.5])), lambda: D.Bernoulli(dp.tensor(0.3)),
                                  lambda: D.Poisson(dp.tensor(2.0)), lambda: D.Multinomial(3, dp.tensor([0.5, 0.5]))])
def test_rsample_not_supported(make):
    d = make()
    assert not d.has_rsample
    with pytest.raises(NotImplementedError, match=f"{type(d).__name__} does not support rsample; use "
                       r"diffprog.relax \(Gumbel-softmax\) or a score-function estimator"):
        d.rsample()


# --- validation ---------------------------------------------------------------------------

@pytest.mark.parametrize("make,param,constraint", [
    (lambda: D.Normal(0.0, dp.tensor([1.0, -1.0])), "scale", r"GreaterThan\(lower_bound=0.0\)"),
    (lambda: D.Exponential(0.0), "rate", r"GreaterThan\(lower_bound=0.0\)"),
    (lambda: D.Bernoulli(dp.tensor(1.5)), "probs", r"Interval\(lower_bound=0.0, upper_bound=1.0\)"),
    (lambda: D.Categorical(dp.tensor([0.5, -0.5, 1.0])), "probs", r"Simplex\(\)"),
    (lambda: D.Poisson(-1.0), "rate", r"GreaterThanEq\(lower_bound=0.0\)"),
    (lambda: D.Gamma(1.0, float("nan")), "rate", r"GreaterThan"),
    (lambda: D.Normal(float("nan"), 1.0), "loc", r"Real\(\)"),
    (lambda: D.Dirichlet(dp.tensor([1.0, 0.0])), "concentration", r"IndependentConstraint\(GreaterThan"),
    (lambda: D.MultivariateNormal(dp.zeros(2), dp.tensor([[1.0, 2.0], [2.0, 1.0]])), "covariance_matrix",
     r"PositiveDefinite\(\)"),
    (lambda: D.MultivariateNormal(dp.zeros(2), scale_tril=dp.tensor([[1.0, 1.0], [0.0, 1.0]])), "scale_tril",
     r"LowerCholesky\(\)"),
    (lambda: D.Binomial(2.5, dp.tensor(0.5)), "total_count", r"IntegerGreaterThan"),
])
def test_invalid_parameters(make, param, constraint):
    with pytest.raises(ValueError, match=f"Expected parameter {param} .* to satisfy the constraint {constraint}"):
        make()


def test_validate_args_false_and_default_switch():
    D.Normal(0.0, -1.0, validate_args=False)           # no error
    try:
        D.Distribution.set_default_validate_args(False)
        D.Normal(0.0, -1.0)
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        D.Normal(0.0, -1.0)


@pytest.mark.parametrize("d,value,support", [
    (lambda: D.Exponential(1.0), -1.0, r"GreaterThanEq\(lower_bound=0.0\)"),
    (lambda: D.Beta(2.0, 2.0), 1.5, r"Interval"),
    (lambda: D.Poisson(2.0), 1.5, r"IntegerGreaterThan"),
    (lambda: D.Bernoulli(dp.tensor(0.3)), 2.0, r"Boolean\(\)"),
    (lambda: D.Categorical(dp.tensor([0.5, 0.5])), 2, r"IntegerInterval"),
    (lambda: D.Uniform(0.0, 1.0), 1.5, r"Interval"),
    (lambda: D.Normal(0.0, 1.0), float("nan"), r"Real\(\)"),
])
def test_out_of_support_values(d, value, support):
    with pytest.raises(ValueError, match=f"Expected value argument .* to be within the support \\({support}"):
        d().log_prob(dp.tensor(value))


def test_other_argument_errors():
    with pytest.raises(ValueError, match="Either `probs` or `logits`"):
        D.Categorical(dp.tensor([0.5, 0.5]), logits=dp.tensor([0.0, 0.0]))
    with pytest.raises(ValueError, match="Uniform is not defined when low>= high"):
        D.Uniform(1.0, 1.0)
    with pytest.raises(ValueError, match="Exactly one of"):
        D.MultivariateNormal(dp.zeros(2))


def test_register_kl_and_missing_pair():
    class MyNormal(D.Normal):
        pass
    # a subclass uses its parent's rule, until a more specific one is registered
    assert D.kl_divergence(MyNormal(0.0, 1.0), D.Normal(1.0, 1.0)).item() == pytest.approx(0.5)
    D.register_kl(MyNormal, D.Normal)(lambda p, q: dp.tensor(42.0))
    assert D.kl_divergence(MyNormal(0.0, 1.0), D.Normal(1.0, 1.0)).item() == 42.0
    with pytest.raises(NotImplementedError, match="No KL"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Gamma(1.0, 1.0))


def test_repr():
    assert repr(D.Normal(0.0, 1.0)) == repr(TD.Normal(0.0, 1.0))
    assert repr(D.Gamma(dp.ones(2), 1.0)) == repr(TD.Gamma(torch.ones(2), 1.0)).replace("torch.", "diffprog.")


@pytest.mark.parametrize("name", SHAPE_CASES)
def test_expand(name):
    d, t = _pair(SHAPE_CASES[name])
    shape = (4,) + tuple(t.batch_shape)
    de, te = d.expand(shape), t.expand(shape)
    assert tuple(de.batch_shape) == shape and tuple(de.event_shape) == tuple(te.event_shape)
    x = te.sample((2,))
    np.testing.assert_allclose(de.log_prob(dp.tensor(x.numpy())).numpy(), te.log_prob(x).numpy(), rtol=1e-5)
    assert tuple(de.sample((3,)).shape) == tuple(te.sample((3,)).shape)
