"""func.optim: the pure, differentiable SGD / Adam / AdamW.  Steps equal torch.optim's;
hypergradients (w.r.t. tensor hyperparameters) and gradients through unrolled steps equal
torch's differentiable optimisers where torch has them, and finite differences."""
import numpy as np
import pytest

from oracle import torch

import diffprog as dp
import diffprog.func as F
from diffprog.func import optim as fopt

RNG = np.random.default_rng(0)
XA, YA = RNG.normal(size=(20, 4)), RNG.normal(size=20)
W0, B0 = RNG.normal(size=4), RNG.normal(size=1)


def loss(p, X, y):
    return ((X @ p["w"] + p["b"] - y) ** 2).mean() + 0.01 * (p["w"] ** 4).sum()


def data(lib):
    return lib.tensor(XA), lib.tensor(YA)


CONFIGS = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3, maximize=True)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.9), weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.3, amsgrad=True)),
]


@pytest.mark.parametrize("name, kw", CONFIGS)
def test_steps_equal_torch_optim(name, kw):
    tp = {"w": torch.tensor(W0, requires_grad=True), "b": torch.tensor(B0, requires_grad=True)}
    topt = getattr(torch.optim, name)(tp.values(), **kw)
    p = {"w": dp.tensor(W0), "b": dp.tensor(B0)}
    opt = getattr(fopt, name)(**kw)
    state = opt.init(p)
    for step in range(6):
        topt.zero_grad()
        loss(tp, *data(torch)).backward()
        if step == 2:                       # a missing gradient: that parameter sits still
            tp["b"].grad = None
        topt.step()
        g = F.grad(loss)(p, *data(dp))
        if step == 2:
            g["b"] = None
        p, state = opt.step(p, g, state)
        for k in p:
            np.testing.assert_allclose(p[k].numpy(), tp[k].detach().numpy(), rtol=1e-12, atol=1e-14)
    assert set(state) == set(opt.buffers)
    if name != "SGD":
        assert state["step"] == {"w": 6, "b": 5}


def test_state_mirrors_params_and_nothing_is_modified():
    p = {"w": dp.tensor(W0), "b": dp.tensor(B0)}
    before = {k: v.numpy().copy() for k, v in p.items()}
    opt = fopt.Adam(lr=0.1)
    state = opt.init(p)
    assert state["exp_avg"]["w"].shape == (4,) and state["max_exp_avg_sq"] == {"w": None, "b": None}
    new, state2 = opt.step(p, F.grad(loss)(p, *data(dp)), state)
    assert all(np.array_equal(p[k].numpy(), before[k]) for k in p)
    assert state["step"] == {"w": 0, "b": 0} and state2["step"] == {"w": 1, "b": 1}
    assert not np.allclose(new["w"].numpy(), before["w"])
    # lists and single tensors are pytrees too
    q, _ = fopt.SGD(lr=0.5).step([dp.tensor(1.0), dp.tensor(2.0)], [dp.tensor(1.0), dp.tensor(1.0)],
                                 fopt.SGD(lr=0.5).init([0, 0]))
    assert [t.item() for t in q] == [0.5, 1.5]


# --- differentiating through the steps ----------------------------------------------------------

def unrolled(lib, opt_step, steps=4):
    """The validation loss after `steps` optimiser steps from (W0, B0)."""
    X, y = data(lib)
    return lambda p, state: _run(lib, opt_step, p, state, X, y, steps)


def _run(lib, opt_step, p, state, X, y, steps):
    grad = F.grad if lib is dp else torch.func.grad
    for _ in range(steps):
        p, state = opt_step(p, grad(loss)(p, X, y), state)
    return loss(p, X[:10] * 0.5, y[:10])


def torch_differentiable(cls, lr, **kw):
    """torch.optim's differentiable mode as a pure step: fresh tensors each step, so that
    its in-place updates do not invalidate the graph of earlier steps.  Adam's step counter
    starts as a float64 tensor (torch's float32 one rounds the bias corrections)."""
    def step(p, g, state):
        names = list(p)
        params = [p[k].clone() for k in names]
        opt = cls(params, lr=lr, differentiable=True, **kw)
        for t, k in zip(params, names):
            t.grad = g[k]
            if state.get(k):
                opt.state[t] = {s: v.clone() for s, v in state[k].items()}
            elif cls is torch.optim.Adam:
                opt.state[t] = {"step": torch.tensor(0.0, dtype=torch.float64),
                                "exp_avg": torch.zeros_like(t), "exp_avg_sq": torch.zeros_like(t)}
        opt.step()
        return dict(zip(names, params)), {k: opt.state[t] for t, k in zip(params, names)}
    return step


@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_learning_rate_hypergradient_equals_torch_differentiable_optimisers(name):
    lr, tlr = dp.tensor(0.05, dtype=dp.float64, requires_grad=True), torch.tensor(
        0.05, dtype=torch.float64, requires_grad=True)
    p = {"w": dp.tensor(W0), "b": dp.tensor(B0)}
    tp = {"w": torch.tensor(W0, requires_grad=True), "b": torch.tensor(B0, requires_grad=True)}
    opt = getattr(fopt, name)(lr=lr)
    val = unrolled(dp, opt.step)(p, opt.init(p))
    tval = unrolled(torch, torch_differentiable(getattr(torch.optim, name), tlr))(tp, {})
    np.testing.assert_allclose(val.item(), tval.item(), rtol=1e-12)
    np.testing.assert_allclose(dp.autograd.grad(val, lr)[0].item(),
                               torch.autograd.grad(tval, tlr)[0].item(), rtol=1e-9)


def finite_difference(f, x, eps=1e-6):
    return (f(x + eps) - f(x - eps)) / (2 * eps)


@pytest.mark.parametrize("make, which", [
    (lambda h: fopt.SGD(lr=0.05, momentum=h, nesterov=True), 0.9),
    (lambda h: fopt.SGD(lr=h, momentum=0.9, weight_decay=0.1), 0.05),
    (lambda h: fopt.Adam(lr=0.05, betas=(h, 0.99), weight_decay=0.1), 0.8),
    (lambda h: fopt.AdamW(lr=0.05, weight_decay=h, amsgrad=True), 0.2)])
def test_hypergradients_of_any_tensor_hyperparameter_match_finite_differences(make, which):
    """Momentum buffers stay connected at the first step (torch's differentiable SGD
    detaches it), so these are exact."""
    p = {"w": dp.tensor(W0), "b": dp.tensor(B0)}

    def value(h):
        opt = make(h)
        return unrolled(dp, opt.step)(p, opt.init(p))
    h = dp.tensor(which, dtype=dp.float64, requires_grad=True)
    analytic = dp.autograd.grad(value(h), h)[0].item()
    numeric = finite_difference(lambda v: value(dp.tensor(v, dtype=dp.float64)).item(), which)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6)


def test_gradient_through_unrolled_steps_w_r_t_initial_parameters():
    """MAML's meta-gradient, second order through three Adam steps: gradcheck, and equal
    to torch.optim.Adam(differentiable=True) unrolled the same way."""
    def meta(w, b):
        opt = fopt.Adam(lr=0.05)
        p = {"w": w, "b": b}
        return unrolled(dp, opt.step, steps=3)(p, opt.init(p))
    w, b = dp.tensor(W0, requires_grad=True), dp.tensor(B0, requires_grad=True)
    assert dp.autograd.gradcheck(meta, (w, b))
    tp = {"w": torch.tensor(W0, requires_grad=True), "b": torch.tensor(B0, requires_grad=True)}
    tval = unrolled(torch, torch_differentiable(torch.optim.Adam, 0.05), steps=3)(dict(tp), {})
    for g, tg in zip(dp.autograd.grad(meta(w, b), (w, b)), torch.autograd.grad(tval, list(tp.values()))):
        np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-9)


def test_first_order_steps_with_detached_gradients():
    """Detached gradients: the meta-gradient is the gradient at the final parameters
    (first-order MAML), which differs from the second-order one."""
    X, y = data(dp)
    w = dp.tensor(W0, requires_grad=True)
    p, opt = {"w": w, "b": dp.tensor(B0)}, fopt.SGD(lr=0.1)
    state = opt.init(p)
    g = {k: v.detach() for k, v in F.grad(loss)(p, X, y).items()}
    p, state = opt.step(p, g, state)
    first = dp.autograd.grad(loss(p, X, y), w)[0]
    at_final = F.grad(loss)({k: v.detach() for k, v in p.items()}, X, y)["w"]
    np.testing.assert_allclose(first.numpy(), at_final.numpy(), rtol=1e-12)
    second = F.grad(lambda w: loss(fopt.SGD(lr=0.1).step({"w": w, "b": dp.tensor(B0)},
                                                         F.grad(loss)({"w": w, "b": dp.tensor(B0)}, X, y),
                                                         state)[0], X, y))(dp.tensor(W0))
    assert not np.allclose(second.detach().numpy(), first.numpy(), rtol=1e-3)


def test_eps_root_keeps_hypergradients_finite_at_zero_gradients():
    """d sqrt(v)/dv is infinite at v = 0: a gradient element that is exactly zero (but still
    a function of the learning rate) gives a NaN hypergradient unless eps_root > 0 (optax /
    torchopt's guard)."""
    X, y = data(dp)

    def f(p):
        return loss(p, X, y) + 0 * (p["unused"] * p["w"].sum()).sum()

    def hyper(eps_root):
        lr = dp.tensor(0.05, dtype=dp.float64, requires_grad=True)
        opt = fopt.Adam(lr=lr, eps_root=eps_root)
        p = {"w": dp.tensor(W0), "b": dp.tensor(B0), "unused": dp.zeros(2, dtype=dp.float64)}
        state = opt.init(p)
        for _ in range(3):
            p, state = opt.step(p, F.grad(f)(p), state)
        with np.errstate(invalid="ignore", divide="ignore"):
            return dp.autograd.grad(f(p), lr)[0].item()
    assert np.isnan(hyper(0.0))
    assert np.isfinite(hyper(1e-16))


def test_bad_hyperparameters_and_structures_raise():
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        fopt.SGD(lr=-1)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        fopt.Adam(lr=dp.tensor(-0.1))
    with pytest.raises(ValueError, match="beta parameter at index 1"):
        fopt.Adam(betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Nesterov"):
        fopt.SGD(lr=0.1, nesterov=True)
    opt = fopt.SGD(lr=0.1)
    p = {"w": dp.zeros(3), "b": dp.zeros(1)}
    with pytest.raises(RuntimeError, match="structured like params"):
        opt.step(p, {"w": dp.zeros(3)}, opt.init(p))
    with pytest.raises(RuntimeError, match="gradient of shape \\(2,\\)"):
        opt.step(p, {"w": dp.zeros(2), "b": dp.zeros(1)}, opt.init(p))
    assert repr(fopt.SGD(lr=0.1)) == ("func.optim.SGD(lr=0.1, momentum=0.0, dampening=0.0, "
                                      "weight_decay=0.0, nesterov=False, maximize=False)")
