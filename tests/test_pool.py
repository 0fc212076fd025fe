import numpy as np
import pytest

from oracle import check, const, rand, torch

import diffprog as dp
import diffprog.nn.functional as F

TF = torch.nn.functional


def distinct(*shape, dtype=np.float64, seed=0):
    """Values without ties (max pooling's subgradient is then unique)."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    return (rng.permutation(n).reshape(shape) / n - 0.5).astype(dtype)


def fn(name, *args, **kwargs):
    """The same functional call in both libraries."""
    return (lambda x: getattr(F, name)(x, *args, **kwargs),
            lambda x: getattr(TF, name)(x, *args, **kwargs))


MAX2D = [((1, 1, 5, 6), (2,), {}), ((2, 3, 7, 6), (3, 2, 1), {}), ((3, 6, 7), ((2, 3), 1, 1, 2), {}),
         ((1, 2, 7, 8), (3, 2, 1), {"ceil_mode": True}), ((1, 1, 5, 5), (2, 2, 0, 1, True), {}),
         ((1, 2, 6, 6), (3, (2, 1), (1, 0)), {"dilation": (1, 2)}),
         ((1, 1, 28, 28), (2,), {}), ((1, 1, 32, 32), (3, 2, 1), {})]   # positions * taps > 255


@pytest.mark.parametrize("shape,args,kw", MAX2D)
def test_max_pool2d(shape, args, kw):
    check(*fn("max_pool2d", *args, **kw), distinct(*shape))
    check(*fn("max_pool2d", *args, return_indices=True, **kw), distinct(*shape, seed=1))


@pytest.mark.parametrize("shape,args,kw", [((2, 3, 9), (3,), {}), ((4, 8), (2, 1, 1), {"dilation": 2}),
                                           ((1, 2, 8), (3, 2, 1), {"ceil_mode": True})])
def test_max_pool1d(shape, args, kw):
    check(*fn("max_pool1d", *args, return_indices=True, **kw), distinct(*shape))


def test_max_pool_float32_and_top_level():
    check(*fn("max_pool2d", 2), distinct(2, 3, 6, 6, dtype=np.float32))
    check(lambda x: dp.max_pool2d(x, 3, 2), lambda x: torch.max_pool2d(x, 3, 2), distinct(1, 2, 7, 7))


def test_max_pool_nan_and_empty():
    x = distinct(1, 2, 4, 4)
    x[0, 0, 1, 2] = x[0, 1, 3, 3] = np.nan
    a, i = F.max_pool2d(dp.tensor(x), 2, return_indices=True)
    b, j = TF.max_pool2d(torch.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(i.numpy(), j.numpy())
    for f, g in [fn("max_pool2d", 2), fn("avg_pool2d", 2), fn("adaptive_avg_pool2d", 2)]:
        assert f(dp.zeros(0, 2, 4, 4)).shape == tuple(g(torch.zeros(0, 2, 4, 4)).shape) == (0, 2, 2, 2)


@pytest.mark.parametrize("shape,args,kw", [
    ((1, 1, 4, 4), (2,), {}), ((2, 3, 6, 7), (3, 2, 1), {}), ((1, 2, 7, 6), ((3, 2), 2, 1), {"ceil_mode": True}),
    ((1, 2, 6, 6), (3, 2, 1), {"count_include_pad": False, "ceil_mode": True}),
    ((3, 5, 5), (2, 1), {"divisor_override": 3}), ((1, 1, 5, 5), (3, 2, 1), {"divisor_override": 2})])
def test_avg_pool2d(shape, args, kw):
    check(*fn("avg_pool2d", *args, **kw), rand(*shape))


@pytest.mark.parametrize("shape,args,kw", [((2, 3, 9), (3,), {}),
                                           ((4, 8), (3, 2, 1), {"count_include_pad": False}),
                                           ((1, 2, 8), (3, 2, 1), {"ceil_mode": True})])
def test_avg_pool1d(shape, args, kw):
    check(*fn("avg_pool1d", *args, **kw), rand(*shape))


def test_avg_pool_float32():
    check(*fn("avg_pool2d", 3, 2, 1), rand(2, 3, 8, 8, dtype=np.float32))


@pytest.mark.parametrize("shape,size", [((1, 2, 5, 7), 3), ((2, 3, 7, 5), (2, 4)), ((3, 6, 6), (None, 4)),
                                        ((1, 1, 4, 4), 1), ((1, 1, 3, 3), (5, 7))])
def test_adaptive_avg_pool2d(shape, size):
    check(*fn("adaptive_avg_pool2d", size), rand(*shape))


@pytest.mark.parametrize("shape,size", [((2, 3, 10), 4), ((3, 7), 3), ((1, 2, 3), 5)])
def test_adaptive_pool1d(shape, size):
    check(*fn("adaptive_avg_pool1d", size), rand(*shape))
    check(*fn("adaptive_max_pool1d", size, return_indices=True), distinct(*shape))


@pytest.mark.parametrize("shape,size", [((1, 2, 5, 7), 3), ((2, 1, 7, 5), (2, 4)), ((3, 6, 6), (None, 4)),
                                        ((1, 1, 3, 3), (5, 4))])
def test_adaptive_max_pool2d(shape, size):
    check(*fn("adaptive_max_pool2d", size, return_indices=True), distinct(*shape))


@pytest.mark.parametrize("shape,args", [((1, 2, 6, 6), (2.0, 2)), ((2, 1, 7, 5), (3.0, (3, 2), 2)),
                                        ((1, 1, 5, 5), (1.5, 2, 1, True))])
def test_lp_pool2d(shape, args):
    check(*fn("lp_pool2d", *args), rand(*shape, low=0.2, high=1.0))


def test_lp_pool1d():
    check(*fn("lp_pool1d", 2.0, 3, 2), rand(2, 3, 7, low=0.2, high=1.0))


@pytest.mark.parametrize("shape,k,kw", [((2, 3, 6, 6), 2, {}), ((1, 2, 7, 7), 3, {"stride": 2, "padding": 1}),
                                        ((1, 2, 7, 7), 2, {"output_size": (1, 2, 7, 7)}), ((2, 4, 4), 2, {})])
def test_max_unpool2d(shape, k, kw):
    pool = {key: v for key, v in kw.items() if key != "output_size"}
    y, i = TF.max_pool2d(torch.tensor(distinct(*shape)), k, return_indices=True, **pool)
    check(lambda a, idx: F.max_unpool2d(a, idx, k, **kw), lambda a, idx: TF.max_unpool2d(a, idx, k, **kw),
          y.numpy(), const(i.numpy()), fd="stride" not in kw)   # overlapping windows repeat an index:
    # both copies get its gradient, as in torch, though a write to it keeps one (so no FD there)


@pytest.mark.parametrize("shape,p,mode,value", [
    ((2, 3, 4, 5), (1, 2), "constant", None), ((2, 3, 4, 5), (1, 2, 0, 3), "constant", 1.5),
    ((2, 3, 4), (2, 1, 1, 1, 1, 0), "constant", -2.0), ((2, 3, 4, 5), (-1, 2, 1, -2), "constant", None),
    ((1, 2, 4, 5), (1, 2, 3, 0), "reflect", None), ((2, 5), (4, 3), "reflect", None),
    ((1, 2, 4, 5), (2, 2, 1, 3), "replicate", None), ((3, 4), (1, 5), "replicate", None),
    ((1, 2, 4, 5), (2, 5, 4, 1), "circular", None), ((2, 3, 4), (1, 2), "circular", None)])
def test_pad(shape, p, mode, value):
    check(lambda x: F.pad(x, p, mode, value), lambda x: TF.pad(x, p, mode, value), rand(*shape))


def test_pad_float32_and_int():
    check(lambda x: F.pad(x, (1, 1, 2, 0)), lambda x: TF.pad(x, (1, 1, 2, 0)), rand(2, 3, 3, dtype=np.float32))
    a = np.arange(12).reshape(3, 4)
    assert np.array_equal(F.pad(dp.tensor(a), (1, 1), "reflect").numpy(),
                          TF.pad(torch.tensor(a), (1, 1), "reflect").numpy())


RESIZES = [((1, 2, 3, 4), {"scale_factor": 2}), ((2, 1, 5, 3), {"size": (7, 4)}), ((1, 1, 6, 7), {"size": (4, 3)}),
           ((1, 2, 4, 5), {"scale_factor": (1.7, 0.6)}),
           ((1, 1, 3, 4), {"scale_factor": 1.5, "recompute_scale_factor": True}),
           ((2, 3, 5), {"scale_factor": 2.5}), ((1, 2, 7), {"size": 3}), ((1, 2, 4), {"size": 4}),
           ((1, 2, 3, 4), {"size": (6, 12)}), ((1, 1, 3, 4), {"scale_factor": (1.1, 2.2)}),
           ((1, 1, 3, 4), {"scale_factor": (1.3, 3.0)})]
INTERP = [(shape, dict(kw, mode=mode, align_corners=ac)) for shape, kw in RESIZES
          for mode in ("nearest", "nearest-exact", "area", "linear", "bilinear", "bicubic")
          for ac in ((None, False, True) if mode in ("linear", "bilinear", "bicubic") else (None,))
          if {"linear": 3, "bilinear": 4, "bicubic": 4}.get(mode, len(shape)) == len(shape)]


@pytest.mark.parametrize("shape,kw", INTERP)
def test_interpolate(shape, kw):
    check(lambda x: F.interpolate(x, **kw), lambda x: TF.interpolate(x, **kw), rand(*shape))


def test_interpolate_float32():
    for mode in ("nearest", "bilinear", "bicubic"):
        kw = dict(scale_factor=1.5, mode=mode)
        check(lambda x: F.interpolate(x, **kw), lambda x: TF.interpolate(x, **kw),
              rand(2, 3, 5, 4, dtype=np.float32))


@pytest.mark.parametrize("shape,r", [((1, 8, 2, 3), 2), ((2, 9, 3, 2), 3), ((4, 2, 2), 2), ((2, 1, 4, 3, 2), 1)])
def test_pixel_shuffle(shape, r):
    check(*fn("pixel_shuffle", r), rand(*shape))
    s = shape[:-3] + (shape[-3] // (r * r), shape[-2] * r, shape[-1] * r)
    check(*fn("pixel_unshuffle", r), rand(*s))


@pytest.mark.parametrize("shape,args", [((2, 5, 3, 3), (3,)), ((1, 6, 4), (4, 0.01, 0.5, 2.0)),
                                        ((2, 4, 2, 2, 2), (2,)), ((1, 3, 2, 2), (5, 1e-2))])
def test_local_response_norm(shape, args):
    check(*fn("local_response_norm", *args), rand(*shape))


MODULES = [
    ("MaxPool1d", (3,), (2, 3, 9)), ("MaxPool2d", (2,), (1, 2, 6, 6)),
    ("MaxPool2d", ((2, 3), 1, 1, 2, False, True), (1, 2, 7, 8)), ("MaxPool2d", (3, 2, 1, 1, True), (1, 2, 7, 7)),
    ("AvgPool1d", (3,), (2, 3, 9)), ("AvgPool2d", (2, 1, 1, True, False, 3), (1, 2, 5, 5)),
    ("AdaptiveAvgPool1d", (3,), (2, 3, 7)), ("AdaptiveAvgPool2d", ((2, None),), (1, 2, 5, 5)),
    ("AdaptiveMaxPool1d", (3,), (2, 3, 7)), ("AdaptiveMaxPool2d", (3, True), (1, 2, 7, 5)),
    ("LPPool1d", (2, 3), (2, 3, 7)), ("LPPool2d", (2, 3), (1, 2, 6, 6)),
    ("Upsample", (None, 2), (1, 2, 3, 3)), ("Upsample", ((3, 4), None, "bilinear", True), (1, 2, 2, 2)),
    ("UpsamplingNearest2d", (None, 2), (1, 2, 3, 3)), ("UpsamplingBilinear2d", ((5, 4),), (1, 2, 3, 3)),
    ("PixelShuffle", (2,), (1, 8, 2, 2)), ("PixelUnshuffle", (2,), (1, 2, 4, 4)),
    ("ZeroPad1d", (2,), (2, 3, 4)), ("ZeroPad2d", (1,), (1, 2, 3, 3)), ("ZeroPad2d", ((1, 2, 3, 4),), (1, 2, 3, 3)),
    ("ConstantPad1d", ((1, 2), 3.5), (2, 3, 4)), ("ConstantPad2d", (1, 3.5), (1, 2, 3, 3)),
    ("ReflectionPad1d", (2,), (2, 3, 4)), ("ReflectionPad2d", (2,), (1, 2, 3, 3)),
    ("ReplicationPad1d", ((1, 3),), (2, 3, 4)), ("ReplicationPad2d", ((1, 1, 2, 0),), (1, 2, 3, 3)),
    ("CircularPad1d", (2,), (2, 3, 4)), ("CircularPad2d", ((1, 2, 2, 1),), (1, 2, 3, 3)),
    ("LocalResponseNorm", (5,), (2, 6, 3, 3)), ("LocalResponseNorm", (2, 0.1, 0.5, 2.0), (1, 3, 2, 2)),
]


@pytest.mark.parametrize("name,args,shape", MODULES)
def test_modules(name, args, shape):
    d, t = getattr(dp.nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(d) == repr(t)
    x = distinct(*shape, dtype=np.float32) + 1.0       # positive, no ties (LP pooling, max pools)
    a, b = d(dp.tensor(x)), t(torch.tensor(x))
    for u, v in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
        assert u.dtype.name == str(v.dtype).replace("torch.", "")
        np.testing.assert_allclose(u.numpy(), v.numpy(), rtol=1e-5, atol=1e-6)


def test_max_unpool_module():
    x = distinct(1, 2, 4, 4)
    y, i = TF.max_pool2d(torch.tensor(x), 2, return_indices=True)
    d, t = dp.nn.MaxUnpool2d(2), torch.nn.MaxUnpool2d(2)
    assert repr(d) == repr(t)
    np.testing.assert_array_equal(d(dp.tensor(y.numpy()), dp.tensor(i.numpy())).numpy(), t(y, i).numpy())


def test_pool_then_unpool_gradient_flows():
    x = dp.tensor(distinct(1, 1, 4, 4), requires_grad=True)
    y, i = F.max_pool2d(x, 2, return_indices=True)
    F.max_unpool2d(y, i, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), F.max_unpool2d(dp.ones_like(y), i, 2).numpy())


@pytest.mark.parametrize("call,exc,msg", [
    (lambda x: F.max_pool2d(x, 5), RuntimeError, r"max_pool2d: kernel_size=\(5, 5\).*larger.*\(1, 2, 4, 4\)"),
    (lambda x: F.max_pool2d(x, 2, padding=2), RuntimeError, "max_pool2d: pad should be at most half"),
    (lambda x: F.max_pool2d(x[0, 0, 0], 2), RuntimeError, r"max_pool2d: expected a 3D .* got shape \(4,\)"),
    (lambda x: F.avg_pool2d(x, 5, padding=0), RuntimeError, "avg_pool2d: kernel_size=.*larger"),
    (lambda x: F.avg_pool1d(x, 2), RuntimeError, r"avg_pool1d: expected a 2D .* \(1, 2, 4, 4\)"),
    (lambda x: F.adaptive_avg_pool2d(x[0, 0, 0], 2), RuntimeError, "adaptive_avg_pool2d: expected"),
    (lambda x: F.pad(x, (1, 2, 3)), RuntimeError, "pad: padding length must be even"),
    (lambda x: F.pad(x, (4, 0), "reflect"), RuntimeError, r"pad: reflect padding \(4, 0\).*at most 3"),
    (lambda x: F.pad(x, (1, 1), "wrap"), NotImplementedError, "unknown padding mode"),
    (lambda x: F.interpolate(x), ValueError, "either size or scale_factor"),
    (lambda x: F.interpolate(x, 3, 2), ValueError, "only one of size or scale_factor"),
    (lambda x: F.interpolate(x, 3, align_corners=True), ValueError, "align_corners option"),
    (lambda x: F.interpolate(x, 3, mode="linear"), NotImplementedError, "needs 3D input"),
    (lambda x: F.pixel_shuffle(x, 3), RuntimeError, r"pixel_shuffle: .*\(1, 2, 4, 4\)"),
    (lambda x: F.pixel_unshuffle(x, 3), RuntimeError, r"pixel_unshuffle: .*\(1, 2, 4, 4\)"),
    (lambda x: F.avg_pool2d(x.long(), 2), RuntimeError, r"avg_pool2d: expected a floating point input, got int64"),
    (lambda x: F.max_pool2d(x.long(), 2), RuntimeError, r"max_pool2d: expected a floating point input, got int64"),
    (lambda x: F.adaptive_max_pool2d(x.long(), 2), RuntimeError, "adaptive_max_pool2d: expected a floating"),
    (lambda x: F.max_unpool2d(x, dp.zeros(3, dtype=dp.int64), 2), RuntimeError, "max_unpool2d: expected integer"),
])
def test_errors(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call(dp.tensor(rand(1, 2, 4, 4)))
