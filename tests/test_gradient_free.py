"""Gradient-free optimisation: CMA-ES (against known optima, the shape it learns, the `cma`
package's evaluation counts, resuming) and zeroth-order gradient estimates (against the
true gradient)."""
import math

import numpy as np
import pytest

import diffprog as dp
from diffprog.optim import CMAES, zeroth_order_grad


def rosenbrock(v):
    return (100 * (v[1:] - v[:-1] ** 2) ** 2 + (1 - v[:-1]) ** 2).sum()


def run_cmaes(f, x0, sigma, seed, target=1e-10, max_generations=5000, popsize=None):
    x = dp.tensor(np.asarray(x0, dtype=np.float64), requires_grad=True)
    opt = CMAES([x], sigma=sigma, popsize=popsize, generator=dp.Generator().manual_seed(seed))
    for _ in range(max_generations):
        if opt.step(lambda: f(x)) < target:
            break
    return x, opt


def test_cmaes_solves_sphere_and_an_ill_conditioned_ellipsoid():
    x, opt = run_cmaes(lambda v: (v ** 2).sum(), np.full(5, 2.0), 1.0, seed=0)
    assert opt.state[x]["best_loss"].item() < 1e-10 and np.abs(x.detach().numpy()).max() < 1e-4
    scales = 10.0 ** np.linspace(0, 6, 6)          # condition number 1e6
    x, opt = run_cmaes(lambda v: (dp.tensor(scales) * v ** 2).sum(), np.ones(6), 1.0, seed=1)
    assert opt.state[x]["best_loss"].item() < 1e-10
    assert opt.state[x]["evaluations"].item() < 6000


def test_cmaes_covariance_learns_the_inverse_hessian_shape():
    """On x^T H x with H rotated and condition 100, C's principal axes align with H's and its
    condition number approaches 100."""
    angle = 0.6
    R = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    H = R @ np.diag([1.0, 100.0]) @ R.T
    x, opt = run_cmaes(lambda v: v @ dp.tensor(H) @ v, [1.0, 1.0], 0.5, seed=2, target=1e-14)
    C = opt.state[x]["C"].numpy()
    w, V = np.linalg.eigh(C)
    assert 30 < w[1] / w[0] < 300
    assert abs(V[:, 1] @ R[:, 0]) > 0.95          # the widest search axis is H's flattest one


def test_cmaes_needs_about_as_many_evaluations_as_the_cma_package():
    cma = pytest.importorskip("cma")
    ours, theirs = [], []
    for seed in range(3):
        x, opt = run_cmaes(rosenbrock, np.zeros(6), 0.5, seed=seed)
        assert opt.state[x]["best_loss"].item() < 1e-10
        np.testing.assert_allclose(x.detach().numpy(), np.ones(6), atol=1e-4)
        ours.append(opt.state[x]["evaluations"].item())
        es = cma.CMAEvolutionStrategy(np.zeros(6), 0.5, {"seed": seed + 1, "verbose": -9, "ftarget": 1e-10})
        es.optimize(lambda v: float(rosenbrock(dp.tensor(v))))
        theirs.append(es.result.evaluations)
    assert np.median(ours) < 2 * np.median(theirs), (ours, theirs)


def test_cmaes_resumes_exactly_from_its_state_dict():
    def run(split):
        x = dp.tensor(np.full(4, 1.5), requires_grad=True)
        g = dp.Generator().manual_seed(3)
        opt = CMAES([x], sigma=0.3, generator=g)
        for _ in range(split):
            opt.step(lambda: rosenbrock(x))
        if split < 30:
            saved = opt.state_dict()
            opt = CMAES([x], sigma=0.3, generator=g)
            opt.load_state_dict(saved)
        for _ in range(30 - split):
            opt.step(lambda: rosenbrock(x))
        return x.detach().numpy(), opt.state[x]["C"].numpy()
    a, b = run(30), run(12)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_cmaes_works_on_a_module_and_float32_parameters():
    dp.manual_seed(0)
    model = dp.nn.Linear(3, 1)
    x = dp.randn(64, 3)
    y = x @ dp.tensor([[1.0], [-2.0], [0.5]]) + 0.3
    opt = CMAES(model.parameters(), sigma=0.5, generator=dp.Generator().manual_seed(0))
    for _ in range(150):
        opt.step(lambda: dp.nn.functional.mse_loss(model(x), y))
    assert model.weight.dtype is dp.float32
    np.testing.assert_allclose(model.weight.detach().numpy(), [[1.0, -2.0, 0.5]], atol=1e-3)
    np.testing.assert_allclose(model.bias.detach().numpy(), [0.3], atol=1e-3)


def test_cmaes_errors():
    x = dp.zeros(3, requires_grad=True)
    with pytest.raises(ValueError, match="Invalid sigma"):
        CMAES([x], sigma=0.0)
    with pytest.raises(ValueError, match="Invalid popsize"):
        CMAES([x], popsize=1)
    with pytest.raises(RuntimeError, match="requires a closure"):
        CMAES([x]).step(None)


@pytest.mark.parametrize("antithetic", [True, False])
def test_zeroth_order_gradient_estimates_the_true_gradient(antithetic):
    """For a quadratic the antithetic estimate is unbiased for the gradient itself (the
    smoothing adds no bias); with many directions it points along the backprop gradient."""
    A = dp.tensor(np.diag(np.linspace(1, 3, 20)))
    x = dp.tensor(np.linspace(-1, 1, 20), requires_grad=True)

    def f():
        return 0.5 * x @ A @ x + x.sum()
    true = dp.autograd.grad(f(), x)[0].numpy()
    loss = zeroth_order_grad(f, [x], sigma=1e-3, n_samples=4000, antithetic=antithetic,
                             generator=dp.Generator().manual_seed(0))
    est = x.grad.numpy()
    cos = est @ true / np.linalg.norm(est) / np.linalg.norm(true)
    assert cos > 0.97
    assert np.linalg.norm(est - true) / np.linalg.norm(true) < 0.15
    assert loss == pytest.approx(f().item(), rel=1e-3)
    np.testing.assert_array_equal(x.detach().numpy(), np.linspace(-1, 1, 20))   # parameters restored


def test_zeroth_order_few_samples_is_noisy_and_shaping_keeps_the_direction():
    x = dp.tensor(np.linspace(-1, 1, 50), requires_grad=True)
    f = lambda: (x ** 2).sum()  # noqa: E731
    true = 2 * x.detach().numpy()
    zeroth_order_grad(f, [x], sigma=1e-3, n_samples=2, generator=dp.Generator().manual_seed(0))
    few = x.grad.numpy()
    assert few @ true / np.linalg.norm(few) / np.linalg.norm(true) < 0.6   # 2 directions in 50-D
    zeroth_order_grad(f, [x], sigma=0.1, n_samples=2000, fitness_shaping=True,
                      generator=dp.Generator().manual_seed(1))
    shaped = x.grad.numpy()
    assert shaped @ true / np.linalg.norm(shaped) / np.linalg.norm(true) > 0.9
