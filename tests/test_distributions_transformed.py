"""Transforms, TransformedDistribution, the relaxed (Concrete) distributions and
MixtureSameFamily against torch.distributions: values, gradients, sampling, validation."""
import numpy as np
import pytest

from oracle import check, rand, torch

import diffprog as dp

D, TD = dp.distributions, torch.distributions
T = {D: D.transforms, TD: TD.transforms}
# torch keeps these two out of its top-level namespace
LOGIT_RB = {D: D.LogitRelaxedBernoulli, TD: TD.relaxed_bernoulli.LogitRelaxedBernoulli}
EXP_RC = {D: D.ExpRelaxedCategorical, TD: TD.relaxed_categorical.ExpRelaxedCategorical}


def pos(*shape, seed=None):
    return rand(*shape, low=0.5, high=2.0, seed=seed)


def unit(*shape, seed=None):
    return rand(*shape, low=0.1, high=0.9, seed=seed)


def simplex(*shape, seed=0):
    p = pos(*shape, seed=seed)
    return p / p.sum(-1, keepdims=True)


# (name, make(transforms-module, *params) -> transform, params, x in the domain)
TRANSFORMS = [
    ("exp", lambda M: M.ExpTransform(), (), rand(2, 3)),
    ("affine", lambda M, a, b: M.AffineTransform(a, b), (rand(3), pos(3)), rand(2, 3, seed=1)),
    ("affine_neg", lambda M, a, b: M.AffineTransform(a, -b), (rand(3), pos(3)), rand(2, 3, seed=1)),
    ("affine_event", lambda M, a, b: M.AffineTransform(a, b, event_dim=1), (rand(3), pos(3)), rand(2, 3, seed=1)),
    ("sigmoid", lambda M: M.SigmoidTransform(), (), rand(2, 3)),
    ("tanh", lambda M: M.TanhTransform(), (), rand(2, 3)),
    ("softplus", lambda M: M.SoftplusTransform(), (), rand(2, 3)),
    ("power", lambda M, e: M.PowerTransform(e), (pos(3),), pos(2, 3, seed=1)),
    ("stick_breaking", lambda M: M.StickBreakingTransform(), (), rand(2, 3)),
    ("compose", lambda M, a, b: M.ComposeTransform([M.AffineTransform(a, b), M.ExpTransform()]),
     (rand(3), pos(3)), rand(2, 3, seed=1)),
    ("inverse", lambda M: M.ExpTransform().inv, (), pos(2, 3)),
    ("independent", lambda M: M.IndependentTransform(M.SigmoidTransform(), 1), (), rand(2, 3)),
]


@pytest.mark.parametrize("name,make,params,x", TRANSFORMS, ids=[t[0] for t in TRANSFORMS])
def test_transform_forward_inverse_and_log_det(name, make, params, x):
    def run(M, x, *p):
        t = make(T[M], *p)
        y = t(x)
        return y, t.inv(y), t.log_abs_det_jacobian(x, y)
    check(lambda *a: run(D, *a), lambda *a: run(TD, *a), x, *params)
    d, t = make(T[D], *[dp.tensor(p) for p in params]), make(T[TD], *[torch.tensor(p) for p in params])
    assert d.domain.event_dim == t.domain.event_dim and d.codomain.event_dim == t.codomain.event_dim
    assert d.bijective == t.bijective


def test_log_det_matches_autograd_jacobian():
    """log|det J| of stick breaking is the log-determinant of the Jacobian of the first K-1
    outputs (the last is determined by them), computed by autograd."""
    t = D.StickBreakingTransform()
    x = dp.tensor(rand(4), requires_grad=True)
    jac = dp.autograd.functional.jacobian(lambda v: t(v)[:-1], x)
    expected = np.log(abs(np.linalg.det(jac.numpy())))
    np.testing.assert_allclose(t.log_abs_det_jacobian(x, t(x)).item(), expected, rtol=1e-10)


# (name, make(distributions-module, *params), params, value)
DISTS = [
    ("lognormal_by_exp", lambda M, m, s: M.TransformedDistribution(M.Normal(m, s), [T[M].ExpTransform()]),
     (rand(3), pos(3)), pos(2, 3, seed=1)),
    ("affine_exp", lambda M, m, s, a, b: M.TransformedDistribution(
        M.Normal(m, s), [T[M].AffineTransform(a, b), T[M].ExpTransform()]),
     (rand(3), pos(3), rand(3, seed=2), pos(3, seed=3)), pos(4, 3, seed=1)),
    ("tanh_normal", lambda M, m, s: M.TransformedDistribution(M.Normal(m, s), T[M].TanhTransform()),
     (rand(3), pos(3)), rand(2, 3, low=-0.9, high=0.9, seed=1)),
    ("logistic", lambda M, a, b: M.TransformedDistribution(
        M.Uniform(a.new_tensor(0.0).float(), a.new_tensor(1.0).float()).expand((3,)),     # (on a's device)
        [T[M].SigmoidTransform().inv, T[M].AffineTransform(a, b)]),
     (rand(3), pos(3)), rand(2, 3, seed=1)),
    # (no validation: finite differences step off the simplex)
    ("stick_breaking", lambda M, m, s: M.TransformedDistribution(M.Normal(m, s), T[M].StickBreakingTransform(),
                                                                 validate_args=False),
     (rand(3), pos(3)), simplex(2, 4, seed=1)),
    ("relaxed_bernoulli", lambda M, t, p: M.RelaxedBernoulli(t, probs=p), (pos(), unit(3)), unit(2, 3, seed=1)),
    ("relaxed_bernoulli_logits", lambda M, t, l: M.RelaxedBernoulli(t, logits=l), (pos(3), rand(3)),
     unit(3, seed=1)),
    ("logit_relaxed_bernoulli", lambda M, t, p: LOGIT_RB[M](t, probs=p), (pos(), unit(3)),
     rand(2, 3, seed=1)),
    ("relaxed_one_hot", lambda M, t, p: M.RelaxedOneHotCategorical(t, probs=p, validate_args=False),
     (pos(), simplex(2, 4)), simplex(3, 2, 4, seed=1)),
    ("relaxed_one_hot_logits", lambda M, t, l: M.RelaxedOneHotCategorical(t, logits=l, validate_args=False),
     (pos(), rand(2, 4)), simplex(2, 4, seed=1)),
    ("exp_relaxed_categorical", lambda M, t, l: EXP_RC[M](t, logits=l), (pos(), rand(4)),
     np.log(simplex(2, 4, seed=1))),
    ("mixture_normal", lambda M, w, m, s: M.MixtureSameFamily(M.Categorical(logits=w), M.Normal(m, s)),
     (rand(2, 3), rand(2, 3, seed=1), pos(2, 3)), rand(4, 2, seed=2)),
    ("mixture_diag_gauss", lambda M, w, m, s: M.MixtureSameFamily(
        M.Categorical(probs=w), M.Independent(M.Normal(m, s), 1)),
     (simplex(3), rand(3, 2, seed=1), pos(3, 2)), rand(5, 2, seed=2)),
]


@pytest.mark.parametrize("name,make,params,value", DISTS, ids=[d[0] for d in DISTS])
def test_log_prob_against_torch(name, make, params, value):
    check(lambda v, *p: make(D, *p).log_prob(v), lambda v, *p: make(TD, *p).log_prob(v), value, *params)
    d = make(D, *[dp.tensor(p) for p in params])
    t = make(TD, *[torch.tensor(p) for p in params])
    assert tuple(d.batch_shape) == tuple(t.batch_shape) and tuple(d.event_shape) == tuple(t.event_shape)
    # torch's LogitRelaxedBernoulli has an rsample but says has_rsample=False
    assert d.has_rsample == (t.has_rsample or name == "logit_relaxed_bernoulli")
    assert tuple(d.sample((2,)).shape) == tuple(t.sample((2,)).shape)


@pytest.mark.parametrize("name,make,params", [
    ("affine_neg", lambda M, m, s: M.TransformedDistribution(M.Normal(m, s), T[M].AffineTransform(1.0, -2.0)),
     (rand(3), pos(3))),
    ("lognormal_by_exp", lambda M, m, s: M.TransformedDistribution(M.Normal(m, s), T[M].ExpTransform()),
     (rand(3), pos(3))),
])
def test_cdf_icdf_against_torch(name, make, params):
    y = make(TD, *[torch.tensor(p) for p in params]).icdf(torch.tensor(unit(3, seed=4))).numpy()
    check(lambda v, *p: make(D, *p).cdf(v), lambda v, *p: make(TD, *p).cdf(v), y, *params)
    check(lambda u, *p: make(D, *p).icdf(u), lambda u, *p: make(TD, *p).icdf(u), unit(3, seed=4), *params)


def test_mixture_moments_and_cdf_against_torch():
    def moments(M, w, m, s, x):
        d = M.MixtureSameFamily(M.Categorical(logits=w), M.Normal(m, s))
        return d.mean, d.variance, d.cdf(x)
    check(lambda *a: moments(D, *a), lambda *a: moments(TD, *a), rand(2, 3), rand(2, 3, seed=1), pos(2, 3),
          rand(2, seed=2))


def _noise(draw, seed=5):
    dp.manual_seed(seed)
    return draw()


def test_relaxed_rsample_matches_formula_and_torch_gradient():
    """Same uniform noise on both sides: the samples and their parameter gradients agree."""
    tau, logits = pos(), rand(2, 4)
    dt, dl = dp.tensor(tau, requires_grad=True), dp.tensor(logits, requires_grad=True)
    dp.manual_seed(5)
    x = D.RelaxedOneHotCategorical(dt, logits=dl).rsample((3,))
    u = _noise(lambda: dp.rand((3, 2, 4), dtype=dp.float64)).numpy()
    tt, tl = torch.tensor(tau, requires_grad=True), torch.tensor(logits, requires_grad=True)
    eps = np.finfo(np.float64).eps
    gumbel = -torch.log(-torch.log(torch.tensor(u).clamp(eps, 1 - eps)))
    y = torch.softmax((torch.log_softmax(tl, -1) + gumbel) / tt, -1)
    np.testing.assert_allclose(x.detach().numpy(), y.detach().numpy(), rtol=1e-10)
    w = rand(3, 2, 4, seed=9)
    (x * dp.tensor(w)).sum().backward()
    (y * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(dt.grad.numpy(), tt.grad.numpy(), rtol=1e-9)
    np.testing.assert_allclose(dl.grad.numpy(), tl.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_relaxed_bernoulli_rsample_is_differentiable_and_in_support():
    p = dp.tensor(unit(3), requires_grad=True)
    x = D.RelaxedBernoulli(0.5, probs=p).rsample((1000,))
    assert ((x > 0) & (x < 1)).all()
    x.mean().backward()
    assert p.grad is not None and (p.grad.numpy() > 0).all()     # larger p, larger draws


def test_relaxed_one_hot_approaches_categorical_at_low_temperature():
    dp.manual_seed(0)
    probs = dp.tensor([0.2, 0.5, 0.3], dtype=dp.float64)
    x = D.RelaxedOneHotCategorical(0.01, probs=probs).sample((20000,))
    assert (x.max(-1).values > 0.99).float().mean().item() > 0.95       # near a corner
    freq = np.bincount(x.argmax(-1).numpy(), minlength=3) / 20000
    np.testing.assert_allclose(freq, probs.numpy(), atol=0.015)          # ~4.5 standard errors


def test_mixture_sample_frequencies_and_no_rsample():
    dp.manual_seed(0)
    w = dp.tensor([0.1, 0.6, 0.3], dtype=dp.float64)
    m = D.MixtureSameFamily(D.Categorical(probs=w), D.Normal(dp.tensor([-10.0, 0.0, 10.0], dtype=dp.float64), 0.1))
    x = m.sample((20000,)).numpy()
    freq = [(x < -5).mean(), (np.abs(x) < 5).mean(), (x > 5).mean()]
    np.testing.assert_allclose(freq, w.numpy(), atol=0.015)
    assert not m.has_rsample
    with pytest.raises(NotImplementedError, match="does not support rsample; use diffprog.relax"):
        m.rsample()


def test_transformed_rsample_gradient_is_unbiased():
    """E[exp(mu + s eps)] = exp(mu + s^2 / 2): the Monte Carlo gradient w.r.t. mu matches."""
    dp.manual_seed(1)
    mu = dp.tensor(0.3, dtype=dp.float64, requires_grad=True)
    d = D.TransformedDistribution(D.Normal(mu, 0.5), [D.ExpTransform()])
    d.rsample((200000,)).mean().backward()
    np.testing.assert_allclose(mu.grad.item(), np.exp(0.3 + 0.125), rtol=0.01)


def test_stick_breaking_samples_lie_on_the_simplex():
    d = D.TransformedDistribution(D.Normal(dp.zeros(3, dtype=dp.float64), 1.0), D.StickBreakingTransform())
    x = d.sample((100,))
    assert tuple(x.shape) == (100, 4) and (x > 0).all()
    np.testing.assert_allclose(x.sum(-1).numpy(), 1.0, rtol=1e-12)


def test_validation_errors():
    with pytest.raises(ValueError, match="probs"):
        D.RelaxedBernoulli(0.5, probs=dp.tensor([1.5]))
    with pytest.raises(ValueError, match="probs"):
        D.RelaxedOneHotCategorical(0.5, probs=dp.tensor([-0.5, 1.5]))
    with pytest.raises(ValueError, match="3 components .* batch shape is \\(2,\\)"):
        D.MixtureSameFamily(D.Categorical(logits=dp.zeros(3)), D.Normal(dp.zeros(2), 1.0))
    with pytest.raises(ValueError, match="must be a Categorical"):
        D.MixtureSameFamily(D.Normal(0.0, 1.0), D.Normal(dp.zeros(2), 1.0))
    with pytest.raises(ValueError, match="transforms must be a Transform"):
        D.TransformedDistribution(D.Normal(0.0, 1.0), [lambda x: x])
    d = D.TransformedDistribution(D.Normal(dp.zeros(2), 1.0), D.ExpTransform())
    with pytest.raises(ValueError, match="support"):
        d.log_prob(dp.tensor([-1.0, 1.0]))


def test_expand():
    d = D.RelaxedBernoulli(0.5, probs=dp.tensor([0.3, 0.6]))
    e = d.expand((4, 2))
    assert tuple(e.batch_shape) == (4, 2) and tuple(e.sample().shape) == (4, 2)
    np.testing.assert_allclose(e.log_prob(dp.full((4, 2), 0.4)).numpy()[0], d.log_prob(dp.full((2,), 0.4)).numpy(),
                               rtol=1e-6)
