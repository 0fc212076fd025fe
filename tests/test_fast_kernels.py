"""The numba kernels (ops/erf_numba.py, ops/rows_numba.py, ops/dropout_numba.py,
ops/rnn_numba.py, optim/update_numba.py) against the NumPy / SciPy paths they replace and
against PyTorch; `no_numba` runs the same code as if numba were not installed, so that each
comparison tests the fallback too."""
import math
import warnings

import numpy as np
import pytest

from oracle import check, rand, torch

import diffprog as dp
from diffprog.ops import fast
from diffprog.optim import optimizer

F = torch.nn.functional
pytest.importorskip("scipy")
import scipy.special  # noqa: E402

needs_numba = pytest.mark.skipif(fast.numba() is None, reason="numba is not installed")


@pytest.fixture
def no_numba(monkeypatch):
    monkeypatch.setattr(fast, "_NUMBA", [None])


def both_paths(fn):
    """fn() with the kernels, then without numba."""
    with_kernels = fn()
    saved = fast._NUMBA[:]
    fast._NUMBA[:] = [None]
    try:
        fallback = fn()
    finally:
        fast._NUMBA[:] = saved
    return with_kernels, fallback


def test_no_numba_means_no_kernels(no_numba):
    assert fast.numba() is None and fast.erf_kernels() is None
    p = np.ones(3, np.float32)
    assert optimizer.numba_kernel("adam", p, p, p, p, None) is None


# --- erf and the exact GELU ------------------------------------------------------------------

@needs_numba
def test_erf_within_two_ulps_of_scipy_float64():
    """Over a dense grid of float32 values (and tiny ones, where erf(x) ~ 2x / sqrt(pi))."""
    x = np.concatenate([np.linspace(-6, 6, 2_000_001, dtype=np.float32),
                        np.geomspace(1e-38, 1e-3, 10_000).astype(np.float32)])
    truth = scipy.special.erf(x.astype(np.float64))
    ulp = np.spacing(np.abs(truth).astype(np.float32)).astype(np.float64)
    got = fast.erf_kernels().erf(x)
    assert got.dtype == np.float32
    assert (np.abs(got - truth) / ulp).max() <= 2.0


@needs_numba
def test_gelu_and_its_derivative_near_float64():
    x = np.linspace(-12, 12, 1_000_001, dtype=np.float32)
    xd = x.astype(np.float64)
    k = fast.erf_kernels()
    y = k.gelu(x)
    # 1 + erf(x / sqrt 2) cancels for x < 0, as in PyTorch: absolute errors of ~1e-7
    np.testing.assert_allclose(y, xd * scipy.special.ndtr(xd), rtol=2e-7, atol=3e-7)
    deriv = scipy.special.ndtr(xd) + xd * np.exp(-xd * xd / 2) / math.sqrt(2 * math.pi)
    np.testing.assert_allclose(k.gelu_deriv(x, y), deriv, rtol=0, atol=2e-7)


def _layouts(dtype):
    """Odd sizes, 0-d, empty, transposed and strided inputs."""
    base = rand(7, 13, dtype=dtype, low=-6.0, high=6.0)
    return {"odd": base, "0-d": np.array(0.7, dtype), "empty": np.zeros((0, 3), dtype),
            "transposed": base.T, "strided": base[::2, 1::3], "one": base[:1, :1]}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", list(_layouts(np.float32)))
@pytest.mark.parametrize("name", ["gelu", "erf"])
def test_fast_path_equals_fallback_and_torch(name, layout, dtype):
    x = _layouts(dtype)[layout]
    d_fn, t_fn = (dp.nn.functional.gelu, F.gelu) if name == "gelu" else (dp.erf, torch.erf)

    def run():
        a = dp.tensor(x, requires_grad=True)
        y = d_fn(a)
        y.backward(dp.ones_like(y) * 0.5)
        return y.detach().numpy(), a.grad.numpy()

    (y, g), (y0, g0) = both_paths(run)
    b = torch.tensor(x, requires_grad=True)
    t = t_fn(b)
    t.backward(torch.ones_like(t) * 0.5)
    assert y.dtype == y0.dtype == dtype and y.shape == y0.shape == x.shape
    if dtype == np.float64:             # no kernel: the same SciPy / NumPy computation
        np.testing.assert_array_equal(y, y0)
        np.testing.assert_array_equal(g, g0)
        tol = dict(rtol=1e-12, atol=1e-14)
    else:
        np.testing.assert_allclose(y, y0, rtol=3e-7, atol=1e-7)
        np.testing.assert_allclose(g, g0, rtol=3e-7, atol=1e-7)
        tol = dict(rtol=1e-5, atol=1e-5)            # the oracle's float32 tolerance
    for ours in ((y, g), (y0, g0)):
        np.testing.assert_allclose(ours[0], t.detach().numpy(), **tol)
        np.testing.assert_allclose(ours[1], b.grad.numpy(), **tol)


def test_special_values_match_fallback():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-38, -40.0, 40.0, -1e6, 1e6], np.float32)

    def run():
        a = dp.tensor(x, requires_grad=True)
        with np.errstate(all="ignore"):
            y = dp.nn.functional.gelu(a)
            y.backward(dp.ones_like(y))
            e = dp.erf(dp.tensor(x))
        return y.detach().numpy(), a.grad.numpy(), e.numpy()

    for ours, fallback in zip(*both_paths(run)):
        np.testing.assert_allclose(ours, fallback, rtol=1e-6, atol=1e-7, equal_nan=True)


def test_zeros_raise_no_warning():
    """After a ReLU, say: GELU'(0) = 0.5 without NumPy's "invalid value" warning for 0 / 0."""
    x = dp.tensor(np.array([0.0, -0.0, 1.0, 0.0], np.float32), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dp.nn.functional.gelu(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy()[[0, 1, 3]], 0.5)


@pytest.mark.parametrize("name", ["gelu", "erf"])
def test_fallback_passes_the_oracle(no_numba, name):
    """The rules (VJP, double VJP, JVP, vmap) around the NumPy / SciPy forwards."""
    d_fn, t_fn = (dp.nn.functional.gelu, F.gelu) if name == "gelu" else (dp.erf, torch.erf)
    for dtype in (np.float32, np.float64):
        check(d_fn, t_fn, rand(4, 5, dtype=dtype, low=-4.0, high=4.0))


# --- Adam --------------------------------------------------------------------------------

ADAM_OPTIONS = [dict(), dict(amsgrad=True), dict(maximize=True), dict(weight_decay=0.1),
                dict(weight_decay=0.1, decoupled_weight_decay=True),
                dict(weight_decay=0.1, amsgrad=True, maximize=True)]


def _adam_run(lib, dtype, shapes, options, steps=6, name="Adam"):
    """Parameters and state after `steps` steps on fixed random gradients."""
    rng = np.random.default_rng(0)
    params = [lib.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in shapes]
    hyper = dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6) if name != "SGD" else dict(lr=0.05)
    opt = getattr(lib.optim, name)(params, **hyper, **options)
    for _ in range(steps):
        for p in params:
            p.grad = lib.tensor(rng.standard_normal(tuple(p.shape)).astype(dtype))
        opt.step()
    state = [{k: np.asarray(v) for k, v in opt.state[p].items()} for p in params]
    return [p.detach().numpy().copy() for p in params], state


SHAPES = [(7, 13), (5,), (), (0, 4), (1,)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", ADAM_OPTIONS, ids=[str(o) for o in ADAM_OPTIONS])
def test_adam_kernel_equals_numpy_path_bit_for_bit(options, dtype):
    (p, s), (p0, s0) = both_paths(lambda: _adam_run(dp, dtype, SHAPES, options))
    for a, b in zip(p, p0):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(s, s0):
        assert list(a) == list(b)
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])


@needs_numba
def test_kernels_run_only_on_contiguous_float_arrays_of_one_dtype():
    p = np.ones((4, 6), np.float32)
    kernel = optimizer.numba_kernel
    assert kernel("adam", p, p, p, p, None) is not None
    assert kernel("adam", p, p.T.copy().T, p, p, None) is None          # a strided gradient
    assert kernel("adam", p, p, p, p, p[:, :3]) is None
    assert kernel("adam", p.astype(np.float16), *[p.astype(np.float16)] * 3, None) is None
    assert kernel("sgd", p, p, p.astype(np.float64)) is None


def test_adam_on_a_strided_gradient_takes_the_numpy_path():
    rng = np.random.default_rng(2)
    w, g = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((4, 3)).astype(np.float32)

    def run():
        p = dp.tensor(w.copy(), requires_grad=True)
        opt = dp.optim.Adam([p], lr=0.1)
        p.grad = dp.tensor(g).T                     # a non-contiguous view
        opt.step()
        return p.detach().numpy()

    ours, fallback = both_paths(run)
    np.testing.assert_array_equal(ours, fallback)


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", ADAM_OPTIONS[:5], ids=[str(o) for o in ADAM_OPTIONS[:5]])
def test_adam_matches_torch(options, dtype, name):
    if name == "AdamW":
        options = {k: v for k, v in options.items() if k != "decoupled_weight_decay"}
    shapes = [(7, 13), (5,), (), (1,)]
    ours = both_paths(lambda: _adam_run(dp, dtype, shapes, options, name=name))
    theirs = _adam_run(torch, dtype, shapes, options, name=name)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    for params, state in ours:
        for a, b in zip(params, theirs[0]):
            np.testing.assert_allclose(a, b, **tol)
        for a, b in zip(state, theirs[1]):
            assert list(a) == list(b)
            for key in a:
                np.testing.assert_allclose(a[key], b[key], **tol)


def test_adam_accepts_torch_flags():
    p = [dp.zeros(2, requires_grad=True)]
    t = [torch.zeros(2, requires_grad=True)]
    for name in ("Adam", "AdamW"):
        for flags in (dict(foreach=True), dict(fused=True), dict(foreach=False, fused=False)):
            group = getattr(dp.optim, name)(p, **flags).param_groups[0]
            t_group = getattr(torch.optim, name)(t, **flags).param_groups[0]
            assert {k: v for k, v in group.items() if k != "params"} == \
                {k: v for k, v in t_group.items() if k != "params"}
        with pytest.raises(RuntimeError, match="`fused` and `foreach` cannot be `True` together"):
            getattr(dp.optim, name)(p, foreach=True, fused=True)
        with pytest.raises(NotImplementedError, match=f"{name}: capturable=True"):
            getattr(dp.optim, name)(p, differentiable=True)


SGD_OPTIONS = [dict(momentum=0.9), dict(momentum=0.9, nesterov=True, weight_decay=0.1),
               dict(momentum=0.5, dampening=0.3, maximize=True),
               dict(momentum=0.8, weight_decay=0.05, maximize=True)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", SGD_OPTIONS, ids=[str(o) for o in SGD_OPTIONS])
def test_sgd_momentum_kernel_equals_numpy_path_and_torch(options, dtype):
    (p, s), (p0, s0) = both_paths(lambda: _adam_run(dp, dtype, SHAPES, options, name="SGD"))
    for a, b in zip(p + [x["momentum_buffer"] for x in s], p0 + [x["momentum_buffer"] for x in s0]):
        np.testing.assert_array_equal(a, b)
    theirs = _adam_run(torch, dtype, SHAPES, options, name="SGD")
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    for a, b in zip(p, theirs[0]):
        np.testing.assert_allclose(a, b, **tol)
    for a, b in zip(s, theirs[1]):
        np.testing.assert_allclose(a["momentum_buffer"], b["momentum_buffer"], **tol)


# --- layer norm, attention's softmax, BCE with logits, dropout masks ---------------------------

def _grads(fn, *arrays, g=None):
    """fn's output and its inputs' gradients (a plain backward) as arrays."""
    ts = [dp.tensor(a, requires_grad=True) for a in arrays]
    y = fn(*ts)
    y.backward(dp.tensor(g) if g is not None else dp.ones_like(y))
    return [y.detach().numpy()] + [t.grad.numpy() for t in ts]


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", [(6, 5, 16), (3, 4, 2, 8), (1, 1)])
def test_layer_norm_kernel_equals_numpy_path(shape, affine, dtype):
    x = rand(*shape, dtype=dtype, low=-3.0, high=5.0)
    g = rand(*shape, dtype=dtype, seed=1)
    norm = shape[-2:] if len(shape) == 4 else shape[-1:]
    w, b = rand(*norm, dtype=dtype, seed=2), rand(*norm, dtype=dtype, seed=3)
    args = (x, w, b) if affine else (x,)

    def run():
        return _grads(lambda x, *wb: dp.layer_norm(x, norm, *wb), *args, g=g)

    tol = dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    for ours, fallback in zip(*both_paths(run)):
        assert ours.dtype == fallback.dtype == dtype
        np.testing.assert_allclose(ours, fallback, **tol)


@needs_numba
def test_layer_norm_kernel_takes_only_trailing_dims_of_contiguous_inputs():
    from diffprog.ops.nn import LayerNorm
    x = np.ones((4, 6), np.float32)
    assert LayerNorm._kernels(x, None, None, (1,)) is not None
    assert LayerNorm._kernels(x.T, None, None, (1,)) is None                  # not C-contiguous
    assert LayerNorm._kernels(x, None, None, (0,)) is None                    # not the trailing dims
    assert LayerNorm._kernels(x, np.ones(6, np.float64), None, (1,)) is None  # mixed dtypes
    assert LayerNorm._kernels(x[:0], None, None, (1,)) is None                # empty


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mask", ["causal", "none", "full", "broadcast rows", "bool"])
@pytest.mark.parametrize("dropout", [False, True])
def test_attention_kernels_equal_numpy_path(mask, dropout, dtype):
    from diffprog.ops.attention import Attention
    q, k, v = (rand(2, 3, 9, 4, dtype=dtype, seed=s) for s in range(3))
    g = rand(2, 3, 9, 4, dtype=dtype, seed=3)
    bias = {"causal": np.triu(np.full((9, 9), -np.inf, dtype), 1), "none": None,
            "full": rand(2, 3, 9, 9, dtype=dtype, seed=4), "broadcast rows": rand(2, 1, 1, 9, dtype=dtype, seed=5),
            "bool": None}[mask]
    if mask == "causal":
        bias[4] = -np.inf                       # a row with nothing to attend to
    keep = (np.random.default_rng(6).random((2, 3, 9, 9)) > 0.3).astype(dtype) / 0.7 if dropout else None

    def run():
        if mask == "bool":                      # through the public function (its mask handling)
            m = dp.tensor(np.random.default_rng(7).random((9, 9)) > 0.3)
            return _grads(lambda q, k, v: dp.nn.functional.scaled_dot_product_attention(q, k, v, m), q, k, v, g=g)
        extra = () if bias is None else (dp.tensor(bias),)
        for empty_rows_zero in (True, False):
            with np.errstate(all="ignore"):
                out = _grads(lambda q, k, v: Attention.apply(q, k, v, *extra, scale=0.4, keep=keep,
                                                            empty_rows_zero=empty_rows_zero)[0], q, k, v, g=g)
            if empty_rows_zero:
                result = out
        return result + out[:1]                 # (NaN rows without empty_rows_zero)

    tol = dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    for ours, fallback in zip(*both_paths(run)):
        assert ours.dtype == fallback.dtype == dtype
        np.testing.assert_allclose(ours, fallback, equal_nan=True, **tol)


@needs_numba
def test_attention_double_backward_unchanged_by_kernels():
    """create_graph takes the differentiable VJP; its gradients equal the plain backward's."""
    from diffprog.ops.attention import Attention
    q, k, v = (dp.tensor(rand(2, 5, 3, dtype=np.float32, seed=s), requires_grad=True) for s in range(3))
    out = Attention.apply(q, k, v, scale=0.5)[0]
    plain = dp.autograd.grad(out.sum(), (q, k, v), retain_graph=True)
    graph = dp.autograd.grad(out.sum(), (q, k, v), create_graph=True)
    for a, b in zip(plain, graph):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert graph[0].requires_grad


@needs_numba
def test_bce_with_logits_kernel_equals_numpy_path_and_is_accurate():
    x = rand(64, 50, dtype=np.float32, low=-30.0, high=30.0)
    x[0, :8] = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-38, 90.0, -90.0]
    t = rand(64, 50, dtype=np.float32, low=0.0, high=1.0, seed=1)

    def run():
        with np.errstate(all="ignore"):
            return _grads(lambda x: dp.nn.functional.binary_cross_entropy_with_logits(
                x, dp.tensor(t), reduction="none"), x)

    (loss, grad), (loss0, grad0) = both_paths(run)
    np.testing.assert_allclose(grad, grad0, rtol=1e-6, atol=1e-7, equal_nan=True)
    xd, td = x.astype(np.float64), t.astype(np.float64)
    with np.errstate(all="ignore"):
        truth = np.maximum(xd, 0) - xd * td + np.log1p(np.exp(-np.abs(xd)))
    finite = np.isfinite(truth)
    np.testing.assert_array_equal(np.isnan(loss), np.isnan(loss0))
    # float32 cancels in max(x, 0) - t x + log1p(..); the kernel sums in float64
    assert (np.abs(loss[finite] - truth[finite]) / np.abs(truth[finite])).max() < 2e-7
    np.testing.assert_allclose(loss[finite], loss0[finite], rtol=2e-3, atol=1e-6)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("dtype", [dp.float32, dp.float64])
def test_dropout_masks_of_both_paths_drop_p_and_reproduce(p, dtype):
    x = dp.ones(400, 500, dtype=dtype)

    def run():
        dp.manual_seed(3)
        a, b = dp.nn.functional.dropout(x, p).numpy(), dp.nn.functional.dropout(x, p).numpy()
        dp.manual_seed(3)
        return a, b, dp.nn.functional.dropout(x, p).numpy()

    for a, b, again in both_paths(run):
        assert a.dtype == dtype.np
        np.testing.assert_array_equal(a, again)            # manual_seed reproduces the mask
        assert not np.array_equal(a, b)                    # and the next mask is fresh
        assert set(np.unique(a)) == {0.0, dtype.np.type(1 / (1 - p))}
        assert abs((a == 0).mean() - p) < 5 * math.sqrt(p * (1 - p) / a.size)
        # neighbours are independent: P(both kept) = (1 - p)^2
        both = ((a[:, :-1] != 0) & (a[:, 1:] != 0)).mean()
        assert abs(both - (1 - p) ** 2) < 5 * math.sqrt((1 - p) ** 2 / a[:, 1:].size)


# --- the LSTM layer's per-step gate arithmetic -------------------------------------------

def _lstm_run(lib, dtype, bias, bidirectional, batch_first):
    """Outputs and every gradient of a 2-layer nn.LSTM (PyTorch's initial weights) under a
    random cotangent."""
    torch.manual_seed(0)
    kw = dict(num_layers=2, bias=bias, bidirectional=bidirectional, batch_first=batch_first)
    mod = torch.nn.LSTM(5, 6, **kw).to(getattr(torch, np.dtype(dtype).name))
    if lib is dp:
        weights = {k: dp.tensor(v.detach().numpy()) for k, v in mod.state_dict().items()}
        mod = dp.nn.LSTM(5, 6, **kw).to(getattr(dp, np.dtype(dtype).name))
        mod.load_state_dict(weights)
    L = 4 if bidirectional else 2
    x, B = rand(3, 7, 5, seed=1, dtype=dtype), 3 if batch_first else 7
    h0, c0 = rand(L, B, 6, seed=2, dtype=dtype), rand(L, B, 6, seed=3, dtype=dtype)
    leaves = [lib.tensor(a, requires_grad=True) for a in (x, h0, c0)]
    out, (h, c) = mod(leaves[0], (leaves[1], leaves[2]))
    rng = np.random.default_rng(0)
    loss = sum((o * lib.tensor(rng.standard_normal(tuple(o.shape)).astype(dtype))).sum() for o in (out, h, c))
    loss.backward()
    return [o.detach().numpy() for o in (out, h, c)] + [t.grad.numpy() for t in leaves + list(mod.parameters())]


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("bidirectional,batch_first", [(False, True), (True, False)])
def test_lstm_layer_kernels_equal_numpy_path_and_torch(dtype, bias, bidirectional, batch_first):
    fast_run, fallback = both_paths(lambda: _lstm_run(dp, dtype, bias, bidirectional, batch_first))
    theirs = _lstm_run(torch, dtype, bias, bidirectional, batch_first)
    same = dict(rtol=2e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-13)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    assert len(fast_run) == len(fallback) == len(theirs)
    for i, (a, b, t) in enumerate(zip(fast_run, fallback, theirs)):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_allclose(a, b, err_msg=f"kernels vs NumPy, result {i}", **same)
        np.testing.assert_allclose(b, t, err_msg=f"NumPy vs torch, result {i}", **tol)


@needs_numba
def test_lstm_layer_takes_the_kernels_only_on_numpy_float_arrays():
    a = np.ones((2, 2), np.float32)
    assert fast.rnn_kernels(a, a) is not None and fast.rnn_kernels(a, a.astype(np.float64)) is not None
    assert fast.rnn_kernels(a, a.astype(np.float16)) is None


# --- col2im of 2-d stride-1 convolutions -------------------------------------------------------

@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("geometry", [
    dict(c=6, o=16, size=(14, 14), k=(5, 5), padding=0, groups=1),     # LeNet's second layer
    dict(c=2, o=12, size=(9, 7), k=(3, 2), padding=(1, 2), groups=2),
    dict(c=1, o=8, size=(5, 6), k=(1, 1), padding=0, groups=1)])
def test_conv_input_gradient_kernel_equals_numpy_path_and_torch(geometry, dtype, monkeypatch):
    """The input gradient of a stride-1 conv2d (a transposed convolution through the
    col2im kernel), with the weight's, against the NumPy path and PyTorch."""
    from diffprog.ops import conv_numba
    calls, kernel = [], conv_numba.col2im
    monkeypatch.setattr(conv_numba, "col2im", lambda *a: calls.append(1) or kernel(*a))
    g = geometry
    x = rand(5, g["c"], *g["size"], dtype=dtype)
    w = rand(g["o"], g["c"] // g["groups"], *g["k"], dtype=dtype, seed=1)
    args = dict(padding=g["padding"], groups=g["groups"])
    y = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), **args)
    gy = rand(*y.shape, dtype=dtype, seed=2)

    def run():
        return _grads(lambda x, w: dp.nn.functional.conv2d(x, w, **args), x, w, g=gy)
    (out, gx, gw), (_, gx0, gw0) = both_paths(run)
    assert len(calls) == 1
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(gx, gx0, **tol)
    np.testing.assert_allclose(gw, gw0, **tol)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    torch.nn.functional.conv2d(xt, wt, **args).backward(torch.tensor(gy))
    np.testing.assert_allclose(gx, xt.grad.numpy(), **tol)
    np.testing.assert_allclose(gw, wt.grad.numpy(), **tol)


# --- ReLU ------------------------------------------------------------------------------------

@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "0-d"])
def test_relu_kernels_equal_the_numpy_path_bit_for_bit(layout, dtype, monkeypatch):
    """Equal values, signs of zero and NaNs, and no warning (the kernels take contiguous
    arrays of 4096 elements or more: a transposed or small input keeps NumPy's path)."""
    from diffprog.ops import relu_numba
    x = rand(64, 80, dtype=dtype, low=-3.0, high=3.0)       # 4096 elements or more
    x[0, :6] = [0.0, -0.0, np.nan, np.inf, -np.inf, 1e-40]
    x = np.array(-0.0, dtype) if layout == "0-d" else x
    g = rand(*x.shape, dtype=dtype, seed=1)
    if g.ndim:
        g[0, 3:6] = [np.nan, 5.0, -2.0]
    op = (lambda t: dp.relu(t.mT)) if layout == "transposed" else dp.relu
    calls = []
    for name in ("relu", "relu_grad"):
        kernel = getattr(relu_numba, name)
        monkeypatch.setattr(relu_numba, name, lambda *a, k=kernel, n=name: calls.append(n) or k(*a))
    gy = g.T if layout == "transposed" else g
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (y, gx), (y0, gx0) = both_paths(lambda: _grads(op, x, g=gy))
    assert calls == ([] if layout != "contiguous" else ["relu", "relu_grad"])
    assert y.dtype == dtype
    for a, b in ((y, y0), (gx, gx0)):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(np.signbit(a), np.signbit(b))
    y = y.T if layout == "transposed" else y
    xt = torch.tensor(x, requires_grad=True)
    torch.relu(xt).backward(torch.tensor(g))
    finite = np.isfinite(x) & np.isfinite(g)
    np.testing.assert_array_equal(y[np.isfinite(x)], torch.relu(torch.tensor(x)).numpy()[np.isfinite(x)])
    np.testing.assert_array_equal(gx[finite], xt.grad.numpy()[finite])
