"""Losses of diffprog.nn against torch.nn: values, VJP, double VJP, JVP, finite differences."""
import warnings

import numpy as np
import pytest

import oracle
from oracle import check, const, rand, torch

import diffprog as dp
import diffprog.nn as nn
import diffprog.nn.functional as F

TF = torch.nn.functional
_rng = np.random.default_rng(0)


class W:
    """A constant tensor option (weight, pos_weight, var) handed to both frameworks."""

    def __init__(self, value):
        self.value = value


def _opts(kw, lib):
    make = oracle._tensor if lib is dp else lib.tensor      # diffprog's on the tested device
    return {k: make(v.value) if isinstance(v, W) else v for k, v in kw.items()}


def labels(*shape, C, seed=0, ignore=()):
    """Class indices in [0, C); positions listed in `ignore` set to -100."""
    t = np.random.default_rng(seed).integers(0, C, size=shape)
    for i in ignore:
        t.reshape(-1)[i] = -100
    return t


def probs(*shape, dim=1, seed=0):
    """Class probabilities along dim (rows summing to 1)."""
    e = np.exp(rand(*shape, seed=seed))
    return e / e.sum(axis=dim, keepdims=True)


def signs(*shape, seed=0):
    return np.where(np.random.default_rng(seed).random(shape) < 0.5, -1.0, 1.0)


def uniform(*shape, low, high, seed=0):
    return rand(*shape, low=low, high=high, seed=seed)


w6, w4 = uniform(6, low=0.2, high=2.0, seed=3), uniform(4, low=0.5, high=2.0)
x56, t56, ti56 = rand(5, 6), labels(5, C=6), labels(5, C=6, ignore=(1, 3))
a34, b34 = rand(3, 4), rand(3, 4, seed=1)                       # any values
# in (0, 0.9]: still in (0, 1) after the oracle's vmap check rescales them by 1.1
p34, q34 = uniform(3, 4, low=0.05, high=0.9), uniform(3, 4, low=0, high=0.9, seed=1)
wide45, a45 = rand(4, 5, low=-2, high=2), rand(4, 5, seed=1)   # both sides of the kinks
logp34, logq34 = np.log(probs(3, 4)), np.log(probs(3, 4, seed=1))
triplet = (rand(4, 3), rand(4, 3, seed=1), rand(4, 3, seed=2))

# (functional name, arguments, options): each row checked in float64 (with finite differences).
CASES = [
    ("mse_loss", (a34, b34), {}),
    ("mse_loss", (a34, b34), dict(reduction="sum")),
    ("mse_loss", (a34, b34), dict(reduction="none")),
    ("mse_loss", (a34, b34), dict(weight=W(uniform(3, 4, low=0, high=1)))),
    ("mse_loss", (rand(), rand(seed=2)), {}),
    ("mse_loss", (rand(0, 3), rand(0, 3, seed=2)), dict(reduction="sum")),
    ("l1_loss", (a34, b34), {}),
    ("l1_loss", (a34, b34), dict(reduction="none")),
    ("l1_loss", (a34, b34), dict(weight=W(uniform(3, 4, low=0, high=1)))),
    ("smooth_l1_loss", (wide45, a45), {}),
    ("smooth_l1_loss", (wide45, a45), dict(beta=0.5, reduction="sum")),
    ("smooth_l1_loss", (wide45, a45), dict(beta=0.0)),
    ("huber_loss", (wide45, a45), {}),
    ("huber_loss", (wide45, a45), dict(delta=0.3, reduction="none")),
    ("huber_loss", (wide45, a45), dict(weight=W(uniform(4, 5, low=0, high=1)))),
    ("poisson_nll_loss", (a34, uniform(3, 4, low=0, high=3)), {}),
    ("poisson_nll_loss", (uniform(3, 4, low=0.1, high=2), uniform(3, 4, low=0, high=3)),
     dict(log_input=False, reduction="sum")),
    ("poisson_nll_loss", (a34, uniform(3, 4, low=0.5, high=3)), dict(full=True, reduction="none")),
    ("gaussian_nll_loss", (a34, b34, uniform(3, 4, low=0.2, high=2)), {}),
    ("gaussian_nll_loss", (a34, b34, uniform(3, low=0.2, high=2)), dict(full=True, reduction="sum")),
    ("gaussian_nll_loss", (a34, b34, uniform(3, 1, low=0.2, high=2)), dict(reduction="none")),
    ("gaussian_nll_loss", (a34, b34, uniform(3, 4, low=0.001, high=0.02)), dict(eps=0.01)),
    ("cross_entropy", (x56, const(t56)), {}),
    ("cross_entropy", (x56, const(t56)), dict(reduction="sum")),
    ("cross_entropy", (x56, const(t56)), dict(reduction="none")),
    ("cross_entropy", (x56, const(t56)), dict(weight=W(w6))),
    ("cross_entropy", (x56, const(ti56)), {}),
    ("cross_entropy", (x56, const(ti56)), dict(weight=W(w6), reduction="none")),
    ("cross_entropy", (x56, const(t56)), dict(ignore_index=int(t56[0]), weight=W(w6))),
    ("cross_entropy", (x56, const(t56)), dict(label_smoothing=0.1)),
    ("cross_entropy", (x56, const(ti56)), dict(label_smoothing=0.2, weight=W(w6))),
    ("cross_entropy", (x56, const(ti56)), dict(label_smoothing=0.2, weight=W(w6), reduction="sum")),
    ("cross_entropy", (x56, const(ti56)), dict(label_smoothing=0.3, reduction="none")),
    ("cross_entropy", (rand(2, 3, 4), const(labels(2, 4, C=3, ignore=(2,)))), {}),
    ("cross_entropy", (rand(2, 3, 2, 2), const(labels(2, 2, 2, C=3))),
     dict(weight=W(w6[:3]), label_smoothing=0.1, reduction="none")),
    ("cross_entropy", (rand(6), const(np.array(2))), {}),
    ("cross_entropy", (rand(5, 6) * 1000, const(ti56)), dict(label_smoothing=0.1)),    # shifted by max
    ("cross_entropy", (rand(2, 3, 4) * 1000, const(labels(2, 4, C=3))), dict(reduction="none")),
    ("cross_entropy", (rand(6) * 1000, const(np.array(4))), dict(reduction="none")),
    ("cross_entropy", (rand(0, 4), const(np.zeros(0, dtype=np.int64))), dict(reduction="sum")),
    ("cross_entropy", (x56, probs(5, 6, seed=1)), {}),
    ("cross_entropy", (x56, probs(5, 6, seed=1)), dict(weight=W(w6), label_smoothing=0.2)),
    ("cross_entropy", (x56, probs(5, 6, seed=1)), dict(reduction="none")),
    ("cross_entropy", (rand(2, 3, 4), probs(2, 3, 4, seed=1)), dict(weight=W(w6[:3]), reduction="sum")),
    ("cross_entropy", (rand(6), probs(6, dim=0, seed=1)), {}),
    ("nll_loss", (x56, const(t56)), {}),
    ("nll_loss", (x56, const(ti56)), dict(weight=W(w6))),
    ("nll_loss", (x56, const(ti56)), dict(weight=W(w6), reduction="none")),
    ("nll_loss", (x56, const(t56)), dict(reduction="sum", ignore_index=int(t56[1]))),
    ("nll_loss", (rand(2, 3, 2, 2), const(labels(2, 2, 2, C=3, ignore=(5,)))), dict(weight=W(w6[:3]))),
    ("nll_loss", (rand(6), const(np.array(1))), dict(reduction="none")),
    ("binary_cross_entropy", (p34, q34), {}),
    ("binary_cross_entropy", (p34, q34), dict(weight=W(w4), reduction="sum")),
    ("binary_cross_entropy", (uniform(5, low=0.05, high=0.95), const(np.array([0., 1., 1., 0., 1.]))),
     dict(reduction="none")),
    ("binary_cross_entropy_with_logits", (rand(3, 4, low=-3, high=3), q34), {}),
    ("binary_cross_entropy_with_logits", (rand(3, 4, low=-3, high=3), q34),
     dict(weight=W(w4), pos_weight=W(uniform(4, low=0.5, high=3, seed=2)))),
    ("binary_cross_entropy_with_logits", (np.array([-60., -1., 0.5, 60.]), np.array([1., 0., 1., 0.])),
     dict(reduction="none")),
    ("kl_div", (logp34, np.exp(logq34)), dict(reduction="batchmean")),
    ("kl_div", (logp34, np.exp(logq34)), dict(reduction="sum")),
    ("kl_div", (logp34, np.exp(logq34)), dict(reduction="none")),
    ("kl_div", (logp34, logq34), dict(reduction="batchmean", log_target=True)),
    ("multi_margin_loss", (x56, const(t56)), {}),
    ("multi_margin_loss", (x56, const(t56)), dict(p=2, margin=0.7, weight=W(w6), reduction="none")),
    ("multi_margin_loss", (rand(6), const(np.array(3))), dict(reduction="sum")),
    ("multilabel_margin_loss", (rand(3, 5), const(np.array([[3, 0, -1, 1, 4], [1, 2, 3, 4, 0],
                                                             [-1, 0, 1, 2, 3]]))), {}),
    ("multilabel_margin_loss", (rand(3, 5), const(np.array([[3, 3, -1, 1, 4], [1, 2, -1, 4, 0],
                                                             [0, -1, 1, 2, 3]]))), dict(reduction="none")),
    ("multilabel_margin_loss", (rand(4), const(np.array([2, 0, -1, 1]))), {}),
    ("multilabel_soft_margin_loss", (a34, const((rand(3, 4, seed=1) > 0) * 1.0)), {}),
    ("multilabel_soft_margin_loss", (a34, q34), dict(weight=W(w4), reduction="none")),
    ("soft_margin_loss", (a34, const(signs(3, 4))), {}),
    ("soft_margin_loss", (a34, const(signs(3, 4, seed=1))), dict(reduction="none")),
    ("hinge_embedding_loss", (rand(3, 4, low=-2, high=2), const(signs(3, 4))), {}),
    ("hinge_embedding_loss", (rand(3, 4, low=-2, high=2), const(signs(3, 4))),
     dict(margin=0.5, reduction="none")),
    ("cosine_embedding_loss", (rand(4, 5), rand(4, 5, seed=1), const(signs(4))), {}),
    ("cosine_embedding_loss", (rand(4, 5), rand(4, 5, seed=1), const(signs(4, seed=1))),
     dict(margin=-0.3, reduction="none")),
    ("cosine_embedding_loss", (rand(5), rand(5, seed=1), const(np.array(-1.0))), dict(margin=-0.5)),
    ("margin_ranking_loss", (rand(5), rand(5, seed=1), signs(5)), {}),
    ("margin_ranking_loss", (rand(5), rand(5, seed=1), const(signs(5))),
     dict(margin=0.3, reduction="none")),
    ("triplet_margin_loss", triplet, {}),
    ("triplet_margin_loss", triplet, dict(p=1, margin=2.0, reduction="none")),
    ("triplet_margin_loss", triplet, dict(swap=True, margin=3.0, reduction="sum")),
    ("triplet_margin_loss", (rand(3), rand(3, seed=1), rand(3, seed=2)), dict(p=3, margin=3.0)),
    ("triplet_margin_with_distance_loss", triplet, dict(swap=True, margin=3.0)),
]

# Piecewise-linear losses: their second derivatives are zero, which PyTorch leaves
# unimplemented or returns as a ZeroTensor that the oracle cannot read.
NO_GRADGRAD = {"l1_loss", "multi_margin_loss", "multilabel_margin_loss", "margin_ranking_loss",
               "hinge_embedding_loss"}
# PyTorch has no forward AD for these.  (Also its gaussian_nll_loss clamps var in place under
# no_grad, which its VJP ignores but its JVP does not; ours follows the VJP.)
NO_JVP = {"multi_margin_loss", "multilabel_margin_loss"}


def _id(case):
    name, _, kw = case
    opts = ",".join(f"{k}={'w' if isinstance(v, W) else v}" for k, v in kw.items())
    return f"{name}({opts})"


def _check_loss(name, args, kw):
    # var clamped to eps keeps its gradient in PyTorch: finite differences see a flat loss
    clamped = name == "gaussian_nll_loss" and "eps" in kw
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # legacy 'mean' of kl_div, NaN of empty means
        check(lambda *a: getattr(F, name)(*a, **_opts(kw, dp)),
              lambda *a: getattr(TF, name)(*a, **_opts(kw, torch)), *args,
              gradgrad=not (name in NO_GRADGRAD or kw.get("p") == 1 or kw.get("beta") == 0),
              jvp=name not in NO_JVP and not clamped, fd=not clamped)


@pytest.mark.parametrize("name,args,kw", CASES, ids=[_id(c) for c in CASES])
def test_loss(name, args, kw):
    _check_loss(name, args, kw)


def _f32(a):
    if isinstance(a, np.ndarray) and a.dtype == np.float64:
        return a.astype(np.float32)
    if isinstance(a, const) and a.value.dtype == np.float64:
        return const(a.value.astype(np.float32))
    return W(a.value.astype(np.float32)) if isinstance(a, W) else a


F32 = [c for c in CASES if c[0] in ("mse_loss", "cross_entropy", "nll_loss", "binary_cross_entropy",
                                     "binary_cross_entropy_with_logits", "kl_div", "huber_loss")][::2]


@pytest.mark.parametrize("name,args,kw", F32, ids=[_id(c) for c in F32])
def test_loss_float32(name, args, kw):
    _check_loss(name, tuple(_f32(a) for a in args), {k: _f32(v) for k, v in kw.items()})


@pytest.mark.parametrize("scale", [20, 500])
def test_cross_entropy_large_classes_float32(scale):
    x, t = rand(16, 1000, dtype=np.float32, low=-scale, high=scale), labels(16, C=1000)
    check(lambda x, t: F.cross_entropy(x, t), lambda x, t: TF.cross_entropy(x, t), x, const(t))


def test_cross_entropy_masked_logits():
    """-inf logits (masked classes) get probability 0 and gradient 0."""
    x = rand(3, 5)
    x[:, 1] = -np.inf
    d, tx = dp.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    F.cross_entropy(d, dp.tensor([0, 2, 4])).backward()
    TF.cross_entropy(tx, torch.tensor([0, 2, 4])).backward()
    np.testing.assert_allclose(d.grad.numpy(), tx.grad.numpy(), atol=1e-12)


def test_cross_entropy_equals_composite():
    """The fused op equals log_softmax + nll_loss, derivatives of every order included."""
    x = dp.tensor(rand(5, 6), requires_grad=True)
    t = dp.tensor(ti56)
    a, b = F.cross_entropy(x, t), F.nll_loss(x.log_softmax(1), t)
    assert np.allclose(a.item(), b.item())
    ga, = dp.autograd.grad(a, x, create_graph=True)
    gb, = dp.autograd.grad(b, x, create_graph=True)
    np.testing.assert_allclose(ga.detach().numpy(), gb.detach().numpy(), atol=1e-12)
    v = dp.tensor(rand(5, 6, seed=4))
    hva, = dp.autograd.grad((ga * v).sum(), x, create_graph=True)
    hvb, = dp.autograd.grad((gb * v).sum(), x, create_graph=True)
    np.testing.assert_allclose(hva.detach().numpy(), hvb.detach().numpy(), atol=1e-12)
    third_a, = dp.autograd.grad((hva * hva).sum(), x)
    third_b, = dp.autograd.grad((hvb * hvb).sum(), x)
    np.testing.assert_allclose(third_a.numpy(), third_b.numpy(), atol=1e-12)


def test_cross_entropy_all_ignored_is_nan():
    x = dp.tensor(rand(3, 4), requires_grad=True)
    loss = F.cross_entropy(x, dp.tensor(np.full(3, -100)))
    expected = TF.cross_entropy(torch.tensor(rand(3, 4)), torch.full((3,), -100))
    assert np.isnan(loss.item()) and np.isnan(expected.item())
    loss.backward()
    assert not x.grad.numpy().any()              # zero, as PyTorch


def test_cross_entropy_training_step():
    """A linear classifier learns with CrossEntropyLoss and backward()."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 5))
    y = X[:, :3].argmax(1)
    w = dp.zeros(5, 3, dtype=dp.float64, requires_grad=True)
    loss_fn = nn.CrossEntropyLoss()
    first = None
    for _ in range(50):
        loss = loss_fn(dp.tensor(X) @ w, dp.tensor(y))
        first = first if first is not None else loss.item()
        w.grad = None
        loss.backward()
        with dp.no_grad():
            w -= 0.5 * w.grad
    assert loss.item() < 0.5 * first


def test_legacy_size_average_reduce():
    x, y = rand(3, 4), rand(3, 4, seed=1)
    for kw, red in [(dict(size_average=False), "sum"), (dict(reduce=False), "none"),
                    (dict(size_average=True, reduce=True), "mean")]:
        with pytest.warns(UserWarning, match=f"reduction='{red}'"):
            got = F.mse_loss(dp.tensor(x), dp.tensor(y), **kw)
        want = F.mse_loss(dp.tensor(x), dp.tensor(y), reduction=red)
        np.testing.assert_allclose(got.numpy(), want.numpy())
        with pytest.warns(UserWarning):
            assert nn.L1Loss(**kw).reduction == red
    t = dp.tensor(t56)
    with pytest.warns(UserWarning):
        got = F.cross_entropy(dp.tensor(x56), t, size_average=False)
    np.testing.assert_allclose(got.item(), TF.cross_entropy(torch.tensor(x56), torch.tensor(t56),
                                                             reduction="sum").item())


def test_mse_broadcast_warns():
    with pytest.warns(UserWarning, match=r"target size \(3, 1\).*input size \(3, 4\)"):
        check(lambda a, b: F.mse_loss(a, b), lambda a, b: TF.mse_loss(a, b), rand(3, 4), rand(3, 1))


# --- modules -------------------------------------------------------------------------

# (class name, constructor options, call arguments): same values as torch, same repr.
MODULES = [
    ("L1Loss", {}, (a34, b34)),
    ("MSELoss", dict(reduction="sum"), (a34, b34)),
    ("SmoothL1Loss", dict(beta=0.5), (a34, b34)),
    ("HuberLoss", dict(delta=0.5, reduction="none"), (a34, b34)),
    ("PoissonNLLLoss", dict(full=True), (a34, uniform(3, 4, low=0, high=3))),
    ("GaussianNLLLoss", dict(full=True), (a34, b34, uniform(3, 4, low=0.2, high=2))),
    ("CrossEntropyLoss", {}, (x56, const(t56))),
    ("CrossEntropyLoss", dict(weight=W(w6), ignore_index=2, label_smoothing=0.1), (x56, const(t56))),
    ("NLLLoss", dict(weight=W(w6), reduction="none"), (x56, const(ti56))),
    ("BCELoss", dict(weight=W(w4)),
     (p34, q34)),
    ("BCEWithLogitsLoss", dict(pos_weight=W(w4)), (a34, q34)),
    ("KLDivLoss", dict(reduction="batchmean", log_target=True), (logp34, logq34)),
    ("MultiMarginLoss", dict(p=2, margin=0.5, weight=W(w6)), (x56, const(t56))),
    ("MultiLabelMarginLoss", {}, (rand(2, 3), const(np.array([[2, -1, 0], [0, 1, -1]])))),
    ("MultiLabelSoftMarginLoss", dict(weight=W(w4)), (a34, const((rand(3, 4, seed=1) > 0) * 1.))),
    ("SoftMarginLoss", {}, (a34, const(signs(3, 4)))),
    ("HingeEmbeddingLoss", dict(margin=0.5), (a34, const(signs(3, 4)))),
    ("CosineEmbeddingLoss", dict(margin=0.1), (rand(4, 5), rand(4, 5, seed=1), const(signs(4)))),
    ("MarginRankingLoss", dict(margin=0.2), (rand(5), rand(5, seed=1), const(signs(5)))),
    ("TripletMarginLoss", dict(margin=2.0, p=1, swap=True), triplet),
    ("TripletMarginWithDistanceLoss", dict(
        margin=2.0, distance_function=lambda a, b: (a - b).abs().sum(-1)),
     triplet),
]


@pytest.mark.parametrize("cls,kw,args", MODULES, ids=[f"{c}{i}" for i, (c, _, _) in enumerate(MODULES)])
def test_module(cls, kw, args):
    mod, tmod = getattr(nn, cls)(**_opts(kw, dp)), getattr(torch.nn, cls)(**_opts(kw, torch))
    assert repr(mod) == repr(tmod)
    assert mod.reduction == tmod.reduction
    assert sorted(mod.state_dict()) == sorted(tmod.state_dict())
    check(mod, tmod, *args, gradgrad=False, jvp=False, fd=False)


def test_module_equals_functional():
    w = dp.tensor(w6)
    mod = nn.CrossEntropyLoss(weight=w, ignore_index=1, reduction="sum", label_smoothing=0.05)
    x, t = dp.tensor(x56), dp.tensor(t56)
    assert mod(x, t).item() == F.cross_entropy(x, t, weight=w, ignore_index=1, reduction="sum",
                                               label_smoothing=0.05).item()
    assert mod.weight is w and mod.ignore_index == 1 and mod.label_smoothing == 0.05
    assert nn.MSELoss()(x, x * 2).item() == F.mse_loss(x, x * 2).item()


def test_module_weight_follows_to():
    mod = nn.CrossEntropyLoss(weight=dp.tensor(w6)).to(dp.float32)
    assert mod.weight.dtype == dp.float32
    out = mod(dp.tensor(x56.astype(np.float32)), dp.tensor(t56))
    assert out.dtype == dp.float32


# --- errors --------------------------------------------------------------------------

def _raises(exc, match, fn, *args, **kw):
    with pytest.raises(exc, match=match):
        fn(*args, **kw)


x310 = dp.tensor(rand(3, 10))
ERRORS = [
    (IndexError, r"cross_entropy: target 12 is out of bounds for 10 classes",
     F.cross_entropy, x310, dp.tensor([1, 12, 3])),
    (IndexError, r"cross_entropy: target -2 is out of bounds", F.cross_entropy, x310,
     dp.tensor([1, -2, 3])),
    (IndexError, r"nll_loss: target 10 is out of bounds", F.nll_loss, x310, dp.tensor([1, 10, 3])),
    (ValueError, r"cross_entropy: .*batch_size \(3\).*batch_size \(4\).*\(3, 10\) float64.*\(4,\) int64",
     F.cross_entropy, x310, dp.tensor([1, 2, 3, 4])),
    (RuntimeError, r"cross_entropy: .*\(3, 10\) float64, target \(3, 9\) float64",
     F.cross_entropy, x310, dp.tensor(rand(3, 9))),
    (RuntimeError, r"cross_entropy: .*floating point target.*int64",
     F.cross_entropy, x310, dp.zeros(3, 10, dtype=dp.int64)),
    (RuntimeError, r"cross_entropy: expected target of shape \(2, 4\).*target \(2, 5\)",
     F.cross_entropy, dp.tensor(rand(2, 3, 4)), dp.zeros(2, 5, dtype=dp.int64)),
    (RuntimeError, r"nll_loss: .*floating point input", F.nll_loss, dp.zeros(3, 10, dtype=dp.int64),
     dp.tensor([1, 2, 3])),
    (RuntimeError, r"cross_entropy: weight should have one entry per class \(10\), got weight of "
                   r"shape \(9,\)", F.cross_entropy, x310, dp.tensor([1, 2, 3]),
     dp.ones(9)),
    (RuntimeError, r"label_smoothing", F.cross_entropy, x310, dp.tensor([1, 2, 3]), None, None, -100,
     None, "mean", 1.5),
    (ValueError, r"cross_entropy: avg is not a valid value for reduction", F.cross_entropy, x310,
     dp.tensor([1, 2, 3]), None, None, -100, None, "avg"),
    (ValueError, r"mse_loss: avg is not a valid", F.mse_loss, x310, x310, None, None, "avg"),
    (ValueError, r"binary_cross_entropy: .*target size \(3, 1\).*input size \(3,\)",
     F.binary_cross_entropy, dp.rand(3), dp.rand(3, 1)),
    (RuntimeError, r"binary_cross_entropy: all elements of input should be between 0 and 1",
     F.binary_cross_entropy, dp.rand(3) + 1, dp.rand(3)),
    (ValueError, r"binary_cross_entropy_with_logits: target size \(3, 1\) must be the same as input "
                 r"size \(3,\)", F.binary_cross_entropy_with_logits, dp.rand(3), dp.rand(3, 1)),
    (ValueError, r"only p == 1 and p == 2", F.multi_margin_loss, x310, dp.tensor([1, 2, 3]), 3),
    (RuntimeError, r"multi_margin_loss: target 10 is out of bounds", F.multi_margin_loss, x310,
     dp.tensor([1, 10, 3])),
    (ValueError, r"gaussian_nll_loss: var has negative", F.gaussian_nll_loss, x310, x310,
     -dp.ones(3, 10)),
    (ValueError, r"gaussian_nll_loss: var is of incorrect size", F.gaussian_nll_loss, x310, x310,
     dp.ones(2, 10)),
    (ValueError, r"weights and input must have the same size", F.mse_loss, x310, x310, None, None,
     "mean", dp.ones(10)),
    (RuntimeError, r"margin_ranking_loss: .*same dimension", F.margin_ranking_loss, dp.rand(3),
     dp.rand(3), dp.ones(3, 1)),
    (RuntimeError, r"multilabel_margin_loss: .*out of bounds", F.multilabel_margin_loss, x310[:2, :3],
     dp.tensor([[5, -1, 0], [0, 1, 2]])),
    (RuntimeError, r"multi_margin_loss: .*class indices of shape \(3,\).*target \(3, 1\)",
     F.multi_margin_loss, x310, dp.tensor([[1], [2], [3]])),
    (ValueError, r"MultiMarginLoss: only p == 1 and p == 2", nn.MultiMarginLoss, 3),
    (ValueError, r"TripletMarginLoss: expected margin to be greater than 0", nn.TripletMarginLoss, 0.0),
]


@pytest.mark.parametrize("case", ERRORS, ids=[f"{i}-{e[2].__name__}" for i, e in enumerate(ERRORS)])
def test_errors(case):
    exc, match, fn, *args = case
    _raises(exc, match, fn, *args)


@pytest.mark.parametrize("i", [i for i, e in enumerate(ERRORS) if e[2].__name__[0].islower()])
def test_torch_raises_too(i):
    """Each bad call above is also an error in PyTorch (same exception class)."""
    exc, _, fn, *args = ERRORS[i]
    targs = [torch.tensor(a.numpy()) if isinstance(a, dp.Tensor) else a for a in args]
    with pytest.raises(exc):
        getattr(TF, fn.__name__)(*targs)


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_binary_cross_entropy_checks_targets_as_pytorch(bad):
    for lib in (dp, torch):
        with pytest.raises(RuntimeError, match="all elements of target should be between 0 and 1"):
            lib.nn.functional.binary_cross_entropy(lib.tensor([0.5, 0.5]), lib.tensor([1.0, bad]))
