"""Convolutions, transposed convolutions, unfold/fold and the conv layers against torch:
forward, VJP, double VJP (through ConvTranspose/ConvWeight), JVP and finite differences."""
import math

import numpy as np
import pytest

from oracle import check, rand, torch

import diffprog as dp
import diffprog.nn.functional as F
from diffprog import nn

TF = torch.nn.functional if torch else None
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")   # torch's own note


def _both(name, **kw):
    """The same functional call in diffprog and torch (bias optional: the args given)."""
    return (lambda *a: getattr(F, name)(*a, **kw)), (lambda *a: getattr(TF, name)(*a, **kw))


# (function, input shape, weight shape, with bias, options)
CONV = [
    ("conv2d", (2, 2, 5, 5), (3, 2, 3, 3), True, {}),
    ("conv2d", (2, 2, 6, 6), (3, 2, 3, 3), False, {"stride": 2}),
    ("conv2d", (2, 2, 7, 6), (3, 2, 3, 2), True, {"stride": (2, 1), "padding": (1, 2)}),
    ("conv2d", (2, 2, 7, 7), (2, 2, 3, 3), True, {"dilation": 2, "padding": 1}),
    ("conv2d", (1, 2, 6, 6), (2, 2, 2, 2), True, {"padding": "same"}),
    ("conv2d", (2, 2, 6, 5), (2, 2, 4, 3), False, {"padding": "same", "dilation": (1, 2)}),
    ("conv2d", (2, 2, 5, 5), (2, 2, 3, 3), True, {"padding": "valid"}),
    ("conv2d", (2, 4, 5, 5), (6, 2, 3, 3), True, {"groups": 2, "padding": 1}),
    ("conv2d", (2, 3, 5, 5), (3, 1, 3, 3), True, {"groups": 3, "stride": 2, "padding": 1}),   # depthwise
    ("conv2d", (2, 2, 5, 5), (6, 1, 2, 2), False, {"groups": 2, "stride": 2, "dilation": 2}),
    ("conv2d", (2, 5, 5), (3, 2, 3, 3), True, {"padding": 1}),                                 # unbatched
    ("conv2d", (2, 4, 6, 6), (4, 2, 4, 4), False, {"groups": 2, "stride": 2, "padding": 1}),   # DCGAN's
    ("conv2d", (2, 3, 3, 3), (2, 3, 3, 3), True, {}),                        # the kernel covers x
    ("conv2d", (2, 2, 2, 3), (3, 2, 4, 3), True, {"padding": (1, 0), "stride": 2}),
    ("conv1d", (2, 3, 4), (2, 3, 4), False, {}),
    ("conv1d", (2, 2, 7), (3, 2, 3), True, {}),
    ("conv1d", (2, 4, 7), (4, 2, 2), True, {"groups": 2, "padding": "same", "dilation": 3}),
    ("conv1d", (2, 2, 9), (3, 2, 3), False, {"stride": 3, "padding": 2}),
    ("conv3d", (2, 2, 4, 5, 4), (2, 2, 2, 3, 2), True, {"padding": (1, 0, 1)}),
    ("conv3d", (1, 2, 5, 5, 5), (2, 1, 3, 3, 3), False, {"stride": 2, "groups": 2}),
]


@pytest.mark.parametrize("name,xs,ws,bias,kw", CONV)
def test_conv(name, xs, ws, bias, kw):
    args = [rand(*xs, seed=1), rand(*ws, seed=2)] + ([rand(ws[0], seed=3)] if bias else [])
    check(*_both(name, **kw), *args)


CONV_T = [
    ("conv_transpose2d", (2, 3, 4, 4), (3, 2, 3, 3), True, {}),
    ("conv_transpose2d", (2, 3, 3, 4), (3, 2, 3, 2), False, {"stride": 2, "padding": 1}),
    ("conv_transpose2d", (2, 2, 3, 3), (2, 2, 3, 3), True, {"stride": 2, "output_padding": 1}),
    ("conv_transpose2d", (2, 2, 3, 3), (2, 2, 3, 3), True,
     {"stride": (3, 2), "padding": (1, 0), "output_padding": (2, 1)}),
    ("conv_transpose2d", (2, 4, 3, 3), (4, 3, 2, 2), True, {"groups": 2, "stride": 2, "dilation": 2}),
    ("conv_transpose2d", (2, 2, 3, 3), (2, 1, 2, 3), False,
     {"dilation": 3, "output_padding": 2, "padding": 1}),                      # output_padding >= stride
    ("conv_transpose2d", (2, 3, 3), (2, 2, 3, 3), True, {"stride": 2}),        # unbatched
    ("conv_transpose1d", (2, 2, 5), (2, 3, 3), True, {"stride": 2, "output_padding": 1}),
    ("conv_transpose1d", (2, 4, 5), (4, 1, 3), False, {"groups": 4, "padding": 1}),
    ("conv_transpose3d", (1, 2, 3, 2, 3), (2, 2, 2, 2, 2), True, {"stride": 2, "padding": (0, 1, 0)}),
    ("conv_transpose2d", (2, 3, 3, 3), (3, 2, 4, 4), True, {"stride": 2, "padding": 1}),   # DCGAN's
    ("conv_transpose2d", (2, 4, 3, 3), (4, 2, 3, 3), False, {"stride": 2, "groups": 2, "padding": 1}),
    ("conv_transpose2d", (2, 2, 3, 3), (2, 2, 2, 2), True,
     {"stride": 3, "padding": 1, "output_padding": 2}),                        # phases without taps
    ("conv_transpose1d", (2, 2, 5), (2, 2, 2), True, {"padding": 1}),          # padding = k - 1
    ("conv_transpose2d", (2, 3, 1, 1), (3, 2, 3, 3), True, {}),                # 1x1 -> the kernel (DCGAN's)
    ("conv_transpose2d", (2, 3, 1, 1), (3, 2, 4, 4), False, {"stride": 2, "padding": 1}),
]


@pytest.mark.parametrize("name,xs,ws,bias,kw", CONV_T)
def test_conv_transpose(name, xs, ws, bias, kw):
    args = [rand(*xs, seed=1), rand(*ws, seed=2)] + ([rand(ws[1] * kw.get("groups", 1), seed=3)] if bias else [])
    check(*_both(name, **kw), *args)


@pytest.mark.parametrize("gys,ws,size,stride,padding,groups", [
    ((2, 3, 4, 4), (3, 2, 3, 3), (4, 4), (1, 1), ((1, 1), (1, 1)), 1),
    ((2, 4, 3, 3), (4, 3, 4, 4), (6, 6), (2, 2), ((1, 1), (1, 1)), 1),
    ((2, 4, 3, 3), (4, 1, 3, 3), (8, 7), (3, 2), ((1, 0), (0, 1)), 2),
    ((1, 2, 3, 3), (2, 2, 2, 2), (9, 9), (3, 3), ((0, 0), (0, 0)), 1),      # phases without taps
    ((2, 2, 5), (2, 3, 2), (2,), (1,), ((2, 2),), 1),                       # padding > k - 1: crops
    ((1, 2, 2, 3, 2), (2, 2, 2, 3, 2), (4, 6, 4), (2, 2, 2), ((0, 0), (1, 1), (0, 0)), 1),
    # kernel sizes multiples of the strides: the sub-pixel path too
    ((2, 4, 3, 3), (4, 3, 4, 4), (7, 7), (2, 2), ((1, 0), (1, 0)), 1),            # output_padding
    ((2, 4, 3, 3), (4, 1, 6, 4), (11, 7), (3, 2), ((1, 0), (0, 1)), 2),
    ((1, 2, 3, 3), (2, 2, 2, 2), (4, 4), (2, 2), ((1, 1), (1, 1)), 1),
    ((2, 2, 5), (2, 3, 4), (5,), (2,), ((4, 4),), 1),                            # padding crops gy
    ((1, 2, 2, 3, 2), (2, 2, 2, 2, 2), (4, 6, 4), (2, 2, 2), ((0, 0), (0, 0), (0, 0)), 1),
    ((1, 2, 3, 4), (2, 2, 2, 3), (6, 4), (2, 1), ((0, 0), (1, 1)), 1),           # stride 1 in one dim
])
def test_conv_transpose_paths_agree(gys, ws, size, stride, padding, groups):
    """The correlation and sub-pixel paths of ConvTranspose give the col2im scatter's result."""
    import diffprog.ops.conv as C
    rng = np.random.default_rng(0)
    gy, w = rng.standard_normal(gys), rng.standard_normal(ws)
    scatter = C._conv_transpose_scatter(gy, w, size, stride, padding, (1,) * len(size), groups)
    direct = C._conv_transpose_direct(gy, w, size, stride, padding, groups)
    np.testing.assert_allclose(direct, scatter, rtol=1e-12, atol=1e-12)
    if C._subpixel_pays(ws[2:], stride, (1,) * len(size)):
        subpixel = C._conv_transpose_subpixel(gy, w, size, stride, padding, groups)
        np.testing.assert_allclose(subpixel, scatter, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name,xs,ws", [("conv2d", (2, 3, 8, 8), (4, 3, 3, 3)),
                                        ("conv_transpose2d", (2, 3, 4, 4), (3, 2, 3, 3))])
def test_float32(name, xs, ws):
    f32 = np.float32
    check(*_both(name, stride=2, padding=1), rand(*xs, dtype=f32), rand(*ws, dtype=f32), rand(ws[0], dtype=f32)
          if name == "conv2d" else rand(ws[1], dtype=f32))


def test_batch_chunks(monkeypatch):
    """Large inputs are processed in batch chunks (bounded im2col temporaries): same results."""
    import diffprog.ops.conv as C
    monkeypatch.setattr(C, "_CHUNK", 200)
    check(*_both("conv2d", padding=1), rand(3, 2, 4, 4), rand(2, 2, 3, 3), rand(2), fd=False)
    check(*_both("conv_transpose2d", stride=2), rand(3, 2, 3, 3), rand(2, 2, 3, 3), fd=False)


def test_per_sample_gemms(monkeypatch):
    """With few output channels the GEMMs go sample by sample (LeNet's first layer): the
    same as torch, and as the batched GEMM, also in batch chunks."""
    import diffprog.ops.conv as C
    args = rand(3, 4, 8, 8, seed=1), rand(6, 2, 3, 3, seed=2), rand(6, seed=3)
    assert C._per_sample(6 // 2, 64)
    check(*_both("conv2d", padding=1, groups=2), *args, fd=False)

    def grads():
        x, w, b = (dp.tensor(a, requires_grad=True) for a in args)
        y = F.conv2d(x, w, b, padding=1, groups=2)
        y.backward(dp.tensor(np.cos(np.arange(y.numel())).reshape(y.shape)))
        return [y.detach().numpy(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy()]
    per_sample = grads()
    monkeypatch.setattr(C, "_CHUNK", 600)
    chunked = grads()
    monkeypatch.setattr(C, "_per_sample", lambda o, L, rows=8: False)
    for a, b, c in zip(per_sample, chunked, grads()):
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(b, c, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("xs,ws,kw", [((2, 3, 3, 3), (2, 3, 3, 3), {}),
                                      ((2, 2, 2, 3), (3, 2, 4, 3), {"padding": (1, 0), "stride": 2})])
def test_whole_kernel_gemms(monkeypatch, xs, ws, kw):
    """A kernel as large as the padded input: Conv, ConvTranspose and ConvWeight are plain
    GEMMs, with the results of the im2col path."""
    import diffprog.ops.conv as C

    def run():
        x, w = dp.tensor(rand(*xs, seed=1), requires_grad=True), dp.tensor(rand(*ws, seed=2), requires_grad=True)
        y = F.conv2d(x, w, **kw)
        gx, gw = dp.autograd.grad(y, (x, w), dp.tensor(rand(*y.shape, seed=3)))
        z = F.conv_transpose2d(y.detach(), w.detach(), **kw)
        return y.detach().numpy(), gx.numpy(), gw.numpy(), z.numpy()
    whole = run()
    monkeypatch.setattr(C, "_whole", lambda *a: False)
    for a, b in zip(whole, run()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_lenet_gradient_penalty():
    """grad of grad through two conv layers (WGAN-GP style penalty) matches torch."""
    x, w1, w2 = rand(2, 1, 8, 8, seed=1), rand(3, 1, 3, 3, seed=2), rand(2, 3, 3, 3, seed=3)

    def penalty(lib, fn):
        xs, a, b = (lib.tensor(v).requires_grad_() for v in (x, w1, w2))
        out = fn.conv2d(fn.conv2d(xs, a, stride=2).tanh(), b).sum()
        (g,) = lib.autograd.grad(out, xs, create_graph=True)
        ((g * g).sum() - 1).backward()
        return [t.grad.numpy() for t in (a, b)]

    for mine, theirs in zip(penalty(dp, F), penalty(torch, TF)):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12)


# --- unfold / fold -------------------------------------------------------------------------

@pytest.mark.parametrize("xs,kw", [
    ((2, 2, 5, 5), dict(kernel_size=3)),
    ((2, 2, 6, 5), dict(kernel_size=(2, 3), stride=2, padding=1)),
    ((1, 3, 7, 7), dict(kernel_size=2, dilation=2, stride=(1, 2))),
    ((2, 4, 4), dict(kernel_size=2, padding=1)),                                  # unbatched
])
def test_unfold(xs, kw):
    check(*_both("unfold", **kw), rand(*xs))


@pytest.mark.parametrize("cs,kw", [
    ((2, 18, 9), dict(output_size=5, kernel_size=3)),
    ((2, 12, 12), dict(output_size=(6, 5), kernel_size=(2, 3), stride=2, padding=1)),
    ((1, 8, 15), dict(output_size=(7, 7), kernel_size=2, dilation=2, stride=(1, 2))),
    ((8, 25), dict(output_size=(4, 4), kernel_size=2, padding=1)),                 # unbatched
])
def test_fold(cs, kw):
    check(*_both("fold", **kw), rand(*cs))


# --- layers --------------------------------------------------------------------------------

def pair(name, *args, **kwargs):
    """The layer built by torch.nn and by diffprog.nn with torch's parameters."""
    t = getattr(torch.nn, name)(*args, **kwargs).double()
    d = getattr(nn, name)(*args, **kwargs).double()
    d.load_state_dict({k: dp.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    return t, d


LAYERS = [
    ("Conv2d", (2, 3, 3), {}, (2, 2, 6, 6)),
    ("Conv2d", (2, 4, (3, 2)), {"stride": 2, "padding": 1, "bias": False}, (2, 2, 7, 6)),
    ("Conv2d", (4, 4, 3), {"groups": 4, "dilation": 2, "padding": 2}, (2, 4, 6, 6)),
    ("Conv2d", (2, 3, 4), {"padding": "same"}, (2, 2, 6, 6)),
    ("Conv2d", (2, 3, 3), {"padding": 1, "padding_mode": "reflect"}, (2, 2, 5, 5)),
    ("Conv2d", (2, 3, 3), {"padding": (2, 1), "padding_mode": "replicate", "stride": 2}, (2, 2, 5, 5)),
    ("Conv2d", (2, 3, 3), {"padding": 2, "padding_mode": "circular"}, (2, 2, 5, 5)),
    ("Conv2d", (2, 3, 4), {"padding": "same", "padding_mode": "reflect", "dilation": 2}, (2, 2, 8, 8)),
    ("Conv2d", (2, 3, 3), {"padding": 1, "padding_mode": "circular"}, (2, 5, 5)),
    ("Conv1d", (2, 3, 3), {"padding": 1, "padding_mode": "circular"}, (2, 2, 7)),
    ("Conv1d", (2, 3, 2), {"padding": "same", "padding_mode": "replicate"}, (2, 2, 7)),
    ("Conv3d", (2, 3, 2), {"padding": 1, "padding_mode": "reflect"}, (1, 2, 3, 4, 3)),
    ("Conv3d", (2, 2, (2, 3, 2)), {"stride": (1, 2, 1)}, (2, 2, 4, 5, 4)),
    ("ConvTranspose2d", (3, 2, 3), {"stride": 2, "padding": 1, "output_padding": 1}, (2, 3, 4, 4)),
    ("ConvTranspose2d", (4, 2, 2), {"groups": 2, "bias": False, "dilation": 2}, (2, 4, 3, 3)),
    ("ConvTranspose1d", (3, 2, 3), {"stride": 3}, (2, 3, 4)),
    ("ConvTranspose3d", (2, 2, 2), {"stride": 2}, (1, 2, 2, 3, 2)),
]


@pytest.mark.parametrize("name,args,kw,xs", LAYERS)
def test_layer(name, args, kw, xs):
    t, d = pair(name, *args, **kw)
    assert repr(d) == repr(t)
    x = rand(*xs)
    tx, dx = torch.tensor(x, requires_grad=True), dp.tensor(x, requires_grad=True)
    ty, dy = t(tx), d(dx)
    np.testing.assert_allclose(dy.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    cot = rand(*ty.shape, seed=5)
    ty.backward(torch.tensor(cot))
    dy.backward(dp.tensor(cot))
    np.testing.assert_allclose(dx.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for (k, a), (_, b) in zip(d.named_parameters(), t.named_parameters()):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=k)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_padding_mode_double_backward(mode):
    """The layers' reflect/replicate/circular pads are differentiable to second order."""
    from diffprog.ops.conv import _pad_mode
    check(lambda x, w: F.conv2d(_pad_mode(x, ((1, 2), (2, 1)), mode), w),
          lambda x, w: TF.conv2d(TF.pad(x, (2, 1, 1, 2), mode=mode), w), rand(1, 2, 4, 4), rand(2, 2, 3, 3))


def test_conv_transpose_output_size():
    t, d = pair("ConvTranspose2d", 2, 3, 3, stride=2, padding=1)
    x = rand(1, 2, 4, 4)
    for size in ([7, 7], [8, 8], (1, 3, 8, 7)):
        np.testing.assert_allclose(d(dp.tensor(x), output_size=size).detach().numpy(),
                                   t(torch.tensor(x), output_size=size).detach().numpy(), rtol=1e-10)
    with pytest.raises(ValueError, match="valid sizes range from 7 to 8"):
        d(dp.tensor(x), output_size=[9, 9])


@pytest.mark.parametrize("name,args,kw,shape", [
    ("Conv1d", (3, 8, 5), {}, (8, 3, 5)),
    ("Conv2d", (4, 6, (3, 2)), {"groups": 2}, (6, 2, 3, 2)),
    ("Conv3d", (2, 4, 3), {"bias": False}, (4, 2, 3, 3, 3)),
    ("ConvTranspose2d", (4, 6, 3), {"groups": 2}, (4, 3, 3, 3)),
    ("ConvTranspose1d", (3, 5, 2), {}, (3, 5, 2)),
])
def test_layer_parameters_and_init(name, args, kw, shape):
    dp.manual_seed(0)
    d, t = getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    assert dict((k, tuple(v.shape)) for k, v in d.state_dict().items()) == \
        dict((k, tuple(v.shape)) for k, v in t.state_dict().items())
    assert tuple(d.weight.shape) == shape
    bound = 1 / math.sqrt(math.prod(shape[1:]))          # kaiming_uniform(a=sqrt(5)) and the bias bound
    w = d.weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.5 * bound
    if d.bias is not None:
        b = d.bias.detach().numpy()
        assert np.abs(b).max() <= bound and np.abs(b).std() > 0
    assert d.weight.dtype == dp.float32 and d.weight.requires_grad


@pytest.mark.parametrize("args,kw", [
    ((3, 8, 3), {}), ((3, 8, (3, 1)), {"stride": 2, "padding": "valid"}),
    ((4, 8, 3), {"padding": "same", "dilation": 2, "groups": 2, "bias": False, "padding_mode": "circular"}),
])
def test_repr(args, kw):
    assert repr(nn.Conv2d(*args, **kw)) == repr(torch.nn.Conv2d(*args, **kw))


def test_lenet_forward_backward():
    """A LeNet-style stack in float32 (the course's CNN) matches torch."""
    tl = torch.nn.Sequential(torch.nn.Conv2d(1, 6, 5), torch.nn.ReLU(), torch.nn.Conv2d(6, 16, 5, stride=2))
    dl = nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.Conv2d(6, 16, 5, stride=2))
    dl.load_state_dict({k: dp.tensor(v.detach().numpy()) for k, v in tl.state_dict().items()})
    x = rand(4, 1, 16, 16, dtype=np.float32)
    ty, dy = tl(torch.tensor(x)), dl(dp.tensor(x))
    assert dy.dtype == dp.float32
    np.testing.assert_allclose(dy.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    ty.sum().backward()
    dy.sum().backward()
    for (k, a), (_, b) in zip(dl.named_parameters(), tl.named_parameters()):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-4, err_msg=k)


# --- errors --------------------------------------------------------------------------------

def T(*shape, dtype=np.float64):
    return dp.tensor(np.zeros(shape, dtype=dtype))


@pytest.mark.parametrize("call,exc,match", [
    (lambda: F.conv2d(T(8, 1, 28, 28), T(6, 3, 5, 5)), RuntimeError,
     r"conv2d: expected input with 3 channels, got \(8, 1, 28, 28\)"),
    (lambda: F.conv2d(T(1, 1, 4, 4), T(1, 1, 5, 5)), RuntimeError,
     r"conv2d: kernel size \(5, 5\) .* larger than the padded input size \(4, 4\)"),
    (lambda: F.conv2d(T(1, 1, 4, 4), T(1, 1, 3, 3), dilation=2), RuntimeError, r"dilated \(5, 5\)"),
    (lambda: F.conv1d(T(1, 1, 4, 4), T(1, 1, 3)), RuntimeError, r"conv1d: expected 2D \(unbatched\) or 3D"),
    (lambda: F.conv2d(T(1, 2, 4, 4), T(3, 2, 3)), RuntimeError, r"conv2d: expected weight of 4 dims"),
    (lambda: F.conv2d(T(1, 2, 4, 4), T(3, 1, 3, 3), groups=2), RuntimeError, r"divisible by groups=2"),
    (lambda: F.conv2d(T(1, 2, 4, 4), T(2, 2, 3, 3), T(3)), RuntimeError, r"conv2d: expected bias of shape \(2,\)"),
    (lambda: F.conv2d(T(1, 2, 4, 4), T(2, 2, 3, 3, dtype=np.float32)), RuntimeError, r"float64, float32"),
    (lambda: F.conv2d(T(1, 2, 4, 4), T(2, 2, 3, 3), stride=2, padding="same"), ValueError, r"strided"),
    (lambda: F.conv2d(T(1, 2, 4, 4), T(2, 2, 3, 3), padding="full"), ValueError, r"invalid padding string"),
    (lambda: F.conv2d(T(1, 2, 4, 4), T(2, 2, 3, 3), stride=(1, 2, 3)), RuntimeError, r"stride"),
    (lambda: F.conv_transpose2d(T(1, 2, 4, 4), T(3, 2, 3, 3)), RuntimeError,
     r"conv_transpose2d: expected input with 3 channels"),
    (lambda: F.conv_transpose2d(T(1, 2, 4, 4), T(2, 2, 3, 3), stride=2, output_padding=2), RuntimeError,
     r"output padding \(2, 2\) must be smaller"),
    (lambda: F.unfold(T(1, 2, 3, 3), 4), RuntimeError, r"unfold: kernel size \(4, 4\)"),
    (lambda: F.fold(T(1, 8, 5), (3, 3), 2), RuntimeError, r"fold: expected input of shape \(N, C \* 4, 4\)"),
    (lambda: nn.Conv2d(3, 4, 3, groups=2), ValueError, r"in_channels must be divisible by groups"),
    (lambda: nn.Conv2d(2, 4, 3, padding_mode="mirror"), ValueError, r"padding_mode must be one of"),
    (lambda: nn.Conv2d(2, 4, 3, stride=2, padding="same"), ValueError, r"strided convolutions"),
    (lambda: nn.ConvTranspose2d(2, 4, 3, padding_mode="reflect"), ValueError, r'Only "zeros" padding mode'),
    (lambda: nn.Conv2d(2, 4, 3, padding=3, padding_mode="reflect")(T(1, 2, 3, 3)), RuntimeError,
     r"too large"),
])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
