"""func.vmap: its semantics (in_dims, out_dims, pytrees, chunks, errors, randomness) and its
composition with the other transforms, against torch.func on the same inputs.  Every op's
batching rule is checked by the oracle (tests/oracle.py, `_check_vmap`)."""
import warnings

import numpy as np
import pytest

import diffprog as dp
from diffprog import func

torch = pytest.importorskip("torch")
tf = torch.func

RNG = np.random.default_rng(0)


def arr(*shape):
    return RNG.standard_normal(shape)


def both(a):
    """The same array as a diffprog and a torch tensor."""
    return dp.tensor(a), torch.tensor(a)


def close(a, b, tol=1e-10):
    a = a.detach().numpy() if hasattr(a, "detach") else np.asarray(a)
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    assert a.shape == b.shape, f"{a.shape} vs {b.shape}"
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def tree_close(a, b, tol=1e-10):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            tree_close(a[k], b[k], tol)
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            tree_close(x, y, tol)
    else:
        close(a, b, tol)


# --- in_dims, out_dims, pytrees, chunks ---------------------------------------------------

def test_in_dims_and_out_dims_against_torch():
    x, y = arr(3, 5), arr(5, 3)
    for in_dims, out_dims in [(0, 0), ((0, 1), 0), ((0, 1), 1), ((0, None), -1), ((-2, -1), 0)]:
        b = y if in_dims == 0 else y if in_dims[1] in (1, -1) else y[:, 0]
        if in_dims == 0:
            b = x
        (dx, tx), (db, tb) = both(x), both(b)
        got = func.vmap(lambda u, v: u * v.sum() + u, in_dims=in_dims, out_dims=out_dims)(dx, db)
        want = tf.vmap(lambda u, v: u * v.sum() + u, in_dims=in_dims, out_dims=out_dims)(tx, tb)
        close(got, want)


def test_pytrees_in_and_out():
    x, y = arr(4, 3), arr(3)
    fn = lambda d, pair: {"s": d["a"] * pair[1], "t": (d["b"].sum(), pair[0] + 1)}  # noqa: E731
    args = lambda lib, t: ({"a": t(x), "b": t(x * 2)}, [t(x[0]), t(y)])  # noqa: E731
    in_dims = ({"a": 0, "b": 0}, [None, None])
    got = func.vmap(fn, in_dims=in_dims, out_dims={"s": 1, "t": (0, None)})(*args(dp, dp.tensor))
    want = tf.vmap(fn, in_dims=in_dims, out_dims={"s": 1, "t": (0, None)})(*args(torch, torch.tensor))
    tree_close(got, want)


def test_prefix_in_dims_apply_to_a_whole_subtree():
    x = arr(2, 3)
    d = {"a": dp.tensor(x), "b": dp.tensor(x + 1)}
    got = func.vmap(lambda t: t["a"] * t["b"], in_dims=({"a": 0, "b": 0},))(d)
    close(got, func.vmap(lambda t: t["a"] * t["b"])(d))


def test_unbatched_outputs_are_expanded_and_kwargs_not_mapped():
    x = dp.tensor(arr(4, 3))
    out, const = func.vmap(lambda v, *, k: (v * k, dp.ones(2)))(x, k=3.0)
    close(out, x * 3)
    assert tuple(const.shape) == (4, 2)


def test_chunk_size_gives_the_same_result():
    x, w = dp.tensor(arr(10, 4)), dp.tensor(arr(4, 3))
    f = lambda v, m: (v @ m).tanh()  # noqa: E731
    full = func.vmap(f, in_dims=(0, None))(x, w)
    for chunk in (1, 3, 10, 20):
        close(func.vmap(f, in_dims=(0, None), chunk_size=chunk)(x, w), full)


def test_nested_vmap_against_torch():
    (dx, tx), (dy, ty) = both(arr(3, 4)), both(arr(5, 4))
    outer = lambda lib: lambda a, b: (a * b).sum() + lib.sin(a).mean()  # noqa: E731
    got = func.vmap(func.vmap(outer(dp), in_dims=(None, 0)), in_dims=(0, None))(dx, dy)
    want = tf.vmap(tf.vmap(outer(torch), in_dims=(None, 0)), in_dims=(0, None))(tx, ty)
    close(got, want)
    # the inner vmap sees tensors batched by the outer one as per-element inputs
    got = func.vmap(lambda a: func.vmap(lambda r: r @ a)(dy))(dx.reshape(3, 4, 1).expand(3, 4, 2))
    want = tf.vmap(lambda a: tf.vmap(lambda r: r @ a)(ty))(tx.reshape(3, 4, 1).expand(3, 4, 2))
    close(got, want)


def test_shape_and_size_are_per_element():
    seen = {}

    def f(v):
        seen.update(shape=tuple(v.shape), ndim=v.ndim, size=v.size(-1), numel=v.numel(), len=len(v))
        return v.T @ v

    out = func.vmap(f)(dp.tensor(arr(6, 3, 2)))
    assert seen == dict(shape=(3, 2), ndim=2, size=2, numel=6, len=3)
    assert tuple(out.shape) == (6, 2, 2)


def test_in_place_ops_write_each_element():
    x = arr(4, 3)

    def f(v):
        y = v.clone()
        y.mul_(2).add_(v.sum())
        y[0] = -1.0
        return y
    want = np.stack([f(dp.tensor(r)).numpy() for r in x])
    close(func.vmap(f)(dp.tensor(x)), want)


def test_in_place_into_a_shared_tensor_is_an_error():
    shared = dp.zeros(3)
    with pytest.raises(RuntimeError, match="same for every batch element"):
        func.vmap(lambda v: shared.add_(v))(dp.tensor(arr(4, 3)))


def test_ops_without_a_rule_run_per_element_with_one_warning():
    x = dp.tensor(arr(5, 7))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        got = func.vmap(dp.median)(x)
        func.vmap(dp.median)(x)
    close(got, np.median(x.numpy(), axis=1))
    assert sum("no batching rule for median" in str(m.message) for m in w) <= 1


def test_batched_index_tensors_against_torch():
    x, i = arr(3, 4, 5), np.array([[0, 2], [1, 3], [3, 3]])
    for f in (lambda a, k: a[k], lambda a, k: a[:, k], lambda a, k: a[1:, k],
              lambda a, k: a.gather(0, k.unsqueeze(1).expand(2, 5)),
              lambda a, k: a.index_select(1, k), lambda a, k: a.scatter_add(
                  0, k.unsqueeze(1).expand(2, 5), a[:2])):
        close(func.vmap(f)(dp.tensor(x), dp.tensor(i)), tf.vmap(f)(torch.tensor(x), torch.tensor(i)))


# --- errors --------------------------------------------------------------------------------

@pytest.mark.parametrize("call,message", [
    (lambda: func.vmap(lambda a: a, in_dims=None)(dp.ones(2)), "at least one Tensor"),
    (lambda: func.vmap(lambda a, b: a + b)(dp.ones(2), dp.ones(3)), "same size in the mapped dimension"),
    (lambda: func.vmap(lambda a: a, in_dims=1)(dp.ones(2)), "in_dim to satisfy"),
    (lambda: func.vmap(lambda a, b: a, in_dims=(0, 0))(dp.ones(2), 3.0), "non-Tensor arguments"),
    (lambda: func.vmap(lambda a: a, in_dims=(0, 0))(dp.ones(2)), "not compatible"),
    (lambda: func.vmap(lambda a: a, out_dims=None)(dp.ones(2)), "out_dim is None"),
    (lambda: func.vmap(lambda a: 1.0)(dp.ones(2)), "must only return Tensors"),
    (lambda: func.vmap(lambda a: a, randomness="sometimes"), "randomness"),
    (lambda: func.vmap(lambda a: a.item())(dp.ones(2)), r"\.item\(\)"),
    (lambda: func.vmap(lambda a: a * 2 if a > 0 else a)(dp.ones(2)), "control flow"),
    (lambda: func.vmap(lambda a: a.numpy())(dp.ones(2)), r"\.numpy\(\)"),
    (lambda: func.vmap(lambda a: dp.nonzero(a))(dp.ones(2, 3)), "data-dependent"),
])
def test_errors_name_the_problem(call, message):
    with pytest.raises((RuntimeError, ValueError), match=message):
        call()


def test_a_batched_tensor_that_escapes_is_refused():
    kept = []
    func.vmap(lambda a: kept.append(a) or a)(dp.ones(2, 3))
    with pytest.raises(RuntimeError, match="outside of the vmap"):
        kept[0] + 1


def test_batch_norm_running_statistics_are_refused_in_train_mode():
    bn = dp.nn.BatchNorm1d(3)
    with pytest.raises(RuntimeError, match="running statistics"):
        func.vmap(bn)(dp.tensor(arr(4, 5, 3)))
    bn.eval()
    close(func.vmap(bn)(dp.tensor(arr(4, 5, 3))).shape, (4, 5, 3))


# --- randomness ----------------------------------------------------------------------------

def test_randomness_error_same_different():
    x = dp.ones(4, 3)
    with pytest.raises(RuntimeError, match="randomness error mode"):
        func.vmap(lambda v: v + dp.randn(3))(x)
    same = func.vmap(lambda v: v + dp.rand(3), randomness="same")(x)
    assert np.allclose(same.numpy(), same.numpy()[:1])
    diff = func.vmap(lambda v: v + dp.rand(3), randomness="different")(x)
    assert not np.allclose(diff.numpy(), diff.numpy()[:1])
    for sampler in (dp.randn_like, lambda v: dp.bernoulli(v * 0.5), lambda v: dp.normal(v, 1.0),
                    lambda v: dp.nn.functional.dropout(v, 0.5), lambda v: v.clone().uniform_()):
        out = func.vmap(sampler, randomness="different")(dp.ones(6, 50)).numpy()
        assert not np.allclose(out, out[:1]), sampler


def test_randomness_is_drawn_per_level():
    out = func.vmap(func.vmap(lambda v: v + dp.rand(()), randomness="different"),
                    randomness="same")(dp.zeros(2, 3)).numpy()
    assert np.allclose(out[0], out[1]) and not np.allclose(out[0], out[0][0])


def test_in_place_randomness_on_a_shared_tensor_is_refused():
    with pytest.raises(RuntimeError, match="inplace randomness"):
        func.vmap(lambda v: dp.zeros(3).normal_() + v, randomness="different")(dp.ones(2, 3))


# --- composition with the other transforms, against torch.func ------------------------------

def _mlp_params(lib, sizes=(6, 5, 3)):
    rng = np.random.default_rng(1)
    out = {}
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        out[f"w{i}"] = lib.tensor(rng.standard_normal((b, a)) / np.sqrt(a))
        out[f"b{i}"] = lib.tensor(rng.standard_normal(b) * 0.1)
    return out


def _mlp_loss(lib):
    F = lib.nn.functional

    def loss(p, x, y):
        h = F.linear(x, p["w0"], p["b0"]).tanh()
        return F.cross_entropy(F.linear(h, p["w1"], p["b1"]).unsqueeze(0), y.unsqueeze(0))
    return loss


def test_per_sample_gradients_match_torch_func():
    x, y = arr(8, 6), np.arange(8) % 3
    got = func.vmap(func.grad(_mlp_loss(dp)), in_dims=(None, 0, 0))(_mlp_params(dp), dp.tensor(x),
                                                                    dp.tensor(y))
    want = tf.vmap(tf.grad(_mlp_loss(torch)), in_dims=(None, 0, 0))(_mlp_params(torch), torch.tensor(x),
                                                                    torch.tensor(y))
    tree_close(got, want)
    # and one gradient per sample, by a loop
    loop = [func.grad(_mlp_loss(dp))(_mlp_params(dp), dp.tensor(x[i]), dp.tensor(y[i])) for i in range(8)]
    for k in got:
        close(got[k], np.stack([g[k].numpy() for g in loop]))


def test_grad_of_vmap_and_vmap_of_grad_with_aux():
    (dx, tx), (dw, tw) = both(arr(5, 3)), both(arr(3))

    def f(lib):
        return lambda w, x: (lib.sin(x * w).sum() ** 2, x.sum())
    got = func.grad(lambda w: func.vmap(lambda x: f(dp)(w, x)[0])(dx).sum())(dw)
    want = tf.grad(lambda w: tf.vmap(lambda x: f(torch)(w, x)[0])(tx).sum())(tw)
    close(got, want)
    got = func.vmap(func.grad(f(dp), has_aux=True), in_dims=(None, 0))(dw, dx)
    want = tf.vmap(tf.grad(f(torch), has_aux=True), in_dims=(None, 0))(tw, tx)
    tree_close(got, want)


@pytest.mark.parametrize("transform", ["jacrev", "jacfwd", "hessian"])
def test_vmap_of_jacobians(transform):
    (dx, tx) = both(arr(4, 3))
    f = lambda lib: lambda v: lib.sin(v) * v.sum() + v ** 3  # noqa: E731
    close(func.vmap(getattr(func, transform)(f(dp)))(dx), tf.vmap(getattr(tf, transform)(f(torch)))(tx))


def test_jacobians_of_vmap():
    (dx, tx) = both(arr(4, 3))
    f = lambda lib: lambda v: (lib.tanh(v) * v).sum(-1)  # noqa: E731
    for name in ("jacrev", "jacfwd"):
        close(getattr(func, name)(func.vmap(f(dp)))(dx), getattr(tf, name)(tf.vmap(f(torch)))(tx))


def test_vmap_of_jvp_and_vjp():
    (dx, tx), (dt, tt) = both(arr(4, 3)), both(arr(4, 3))
    f = lambda lib: lambda v: lib.exp(v) * v.mean()  # noqa: E731
    got = func.vmap(lambda p, t: func.jvp(f(dp), (p,), (t,)))(dx, dt)
    want = tf.vmap(lambda p, t: tf.jvp(f(torch), (p,), (t,)))(tx, tt)
    tree_close(got, want)
    got = func.vmap(lambda p, c: func.vjp(f(dp), p)[1](c))(dx, dt)
    want = tf.vmap(lambda p, c: tf.vjp(f(torch), p)[1](c))(tx, tt)
    tree_close(got, want)


def test_a_vjp_mapped_over_a_basis_is_the_jacobian():
    """torch.func's jacrev idiom: one vjp_fn, vmapped over the rows of an identity."""
    x = dp.tensor(arr(4))
    f = lambda v: dp.stack([v.sum() * v[0], (v ** 2).sum(), v.prod()])  # noqa: E731
    _, vjp_fn = func.vjp(f, x)
    rows = func.vmap(vjp_fn)(dp.eye(3, dtype=dp.float64))[0]
    close(rows, func.jacrev(f)(x))


def test_nested_vmap_of_grad_against_torch():
    """Every op has a rule at both levels (the per-element product of the inner level too)."""
    (dx, tx), (dw, tw) = both(arr(2, 3, 4)), both(arr(4))
    g = lambda lib: lib.func.grad(lambda w, v: (lib.tanh(v @ w)) ** 2)  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        got = func.vmap(func.vmap(g(dp), in_dims=(None, 0)), in_dims=(None, 0))(dw, dx)
    want = tf.vmap(tf.vmap(g(torch), in_dims=(None, 0)), in_dims=(None, 0))(tw, tx)
    close(got, want)


def test_hessian_in_parameters_under_vmap():
    x = arr(3, 6)
    p_dp, p_t = _mlp_params(dp, (6, 3)), _mlp_params(torch, (6, 3))

    def loss(lib):
        return lambda w, v: lib.nn.functional.linear(v, w, None).tanh().sum()
    got = func.vmap(func.hessian(loss(dp)), in_dims=(None, 0))(p_dp["w0"], dp.tensor(x))
    want = tf.vmap(tf.hessian(loss(torch)), in_dims=(None, 0))(p_t["w0"], torch.tensor(x))
    close(got, want)


def test_model_ensemble_of_stacked_weights():
    """Five MLPs' stacked weights mapped over with one batch of inputs (in_dims None)."""
    rng = np.random.default_rng(3)
    ws = {k: np.stack([rng.standard_normal(s) for _ in range(5)]) for k, s in
          (("w0", (5, 6)), ("b0", (5,)), ("w1", (3, 5)), ("b1", (3,)))}
    x = arr(7, 6)

    def model(lib):
        F = lib.nn.functional
        return lambda p, v: F.linear(F.relu(F.linear(v, p["w0"], p["b0"])), p["w1"], p["b1"])
    got = func.vmap(model(dp), in_dims=(0, None))({k: dp.tensor(v) for k, v in ws.items()}, dp.tensor(x))
    want = tf.vmap(model(torch), in_dims=(0, None))({k: torch.tensor(v) for k, v in ws.items()},
                                                      torch.tensor(x))
    close(got, want)


def test_conv_ensemble_and_per_sample_conv_gradients():
    (dx, tx), (dw, tw) = both(arr(4, 2, 3, 6, 6)), both(arr(4, 5, 3, 3, 3))
    conv = lambda lib: lambda x, w: lib.nn.functional.conv2d(x, w, padding=1)  # noqa: E731
    close(func.vmap(conv(dp))(dx, dw), tf.vmap(conv(torch))(tx, tw))
    loss = lambda lib: lambda w, x: conv(lib)(x.unsqueeze(0), w).tanh().sum()  # noqa: E731
    got = func.vmap(func.grad(loss(dp)), in_dims=(None, 0))(dw[0], dx[:, 0])
    want = tf.vmap(tf.grad(loss(torch)), in_dims=(None, 0))(tw[0], tx[:, 0])
    close(got, want)


# --- custom autograd.Function -------------------------------------------------------------

class Cube(dp.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return 3 * x ** 2 * g


class CubeWithRule(Cube):
    calls = 0

    @staticmethod
    def vmap(info, in_dims, x):
        CubeWithRule.calls += 1
        return Cube.apply(x), in_dims[0]


@pytest.mark.parametrize("fn", [Cube, CubeWithRule])
def test_autograd_function_under_vmap(fn):
    x = dp.tensor(arr(4, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        close(func.vmap(fn.apply)(x), x ** 3)
        close(func.vmap(func.grad(lambda v: fn.apply(v).sum()))(x), 3 * x ** 2)
    if fn is CubeWithRule:
        assert CubeWithRule.calls >= 2


def test_vmap_and_compile_compose():
    x, w = dp.tensor(arr(5, 3), requires_grad=True), dp.tensor(arr(3))
    per_row = lambda r: (r * w).sin().sum()  # noqa: E731
    eager = func.vmap(per_row)(x)
    compiled = dp.compile(lambda v: func.vmap(per_row)(v))
    for _ in range(3):                 # traced once, then replayed
        out = compiled(x)
        close(out, eager)
        g, = dp.autograd.grad(out.sum(), x)
        close(g, dp.autograd.grad(eager.sum(), x, retain_graph=True)[0])
    close(func.vmap(dp.compile(per_row))(x), eager)     # compiled inside vmap runs eagerly
