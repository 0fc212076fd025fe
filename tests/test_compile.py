"""diffprog.compile: compiled calls equal eager ones (values, gradients, random draws,
buffers), across repeated calls, changed values and parameters, new shapes, train/eval;
what cannot be traced falls back to eager, with a warning, never a wrong result."""
import copy
import warnings

import numpy as np
import pytest

import diffprog as dp
from diffprog import nn
from diffprog.func.fuse import _numba
from diffprog.func.trace import Untraceable

FUSIONS = ["numpy", "none"] + (["numba"] if _numba() is not None else [])
rng = np.random.default_rng(0)


def _t(shape, requires_grad=True, dtype=np.float32):
    return dp.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=requires_grad)


def _close(a, b, tol=1e-5):
    np.testing.assert_allclose(np.asarray(a.detach()._data), np.asarray(b.detach()._data),
                               rtol=tol, atol=tol)


def _plans(c):
    return [p for entry in c.cache.values() if isinstance(entry, list) for p in entry]


def _check_calls(fn, make_inputs, fusion, calls=4, backward=True):
    """Call fn eagerly and compiled on the same fresh inputs, several times: equal outputs and
    equal gradients of the inputs that require grad."""
    compiled = dp.compile(fn, options={"fusion": fusion})
    for _ in range(calls):
        xs = make_inputs()
        ys = [x.detach().requires_grad_(x.requires_grad) for x in xs]
        out_e, out_c = fn(*xs), compiled(*ys)
        _close(out_e, out_c)
        if backward:
            out_e.sum().backward()
            out_c.sum().backward()
            for x, y in zip(xs, ys):
                if x.requires_grad:
                    _close(x.grad, y.grad)
    assert _plans(compiled), "the function was not compiled"
    return compiled


@pytest.mark.parametrize("fusion", FUSIONS)
def test_overhead_workload(fusion):
    c = _check_calls(lambda x: (x * 2 + 1).relu().sum(), lambda: (_t(10),), fusion)
    assert "forward(_new(" not in _plans(c)[0].source.split("def backward")[1] or fusion == "none"


@pytest.mark.parametrize("fusion", FUSIONS)
def test_elementwise_chains_and_broadcasting(fusion):
    def f(x, y):
        z = (x * y - y / 3).exp().tanh() + (x > 0) * x.sigmoid() - x.abs().sqrt()
        return (z * y).neg() + (-z).relu()
    _check_calls(f, lambda: (_t((3, 4)), _t((4,))), fusion)


@pytest.mark.parametrize("fusion", FUSIONS)
def test_float64_and_mixed_dtypes(fusion):
    def f(x, m):
        return (x * m + 2.5) * (x.double() < 0.3) + x * 3
    _check_calls(f, lambda: (_t(6, dtype=np.float64), dp.tensor(rng.integers(0, 3, 6))), fusion)


def test_autograd_grad_and_vjp_of_multiple_outputs():
    f = lambda x, w: ((x @ w).tanh(), (x * x).sum(1))    # noqa: E731
    c = dp.compile(f)
    for _ in range(3):
        x, w = _t((5, 3)), _t((3, 2))
        x2, w2 = x.detach().requires_grad_(), w.detach().requires_grad_()
        (a, b), (a2, b2) = f(x, w), c(x2, w2)
        g = _t((5, 2), requires_grad=False)
        ge = dp.autograd.grad((a, b), (x, w), (g, dp.ones(5)))
        gc = dp.autograd.grad((a2, b2), (x2, w2), (g, dp.ones(5)))
        for p, q in zip(ge, gc):
            _close(p, q)
    assert _plans(c)


def test_only_one_output_used_in_backward():
    c = dp.compile(lambda x: (x.exp(), x * 2))
    for _ in range(2):
        x = _t(4)
        a, b = c(x)
        b.sum().backward()
        _close(x.grad, dp.full((4,), 2.0))


def test_double_backward_recomputes_eagerly():
    f = lambda x: (x.sin() * x).sum()   # noqa: E731
    c = dp.compile(f)
    for _ in range(3):
        x = _t(5, dtype=np.float64)
        x2 = x.detach().requires_grad_()
        (g,) = dp.autograd.grad(f(x), x, create_graph=True)
        (g2,) = dp.autograd.grad(c(x2), x2, create_graph=True)
        _close(g, g2)
        (h,) = dp.autograd.grad(g.sum(), x)
        (h2,) = dp.autograd.grad(g2.sum(), x2)
        _close(h, h2)


def test_hessian_of_a_compiled_function():
    c = dp.compile(lambda x: (x.exp() * x).sum())
    x = _t(3, dtype=np.float64, requires_grad=False)
    c(x.requires_grad_())
    h = dp.func.hessian(lambda z: c(z))(x.detach())
    e = dp.func.hessian(lambda z: (z.exp() * z).sum())(x.detach())
    _close(h, e)


def mlp():
    return nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 5))


def _train_pair(model, steps=4, batch=8, compile_how="function", lr=1e-2):
    """Train an eager copy and a compiled copy side by side with Adam: equal losses and
    parameters at every step."""
    eager = copy.deepcopy(model)
    if compile_how == "function":
        compiled = dp.compile(model)
    else:
        model.compile()
        compiled = model
    opts = [dp.optim.Adam(m.parameters(), lr=lr) for m in (eager, model)]
    for step in range(steps):
        x = _t((batch, 20), requires_grad=False)
        y = dp.tensor(rng.integers(0, 5, batch))
        losses = []
        for m, opt in zip((eager, compiled), opts):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(m(x), y)
            loss.backward()
            opt.step()
            losses.append(loss)
        _close(losses[0], losses[1])
        for p, q in zip(eager.parameters(), model.parameters()):
            _close(p, q)
    return compiled


@pytest.mark.parametrize("how", ["function", "method"])
def test_mlp_adam_training(how):
    c = _train_pair(mlp(), compile_how=how)
    target = c if how == "function" else c._compiled_call
    assert _plans(target)


def test_compiled_module_sees_replaced_data_and_retraces_new_shapes():
    m = mlp()
    c = dp.compile(m)
    x = _t((4, 20), requires_grad=False)
    c(x)
    m[0].weight.data = dp.zeros(16, 20)
    _close(c(x), m(x))
    m[0].weight.data = dp.ones(16, 20)                # same shape: read afresh
    _close(c(x), m(x))
    x3 = _t((3, 20), requires_grad=False)
    _close(c(x3), m(x3))
    assert len(c.cache) == 2


def test_replaced_parameter_or_submodule_is_seen():
    m = mlp()
    c = dp.compile(m)
    x = _t((2, 20), requires_grad=False)
    c(x)
    m[2].weight = nn.Parameter(dp.randn(16, 16))
    _close(c(x), m(x))
    m[3] = nn.ReLU()
    _close(c(x), m(x))


def test_dropout_and_batch_norm_train_and_eval():
    net = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.3),
                        nn.Linear(8, 2))
    eager = copy.deepcopy(net)
    c = dp.compile(net)
    draws = []
    for mode in ("train", "train", "eval", "train", "eval", "train"):
        for m in (net, eager):
            getattr(m, mode)()
        x = _t((5, 6), requires_grad=False)
        dp.manual_seed(7 + len(draws))
        a = eager(x)
        dp.manual_seed(7 + len(draws))
        b = c(x)
        _close(a, b)
        a.sum().backward()
        b.sum().backward()
        for p, q in zip(eager.parameters(), net.parameters()):
            _close(p.grad, q.grad)
        for p, q in zip(eager.buffers(), net.buffers()):
            _close(p.to(dp.float32), q.to(dp.float32))
        draws.append(b)
    # without re-seeding, two training calls draw different masks, as eager would
    net.train()
    x = _t((5, 6), requires_grad=False)
    assert not np.allclose(c(x)._data, c(x)._data)


def test_random_functions_are_redrawn_like_eager():
    def f(x):
        noise = dp.randn(x.shape) + dp.rand_like(x)
        eps = dp.empty_like(x).normal_()
        return x * noise + eps + dp.bernoulli(dp.full(x.shape, 0.5))
    c = dp.compile(f)
    for seed in range(4):
        x = _t(6)
        dp.manual_seed(seed)
        a = f(x)
        dp.manual_seed(seed)
        b = c(x)
        _close(a, b)
    assert _plans(c)
    g = dp.Generator().manual_seed(3)
    c2 = dp.compile(lambda x: x + dp.randn(x.shape, generator=g))
    x = _t(3, requires_grad=False)
    first, second = c2(x), c2(x)
    g.manual_seed(3)
    _close(c2(x), first)
    assert not np.allclose(first._data, second._data)


def test_in_place_ops_inside():
    def f(x, y):
        z = x * 2
        z += y
        z.relu_()
        buf = dp.zeros(x.shape)
        buf[1:] = 3.0                # written each call into a fresh copy of the constant
        buf[2] += 1
        return z * buf
    c = _check_calls(f, lambda: (_t(5), _t(5)), "numpy")
    assert _plans(c)
    with dp.no_grad():
        _check_calls(lambda x: x.clone().index_fill_(0, dp.tensor([1]), 5.0) * x,
                     lambda: (_t(4, requires_grad=False),), "numpy", backward=False)


def test_in_place_on_input_without_grad_is_replayed():
    def f(x):
        x.mul_(2)
        return x + 1
    c = dp.compile(f)
    for _ in range(3):
        a = _t(4, requires_grad=False)
        b = a.detach().clone()
        v = b._version
        _close(f(a), c(b))
        _close(a, b)
        assert b._version == v + 1
    assert _plans(c)


def test_outside_tensors_read_fresh():
    w = _t(3, requires_grad=False)
    c = dp.compile(lambda x: x * w)
    x = _t(3, requires_grad=False)
    c(x)
    w.add_(1)
    _close(c(x), x * w)


def test_closure_values_are_guarded():
    scale = [2.0]
    k = 2.0

    def f(x):
        return x * k

    c = dp.compile(f)
    x = _t(3, requires_grad=False)
    c(x)
    k = 5.0
    _close(c(x), x * 5.0)
    assert scale


def test_outputs_of_every_kind():
    def f(x, d):
        return {"same": x, "sum": (x + d["b"]).sum(), "pair": (x * 2, 3), "detached": (x * 3).detach()}
    c = dp.compile(f)
    for _ in range(3):
        x = _t(3)
        b = _t(3, requires_grad=False)
        out = c(x, {"b": b})
        assert out["same"] is x and out["pair"][1] == 3
        _close(out["sum"], (x + b).sum())
        assert not out["detached"].requires_grad
        out["sum"].backward()
        _close(x.grad, dp.ones(3))


def test_no_grad_calls_and_grad_calls_trace_separately():
    c = dp.compile(lambda x: (x * x).sum())
    x = _t(3)
    with dp.no_grad():
        assert not c(x).requires_grad
        assert not c(x).requires_grad
    y = c(x)
    y.backward()
    _close(x.grad, 2 * x)
    assert len(c.cache) == 2


def test_modified_saved_input_raises_like_eager():
    c = dp.compile(lambda x, w: (x * w).sum())
    for _ in range(2):
        x, w = _t(3, requires_grad=False), _t(3)
        y = c(x, w)
        x.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.backward()


def test_second_backward_needs_retain_graph():
    c = dp.compile(lambda x: (x * x).sum())
    for _ in range(2):
        x = _t(3)
        y = c(x)
        y.backward(retain_graph=True)
        y.backward()
        _close(x.grad, 4 * x)
        with pytest.raises(RuntimeError, match="second time"):
            y.backward()


def test_cross_entropy_with_changing_targets():
    c = dp.compile(lambda z, t: nn.functional.cross_entropy(z, t))
    for _ in range(3):
        z = _t((6, 4))
        t = dp.tensor(rng.integers(0, 4, 6))
        z2 = z.detach().requires_grad_()
        a, b = nn.functional.cross_entropy(z, t), c(z2, t)
        _close(a, b)
        a.backward()
        b.backward()
        _close(z.grad, z2.grad)
    assert _plans(c)


def test_index_with_tensor_changing_indices():
    c = dp.compile(lambda x, i: x[i] * 2)
    for _ in range(3):
        x = _t((5, 2))
        i = dp.tensor(rng.integers(0, 5, 3))
        _close(c(x, i), x[i] * 2)
    assert _plans(c)


@pytest.mark.parametrize("body, reason", [
    (lambda x: x * x.sum().item(), "item"),
    (lambda x: x * 2 if x.sum() > 0 else x * 3, "__bool__"),
    (lambda x: dp.tensor(x.detach().numpy() * 2), "numpy"),
    (lambda x: x[x > 0].sum() + x.sum(), "boolean-mask"),
    (lambda x: x.nonzero().float().sum() + x.sum(), "outside an op"),
    (lambda x: x * dp.distributions.Poisson(dp.tensor(3.0), validate_args=False).sample(), "numpy"),
    (lambda x: x * float(dp.random.default_generator._rng.random()), "random draw"),
    (lambda x: x * x[dp.tensor(1)], "0-d"),
    (lambda x: x.take(dp.tensor([0, 2])).sum() * x, "take"),
])
def test_untraceable_calls_run_eagerly(body, reason):
    c = dp.compile(body)
    for k in range(3):
        x = _t(4)
        x2 = x.detach().requires_grad_()
        dp.manual_seed(k)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            out = c(x2)
        dp.manual_seed(k)
        _close(body(x), out)
        assert bool(w) == (k == 0), "one warning, on the first call"
        if k == 0:
            assert reason in str(w[0].message)
    assert not _plans(c)
    with pytest.raises(Untraceable):
        dp.compile(body, fullgraph=True)(_t(4))


def test_backward_inside_or_in_place_on_input_with_grad_falls_back():
    def step(x, w):
        loss = (x * w).sum()
        loss.backward()
        return loss
    c = dp.compile(step)
    with pytest.warns(UserWarning, match="backward pass inside"):
        x, w = _t(3, requires_grad=False), _t(3)
        c(x, w)
    _close(w.grad, x)

    c2 = dp.compile(lambda x: x.mul_(2).sin())
    x = _t(3) * 1                                   # not a leaf: eager allows mul_
    with pytest.warns(UserWarning, match="in-place op on an input"):
        y = c2(x)
    y.sum().backward()


def test_module_hooks_run_eagerly():
    m = mlp()
    seen = []
    m[0].register_forward_hook(lambda mod, inp, out: seen.append(out))
    c = dp.compile(m)
    with pytest.warns(UserWarning, match="hooks"):
        c(_t((2, 20)))
    c(_t((2, 20)))
    assert len(seen) == 2


def test_decorator_forms_and_arguments():
    @dp.compile
    def f(x):
        return x * 2

    @dp.compile(mode="reduce-overhead", dynamic=False, options={"fusion": "numpy"})
    def g(x):
        return x + 1

    x = _t(2, requires_grad=False)
    _close(f(x), x * 2)
    _close(g(x), x + 1)
    assert dp.compile(f.__wrapped__, backend="eager") is f.__wrapped__
    assert dp.compile(f.__wrapped__, disable=True) is f.__wrapped__
    with pytest.raises(RuntimeError, match="mode"):
        dp.compile(f, mode="fastest")
    with pytest.raises(RuntimeError, match="options"):
        dp.compile(f, options={"triton.cudagraphs": True})
    m = mlp()
    c = dp.compile(m)
    assert list(c.parameters()) == list(m.parameters()) and c.training


def test_module_compile_in_place_and_deepcopy():
    m = mlp()
    m.compile()
    x = _t((3, 20), requires_grad=False)
    a = m(x)
    twin = copy.deepcopy(m)
    _close(twin(x), a)
    m.eval()
    _close(m(x), a)
    assert m._compiled_call.cache


def test_custom_autograd_function_inside():
    class Cube(dp.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x * x * g

    _check_calls(lambda x: Cube.apply(x * 2).sum(), lambda: (_t(4),), "numpy")


def _models():
    from diffprog.models.language import TransformerLM
    from diffprog.vision.models import lenet5
    from diffprog.vision.models.resnet import BasicBlock
    block = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), BasicBlock(4, 4), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten())
    return [("lenet", lenet5(), lambda: (dp.randn(2, 1, 28, 28),)),
            ("resnet block", block, lambda: (dp.randn(2, 3, 8, 8),)),
            ("transformer", TransformerLM(11, context=8, d_model=16, nhead=2, num_layers=1),
             lambda: (dp.tensor(rng.integers(0, 11, (2, 6))),)),
            ("embedding", nn.Sequential(nn.Embedding(10, 4, padding_idx=0), nn.LayerNorm(4),
                                        nn.GELU(), nn.Softmax(-1)),
             lambda: (dp.tensor(rng.integers(0, 10, (3, 5))),))]


@pytest.mark.parametrize("name, model, make", _models(), ids=[m[0] for m in _models()])
def test_models_match_eager(name, model, make):
    """Conv, pooling, batch norm with an in-place residual add, attention with a causal mask
    and dropout, embeddings with padding: train steps and an eval call equal eager's."""
    eager = copy.deepcopy(model)
    c = dp.compile(model)
    for k, mode in enumerate(("train", "train", "eval")):
        eager.train(mode == "train")
        model.train(mode == "train")
        inputs = make()
        dp.manual_seed(k)
        a = eager(*inputs)
        dp.manual_seed(k)
        b = c(*inputs)
        _close(a, b)
        (a * a).mean().backward()
        (b * b).mean().backward()
        for p, q in zip(eager.parameters(), model.parameters()):
            _close(p.grad, q.grad)
    assert len(_plans(c)) == 2, "one plan for train, one for eval"


def test_lstm_falls_back_to_eager():
    lstm = nn.LSTM(3, 4, batch_first=True)
    c = dp.compile(lstm)
    x = _t((2, 5, 3))
    with pytest.warns(UserWarning, match="outside an op"):
        out, _ = c(x)
    out.sum().backward()
    assert x.grad is not None


def test_keyword_and_pytree_arguments_and_methods():
    c = dp.compile(lambda xs, scale=1.0, *, bias: (xs[0] * xs[1]).sum() * scale + bias["b"])
    for scale in (1.0, 2.0, 2.0):
        a, b, bias = _t(3), _t(3), _t(1, requires_grad=False)
        out = c([a, b], scale, bias={"b": bias})
        _close(out, (a * b).sum() * scale + bias)
        out.backward()
        _close(a.grad, b * scale)
    assert len(c.cache) == 2                    # scale 1.0 and 2.0: two signatures

    class Scaler:
        def __init__(self, k):
            self.k = k

        @dp.compile
        def apply(self, x):
            return x * 2 + 1

    s = Scaler(3)
    x = _t(2, requires_grad=False)
    _close(s.apply(x), x * 2 + 1)
    _close(s.apply(x), x * 2 + 1)


def test_modified_output_raises_like_eager():
    c = dp.compile(lambda x: x.exp().view(-1))       # exp's backward reads its output
    for _ in range(2):
        x = _t((2, 2))
        y = c(x)
        y.mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_fill_of_a_constant_is_fresh_per_call():
    c = dp.compile(lambda x: x * dp.empty(3).normal_())
    xs = [_t(3) for _ in range(3)]
    ys = [c(x) for x in xs]                 # three forwards, then three backwards
    for x, y in zip(xs, ys):
        y.sum().backward()
        _close(x.grad, y.detach() / x.detach())


def test_optimiser_step_inside_falls_back():
    w = nn.Parameter(dp.ones(3))
    opt = dp.optim.SGD([w], lr=0.1)
    w.grad = dp.ones(3)

    def f(x):
        y = x * w
        opt.step()                          # changes w in place, outside ops
        return y
    c = dp.compile(f)
    with pytest.warns(UserWarning, match="optimiser"):
        c(_t(3, requires_grad=False))
    c(_t(3, requires_grad=False))
    _close(w, dp.full((3,), 0.8))
