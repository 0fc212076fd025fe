"""Implicit differentiation (func.custom_root, custom_fixed_point, fixed_point) and the
linear solvers behind it, in float64: against closed forms differentiated by PyTorch
(ridge regression's argmin, a linear fixed point), against unrolled iterations, and
against finite differences (gradcheck, gradgradcheck)."""
import functools
import warnings

import numpy as np
import pytest

from oracle import torch

import diffprog as dp
import diffprog.func as F

TF = pytest.importorskip("torch.func")
f64 = dp.float64
RNG = np.random.default_rng(0)
XA, YA = RNG.normal(size=(30, 5)), RNG.normal(size=30)


def close(a, b, rtol=1e-7, atol=1e-9):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=rtol, atol=atol)


# --- an argmin: ridge regression -------------------------------------------------------------

def ridge_objective(w, lam, X, y):
    return 0.5 * ((X @ w - y) ** 2).sum() + 0.5 * lam * (w * w).sum()


def gradient_descent(init, lam, X, y, steps=150, lr=0.02):
    """A deliberately plain solver (converged to ~1e-16 here): its steps are never
    differentiated."""
    w = init
    for _ in range(steps):
        w = w - lr * F.grad(ridge_objective)(w, lam, X, y)
    return w


def ridge_implicit(solve):
    return F.custom_root(F.grad(ridge_objective), solve=solve)(gradient_descent)


def ridge_torch(lam, X, y):
    return torch.linalg.solve(X.T @ X + lam * torch.eye(X.shape[1], dtype=X.dtype), X.T @ y)


def outer_loss(w):
    return (w ** 3).sum() + w.sin().sum()


def leaves(lib, *arrays):
    return [lib.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrays]


@pytest.mark.parametrize("solve", ["cg", "gmres", "normal_cg"])
def test_ridge_argmin_gradients_match_the_closed_form(solve):
    lam, X, y = leaves(dp, 2.0, XA, YA)
    tlam, tX, ty = leaves(torch, 2.0, XA, YA)
    w = ridge_implicit(solve)(dp.zeros(5, dtype=f64), lam, X, y)
    tw = ridge_torch(tlam, tX, ty)
    close(w, tw)
    grads = dp.autograd.grad(outer_loss(w), [lam, X, y])
    tgrads = torch.autograd.grad(outer_loss(tw), [tlam, tX, ty])
    for g, tg in zip(grads, tgrads):
        close(g, tg)


def test_ridge_second_derivatives_match_the_closed_form():
    """Differentiating the backward pass: the adjoint solve is itself an implicit root."""
    solver = F.custom_root(F.grad(ridge_objective), solve="cg")(exact_ridge)
    X, y = dp.tensor(XA), dp.tensor(YA)
    tX, ty = torch.tensor(XA), torch.tensor(YA)
    d2 = F.jacrev(F.grad(lambda lam: outer_loss(solver(dp.zeros(5, dtype=f64), lam, X, y))))
    close(d2(dp.tensor(2.0, dtype=f64)), TF.hessian(lambda lam: outer_loss(ridge_torch(lam, tX, ty)))(
        torch.tensor(2.0, dtype=torch.float64)))
    # mixed second derivatives d^2 L / d lam d y, through autograd.grad(create_graph=True)
    lam, yy = leaves(dp, 2.0, YA)
    tlam, tyy = leaves(torch, 2.0, YA)
    g, = dp.autograd.grad(outer_loss(solver(dp.zeros(5, dtype=f64), lam, X, yy)), lam, create_graph=True)
    tg, = torch.autograd.grad(outer_loss(ridge_torch(tlam, tX, tyy)), tlam, create_graph=True)
    close(dp.autograd.grad(g, yy)[0], torch.autograd.grad(tg, tyy)[0])


def exact_ridge(init, lam, X, y):
    """A black-box solver: the normal equations solved directly."""
    return dp.linalg.solve(X.T @ X + lam * dp.eye(X.shape[1], dtype=f64), X.T @ y)


def test_gradcheck_and_gradgradcheck_through_an_argmin():
    solver = F.custom_root(F.grad(ridge_objective), solve="gmres")(exact_ridge)
    X = dp.tensor(XA[:8, :3])

    def f(lam, y):
        return solver(dp.zeros(3, dtype=f64), lam, X, y).sin()
    inputs = leaves(dp, 0.7, YA[:8])
    assert dp.autograd.gradcheck(f, inputs)
    assert dp.autograd.gradgradcheck(f, inputs)


# --- fixed points ------------------------------------------------------------------------------

N = 6
A0 = RNG.normal(size=(N, N))
A0 *= 0.7 / np.abs(np.linalg.eigvals(A0)).max()
B0 = RNG.normal(size=N)


@pytest.mark.parametrize("method", ["iteration", "anderson"])
@pytest.mark.parametrize("solve", ["gmres", "richardson", "normal_cg"])
def test_linear_fixed_point_matches_the_closed_form(method, solve):
    A, b = leaves(dp, A0, B0)
    tA, tb = leaves(torch, A0, B0)
    x = F.fixed_point(lambda x, A, b: A @ x + b, dp.zeros(N, dtype=f64), A, b, method=method,
                      solve=solve, maxiter=500)
    tx = torch.linalg.solve(torch.eye(N, dtype=torch.float64) - tA, tb)
    close(x, tx)
    for g, tg in zip(dp.autograd.grad(outer_loss(x), [A, b]),
                     torch.autograd.grad(outer_loss(tx), [tA, tb])):
        close(g, tg)


def deq_cell(z, W, U, x):
    return (z @ W + x @ U).tanh()


def test_nonlinear_fixed_point_matches_unrolled_iteration():
    """A small deep-equilibrium layer: implicit gradients equal backpropagation through
    enough plain iterations to converge."""
    rng = np.random.default_rng(1)
    Wa, Ua, xa = 0.3 * rng.normal(size=(4, 4)), rng.normal(size=(3, 4)), rng.normal(size=(5, 3))
    W, U, x = leaves(dp, Wa, Ua, xa)
    z = F.fixed_point(deq_cell, dp.zeros(5, 4, dtype=f64), W, U, x)
    implicit = dp.autograd.grad((z * z).sum(), [W, U, x])
    W2, U2, x2 = leaves(dp, Wa, Ua, xa)
    z2 = dp.zeros(5, 4, dtype=f64)
    for _ in range(80):
        z2 = deq_cell(z2, W2, U2, x2)
    close(z, z2, rtol=1e-9)
    for g, g2 in zip(implicit, dp.autograd.grad((z2 * z2).sum(), [W2, U2, x2])):
        close(g, g2)


def test_anderson_needs_fewer_evaluations_and_info_reports_them():
    A, b = dp.tensor(A0), dp.tensor(B0)
    f = lambda x, A, b: A @ x + b          # noqa: E731
    _, plain = F.fixed_point(f, dp.zeros(N, dtype=f64), A, b, method="iteration", maxiter=500,
                             return_info=True)
    _, fast = F.fixed_point(f, dp.zeros(N, dtype=f64), A, b, method="anderson", return_info=True)
    assert plain.converged and fast.converged and fast.residual <= 1e-10
    assert fast.iterations < plain.iterations / 2
    with pytest.warns(RuntimeWarning, match="maxiter=3"):
        _, info = F.fixed_point(f, dp.zeros(N, dtype=f64), A, b, maxiter=3, return_info=True)
    assert info == (3, info.residual, False) and info.residual > 1e-3


def test_custom_fixed_point_on_pytrees_with_aux_and_kwargs():
    """Solutions and parameters as dicts; aux and keyword arguments pass through."""
    def f(x, p, *, shift):
        return {"u": 0.5 * (x["v"] * p["a"]).tanh() + shift, "v": 0.3 * x["u"].sin() + p["b"]}

    @F.custom_fixed_point(f, has_aux=True)
    def solver(x, p, *, shift):
        for k in range(200):
            x = f(x, p, shift=shift)
        return x, {"iterations": k + 1}

    pa, pb = RNG.normal(size=3), RNG.normal(size=3)
    p = {"a": dp.tensor(pa, requires_grad=True), "b": dp.tensor(pb, requires_grad=True)}
    init = {"u": dp.zeros(3, dtype=f64), "v": dp.zeros(3, dtype=f64)}
    x, aux = solver(init, p, shift=0.1)
    assert aux == {"iterations": 200} and set(x) == {"u", "v"}
    grads = dp.autograd.grad((x["u"] * x["v"]).sum(), [p["a"], p["b"]])
    q = {"a": dp.tensor(pa, requires_grad=True), "b": dp.tensor(pb, requires_grad=True)}
    y = init
    for _ in range(200):
        y = f(y, q, shift=0.1)
    for g, g2 in zip(grads, dp.autograd.grad((y["u"] * y["v"]).sum(), [q["a"], q["b"]])):
        close(g, g2)


# --- what custom_root promises beyond the gradient ----------------------------------------------

def test_solver_is_not_recorded_and_init_gets_no_gradient():
    lam = dp.tensor(2.0, dtype=f64, requires_grad=True)
    init = dp.zeros(5, dtype=f64, requires_grad=True)
    seen = []

    def solver(init, lam, X, y):
        seen.append((init.requires_grad, lam.requires_grad))
        return gradient_descent(init, lam, X, y)
    w = F.custom_root(F.grad(ridge_objective))(solver)(init, lam, dp.tensor(XA), dp.tensor(YA))
    assert seen == [(False, False)]
    assert "_ImplicitSolutionBackward0" in repr(w.grad_fn)
    assert dp.autograd.grad(w.sum(), [init], allow_unused=True) == (None,)
    with dp.no_grad():
        w = ridge_implicit("cg")(dp.zeros(5, dtype=f64), lam, dp.tensor(XA), dp.tensor(YA))
    assert not w.requires_grad


def test_closed_over_tensors_that_require_grad_are_an_error():
    lam = dp.tensor(2.0, dtype=f64, requires_grad=True)
    X, y = dp.tensor(XA), dp.tensor(YA)
    solver = F.custom_root(lambda w: X.T @ (X @ w - y) + lam * w)(lambda init: init)
    with pytest.raises(RuntimeError, match="not among its arguments"):
        solver(dp.zeros(5, dtype=f64))
    with dp.no_grad():                    # nothing to differentiate: no check, no error
        solver(dp.zeros(5, dtype=f64))


def test_custom_root_errors():
    with pytest.raises(ValueError, match="unknown solve='lu'"):
        F.custom_root(lambda x: x, solve="lu")
    with pytest.raises(ValueError, match="unknown method"):
        F.fixed_point(lambda x: x, dp.zeros(2), method="newton")
    lam = dp.tensor(1.0, requires_grad=True)
    with pytest.raises(RuntimeError, match="shapes"):
        F.custom_root(lambda x, lam: x.sum() * lam)(lambda init, lam: init)(dp.zeros(3), lam)
    with pytest.raises(TypeError, match="floating point"):
        F.custom_root(lambda x, lam: x * lam)(lambda init, lam: init)(dp.zeros(3, dtype=dp.int64), lam)
    solver = ridge_implicit("cg")
    with pytest.raises(RuntimeError, match="forward-mode"):
        F.jvp(lambda lam: solver(dp.zeros(5, dtype=f64), lam, dp.tensor(XA), dp.tensor(YA)),
              (dp.tensor(1.0, dtype=f64),), (dp.tensor(1.0, dtype=f64),))


def test_custom_linear_solver_function():
    calls = []

    def solve(matvec, b, init=None):
        calls.append(1)
        return F.solve_cg(matvec, b, tol=1e-12)
    lam, X, y = leaves(dp, 2.0, XA, YA)
    tlam, tX, ty = leaves(torch, 2.0, XA, YA)
    w = F.custom_root(F.grad(ridge_objective), solve=solve)(exact_ridge)(
        dp.zeros(5, dtype=f64), lam, X, y)
    close(dp.autograd.grad(outer_loss(w), lam)[0],
          torch.autograd.grad(outer_loss(ridge_torch(tlam, tX, ty)), tlam)[0])
    assert calls == [1]


# --- the linear solvers ------------------------------------------------------------------------

M = RNG.normal(size=(12, 12))
SPD, NONSYM, B = M @ M.T + 12 * np.eye(12), M + 6 * np.eye(12), RNG.normal(size=12)


def matvec(a):
    t = dp.tensor(a)
    return lambda v: t @ v


@pytest.mark.parametrize("solver, matrix, options", [
    (F.solve_cg, SPD, {}), (F.solve_gmres, NONSYM, {}), (F.solve_gmres, NONSYM, {"restart": 3}),
    (F.solve_normal_cg, NONSYM, {}), (F.solve_richardson, np.eye(12) - 0.05 * M, {})])
def test_linear_solvers_match_numpy(solver, matrix, options):
    x = solver(matvec(matrix), dp.tensor(B), **options)
    np.testing.assert_allclose(x.numpy(), np.linalg.solve(matrix, B), rtol=1e-8, atol=1e-9)
    x0 = dp.tensor(np.linalg.solve(matrix, B) + 1e-3)
    np.testing.assert_allclose(solver(matvec(matrix), dp.tensor(B), x0, **options).numpy(),
                               np.linalg.solve(matrix, B), rtol=1e-8, atol=1e-9)


def test_linear_solvers_on_pytrees_and_zero_rhs():
    b = {"a": dp.tensor(B[:4]), "m": dp.tensor(B[4:].reshape(2, 4))}
    x = F.solve_gmres(lambda t: {"a": 2 * t["a"] + t["m"][0], "m": 3 * t["m"]}, b)
    np.testing.assert_allclose(x["m"].numpy(), B[4:].reshape(2, 4) / 3, rtol=1e-10)
    np.testing.assert_allclose(x["a"].numpy(), (B[:4] - B[4:8] / 3) / 2, rtol=1e-10)
    assert F.solve_cg(matvec(SPD), dp.zeros(12, dtype=f64)).abs().max().item() == 0


def test_linear_solvers_warn_when_they_stop_early():
    with pytest.warns(RuntimeWarning, match="solve_cg: reached maxiter after 2"):
        F.solve_cg(matvec(SPD), dp.tensor(B), maxiter=2)
    with pytest.warns(RuntimeWarning, match="not positive definite"):
        F.solve_cg(matvec(-SPD), dp.tensor(B))
    with pytest.warns(RuntimeWarning, match="diverged"):
        F.solve_richardson(matvec(3 * SPD), dp.tensor(B))
    with pytest.raises(RuntimeError, match="square"):
        F.solve_gmres(lambda v: v[:3], dp.tensor(B))
    with pytest.raises(RuntimeError, match="not differentiable"):
        F.solve_normal_cg(lambda v: v.detach() * 2, dp.tensor(B))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.solve_gmres(matvec(NONSYM), dp.tensor(B), tol=1e-6)


def test_float32_default_tolerance():
    x = F.solve_cg(matvec(SPD.astype(np.float32)), dp.tensor(B.astype(np.float32)))
    assert x.dtype == dp.float32
    np.testing.assert_allclose(x.numpy(), np.linalg.solve(SPD, B), rtol=1e-3, atol=1e-4)


def test_partial_solver_options_reach_the_backward_pass():
    loose = functools.partial(F.solve_richardson, maxiter=1)
    A, b = leaves(dp, A0, B0)
    x = F.fixed_point(lambda x, A, b: A @ x + b, dp.zeros(N, dtype=f64), A, b, solve=loose)
    with pytest.warns(RuntimeWarning, match="solve_richardson: reached maxiter after 1"):
        dp.autograd.grad(x.sum(), b)
