"""diffprog.func transforms against torch.func: grad, grad_and_value, value_and_grad, vjp,
jvp, jacrev, jacfwd, hessian, and their compositions."""
import numpy as np
import pytest

from oracle import rand, torch

import diffprog as dp
import diffprog.func as F

TF = pytest.importorskip("torch.func")


def pair(a):
    return dp.tensor(a), torch.tensor(a)


def close(a, b):
    """Compare (nested tuples / dicts of) diffprog and torch tensors."""
    if isinstance(b, (tuple, list)):
        assert isinstance(a, type(b)) and len(a) == len(b), f"{type(a)} vs {type(b)}"
        for p, q in zip(a, b):
            close(p, q)
        return
    if isinstance(b, dict):
        assert isinstance(a, dict) and a.keys() == b.keys()
        for k in b:
            close(a[k], b[k])
        return
    assert tuple(a.shape) == tuple(b.shape), f"shape {tuple(a.shape)} vs {tuple(b.shape)}"
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)


# Functions written once, run with either library's tensors (method calls only).
def f_scalar(x):
    return (x.sin() * x.exp() + x * x * x).sum()


def f_two_args(x, y):
    return (x.tanh() * y + (x * y).cos()).sum()


def f_vec(x):
    return x.exp() * x.sin() + x.tanh()


def f_multi(x, y):
    return (x * y).sin(), x.exp().sum() * y


X, Y = rand(3), rand(3, seed=11)
M = rand(2, 3, seed=4)


@pytest.mark.parametrize("argnums", [0, 1, (0, 1), (1,)])
def test_grad_argnums(argnums):
    (x, tx), (y, ty) = pair(X), pair(Y)
    close(F.grad(f_two_args, argnums)(x, y), TF.grad(f_two_args, argnums)(tx, ty))


def test_grad_matrix_input_and_no_side_effects():
    x, tx = pair(M)
    g = F.grad(f_scalar)(x)
    close(g, TF.grad(f_scalar)(tx))
    assert x.grad is None and not x.requires_grad and not g.requires_grad


def test_grad_has_aux_and_value_variants():
    (x, tx), (y, ty) = pair(X), pair(Y)

    def f(a, b):
        out = f_two_args(a, b)
        return out, (a * 2, {"v": out})

    g, aux = F.grad(f, has_aux=True)(x, y)
    tg, taux = TF.grad(f, has_aux=True)(tx, ty)
    close(g, tg)
    close(aux, taux)
    assert not aux[0].requires_grad
    g, (v, aux) = F.grad_and_value(f, has_aux=True)(x, y)
    tg, (tv, taux) = TF.grad_and_value(f, has_aux=True)(tx, ty)
    close((g, v, aux), (tg, tv, taux))
    v, g = F.value_and_grad(f_two_args, argnums=(0, 1))(x, y)
    tg, tv = TF.grad_and_value(f_two_args, argnums=(0, 1))(tx, ty)
    close((v, g), (tv, tg))


def test_grad_pytree_argument():
    params = {"w": rand(3, seed=1), "b": rand(1, seed=2)}
    dparams = {k: dp.tensor(v) for k, v in params.items()}
    tparams = {k: torch.tensor(v) for k, v in params.items()}
    (x, tx) = pair(X)

    def loss(p, x):
        return ((x * p["w"] + p["b"]).tanh() * x).sum()

    close(F.grad(loss)(dparams, x), TF.grad(loss)(tparams, tx))


def test_grad_errors():
    x = dp.tensor(X)
    with pytest.raises(RuntimeError, match="scalar"):
        F.grad(f_vec)(x)
    with pytest.raises(RuntimeError, match="tuple"):
        F.grad(lambda a: a.sum(), has_aux=True)(x)
    with pytest.raises(RuntimeError, match="argnums"):
        F.grad(f_scalar, argnums=3)(x)
    with pytest.raises(RuntimeError, match="floating point"):
        F.grad(lambda a: a.sum())(dp.tensor([1, 2]))


def test_grad_of_unused_argument_is_zero():
    (x, tx), (y, ty) = pair(X), pair(Y)
    close(F.grad(lambda a, b: (a * a).sum(), argnums=1)(x, y),
          TF.grad(lambda a, b: (a * a).sum(), argnums=1)(tx, ty))


def test_grad_ignores_outer_no_grad():
    x, tx = pair(X)
    with dp.no_grad():
        g = F.grad(f_scalar)(x)
    close(g, TF.grad(f_scalar)(tx))


def test_nested_grad():
    x, tx = pair(np.array(0.7))
    d3 = F.grad(F.grad(F.grad(lambda a: a.sin() * a.exp())))(x)
    td3 = TF.grad(TF.grad(TF.grad(lambda a: a.sin() * a.exp())))(tx)
    close(d3, td3)
    assert not d3.requires_grad


def test_nested_grad_with_closure_no_perturbation_confusion():
    # d/dx [ x * (d/dy (x * y))(x) ] = d/dx x^2 = 2x  (JAX's classic perturbation example)
    x, tx = pair(np.array(1.5))
    f = F.grad(lambda a: a * F.grad(lambda b: a * b)(a))
    tf = TF.grad(lambda a: a * TF.grad(lambda b: a * b)(a))
    close(f(x), tf(tx))
    close(f(x), dp.tensor(3.0, dtype=dp.float64))


def test_grad_composes_with_regular_autograd():
    x, tx = pair(X)
    x.requires_grad_()
    tx.requires_grad_()
    g, tg = F.grad(f_scalar)(x), TF.grad(f_scalar)(tx)
    assert g.requires_grad
    g.sum().backward()
    tg.sum().backward()
    close(x.grad, tx.grad)


def test_vjp():
    (x, tx), (y, ty) = pair(X), pair(Y)
    out, fn = F.vjp(f_multi, x, y)
    tout, tfn = TF.vjp(f_multi, tx, ty)
    close(out, tout)
    ct = (rand(3, seed=5), rand(3, seed=6))
    close(fn(tuple(dp.tensor(c) for c in ct)), tfn(tuple(torch.tensor(c) for c in ct)))
    # callable twice; single-output function; aux
    close(fn(tuple(dp.tensor(c) for c in ct)), tfn(tuple(torch.tensor(c) for c in ct)))
    out, fn, aux = F.vjp(lambda a: (f_vec(a), a.sum()), x, has_aux=True)
    tout, tfn, taux = TF.vjp(lambda a: (f_vec(a), a.sum()), tx, has_aux=True)
    close((out, fn(dp.tensor(ct[0])), aux), (tout, tfn(torch.tensor(ct[0])), taux))
    assert x.grad is None
    with pytest.raises(RuntimeError, match="shape"):
        fn(dp.ones(4, dtype=dp.float64))


def test_jvp():
    (x, tx), (y, ty) = pair(X), pair(Y)
    (u, tu), (v, tv) = pair(rand(3, seed=8)), pair(rand(3, seed=9))
    close(F.jvp(f_multi, (x, y), (u, v)), TF.jvp(f_multi, (tx, ty), (tu, tv)))
    out, t, aux = F.jvp(lambda a: (f_vec(a), a * 2), (x,), (u,), has_aux=True)
    tout, tt, taux = TF.jvp(lambda a: (f_vec(a), a * 2), (tx,), (tu,), has_aux=True)
    close((out, t, aux), (tout, tt, taux))
    out, t = F.jvp(lambda a: dp.ones(2, dtype=dp.float64), (x,), (u,))   # independent output
    close(t, torch.zeros(2, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="nested"):
        F.jvp(lambda a: F.jvp(f_vec, (a,), (a,))[1], (x,), (u,))


@pytest.mark.parametrize("jac", ["jacrev", "jacfwd"])
@pytest.mark.parametrize("case", ["vec", "matrix", "multi", "argnums", "scalar_in"])
def test_jacobians(jac, case):
    ours, theirs = getattr(F, jac), getattr(TF, jac)
    (x, tx), (y, ty), (m, tm) = pair(X), pair(Y), pair(M)
    if case == "vec":
        close(ours(f_vec)(x), theirs(f_vec)(tx))
    elif case == "matrix":
        fn = lambda a: (a.exp() * a).sum(0)                          # noqa: E731
        close(ours(fn)(m), theirs(fn)(tm))
    elif case == "multi":
        close(ours(f_multi)(x, y), theirs(f_multi)(tx, ty))
    elif case == "argnums":
        close(ours(f_multi, argnums=(0, 1))(x, y), theirs(f_multi, argnums=(0, 1))(tx, ty))
    else:
        s, ts = pair(np.array(0.3))
        close(ours(lambda a: a.sin() * x)(s), theirs(lambda a: a.sin() * tx)(ts))


def test_jacobians_has_aux():
    x, tx = pair(X)
    for ours, theirs in ((F.jacrev, TF.jacrev), (F.jacfwd, TF.jacfwd)):
        j, aux = ours(lambda a: (f_vec(a), a.sum()), has_aux=True)(x)
        tj, taux = theirs(lambda a: (f_vec(a), a.sum()), has_aux=True)(tx)
        close((j, aux), (tj, taux))


def test_jacfwd_cannot_nest():
    with pytest.raises(RuntimeError, match="nested"):
        F.jacfwd(F.jacfwd(f_vec))(dp.tensor(X))


@pytest.mark.parametrize("fn", [f_scalar, lambda a: (a.tanh() * a.cos()).sum() / (a * a + 1).sum()])
def test_hessian_three_ways(fn):
    x, tx = pair(X)
    expected = TF.hessian(fn)(tx)
    close(F.hessian(fn)(x), expected)                  # jacfwd(jacrev): forward-over-reverse
    close(F.jacrev(F.jacrev(fn))(x), expected)         # reverse-over-reverse
    close(F.jacrev(F.jacfwd(fn))(x), expected)         # reverse-over-forward
    assert not F.hessian(fn)(x).requires_grad


def test_hessian_two_args():
    (x, tx), (y, ty) = pair(X), pair(Y)
    close(F.hessian(f_two_args, argnums=(0, 1))(x, y), TF.hessian(f_two_args, argnums=(0, 1))(tx, ty))


def test_grad_of_jvp_and_of_vjp():
    x, tx = pair(X)
    u, tu = pair(rand(3, seed=3))
    close(F.grad(lambda a: F.jvp(f_vec, (a,), (u,))[1].sum())(x),
          TF.grad(lambda a: TF.jvp(f_vec, (a,), (tu,))[1].sum())(tx))
    close(F.grad(lambda a: F.vjp(f_vec, a)[1](u)[0].sum())(x),
          TF.grad(lambda a: TF.vjp(f_vec, a)[1](tu)[0].sum())(tx))


def test_jacfwd_of_grad():
    x, tx = pair(M)
    close(F.jacfwd(F.grad(f_scalar))(x), TF.jacfwd(TF.grad(f_scalar))(tx))


def test_derivatives_are_differentiable_in_closed_over_tensors():
    """As in torch.func: a parameter the function closes over stays in the derivative's graph."""
    for name in ("grad", "jacrev", "vjp"):
        lam, lam_t = dp.tensor(2.0, requires_grad=True), torch.tensor(2.0, requires_grad=True)
        x, x_t = dp.tensor([1.0, 3.0]), torch.tensor([1.0, 3.0])
        f = lambda lib, w: lambda a: (w * a ** 2).sum() if name != "jacrev" else w * a ** 2  # noqa: E731
        if name == "vjp":
            out = F.vjp(f(dp, lam), x)[1](dp.tensor(1.0))[0]
            want = TF.vjp(f(torch, lam_t), x_t)[1](torch.tensor(1.0))[0]
        else:
            out = getattr(F, name)(f(dp, lam))(x)
            want = getattr(TF, name)(f(torch, lam_t))(x_t)
        out.sum().backward()
        want.sum().backward()
        np.testing.assert_allclose(lam.grad.numpy(), lam_t.grad.numpy())
