"""The nn additions for PyTorch compatibility: 3-d pooling, Fold/Unfold, distances, CTC
loss, lazy modules, backward and state-dict hooks, small activations; against PyTorch."""
import numpy as np
import pytest

import diffprog as dp
import diffprog.nn as nn
import diffprog.nn.functional as F
from oracle import check, rand, torch

V = rand(2, 3, 5, 6, 7, seed=1)


def _both(fn):
    return (lambda *a: fn(dp, *a)), (lambda *a: fn(torch, *a))


POOL3D = [
    ("max_pool3d", lambda m, x: m.nn.functional.max_pool3d(x, 2)),
    ("max_pool3d_opts", lambda m, x: m.nn.functional.max_pool3d(x, (3, 2, 2), (2, 1, 2), 1, (1, 2, 1),
                                                              ceil_mode=True)),
    ("max_pool3d_idx", lambda m, x: m.nn.functional.max_pool3d(x, 2, return_indices=True)),
    ("avg_pool3d", lambda m, x: m.nn.functional.avg_pool3d(x, 2)),
    ("avg_pool3d_opts", lambda m, x: m.nn.functional.avg_pool3d(x, 3, 2, 1, ceil_mode=True,
                                                              count_include_pad=False)),
    ("avg_pool3d_div", lambda m, x: m.nn.functional.avg_pool3d(x, 2, divisor_override=3)),
    ("adaptive_avg_pool3d", lambda m, x: m.nn.functional.adaptive_avg_pool3d(x, (2, 4, 3))),
    ("adaptive_avg_pool3d_none", lambda m, x: m.nn.functional.adaptive_avg_pool3d(x, (None, 1, 2))),
    ("adaptive_max_pool3d", lambda m, x: m.nn.functional.adaptive_max_pool3d(x, (2, 3, 4),
                                                                           return_indices=True)),
    ("lp_pool3d", lambda m, x: m.nn.functional.lp_pool3d(x.abs() + 0.1, 2, 2)),
    ("max_pool2d_with_indices", lambda m, x: m.nn.functional.max_pool2d_with_indices(x[0], 2)),
    ("unbatched", lambda m, x: m.nn.functional.max_pool3d(x[0], 3, 2)),
    ("channel_shuffle", lambda m, x: m.nn.functional.channel_shuffle(x[:, :, 0].repeat(1, 2, 1, 1), 3)),
    ("pad3d_reflect", lambda m, x: m.nn.functional.pad(x, (1, 2, 0, 1, 2, 1), mode="reflect")),
    ("pad3d_circular", lambda m, x: m.nn.functional.pad(x, (1, 2, 0, 1, 2, 1), mode="circular")),
]


@pytest.mark.parametrize("case", POOL3D, ids=[c[0] for c in POOL3D])
def test_3d_pooling_matches_torch(case):
    _, fn = case
    check(*_both(fn), V)


@pytest.mark.parametrize("k", [1, 3])
def test_max_unpool_inverts_max_pool(k):
    shape = {1: (2, 3, 8), 3: (1, 2, 4, 4, 6)}[k]
    x = rand(*shape, seed=4)

    def run(m, t):
        f = m.nn.functional
        pool = getattr(f, f"max_pool{k}d")(t, 2, return_indices=True)
        return getattr(f, f"max_unpool{k}d")(pool[0] * 2, pool[1], 2)
    check(*_both(run), x)


def test_pdist_rrelu_feature_alpha_dropout():
    # PyTorch's pdist has no second derivative; ours (a composite) has one
    # PyTorch's pdist has no second derivative and no JVP; ours (a composite) has both
    check(*_both(lambda m, x: m.nn.functional.pdist(x)), rand(5, 3, seed=2), gradgrad=False, jvp=False)
    check(*_both(lambda m, x: m.nn.functional.pdist(x, p=1.5)), rand(4, 3, seed=3), gradgrad=False,
          jvp=False)
    check(*_both(lambda m, x: m.pdist(x)), rand(4, 2, seed=5), gradgrad=False, jvp=False)
    check(*_both(lambda m, x: m.nn.functional.rrelu(x, 0.1, 0.3)), rand(3, 4))
    dp.manual_seed(0)
    x = dp.tensor(rand(2000) - 2.0)                      # mostly negative
    y = F.rrelu(x, 0.1, 0.3, training=True)
    slopes = (y / x).numpy()
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3 and abs(slopes.mean() - 0.2) < 0.01
    h = dp.randn(4, 6, 3, 3)
    assert F.feature_alpha_dropout(h, 0.5, training=False) is h
    out = F.feature_alpha_dropout(h, 0.5, training=True)
    dropped = (out - out.mean((2, 3), keepdim=True)).abs().amax((2, 3)) < 1e-6   # whole channels
    assert dropped.any() and not dropped.all()


def _copy(src, dst):
    with torch.no_grad():
        for k, v in dst.state_dict().items():
            v.copy_(torch.tensor(src.state_dict()[k].numpy()))


@pytest.mark.parametrize("make, args", [
    (lambda m: m.nn.Fold((4, 5), 2, stride=(1, 2)), [rand(2, 12, 6)]),
    (lambda m: m.nn.Unfold(2, dilation=1, padding=1, stride=2), [rand(2, 3, 5, 4)]),
    (lambda m: m.nn.CosineSimilarity(dim=0), [rand(4, 3), rand(4, 3, seed=7)]),
    (lambda m: m.nn.PairwiseDistance(p=1.0, keepdim=True), [rand(4, 3), rand(4, 3, seed=7)]),
    (lambda m: m.nn.MaxPool3d(2, stride=1), [V]),
    (lambda m: m.nn.AvgPool3d(3, padding=1), [V]),
    (lambda m: m.nn.AdaptiveAvgPool3d(2), [V]),
    (lambda m: m.nn.AdaptiveMaxPool3d((1, 2, 3)), [V]),
    (lambda m: m.nn.LPPool3d(2, 2), [np.abs(V) + 0.1]),
    (lambda m: m.nn.ChannelShuffle(3), [rand(2, 6, 3)]),
    (lambda m: m.nn.ReflectionPad3d((1, 0, 2, 1, 1, 1)), [V]),
    (lambda m: m.nn.ReplicationPad3d(1), [V]),
    (lambda m: m.nn.ConstantPad3d(1, 2.5), [V]),
    (lambda m: m.nn.ZeroPad3d((1, 0, 0, 1, 2, 0)), [V]),
    (lambda m: m.nn.CircularPad3d(1), [V]),
    (lambda m: m.nn.RReLU(0.2, 0.4).eval(), [rand(3, 4)]),
    (lambda m: m.nn.FeatureAlphaDropout(0.3).eval(), [rand(3, 4)]),
])
def test_modules_match_torch(make, args):
    d, t = make(dp), make(torch)
    assert repr(d) == repr(t)
    check(lambda *a: d(*a), lambda *a: t(*a), *args)


# --- CTC ---------------------------------------------------------------------------------------

LOGITS = rand(6, 3, 5, seed=11, low=-2, high=2)
TARGETS = np.array([[1, 2, 2], [3, 1, 0], [4, 0, 0]])
LENGTHS = ((6, 5, 4), (3, 2, 1))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_ctc_loss_through_log_softmax(reduction):
    def run(m, x):
        lp = x.log_softmax(2)
        return m.nn.functional.ctc_loss(lp, m.tensor(TARGETS), *LENGTHS, blank=0,
                                        reduction=reduction)
    check(*_both(run), LOGITS, gradgrad=False, jvp=False)


def test_ctc_loss_gradient_is_pytorchs_on_log_probs():
    """PyTorch's gradient on raw log-probabilities (the logits' gradient, see ops/ctc.py):
    compared without finite differences, which measure the true partial derivative."""
    def run(m, lp):
        return m.nn.functional.ctc_loss(lp, m.tensor(TARGETS % 4), *LENGTHS, blank=4, reduction="sum")
    lp = np.log(np.exp(LOGITS) / np.exp(LOGITS).sum(2, keepdims=True))
    check(*_both(run), lp, gradgrad=False, jvp=False, fd=False)


def test_ctc_loss_variants():
    lp = torch.tensor(LOGITS).log_softmax(2)
    dlp = dp.tensor(LOGITS).log_softmax(2)
    flat = [1, 2, 2, 3, 1, 4]
    cases = [
        dict(targets=flat, kw=dict(reduction="none")),
        dict(targets=TARGETS, kw=dict(reduction="none", zero_infinity=True), lengths=((6, 1, 4), (3, 2, 1))),
        dict(targets=TARGETS, kw=dict(reduction="none"), lengths=((6, 1, 4), (3, 2, 1))),
        dict(targets=[[1, 1, 2], [2, 2, 2], [3, 0, 0]], kw=dict(reduction="sum"), lengths=((6, 5, 4), (3, 3, 1))),
        dict(targets=TARGETS, kw=dict(reduction="mean"), lengths=((6, 5, 4), (3, 0, 1))),
    ]
    for c in cases:
        lens = c.get("lengths", LENGTHS)
        a = dp.nn.functional.ctc_loss(dlp, dp.tensor(c["targets"]), *lens, **c["kw"])
        b = torch.nn.functional.ctc_loss(lp, torch.tensor(c["targets"]), *lens, **c["kw"])
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10)
    a = dp.nn.CTCLoss()(dlp[:, 0], dp.tensor([1, 2]), (6,), (2,))
    b = torch.nn.CTCLoss()(lp[:, 0], torch.tensor([1, 2]), (6,), (2,))
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10)


def test_ctc_loss_zero_infinity_gradient_and_jvp():
    from diffprog.autograd import forward_ad as fw
    x = dp.tensor(LOGITS, requires_grad=True)
    loss = dp.nn.functional.ctc_loss(x.log_softmax(2), dp.tensor(TARGETS), (6, 1, 4), (3, 2, 1),
                                     reduction="sum", zero_infinity=True)   # sample 1 impossible
    loss.backward()
    assert np.isfinite(x.grad.numpy()).all() and not x.grad.numpy()[:, 1].any()
    lp, v = dp.tensor(LOGITS).log_softmax(2), rand(6, 3, 5, seed=12)
    lp.requires_grad_(True)
    (g,) = dp.autograd.grad(dp.nn.functional.ctc_loss(lp, dp.tensor(TARGETS), *LENGTHS, reduction="sum"), lp)
    with fw.dual_level():
        out = dp.nn.functional.ctc_loss(fw.make_dual(lp.detach(), dp.tensor(v)), dp.tensor(TARGETS),
                                        *LENGTHS, reduction="sum")
        tangent = fw.unpack_dual(out).tangent
    np.testing.assert_allclose(tangent.numpy(), (g.numpy() * v).sum(), rtol=1e-10)
    (g,) = dp.autograd.grad(dp.nn.functional.ctc_loss(lp, dp.tensor(TARGETS), *LENGTHS), lp,
                            create_graph=True)
    with pytest.raises(RuntimeError, match="_ctc_loss_backward is not implemented"):
        g.sum().backward()
    with pytest.raises(RuntimeError, match="input_lengths"):
        dp.nn.functional.ctc_loss(lp, dp.tensor(TARGETS), (7, 5, 4), (3, 2, 1))


# --- lazy modules ------------------------------------------------------------------------------

@pytest.mark.parametrize("make, shape", [
    (lambda m: m.nn.LazyLinear(3), (2, 5)),
    (lambda m: m.nn.LazyConv1d(4, 3), (2, 3, 8)),
    (lambda m: m.nn.LazyConv2d(4, 3, padding=1, bias=False), (2, 2, 5, 5)),
    (lambda m: m.nn.LazyConv3d(2, 2), (1, 3, 4, 4, 4)),
    (lambda m: m.nn.LazyConvTranspose2d(4, 3, groups=2), (1, 2, 5, 5)),
    (lambda m: m.nn.LazyConvTranspose1d(3, 2, stride=2), (2, 4, 5)),
    (lambda m: m.nn.LazyBatchNorm1d(), (4, 3)),
    (lambda m: m.nn.LazyBatchNorm2d(momentum=0.2), (2, 3, 4, 4)),
    (lambda m: m.nn.LazyInstanceNorm1d(), (2, 3, 5)),
    (lambda m: m.nn.LazyInstanceNorm2d(affine=False, track_running_stats=False), (2, 3, 4, 4)),
])
def test_lazy_modules_become_their_class(make, shape):
    d, t = make(dp), make(torch)
    assert repr(d) == repr(t)
    assert [n for n, _ in d.named_parameters()] == [n for n, _ in t.named_parameters()]
    params = list(d.parameters())
    opt = dp.optim.SGD(params, lr=0.1) if params else None
    x = rand(*shape, seed=3).astype(np.float32)
    t(torch.tensor(x))
    y = d(dp.tensor(x))
    assert type(d).__name__ == type(t).__name__ and repr(d) == repr(t)
    assert [tuple(p.shape) for p in d.parameters()] == [tuple(p.shape) for p in t.parameters()]
    assert all(a is b for a, b in zip(params, d.parameters()))   # the optimizer's own objects
    assert {k: tuple(v.shape) for k, v in d.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in t.state_dict().items()}
    if params:
        y.sum().backward()
        opt.step()
    _copy(d, t)
    np.testing.assert_allclose(d(dp.tensor(x)).detach().numpy(), t(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_lazy_module_loads_shapes_from_a_state_dict():
    lazy = nn.LazyLinear(3)
    source = nn.Linear(5, 3)
    assert repr(lazy.load_state_dict(source.state_dict())) == "<All keys matched successfully>"
    assert lazy.weight.shape == (3, 5) and lazy.in_features == 5
    np.testing.assert_array_equal(lazy(dp.ones(1, 5)).detach().numpy(),
                                  source(dp.ones(1, 5)).detach().numpy())
    assert type(lazy) is nn.Linear
    with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized parameter"):
        nn.LazyLinear(2).weight.shape
    assert repr(nn.LazyLinear(2).weight) == "<UninitializedParameter>"


# --- hooks ---------------------------------------------------------------------------------------

def _hooked_run(m, need_input_grad=True):
    lin = m.nn.Linear(3, 2).double()
    with m.no_grad():
        lin.weight.copy_(m.tensor(np.arange(6.0).reshape(2, 3) / 10))
        lin.bias.fill_(0.1)
    log = []
    lin.register_full_backward_pre_hook(
        lambda mod, go: (log.append(("pre", [g.tolist() for g in go])), (go[0] * 2,))[1])
    lin.register_full_backward_hook(
        lambda mod, gi, go: log.append(("full", [None if g is None else g.tolist() for g in gi],
                                        [g.tolist() for g in go])))
    h = lin.register_full_backward_hook(lambda mod, gi, go: (gi[0] * 0,) if need_input_grad else None)
    x = m.tensor(np.ones((1, 3)), requires_grad=need_input_grad)
    (lin(x) ** 2).sum().backward()
    log.append(("grads", None if x.grad is None else x.grad.tolist(), lin.weight.grad.tolist()))
    h.remove()
    x = m.tensor(np.ones((1, 3)), requires_grad=need_input_grad)
    (lin(x) ** 2).sum().backward()
    log.append(("again", None if x.grad is None else x.grad.tolist()))
    return log


@pytest.mark.parametrize("need_input_grad", [True, False])
def test_full_backward_hooks_match_torch(need_input_grad):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d, t = _hooked_run(dp, need_input_grad), _hooked_run(torch, need_input_grad)
    assert _rounded(d) == _rounded(t)


def _rounded(v):
    if isinstance(v, (list, tuple)):
        return [_rounded(x) for x in v]
    return round(v, 9) if isinstance(v, float) else v


def test_full_backward_hook_warns_without_input_grads():
    lin = nn.Linear(2, 2)
    lin.register_full_backward_hook(lambda *a: None)
    with pytest.warns(UserWarning, match="no inputs require gradients"):
        lin(dp.ones(1, 2)).sum().backward()


def test_state_dict_hooks_match_torch():
    def run(m):
        net = m.nn.Sequential(m.nn.Linear(2, 2), m.nn.Linear(2, 1))
        seen = []
        net[0].register_state_dict_pre_hook(lambda mod, prefix, keep: seen.append(("pre", prefix)))
        net.register_state_dict_post_hook(
            lambda mod, sd, prefix, meta: seen.append(("post", sorted(sd))))
        net[1]._register_state_dict_hook(lambda mod, sd, prefix, meta: {prefix + "only": 1})
        sd = net.state_dict()
        seen.append(("result", sorted(sd)))

        def rename(mod, sd, prefix, *rest):
            if prefix + "w" in sd:
                sd[prefix + "weight"] = sd.pop(prefix + "w")
        net[0].register_load_state_dict_pre_hook(rename)
        def post(mod, keys):
            seen.append(("loaded", sorted(keys.missing_keys)))
            keys.missing_keys.clear()
        net.register_load_state_dict_post_hook(post)
        source = {"0.w": m.ones(2, 2), "0.bias": m.zeros(2)}
        out = net.load_state_dict(source)
        seen.append(("source", sorted(source), repr(out)))
        seen.append(("weight", net[0].weight.tolist()))
        return seen
    assert run(dp) == run(torch)


def test_post_hook_must_return_none():
    net = nn.Linear(2, 2)
    net.register_state_dict_post_hook(lambda *a: {})
    with pytest.raises(RuntimeError, match="must return None"):
        net.state_dict()
