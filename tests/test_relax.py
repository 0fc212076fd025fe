"""diffprog.relax: each estimator against a problem with a known answer (Monte Carlo with a
fixed seed and a stated tolerance), plus gradcheck of every deterministic relaxation."""
import itertools

import numpy as np
import pytest

import diffprog as dp
import diffprog.nn.functional as F
from diffprog import relax
from diffprog.autograd import gradcheck
from diffprog.distributions import Bernoulli

f64 = dp.float64


def t64(a, grad=False):
    return dp.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def gen(seed=0):
    return dp.Generator().manual_seed(seed)


def grad_of(fn, x):
    x = x.detach().requires_grad_()
    fn(x).sum().backward()
    return x.grad.numpy()


# --- straight-through ----------------------------------------------------------------------

X = np.array([[-1.7, -0.2, 0.0, 0.4], [2.6, -0.5, 1.49, 0.51]])
G = np.array([[0.3, -1.0, 2.0, 0.5], [1.5, 0.2, -0.7, 1.1]])


@pytest.mark.parametrize("ste, hard, surrogate", [
    (relax.ste_sign, np.sign, lambda x: x),
    (relax.ste_round, np.round, lambda x: x),
    (relax.straight_through(dp.sign, dp.tanh), np.sign, dp.tanh),
    (relax.straight_through(dp.floor), np.floor, lambda x: x),
    (lambda x: relax.straight_through(x.detach().round(), x * x), np.round, lambda x: x * x),
])
def test_straight_through_value_is_hard_gradient_is_surrogate(ste, hard, surrogate):
    x = t64(X, grad=True)
    y = ste(x)
    np.testing.assert_array_equal(y.detach().numpy(), hard(X))           # exact forward
    (y * t64(G)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), grad_of(lambda z: surrogate(z) * t64(G), x), rtol=1e-12)


def test_ste_argmax_one_hot_with_softmax_gradient_forward_mode_too():
    x = t64(X, grad=True)
    y = relax.ste_argmax(x, dim=1, tau=0.5)
    np.testing.assert_array_equal(y.detach().numpy(), np.eye(4)[X.argmax(1)])
    np.testing.assert_allclose(grad_of(lambda z: relax.ste_argmax(z, 0) * t64(G), x),
                               grad_of(lambda z: F.softmax(z, 0) * t64(G), x), rtol=1e-12)
    _, tangent = dp.func.jvp(lambda z: relax.ste_sign(z), (t64(X),), (t64(G),))
    np.testing.assert_array_equal(tangent.numpy(), G)                    # jvp is the surrogate's
    with pytest.raises(RuntimeError, match="same shape"):
        relax.straight_through(t64(X), t64(G[0]))
    with pytest.raises(TypeError):
        relax.straight_through(t64(X))


# --- Gumbel-softmax ------------------------------------------------------------------------

LOGITS = np.array([1.0, 0.0, -0.5, 0.3])
PROBS = np.exp(LOGITS) / np.exp(LOGITS).sum()
N = 20000


def test_gumbel_hard_samples_follow_softmax_chi_square():
    y = relax.gumbel_softmax(t64(np.tile(LOGITS, (N, 1))), tau=0.7, hard=True, generator=gen(1))
    y = y.numpy()
    assert set(np.unique(y).tolist()) == {0.0, 1.0} and (y.sum(1) == 1).all()
    counts = y.sum(0)
    chi2 = ((counts - N * PROBS) ** 2 / (N * PROBS)).sum()
    assert chi2 < 16.3                          # 99.9% quantile of chi-square with 3 dof
    assert np.abs(counts / N - PROBS).max() > 0 and chi2 > 0


def test_gumbel_soft_sums_to_one_seeded_and_gradcheck():
    logits = t64(np.tile(LOGITS, (3, 1)), grad=True)
    y = relax.gumbel_softmax(logits, tau=0.5, dim=0, generator=gen(2))
    np.testing.assert_allclose(y.detach().numpy().sum(0), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(y.detach().numpy(), relax.gumbel_softmax(
        logits, tau=0.5, dim=0, generator=gen(2)).detach().numpy())
    assert gradcheck(lambda l: relax.gumbel_softmax(l, tau=0.5, generator=gen(3)), (logits,))
    g = relax.sample_gumbel((N,), dtype=f64, generator=gen(4)).numpy()      # mean = Euler's gamma
    assert abs(g.mean() - 0.5772156649) < 4 * (np.pi / np.sqrt(6)) / np.sqrt(N)


def test_gumbel_hard_gradient_is_the_soft_samples():
    w = t64([2.0, -1.0, 0.5, 1.0])
    soft = grad_of(lambda l: relax.gumbel_softmax(l, 0.5, generator=gen(5)) * w, t64(np.tile(LOGITS, (8, 1))))
    hard = grad_of(lambda l: relax.gumbel_softmax(l, 0.5, True, generator=gen(5)) * w,
                   t64(np.tile(LOGITS, (8, 1))))
    np.testing.assert_allclose(hard, soft, rtol=1e-12)
    assert np.abs(soft).sum() > 0


def test_gumbel_relaxed_gradient_bias_shrinks_as_tau_goes_to_zero():
    """For linear f(y) = w.y: d/dlogits E[f(one_hot)] = J_softmax w.  The relaxed gradient is
    biased for tau > 0 (documented) and approaches it as tau -> 0."""
    w = np.array([2.0, -1.0, 0.5, 1.0])
    exact = PROBS * (w - PROBS @ w)
    errors = []
    for tau in (2.0, 0.5, 0.1):
        logits = t64(LOGITS, grad=True)
        y = relax.gumbel_softmax(logits.expand(N, 4), tau, generator=gen(6))
        (y @ t64(w)).mean().backward()
        errors.append(np.abs(logits.grad.numpy() - exact).max())
    assert errors[0] > 0.1                       # a visible bias at large tau
    assert errors[2] < 0.03 and errors[0] > errors[1] > errors[2]


# --- score function (REINFORCE) ------------------------------------------------------------

THETA = 0.4
P = 1 / (1 + np.exp(-THETA))
EXACT = P * (1 - P)                    # d/dtheta E[2 + x] for x ~ Bernoulli(sigmoid(theta))


def reinforce_grads(n, baseline=None, control_variate=None, seed=7):
    """Per-sample REINFORCE gradients for f(x) = 2 + x."""
    theta = dp.full((n,), THETA, dtype=f64, requires_grad=True)
    x = dp.bernoulli(dp.full((n,), P, dtype=f64), generator=gen(seed))
    cv = None if control_variate is None else control_variate(theta, x)
    relax.score_function_surrogate(Bernoulli(logits=theta).log_prob(x), 2 + x, baseline,
                                   cv).sum().backward()
    return theta.grad.numpy()


@pytest.mark.parametrize("baseline, control_variate", [
    (2.5, None),
    ("loo", None),
    (None, lambda theta, x: (2 + 0.8 * x, 2 + 0.8 * theta.sigmoid())),    # c(x), E[c(x)]
])
def test_reinforce_unbiased_and_baseline_lowers_variance(baseline, control_variate):
    plain = reinforce_grads(N)
    better = reinforce_grads(N, baseline, control_variate)
    for g in (plain, better):
        assert abs(g.mean() - EXACT) < 4 * g.std() / np.sqrt(N) + 1e-12
    assert better.var() < 0.2 * plain.var()
    assert abs(plain.mean() - EXACT) < 0.05     # and the tolerance itself is meaningful


def test_moving_average_baseline_uses_only_earlier_batches():
    b = relax.MovingAverageBaseline(momentum=0.5)
    means, grads = [], []
    for step in range(40):
        g = reinforce_grads(500, b(2 + dp.bernoulli(dp.full((500,), P, dtype=f64), generator=gen(100 + step))),
                            seed=200 + step)
        means.append(g.mean())
        grads.append(g)
    assert b.value == pytest.approx(2 + P, abs=0.1) and "momentum=0.5" in repr(b)
    late = np.concatenate(grads[10:])
    assert abs(late.mean() - EXACT) < 4 * late.std() / np.sqrt(late.size)
    assert late.var() < 0.2 * reinforce_grads(N).var()
    first = relax.MovingAverageBaseline(initial=1.0)
    assert first(t64([5.0])) == 1.0 and first.value == pytest.approx(1.4)


def test_score_function_errors():
    with pytest.raises(ValueError, match="unknown baseline"):
        relax.score_function_surrogate(t64([0.0, 1.0]), t64([0.0, 1.0]), "mean")
    with pytest.raises(ValueError, match="2 samples"):
        relax.score_function_surrogate(t64([0.0]), t64([1.0]), "loo")


# --- soft sorting --------------------------------------------------------------------------

S = np.array([0.3, -1.0, 2.0, 0.5, -0.2])
SORTERS = [relax.neural_sort, relax.softsort]


def perm_matrix(s, descending):
    order = np.argsort(-s if descending else s, kind="stable")
    return np.eye(len(s))[order]


@pytest.mark.parametrize("sorter", SORTERS)
@pytest.mark.parametrize("descending", [False, True])
def test_soft_permutation_approaches_sorting_permutation(sorter, descending):
    errors = []
    for tau in (1.0, 0.1, 0.01):
        p = sorter(t64(S), tau, descending).numpy()
        np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-12)
        errors.append(np.abs(p - perm_matrix(S, descending)).max())
    assert errors[0] > 0.3 and errors[0] > errors[1] > errors[2] and errors[2] < 1e-6
    hard = sorter(t64(S, grad=True), 0.5, descending, hard=True)
    np.testing.assert_array_equal(hard.detach().numpy(), perm_matrix(S, descending))
    np.testing.assert_allclose(grad_of(lambda s: sorter(s, 0.5, descending, hard=True) * t64(S), t64(S)),
                               grad_of(lambda s: sorter(s, 0.5, descending) * t64(S), t64(S)), rtol=1e-12)


@pytest.mark.parametrize("fn, kw", [
    (relax.neural_sort, {}), (relax.softsort, {}), (relax.neural_sort, dict(descending=True)),
    (relax.softsort, dict(descending=True)), (relax.soft_sort, {}),
    (relax.soft_sort, dict(method="neuralsort")), (relax.soft_rank, {}),
    (relax.soft_rank, dict(method="neuralsort", descending=True)),
])
def test_soft_sort_gradcheck_batched(fn, kw):
    s = t64(np.stack([S, S[::-1] * 0.7]), grad=True)
    assert gradcheck(lambda s: fn(s, 0.8, **kw), (s,))
    assert fn(s, 0.8, **kw).shape[:2] == (2, 5)


@pytest.mark.parametrize("method", ["neuralsort", "softsort"])
def test_soft_sort_and_rank_limits(method):
    np.testing.assert_allclose(relax.soft_sort(t64(S), 1e-3, method=method).numpy(), np.sort(S), atol=1e-9)
    np.testing.assert_allclose(relax.soft_sort(t64(S), 1e-3, True, method).numpy(), np.sort(S)[::-1],
                               atol=1e-9)
    np.testing.assert_allclose(relax.soft_rank(t64(S), 1e-3, method=method).numpy(),
                               np.argsort(np.argsort(S)) + 1, atol=1e-9)
    with pytest.raises(ValueError, match="unknown method"):
        relax.soft_sort(t64(S), method="bitonic")


# --- Sinkhorn ------------------------------------------------------------------------------

LOG_ALPHA = np.random.default_rng(0).normal(size=(2, 4, 4))


def test_sinkhorn_doubly_stochastic_and_gradcheck():
    p = relax.sinkhorn(t64(LOG_ALPHA), n_iters=200).numpy()
    np.testing.assert_allclose(p.sum(-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(p.sum(-2), 1.0, atol=1e-6)
    assert np.abs(relax.sinkhorn(t64(LOG_ALPHA), n_iters=1).numpy().sum(-1) - 1).max() > 1e-3
    assert gradcheck(lambda a: relax.sinkhorn(a, 5, 0.7), (t64(LOG_ALPHA, grad=True),))
    with pytest.raises(RuntimeError, match="square"):
        relax.sinkhorn(t64(LOG_ALPHA[0, :3]))


def test_sinkhorn_small_tau_approaches_best_assignment():
    a = LOG_ALPHA[0]
    best = max(itertools.permutations(range(4)), key=lambda q: a[range(4), q].sum())
    errors = []
    for tau in (1.0, 0.1, 0.01):
        p = relax.sinkhorn(t64(a), n_iters=1000, tau=tau).numpy()
        errors.append(np.abs(p - np.eye(4)[list(best)]).max())
    assert errors[0] > 0.3 and errors[0] > errors[1] > errors[2] and errors[2] < 1e-3


# --- soft top-k ----------------------------------------------------------------------------

@pytest.mark.parametrize("k", [1, 2, 4])
def test_soft_topk_sums_to_k_and_approaches_hard_mask(k):
    hard = np.zeros(5)
    hard[np.argsort(-S)[:k]] = 1
    errors = []
    for tau in (1.0, 0.1, 0.01):
        m = relax.soft_topk(t64(S), k, tau).numpy()
        np.testing.assert_allclose(m.sum(), k, rtol=1e-12)
        assert (m >= 0).all()
        errors.append(np.abs(m - hard).max())
    assert (m <= 1 + 1e-6).all()           # may exceed 1 at large tau (documented), barely at small
    assert errors[0] > 0.1 and errors[2] < 1e-6
    st = relax.soft_topk(t64(S), k, 0.5, hard=True)
    np.testing.assert_array_equal(st.numpy(), hard)
    np.testing.assert_allclose(grad_of(lambda s: relax.soft_topk(s, k, 0.5, hard=True) * t64(S), t64(S)),
                               grad_of(lambda s: relax.soft_topk(s, k, 0.5) * t64(S), t64(S)), rtol=1e-12)


def test_soft_topk_gradcheck_dim_and_errors():
    s = t64(np.stack([S, -S]).T, grad=True)                  # (5, 2), top-k along dim 0
    assert gradcheck(lambda s: relax.soft_topk(s, 2, 0.7, dim=0), (s,))
    np.testing.assert_allclose(relax.soft_topk(s, 3, dim=0).detach().numpy().sum(0), 3.0, rtol=1e-12)
    with pytest.raises(RuntimeError, match="out of range"):
        relax.soft_topk(s, 6, dim=0)
