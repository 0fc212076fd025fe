"""nn.init: gains and fans equal torch's; random schemes have the right distribution
(mean, std, bounds) for fixed seeds; fills are in place, untracked, and respect generator=."""
import math

import numpy as np
import pytest

from oracle import torch

import diffprog as dp
from diffprog import nn
from diffprog.nn import init


@pytest.mark.parametrize("args", [("linear",), ("conv2d",), ("sigmoid",), ("tanh",), ("relu",),
                                  ("leaky_relu",), ("leaky_relu", 0.2), ("leaky_relu", 1), ("selu",)])
def test_calculate_gain_matches_torch(args):
    assert init.calculate_gain(*args) == torch.nn.init.calculate_gain(*args)


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", True)


@pytest.mark.parametrize("shape", [(3, 4), (5, 2), (8, 3, 3), (16, 4, 3, 3), (2, 3, 2, 2, 2), (0, 4)])
def test_fans_match_torch(shape):
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init._calculate_fan_in_and_fan_out(dp.empty(*shape)) == expected


def test_fans_need_two_dims():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(dp.empty(3))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(dp.empty(3, 3), mode="fan_avg")


def _stats(fn, shape=(400, 500), **kwargs):
    dp.manual_seed(0)
    t = dp.empty(*shape)
    out = fn(t, **kwargs)
    assert out is t
    return t.numpy()


@pytest.mark.parametrize("name,kwargs,lo,hi,std", [
    ("uniform_", dict(a=-2.0, b=3.0), -2.0, 3.0, 5 / math.sqrt(12)),
    ("xavier_uniform_", dict(gain=2.0), -2 * math.sqrt(6 / 900), 2 * math.sqrt(6 / 900), 2 * math.sqrt(2 / 900)),
    ("kaiming_uniform_", dict(), -math.sqrt(6 / 500), math.sqrt(6 / 500), math.sqrt(2 / 500)),
    ("kaiming_uniform_", dict(a=math.sqrt(5)), -1 / math.sqrt(500), 1 / math.sqrt(500), 1 / math.sqrt(1500)),
    ("kaiming_uniform_", dict(mode="fan_out", nonlinearity="relu"), -math.sqrt(6 / 400), math.sqrt(6 / 400),
     math.sqrt(2 / 400)),
])
def test_uniform_schemes(name, kwargs, lo, hi, std):
    v = _stats(getattr(init, name), **kwargs)
    assert v.min() >= lo * (1 + 1e-6) and v.max() <= hi * (1 + 1e-6)
    assert v.min() < lo + 0.01 * (hi - lo) and v.max() > hi - 0.01 * (hi - lo)
    assert abs(v.mean() - (lo + hi) / 2) < 0.01 * (hi - lo)
    assert abs(v.std() / std - 1) < 0.01


@pytest.mark.parametrize("name,kwargs,mean,std", [
    ("normal_", dict(mean=1.5, std=0.5), 1.5, 0.5),
    ("xavier_normal_", dict(), 0.0, math.sqrt(2 / 900)),
    ("kaiming_normal_", dict(nonlinearity="relu"), 0.0, math.sqrt(2 / 500)),
    ("kaiming_normal_", dict(a=0.1, mode="fan_out"), 0.0, math.sqrt(2 / 1.01 / 400)),
])
def test_normal_schemes(name, kwargs, mean, std):
    v = _stats(getattr(init, name), **kwargs)
    assert abs(v.mean() - mean) < 0.01 * std + 1e-3 * abs(mean)
    assert abs(v.std() / std - 1) < 0.01


@pytest.mark.parametrize("mean,std,a,b", [(0.0, 1.0, -2.0, 2.0), (0.5, 2.0, -1.0, 1.0), (0.0, 0.02, -0.04, 0.04)])
def test_trunc_normal(mean, std, a, b):
    v = _stats(init.trunc_normal_, mean=mean, std=std, a=a, b=b)
    assert v.min() >= a and v.max() <= b
    ref = torch.nn.init.trunc_normal_(torch.empty(400, 500), mean, std, a, b).numpy()
    assert abs(v.mean() - ref.mean()) < 0.01 * (b - a)
    assert abs(v.std() / ref.std() - 1) < 0.02


@pytest.mark.parametrize("shape,gain", [((6, 6), 1.0), ((3, 7), 2.0), ((7, 3), 0.5), ((4, 2, 3), 1.0)])
def test_orthogonal(shape, gain):
    w = init.orthogonal_(dp.empty(*shape), gain=gain).numpy().reshape(shape[0], -1).astype(np.float64)
    rows, cols = w.shape
    gram = w @ w.T if rows <= cols else w.T @ w
    np.testing.assert_allclose(gram, gain ** 2 * np.eye(min(rows, cols)), atol=1e-5)


def test_constant_ones_zeros_eye_dirac():
    t = dp.empty(3, 4)
    assert init.constant_(t, 2.5) is t and (t.numpy() == 2.5).all()
    assert (init.ones_(t).numpy() == 1).all() and not init.zeros_(t).numpy().any()
    np.testing.assert_array_equal(init.eye_(dp.empty(3, 4)).numpy(), np.eye(3, 4))
    for shape, groups in [((4, 2, 3), 1), ((4, 2, 3, 3), 2), ((2, 2, 3, 3, 3), 1)]:
        expected = torch.nn.init.dirac_(torch.empty(shape), groups).numpy()
        np.testing.assert_array_equal(init.dirac_(dp.empty(*shape), groups).numpy(), expected)
    with pytest.raises(ValueError, match="2 dimensions"):
        init.eye_(dp.empty(2, 2, 2))


def test_sparse():
    dp.manual_seed(0)
    w = init.sparse_(dp.empty(10, 200), sparsity=0.3, std=0.5).numpy()
    assert ((w == 0).sum(0) == 3).all()
    assert abs(w[w != 0].std() / 0.5 - 1) < 0.05


def test_inits_are_in_place_untracked_and_seeded():
    p = nn.Parameter(dp.empty(5, 4))
    version = p._version
    init.kaiming_uniform_(p)
    assert p.is_leaf and p.grad_fn is None and p.requires_grad and p._version > version
    g1, g2 = dp.Generator().manual_seed(7), dp.Generator().manual_seed(7)
    a = init.normal_(dp.empty(3, 3), generator=g1).numpy()
    b = init.normal_(dp.empty(3, 3), generator=g2).numpy()
    np.testing.assert_array_equal(a, b)
    dp.manual_seed(1)
    c = nn.Linear(4, 3).weight.detach().numpy().copy()
    dp.manual_seed(1)
    np.testing.assert_array_equal(nn.Linear(4, 3).weight.detach().numpy(), c)
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_normal_(dp.empty(0, 3))
    f64 = init.xavier_uniform_(dp.empty(3, 3, dtype=dp.float64))
    assert f64.dtype == dp.float64


@pytest.mark.parametrize("name,args,bounds", [
    ("Linear", (300, 200), {"weight": 1 / math.sqrt(300), "bias": 1 / math.sqrt(300)}),
    ("Bilinear", (30, 20, 100), {"weight": 1 / math.sqrt(30), "bias": 1 / math.sqrt(30)}),
])
def test_default_layer_init_like_torch(name, args, bounds):
    dp.manual_seed(0)
    layer = getattr(nn, name)(*args)
    for pname, bound in bounds.items():
        v = getattr(layer, pname).detach().numpy()
        assert v.dtype == np.float32 and np.abs(v).max() <= bound
        assert abs(v.std() / (bound / math.sqrt(3)) - 1) < 0.1


def test_default_init_of_other_layers():
    emb = nn.Embedding(300, 100).weight.detach().numpy()
    assert abs(emb.std() - 1) < 0.02 and abs(emb.mean()) < 0.02
    for layer in (nn.LayerNorm(5), nn.BatchNorm1d(5), nn.GroupNorm(1, 5)):
        assert (layer.weight.detach().numpy() == 1).all() and not layer.bias.detach().numpy().any()
    assert (nn.RMSNorm(4).weight.detach().numpy() == 1).all()
    assert (nn.PReLU(3, init=0.1).weight.detach().numpy() == np.float32(0.1)).all()
    bn = nn.BatchNorm1d(3)
    assert not bn.running_mean.numpy().any() and (bn.running_var.numpy() == 1).all()
    assert bn.num_batches_tracked.item() == 0
