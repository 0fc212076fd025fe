"""Losses and ops at saturation (issue 15, defect 2): where a probability is exactly 0 or 1,
a log meets 0, or a logit is huge, values, gradients, second derivatives and JVPs equal
PyTorch's (through oracle.check): finite where PyTorch's are, NaN only where PyTorch's are.
The pattern being guarded against is 0 * inf in a backward (a clamped or masked log whose
zero gradient meets the log's infinite one)."""
import numpy as np
import pytest

import diffprog as dp
from oracle import check, const

torch = pytest.importorskip("torch")

PROB = np.array([0.0, 1.0, 0.0, 1.0, 1e-30, 0.5, 1 - 1e-7, 1e-7, 0.25])
TARGET = np.array([0.0, 1.0, 1.0, 0.0, 0.0, 0.3, 1.0, 1.0, 0.0])
LOGITS = np.array([-1e4, -120.0, -17.0, -0.5, 0.0, 17.0, 40.0, 120.0, 1e4])
# The oracle's vmap check batches rescaled copies (x 0.9, x 1.1): probabilities leave [0, 1].
PROBABILITIES = dict(vmap=False)


def F(lib):
    return lib.nn.functional


CASES = {
    "binary_cross_entropy": (
        lambda L: lambda x, t: F(L).binary_cross_entropy(x, t, reduction="none"), [PROB, TARGET], PROBABILITIES),
    "binary_cross_entropy weighted mean": (
        lambda L: lambda x, t, w: F(L).binary_cross_entropy(x, t, weight=w), [PROB, TARGET, const(TARGET + 0.5)],
        PROBABILITIES),
    "BCELoss of a saturated sigmoid (a correct prediction)": (
        lambda L: lambda z: L.nn.BCELoss()(z.sigmoid(), (L.arange(9, device=z.device) > 3).to(z.dtype)), [LOGITS]),
    "binary_cross_entropy_with_logits": (
        lambda L: lambda z, t: F(L).binary_cross_entropy_with_logits(z, t, reduction="none"), [LOGITS, TARGET]),
    "binary_cross_entropy_with_logits pos_weight": (
        lambda L: lambda z: F(L).binary_cross_entropy_with_logits(
            z, L.tensor(TARGET, dtype=z.dtype, device=z.device),
            pos_weight=L.full((9,), 3.0, dtype=z.dtype, device=z.device)), [LOGITS]),
    "soft_margin_loss": (       # (beyond a margin of 88, PyTorch's overflows to inf; ours does not)
        lambda L: lambda z: F(L).soft_margin_loss(z, L.tensor(2 * TARGET - 1, dtype=z.dtype, device=z.device)), [LOGITS / 200]),
    "logsigmoid, softplus": (lambda L: lambda z: (F(L).logsigmoid(z), F(L).softplus(z)), [LOGITS]),
    "kl_div, target 0": (lambda L: lambda x, t: F(L).kl_div(x, t, reduction="sum"),
                         [np.log(PROB + 0.1), TARGET]),
    "poisson_nll_loss full, target 0": (
        lambda L: lambda x, t: F(L).poisson_nll_loss(x, t, full=True, reduction="none"),
        [PROB, TARGET * 3]),
    "poisson_nll_loss of rates 0": (
        lambda L: lambda x, t: F(L).poisson_nll_loss(x, t, log_input=False, reduction="none"), [PROB, TARGET * 3]),
    "gaussian_nll_loss, variance 0": (     # PyTorch's JVP also zeroes the tangent of a clamped
        lambda L: lambda x, v: F(L).gaussian_nll_loss(x, x.detach() * 0, v, reduction="none"),   # variance
        [TARGET, PROB], dict(jvp=False)),
    "xlogy": (lambda L: lambda x, y: L.xlogy(x, y), [TARGET * 2, PROB]),
    "logit with eps": (lambda L: lambda x: L.logit(x, eps=1e-6), [PROB]),
    "Bernoulli(probs).log_prob": (
        lambda L: lambda p: L.distributions.Bernoulli(probs=p).log_prob(
            L.tensor(TARGET.round(), dtype=p.dtype, device=p.device)),
        [PROB], dict(PROBABILITIES, tol64=1e-8)),     # (p = 1 - 1e-7: rounding grows by 1 / (1 - p))
    "Categorical(probs).log_prob and entropy": (
        lambda L: lambda p: (L.distributions.Categorical(probs=p).log_prob(L.tensor([0, 1, 2], device=p.device)),
                             L.distributions.Categorical(probs=p).entropy()),
        [np.array([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5], [0.2, 0.3, 0.5]])]),
    "Gamma.log_prob at 0": (
        lambda L: lambda c, r: L.distributions.Gamma(c, r).log_prob(
            L.tensor([0.0, 0.0, 1.0], dtype=c.dtype, device=c.device)),
        [np.array([1.0, 2.0, 1.0]), np.array([1.0, 3.0, 2.0])], dict(tol64=1e-9)),    # SciPy's polygamma
    "Dirichlet.log_prob, concentration 1": (
        lambda L: lambda a: L.distributions.Dirichlet(a).log_prob(L.tensor([0.25, 0.75], dtype=a.dtype, device=a.device)),
        [np.array([1.0, 2.0])]),
    "Beta.log_prob, concentration 1": (
        lambda L: lambda a, b: L.distributions.Beta(a, b).log_prob(L.tensor([0.5, 0.1], dtype=a.dtype, device=a.device)),
        [np.array([1.0, 2.0]), np.array([1.0, 1.0])]),
    "Poisson.log_prob at 0": (
        lambda L: lambda r: L.distributions.Poisson(r).log_prob(L.tensor([0.0, 2.0], dtype=r.dtype, device=r.device)),
        [np.array([0.5, 2.0])]),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CASES)
def test_saturated_values_and_derivatives_match_pytorch(name, dtype):
    make, arrays, *options = CASES[name]
    options = dict(*options)
    tol64 = options.pop("tol64", None)
    if tol64 and dtype == np.float64:
        options["tol"] = dict(rtol=tol64, atol=tol64)
    arrays = [const(a.value.astype(dtype)) if isinstance(a, const) else a.astype(dtype) for a in arrays]
    check(make(dp), make(torch), *arrays, fd=False, **options)


def test_a_saturated_but_correct_prediction_has_a_finite_gradient():
    """float32's sigmoid is exactly 1.0 from a logit of about 17 on: the loss is 0 there, and
    so is its gradient (it was NaN: 0 * inf in the clamped log's backward)."""
    z = dp.tensor([17.5, 30.0, -120.0], requires_grad=True)
    loss = dp.nn.BCELoss()(z.sigmoid(), dp.tensor([1.0, 1.0, 0.0]))
    loss.backward()
    assert loss.item() == 0.0 and z.grad.tolist() == [0.0, 0.0, 0.0]
