"""diffprog.optim against torch.optim: the same tiny least-squares network, trained from the
same start in float64, must end at the same parameters and optimiser state."""
import copy
import pickle

import numpy as np
import pytest

from oracle import torch

import diffprog as dp

TOL = dict(rtol=1e-9, atol=1e-9)
RNG = np.random.default_rng(0)
X, Y = RNG.normal(size=(8, 3)), RNG.normal(size=(8, 2))
INIT = [RNG.normal(size=(3, 4)), RNG.normal(size=4), RNG.normal(size=(4, 2))]


def make_params(lib):
    return [lib.tensor(a.copy(), requires_grad=True) for a in INIT]


def loss_of(lib, params):
    """Mean squared error of a 2-layer tanh network."""
    w1, b1, w2 = params
    x, y = lib.tensor(X), lib.tensor(Y)
    return ((lib.tanh(x @ w1 + b1) @ w2 - y) ** 2).mean()


def train(lib, name, kwargs, steps=50, params=None, groups=None, opt=None):
    """Train with `lib.optim.<name>`; returns (params, optimizer)."""
    params = make_params(lib) if params is None else params
    if opt is None:
        opt = getattr(lib.optim, name)(groups(params) if groups else params, **kwargs)
    for _ in range(steps):
        opt.zero_grad()
        loss_of(lib, params).backward()
        opt.step()
    return params, opt


def assert_same(dp_params, torch_params, tol=TOL):
    for a, b in zip(dp_params, torch_params):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), **tol)


def assert_same_state(dp_opt, torch_opt, tol=TOL):
    """Same state_dict keys and values as PyTorch (state tensors and hyper-parameters)."""
    ours, theirs = dp_opt.state_dict(), torch_opt.state_dict()
    assert list(ours["state"]) == list(theirs["state"])
    for i, t_state in theirs["state"].items():
        assert list(ours["state"][i]) == list(t_state), i
        for key, t_value in t_state.items():
            np.testing.assert_allclose(np.asarray(ours["state"][i][key]), t_value.numpy(), **tol)
    for g, t_g in zip(ours["param_groups"], theirs["param_groups"]):
        assert {k: v for k, v in t_g.items() if k in g} == g


CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.2, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.01, momentum=0.5, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, maximize=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("Adamax", dict(lr=0.01)),
    ("Adamax", dict(lr=0.01, betas=(0.7, 0.9), weight_decay=0.1, maximize=True)),
    ("NAdam", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict(lr=0.01)),
    ("RAdam", dict(lr=0.01, betas=(0.9, 0.9), weight_decay=0.1)),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1,
                     eps=1e-8)),
    ("Adagrad", dict(lr=0.05, maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, centered=True)),
    ("RMSprop", dict(lr=0.005, momentum=0.5, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.95, eps=1e-5, weight_decay=0.1)),
    ("Adadelta", dict(lr=0.5, maximize=True)),
]


@pytest.mark.parametrize("name,kwargs", CASES)
def test_matches_torch(name, kwargs):
    ours, opt = train(dp, name, kwargs)
    theirs, t_opt = train(torch, name, kwargs)
    assert_same(ours, theirs)
    assert_same_state(opt, t_opt)


def two_groups(params):
    return [{"params": params[:2], "lr": 0.05}, {"params": params[2:]}]


@pytest.mark.parametrize("name,kwargs", [("SGD", dict(lr=0.01, momentum=0.9)),
                                         ("Adam", dict(lr=0.01, betas=(0.8, 0.9))),
                                         ("RMSprop", dict(lr=0.01, weight_decay=0.1))])
def test_param_groups_with_their_own_lr(name, kwargs):
    ours, opt = train(dp, name, kwargs, groups=two_groups)
    theirs, t_opt = train(torch, name, kwargs, groups=two_groups)
    assert_same(ours, theirs)
    assert [g["lr"] for g in opt.param_groups] == [0.05, 0.01]
    assert_same_state(opt, t_opt)


def test_add_param_group():
    params, t_params = make_params(dp), make_params(torch)
    opt, t_opt = dp.optim.Adam(params[:1], lr=0.01), torch.optim.Adam(t_params[:1], lr=0.01)
    train(dp, None, None, 10, params, opt=opt)
    train(torch, None, None, 10, t_params, opt=t_opt)
    opt.add_param_group({"params": params[1:], "lr": 0.03, "amsgrad": True})
    t_opt.add_param_group({"params": t_params[1:], "lr": 0.03, "amsgrad": True})
    train(dp, None, None, 10, params, opt=opt)
    train(torch, None, None, 10, t_params, opt=t_opt)
    assert_same(params, t_params)
    assert_same_state(opt, t_opt)


@pytest.mark.parametrize("name,kwargs", [c for c in CASES if c[1].get("weight_decay") or c[0] in
                                         ("RAdam", "Adagrad", "Adadelta")])
def test_state_dict_round_trip(name, kwargs):
    """Save after 25 steps, resume in a fresh optimiser: identical to 50 steps in one go."""
    straight, _ = train(dp, name, kwargs, 50)
    params, opt = train(dp, name, kwargs, 25)
    resumed = [dp.tensor(p.detach().numpy().copy(), requires_grad=True) for p in params]
    fresh = getattr(dp.optim, name)(resumed, lr=123.0)
    fresh.load_state_dict(opt.state_dict())
    assert fresh.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    train(dp, name, kwargs, 5, params, opt=opt)        # must not leak into the loaded state
    train(dp, name, kwargs, 25, resumed, opt=fresh)
    for a, b in zip(resumed, straight):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_state_dict_pickles():
    params, opt = train(dp, "Adam", dict(amsgrad=True), 3)
    saved = pickle.loads(pickle.dumps(opt.state_dict()))
    fresh = dp.optim.Adam(params)
    fresh.load_state_dict(saved)
    assert_same_state(fresh, opt, dict(rtol=0, atol=0))
    copied = pickle.loads(pickle.dumps(opt))            # the optimiser itself pickles too
    assert_same_state(copied, opt, dict(rtol=0, atol=0))


def test_state_dict_layout_matches_torch():
    params, opt = train(dp, "SGD", dict(lr=0.1, momentum=0.9), 3, groups=two_groups)
    t_params, t_opt = train(torch, "SGD", dict(lr=0.1, momentum=0.9), 3, groups=two_groups)
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert isinstance(sd["state"][0]["momentum_buffer"], dp.Tensor)
    assert_same_state(opt, t_opt)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        dp.optim.SGD(make_params(dp), lr=0.1).load_state_dict(sd)
    p = make_params(dp)
    with pytest.raises(ValueError, match="doesn't match the size"):
        dp.optim.SGD([{"params": p[:1]}, {"params": p[1:]}], lr=0.1).load_state_dict(sd)


def test_state_cast_to_param_dtype_on_load():
    p64 = dp.tensor(INIT[1].copy(), requires_grad=True)
    opt64 = dp.optim.Adam([p64])
    for _ in range(2):
        opt64.zero_grad()
        (p64 ** 2).sum().backward()
        opt64.step()
    p32 = dp.tensor(INIT[1].astype(np.float32), requires_grad=True)
    opt32 = dp.optim.Adam([p32])
    opt32.load_state_dict(opt64.state_dict())
    assert opt32.state[p32]["exp_avg"].dtype == dp.float32
    assert opt32.state[p32]["step"].dtype == opt64.state[p64]["step"].dtype
    assert opt32.state[p32]["step"].item() == 2


@pytest.mark.parametrize("line_search,lr", [(None, 0.5), ("strong_wolfe", 1),
                                            ("strong_wolfe", 0.05),   # extrapolates
                                            ("strong_wolfe", 5)])     # zooms
def test_lbfgs_matches_torch(line_search, lr):
    kwargs = dict(lr=lr, max_iter=8, history_size=4, line_search_fn=line_search)
    results = []
    for lib in (dp, torch):
        params = make_params(lib)
        opt = lib.optim.LBFGS(params, **kwargs)

        def closure():
            opt.zero_grad()
            loss = loss_of(lib, params)
            loss.backward()
            return loss
        losses = [opt.step(closure).item() for _ in range(6)]
        results.append((params, opt.state[params[0]], losses))
    (ours, state, losses), (theirs, t_state, t_losses) = results
    assert_same(ours, theirs, dict(rtol=1e-7, atol=1e-7))
    np.testing.assert_allclose(losses, t_losses, rtol=1e-9)
    assert (state["func_evals"], state["n_iter"]) == (t_state["func_evals"], t_state["n_iter"])
    assert losses[-1] < 0.5 * losses[0]


def test_lbfgs_stops_at_a_minimum_and_resumes():
    """A quadratic: converges (to the loss-change tolerance), then stays; state round trip."""
    a = np.array([[3.0, 1.0], [1.0, 2.0]])
    p = dp.tensor(np.array([1.0, -1.0]), requires_grad=True)
    opt = dp.optim.LBFGS([p], line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = (p @ dp.tensor(a) @ p) / 2 - p.sum()
        loss.backward()
        return loss
    opt.step(closure)
    np.testing.assert_allclose(p.detach().numpy(), np.linalg.solve(a, [1.0, 1.0]), atol=1e-4)
    evals, x = opt.state[p]["func_evals"], p.detach().numpy().copy()
    opt.step(closure)                                # no descent left: one evaluation, no move
    assert opt.state[p]["func_evals"] == evals + 1
    np.testing.assert_array_equal(p.detach().numpy(), x)
    fresh = dp.optim.LBFGS([p], line_search_fn="strong_wolfe")
    fresh.load_state_dict(copy.deepcopy(opt.state_dict()))
    assert fresh.state[p]["n_iter"] == opt.state[p]["n_iter"]
    with pytest.raises(RuntimeError, match="requires a closure"):
        opt.step(None)
    with pytest.raises(ValueError, match="parameter groups"):
        dp.optim.LBFGS([{"params": [p]}, {"params": [dp.zeros(1, requires_grad=True)]}])


def test_closure_and_zero_grad():
    params = make_params(dp)
    opt = dp.optim.SGD(params, lr=0.1)

    def closure():
        opt.zero_grad()
        loss = loss_of(dp, params)
        loss.backward()
        return loss
    loss = opt.step(closure)
    assert isinstance(loss, dp.Tensor) and loss.item() > 0
    grad = params[0].grad
    opt.zero_grad(set_to_none=False)
    assert params[0].grad is grad and not grad.numpy().any()
    opt.zero_grad()
    assert all(p.grad is None for p in params)
    before = params[0].detach().numpy().copy()
    opt.step()                                   # no gradients: nothing moves
    np.testing.assert_array_equal(params[0].detach().numpy(), before)


def test_step_bumps_version_counter():
    """A tensor saved for backward then changed by step() is caught by autograd."""
    w = dp.tensor([1.0, 2.0], requires_grad=True)
    opt = dp.optim.Adam([w], lr=0.1)
    (w * w).sum().backward()
    y = (w * w).sum()
    version = w._version
    opt.step()
    assert w._version == version + 1
    with pytest.raises(RuntimeError):
        y.backward()


def test_float32_parameters_stay_float32():
    p = dp.tensor(np.array([1.0, -2.0], np.float32), requires_grad=True)
    opt = dp.optim.Adam([p], lr=0.1, weight_decay=0.1)
    (p * p).sum().backward()
    opt.step()
    assert p.dtype == dp.float32 and opt.state[p]["exp_avg"].dtype == dp.float32


@pytest.mark.parametrize("make,message", [
    (lambda p: dp.optim.SGD(p, lr=-1), "Invalid learning rate: -1"),
    (lambda p: dp.optim.SGD(p, momentum=-0.5), "Invalid momentum value: -0.5"),
    (lambda p: dp.optim.SGD(p, nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    (lambda p: dp.optim.Adam(p, lr=-1), "Invalid learning rate: -1"),
    (lambda p: dp.optim.Adam(p, betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    (lambda p: dp.optim.AdamW(p, betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    (lambda p: dp.optim.Adam(p, eps=-1e-8), "Invalid epsilon value: -1e-08"),
    (lambda p: dp.optim.NAdam(p, momentum_decay=-1), "Invalid momentum_decay value: -1"),
    (lambda p: dp.optim.RAdam(p, weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda p: dp.optim.Adamax(p, lr=-0.5), "Invalid learning rate: -0.5"),
    (lambda p: dp.optim.Adagrad(p, lr_decay=-1), "Invalid lr_decay value: -1"),
    (lambda p: dp.optim.RMSprop(p, alpha=-1), "Invalid alpha value: -1"),
    (lambda p: dp.optim.Adadelta(p, rho=1.5), "Invalid rho value: 1.5"),
    (lambda p: dp.optim.LBFGS(p, lr=-1), "Invalid learning rate: -1"),
    (lambda p: dp.optim.SGD([], lr=0.1), "optimizer got an empty parameter list"),
    (lambda p: dp.optim.SGD([{"params": p}, {"params": p[:1]}]), "more than one parameter group"),
    (lambda p: dp.optim.SGD([p[0] * 2]), "can't optimize a non-leaf Tensor"),
])
def test_errors(make, message):
    with pytest.raises(ValueError) as info:
        make(make_params(dp))
    assert message in str(info.value)


@pytest.mark.parametrize("name,kwargs", [("SGD", dict(lr=-1)), ("Adam", dict(betas=(1.0, 0.999))),
                                         ("RMSprop", dict(alpha=-1)), ("Adadelta", dict(rho=1.5))])
def test_error_messages_equal_torch(name, kwargs):
    with pytest.raises(ValueError) as ours:
        getattr(dp.optim, name)(make_params(dp), **kwargs)
    with pytest.raises(ValueError) as theirs:
        getattr(torch.optim, name)(make_params(torch), **kwargs)
    assert str(ours.value) == str(theirs.value)


def test_type_errors():
    p = make_params(dp)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        dp.optim.SGD(p[0])
    with pytest.raises(TypeError, match="ordered collections"):
        dp.optim.SGD([{"params": set(p)}])
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        dp.optim.SGD([1.0])
    with pytest.raises(TypeError, match="must be a dict"):
        dp.optim.SGD(p).add_param_group(p)


def test_repr():
    text = repr(dp.optim.SGD(make_params(dp), lr=0.1, momentum=0.9))
    assert text.startswith("SGD (\nParameter Group 0\n") and "    momentum: 0.9\n" in text


LINE_SEARCH_FUNCTIONS = {   # value and gradient, in NumPy
    "rosenbrock": lambda x: ((1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2,
                             np.array([-2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] ** 2),
                                       200 * (x[1] - x[0] ** 2)])),
    "wavy": lambda x: (np.sum(np.sin(3 * x) + 0.1 * x ** 2), 3 * np.cos(3 * x) + 0.2 * x),
    "quartic": lambda x: (np.sum(x ** 4 - x ** 2), 4 * x ** 3 - 2 * x),
    "softplus": lambda x: (np.sum(np.logaddexp(0, x)), 1 / (1 + np.exp(-x))),
    "leaky_relu": lambda x: (np.sum(np.maximum(x, -0.1 * x) + 0.01 * x ** 2),   # degenerate cubics
                             np.where(x > 0, 1.0, -0.1) + 0.02 * x),
}


@pytest.mark.parametrize("fn", LINE_SEARCH_FUNCTIONS)
@pytest.mark.parametrize("max_ls,tol", [(25, 1e-9), (3, 1e-9), (25, 1e-2)])
def test_strong_wolfe_matches_torch(fn, max_ls, tol):
    """The line search alone, from many starts and initial steps, against PyTorch's."""
    from diffprog.optim.lbfgs import _strong_wolfe
    from torch.optim.lbfgs import _strong_wolfe as torch_strong_wolfe
    f_and_g = LINE_SEARCH_FUNCTIONS[fn]
    rng = np.random.default_rng(1)
    for _ in range(12):
        x = rng.uniform(-2, 2, size=2)
        f, g = f_and_g(x)
        d = -g
        for t in (1e-3, 0.1, 1.0, 10.0):
            ours = _strong_wolfe(lambda s: f_and_g(x + s * d), t, d, f, g, g @ d,
                                 tolerance_change=tol, max_ls=max_ls)
            theirs = torch_strong_wolfe(
                lambda x_, s, d_: (f_and_g(x + float(s) * d)[0],
                                   torch.from_numpy(f_and_g(x + float(s) * d)[1])),
                None, t, torch.from_numpy(d), f, torch.from_numpy(g), float(g @ d),
                tolerance_change=tol, max_ls=max_ls)
            assert ours[3] == theirs[3]
            np.testing.assert_allclose([ours[0], ours[2]], [float(theirs[0]), float(theirs[2])],
                                       rtol=1e-12)
            np.testing.assert_allclose(ours[1], theirs[1].numpy(), rtol=1e-12)
