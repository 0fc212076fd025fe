"""diffprog.ode: Runge-Kutta solvers against exact solutions, scipy and torchdiffeq; the
gradient of backpropagation through the solver and of the adjoint method against each other
and against finite differences (float64)."""
import math

import numpy as np
import pytest

import diffprog as dp
from diffprog import nn
from diffprog.ode import METHODS, odeint, odeint_adjoint

F64 = dp.float64
SPIRAL = np.array([[-0.1, 2.0], [-2.0, -0.1]])


def linear(A):
    A = dp.tensor(A)
    return lambda t, y: y @ A.T


def test_dopri5_and_bosh3_match_the_exact_solution_of_a_linear_system():
    scipy_linalg = pytest.importorskip("scipy.linalg")
    y0, t = np.array([2.0, 0.0]), np.linspace(0, 5, 11)
    exact = np.stack([scipy_linalg.expm(SPIRAL * s) @ y0 for s in t])
    for method, tol in (("dopri5", 1e-8), ("bosh3", 1e-6)):
        ys = odeint(linear(SPIRAL), dp.tensor(y0), dp.tensor(t), rtol=1e-10, atol=1e-12, method=method)
        assert ys.shape == (11, 2) and ys.dtype is F64
        np.testing.assert_allclose(ys.numpy(), exact, atol=tol)


def test_dopri5_matches_scipy_rk45_on_van_der_pol():
    """scipy's RK45 is the same Dormand-Prince pair; both at tight tolerances agree."""
    integrate = pytest.importorskip("scipy.integrate")
    mu, t = 1.5, np.linspace(0, 6, 13)

    def vdp(t, y):
        return np.array([y[1], mu * (1 - y[0] ** 2) * y[1] - y[0]])

    ref = integrate.solve_ivp(vdp, (0, 6), [2.0, 0.0], method="RK45", t_eval=t, rtol=1e-11, atol=1e-12).y.T
    ours = odeint(lambda s, y: dp.stack([y[1], mu * (1 - y[0] ** 2) * y[1] - y[0]]),
                  dp.tensor([2.0, 0.0], dtype=F64), dp.tensor(t), rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(ours.numpy(), ref, atol=1e-8)


def test_matches_torchdiffeq():
    torchdiffeq = pytest.importorskip("torchdiffeq")
    torch = pytest.importorskip("torch")
    t = np.linspace(0, 3, 7)
    ours = odeint(lambda s, y: -y ** 3 + dp.sin(s), dp.tensor([1.0, -0.5], dtype=F64), dp.tensor(t),
                  rtol=1e-9, atol=1e-10)
    ref = torchdiffeq.odeint(lambda s, y: -y ** 3 + torch.sin(s), torch.tensor([1.0, -0.5], dtype=torch.float64),
                             torch.tensor(t), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), atol=1e-8)
    fixed = odeint(lambda s, y: -y ** 3 + dp.sin(s), dp.tensor([1.0, -0.5], dtype=F64), dp.tensor(t), method="rk4",
                   options=dict(step_size=0.05))
    ref_fixed = torchdiffeq.odeint(lambda s, y: -y ** 3 + torch.sin(s), torch.tensor([1.0, -0.5], dtype=torch.float64),
                                   torch.tensor(t), method="rk4", options=dict(step_size=0.05))
    # torchdiffeq's rk4 is the 3/8 rule, ours the classic one: both fourth order
    np.testing.assert_allclose(fixed.numpy(), ref_fixed.numpy(), atol=1e-6)


@pytest.mark.parametrize("method, order", [("euler", 1), ("midpoint", 2), ("rk4", 4)])
def test_fixed_step_methods_converge_at_their_order(method, order):
    """y' = y cos t, y(t) = exp(sin t): halving the step divides the error by 2^order."""
    t = dp.tensor([0.0, 2.0])
    errors = []
    for step in (0.1, 0.05, 0.025):
        ys = odeint(lambda s, y: y * dp.cos(s), dp.tensor([1.0], dtype=F64), t, method=method,
                    options=dict(step_size=step))
        errors.append(abs(ys[-1, 0].item() - math.exp(math.sin(2.0))))
    rates = [math.log2(a / b) for a, b in zip(errors, errors[1:])]
    assert all(abs(r - order) < 0.25 for r in rates), rates


def test_fixed_grid_without_step_size_takes_one_step_per_interval():
    calls = []

    def f(s, y):
        calls.append(s.item())
        return -y
    odeint(f, dp.tensor([1.0]), dp.tensor([0.0, 0.5, 1.0]), method="euler")
    assert calls == [0.0, 0.5]


def test_adaptive_tolerance_controls_error_and_work():
    nfe = [0]

    def f(s, y):
        nfe[0] += 1
        return y @ dp.tensor(SPIRAL).T
    y0, t = dp.tensor([2.0, 0.0], dtype=F64), dp.tensor([0.0, 10.0])
    exact = np.array(pytest.importorskip("scipy.linalg").expm(SPIRAL * 10.0) @ [2.0, 0.0])
    results = []
    for rtol in (1e-4, 1e-7, 1e-10):
        nfe[0] = 0
        err = np.abs(odeint(f, y0, t, rtol=rtol, atol=rtol * 1e-2)[-1].numpy() - exact).max()
        results.append((err, nfe[0]))
    errs, work = zip(*results)
    assert errs[0] > errs[1] > errs[2] and errs[2] < 1e-8
    assert work[0] < work[1] < work[2]


def test_integrates_backwards_in_time_and_tuple_states():
    ys = odeint(linear(SPIRAL), dp.tensor([2.0, 0.0], dtype=F64), dp.tensor([0.0, 3.0]), rtol=1e-10, atol=1e-12)
    back = odeint(linear(SPIRAL), ys[-1], dp.tensor([3.0, 0.0]), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(back[-1].numpy(), [2.0, 0.0], atol=1e-8)
    # a harmonic oscillator as a (position, velocity) tuple equals the stacked form
    pos, vel = odeint(lambda s, y: (y[1], -y[0]), (dp.tensor([1.0, 0.5], dtype=F64), dp.tensor([0.0, 0.1], dtype=F64)),
                      dp.linspace(0, 3, 4, dtype=F64))
    stacked = odeint(lambda s, y: dp.stack([y[1], -y[0]]), dp.tensor([[1.0, 0.5], [0.0, 0.1]], dtype=F64),
                     dp.linspace(0, 3, 4, dtype=F64))
    assert pos.shape == (4, 2) and vel.shape == (4, 2)
    np.testing.assert_allclose(pos.numpy(), stacked[:, 0].numpy(), atol=1e-12)
    np.testing.assert_allclose(vel.numpy(), stacked[:, 1].numpy(), atol=1e-12)
    np.testing.assert_allclose(pos[:, 0].numpy(), np.cos([0, 1, 2, 3]), atol=1e-6)


def test_single_time_returns_y0():
    ys = odeint(lambda s, y: -y, dp.tensor([1.0, 2.0]), dp.tensor([0.5]))
    np.testing.assert_array_equal(ys.numpy(), [[1.0, 2.0]])


def _dynamics():
    dp.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 3)).to(F64)


class Autonomous(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, t, y):
        return self.net(y) * dp.cos(t)


@pytest.mark.parametrize("method", ["dopri5", "rk4"])
def test_backprop_through_solver_matches_finite_differences(method):
    f = Autonomous(_dynamics())
    y0 = dp.tensor([[0.3, -0.2, 0.5], [0.1, 0.4, -0.3]], dtype=F64, requires_grad=True)
    w = f.net[0].weight
    t = dp.tensor([0.0, 0.4, 1.0])
    opts = dict(step_size=0.1) if method == "rk4" else None
    assert dp.autograd.gradcheck(lambda y, w_: odeint(f, y, t, rtol=1e-12, atol=1e-13, method=method,
                                                      options=opts), (y0, w))


@pytest.mark.parametrize("method", ["dopri5", "rk4"])
def test_adjoint_matches_backprop_through_solver_and_finite_differences(method):
    f = Autonomous(_dynamics())
    y0 = dp.tensor([[0.3, -0.2, 0.5], [0.1, 0.4, -0.3]], dtype=F64, requires_grad=True)
    t = dp.tensor([0.0, 0.3, 0.7, 1.2])
    cot = dp.randn(4, 2, 3, dtype=F64)
    opts = dict(step_size=0.02) if method == "rk4" else None
    tol = dict(rtol=1e-11, atol=1e-12)
    params = list(f.parameters())

    def grads(solver):
        ys = solver(f, y0, t, method=method, options=opts, **tol)
        return ys, dp.autograd.grad((ys * cot).sum(), [y0] + params)
    ys_bp, g_bp = grads(odeint)
    ys_adj, g_adj = grads(odeint_adjoint)
    np.testing.assert_allclose(ys_adj.detach().numpy(), ys_bp.detach().numpy(), atol=1e-14)
    for a, b in zip(g_adj, g_bp):
        # rk4: the adjoint solves the continuous adjoint ODE, so it differs from the exact
        # gradient of the discrete solver by the discretisation error
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6 if method == "rk4" else 1e-8)

    def loss(*tensors):       # finite differences of the loss in y0 and the first weight
        with dp.no_grad():
            w0 = f.net[0].weight.detach().clone()
            f.net[0].weight.copy_(tensors[1])
            value = (odeint(f, tensors[0], t, method=method, options=opts, **tol) * cot).sum().item()
            f.net[0].weight.copy_(w0)
        return value
    base = [y0.detach().numpy().copy(), f.net[0].weight.detach().numpy().copy()]
    eps = 1e-6
    for k, g in ((0, g_adj[0]), (1, g_adj[1])):
        for idx in [(0, 0), (1, 2)]:
            up, down = [b.copy() for b in base], [b.copy() for b in base]
            up[k][idx] += eps
            down[k][idx] -= eps
            num = (loss(*map(dp.tensor, up)) - loss(*map(dp.tensor, down))) / (2 * eps)
            assert g.numpy()[idx] == pytest.approx(num, rel=1e-5, abs=1e-6)


def test_adjoint_with_explicit_params_tuple_state_and_separate_backward_settings():
    k = dp.tensor(0.7, dtype=F64, requires_grad=True)
    x0, v0 = dp.tensor([1.0], dtype=F64, requires_grad=True), dp.tensor([0.0], dtype=F64, requires_grad=True)
    t = dp.linspace(0, 2, 5, dtype=F64)

    def osc(s, y):
        return y[1], -k * y[0]
    for solver, kw in ((odeint, {}), (odeint_adjoint, dict(adjoint_params=(k,), adjoint_method="dopri5",
                                                           adjoint_rtol=1e-11, adjoint_atol=1e-12))):
        x, v = solver(osc, (x0, v0), t, rtol=1e-11, atol=1e-12, **kw)
        grads = dp.autograd.grad(x.sum() + 2 * v.sum(), [x0, v0, k])
        if solver is odeint:
            ref = grads
    for a, b in zip(grads, ref):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-8)
    # x = cos(sqrt(k) t): d/dk sum_t x(t) + 2 v(t) in closed form
    w, tt = math.sqrt(0.7), t.numpy()
    dx = -np.sin(w * tt) * tt / (2 * w)
    dv = -(np.cos(w * tt) * tt / (2 * w) * w + np.sin(w * tt) / (2 * w))
    assert grads[2].item() == pytest.approx((dx + 2 * dv).sum(), rel=1e-7)


def test_errors_name_the_problem():
    y0, t = dp.tensor([1.0]), dp.tensor([0.0, 1.0])
    f = lambda s, y: -y  # noqa: E731
    with pytest.raises(ValueError, match="unknown method 'rk45'.*dopri5"):
        odeint(f, y0, t, method="rk45")
    with pytest.raises(ValueError, match="step_size.*do not apply to method 'dopri5'"):
        odeint(f, y0, t, options=dict(step_size=0.1))
    with pytest.raises(ValueError, match="strictly increasing or strictly decreasing"):
        odeint(f, y0, dp.tensor([0.0, 1.0, 0.5]))
    with pytest.raises(TypeError, match="floating-point tensor"):
        odeint(f, dp.tensor([1, 2]), t)
    with pytest.raises(ValueError, match="adjoint_params"):
        odeint_adjoint(f, y0, t)
    with pytest.raises(RuntimeError, match="t requires grad"):
        odeint(f, y0, dp.tensor([0.0, 1.0], requires_grad=True))
    with pytest.raises(RuntimeError, match="max_num_steps"):
        odeint(f, y0, dp.tensor([0.0, 100.0]), options=dict(max_num_steps=5))
    assert set(METHODS) == {"dopri5", "bosh3", "rk4", "midpoint", "euler"}
