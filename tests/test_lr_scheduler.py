"""diffprog.optim.lr_scheduler against torch.optim.lr_scheduler: the same schedule attached
to the same optimiser must produce the same learning rates (and momenta) at every step."""
import copy
import math
import warnings

import numpy as np
import pytest

from oracle import torch

import diffprog as dp

STEPS = 60


def make_optimizer(lib, name="SGD"):
    """Two parameter groups with different lrs; SGD with momentum (so it can be cycled)."""
    a, b = (lib.tensor(np.zeros(2), requires_grad=True) for _ in range(2))
    groups = [{"params": [a]}, {"params": [b], "lr": 0.05}]
    if name == "SGD":
        return lib.optim.SGD(groups, lr=0.1, momentum=0.9)
    return lib.optim.Adam(groups, lr=0.1)


def trace(lib, make, steps=STEPS, optimizer="SGD", metrics=None, epochs=None):
    """lr (and momentum / beta1) of every group after construction and after each step."""
    opt = make_optimizer(lib, optimizer)
    sched = make(lib.optim.lr_scheduler, opt)
    out = [_snapshot(sched, opt)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")               # epoch-argument deprecation
        for i in range(steps):
            opt.step()
            if metrics is not None:
                sched.step(metrics[i])
            elif epochs is not None:
                sched.step(epochs[i])
            else:
                sched.step()
            out.append(_snapshot(sched, opt))
    return np.array(out)


def _snapshot(sched, opt):
    lrs = [float(lr) for lr in sched.get_last_lr()]
    lrs += [float(g["lr"]) for g in opt.param_groups]
    lrs += [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]
    return lrs


def assert_same_trace(make, **kw):
    ours, theirs = trace(dp, make, **kw), trace(torch, make, **kw)
    np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-15)
    return ours


S = pytest.param
SCHEDULES = [
    S(lambda L, o: L.StepLR(o, step_size=7, gamma=0.5), id="StepLR"),
    S(lambda L, o: L.MultiStepLR(o, milestones=[5, 12, 12, 30], gamma=0.3), id="MultiStepLR"),
    S(lambda L, o: L.ExponentialLR(o, gamma=0.95), id="ExponentialLR"),
    S(lambda L, o: L.CosineAnnealingLR(o, T_max=10), id="CosineAnnealingLR"),
    S(lambda L, o: L.CosineAnnealingLR(o, T_max=7, eta_min=0.001), id="CosineAnnealingLR-eta_min"),
    S(lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=5), id="WarmRestarts"),
    S(lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.01),
      id="WarmRestarts-T_mult"),
    S(lambda L, o: L.LinearLR(o, start_factor=0.25, total_iters=8), id="LinearLR"),
    S(lambda L, o: L.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=30), id="LinearLR-down"),
    S(lambda L, o: L.LambdaLR(o, lambda e: 0.9 ** e), id="LambdaLR"),
    S(lambda L, o: L.LambdaLR(o, [lambda e: 1 / (1 + e), lambda e: 0.5 if e > 20 else 1.0]),
      id="LambdaLR-per-group"),
    S(lambda L, o: L.MultiplicativeLR(o, lambda e: 0.97 if e % 2 else 1.01), id="MultiplicativeLR"),
    S(lambda L, o: L.PolynomialLR(o, total_iters=20, power=2.0), id="PolynomialLR"),
    S(lambda L, o: L.ConstantLR(o, factor=0.5, total_iters=10), id="ConstantLR"),
    S(lambda L, o: L.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=STEPS), id="OneCycleLR"),
    S(lambda L, o: L.OneCycleLR(o, max_lr=0.8, epochs=6, steps_per_epoch=10, pct_start=0.25,
                                anneal_strategy="linear", three_phase=True, div_factor=10.0),
      id="OneCycleLR-three_phase-linear"),
    S(lambda L, o: L.OneCycleLR(o, max_lr=0.8, total_steps=STEPS, cycle_momentum=False),
      id="OneCycleLR-no-momentum"),
    S(lambda L, o: L.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=4), id="CyclicLR"),
    S(lambda L, o: L.CyclicLR(o, base_lr=[0.01, 0.02], max_lr=0.1, step_size_up=3,
                              step_size_down=5, mode="triangular2"), id="CyclicLR-triangular2"),
    S(lambda L, o: L.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=5, mode="exp_range",
                              gamma=0.95, base_momentum=0.7, max_momentum=0.95),
      id="CyclicLR-exp_range"),
    S(lambda L, o: L.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=5,
                              scale_fn=lambda x: 1 / (1 + 0.1 * x), scale_mode="iterations",
                              cycle_momentum=False), id="CyclicLR-scale_fn"),
    S(lambda L, o: L.SequentialLR(o, [L.LinearLR(o, start_factor=0.1, total_iters=10),
                                      L.ExponentialLR(o, gamma=0.9)], milestones=[10]),
      id="SequentialLR"),
    S(lambda L, o: L.SequentialLR(o, [L.ConstantLR(o, factor=0.5, total_iters=5),
                                      L.CosineAnnealingLR(o, T_max=15),
                                      L.StepLR(o, step_size=4, gamma=0.5)], milestones=[8, 30]),
      id="SequentialLR-three"),
    S(lambda L, o: L.ChainedScheduler([L.ConstantLR(o, factor=0.5, total_iters=6),
                                       L.ExponentialLR(o, gamma=0.95)]), id="ChainedScheduler"),
    S(lambda L, o: L.ChainedScheduler([L.LinearLR(o, start_factor=0.2, total_iters=10),
                                       L.CosineAnnealingLR(o, T_max=20),
                                       L.MultiStepLR(o, milestones=[25, 40])], optimizer=o),
      id="ChainedScheduler-three"),
]


@pytest.mark.parametrize("make", SCHEDULES)
def test_schedule_matches_torch(make):
    trace_ = assert_same_trace(make)
    assert np.ptp(trace_[:, 0]) > 0                    # the schedule does move the lr


@pytest.mark.parametrize("make", [
    S(lambda L, o: L.OneCycleLR(o, max_lr=0.5, total_steps=STEPS), id="OneCycleLR"),
    S(lambda L, o: L.OneCycleLR(o, max_lr=0.5, total_steps=STEPS, three_phase=True,
                                base_momentum=0.8, max_momentum=0.9), id="OneCycleLR-three_phase"),
    S(lambda L, o: L.CyclicLR(o, base_lr=0.001, max_lr=0.01, step_size_up=6), id="CyclicLR"),
])
def test_momentum_cycles_adam_beta1(make):
    trace_ = assert_same_trace(make, optimizer="Adam")
    assert np.ptp(trace_[:, -1]) > 0.05                 # beta1 moved


def test_onecycle_momentum_cycling_on_sgd():
    trace_ = assert_same_trace(lambda L, o: L.OneCycleLR(o, max_lr=0.5, total_steps=STEPS))
    momentum = trace_[:, -1]
    assert momentum[0] == 0.95 and np.isclose(momentum.min(), 0.85) and momentum[-1] > 0.94


@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(mode="max", factor=0.5, patience=2),
    dict(threshold=0.1, threshold_mode="abs", patience=1, cooldown=3),
    dict(mode="max", threshold_mode="abs", patience=0, min_lr=[0.02, 0.001]),
    dict(factor=0.2, patience=3, cooldown=2, min_lr=0.004, eps=1e-3),
])
def test_reduce_lr_on_plateau(kwargs):
    rng = np.random.default_rng(3)
    metrics = [1.0 / (1 + i) + 0.05 * rng.normal() if i < 15 else 0.3 + 0.01 * rng.normal()
               for i in range(STEPS)]
    trace_ = assert_same_trace(lambda L, o: L.ReduceLROnPlateau(o, **kwargs), metrics=metrics)
    assert trace_[-1, 0] < trace_[0, 0]


def test_warm_restarts_fractional_epochs():
    epochs = [e + b / 4 for e in range(15) for b in range(4)]
    make = lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.001)  # noqa: E731
    assert_same_trace(make, epochs=epochs)
    assert_same_trace(lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=4), epochs=epochs)


@pytest.mark.parametrize("make", [
    S(lambda L, o: L.StepLR(o, step_size=3, gamma=0.5), id="StepLR"),
    S(lambda L, o: L.MultiStepLR(o, milestones=[2, 5, 5], gamma=0.5), id="MultiStepLR"),
    S(lambda L, o: L.ExponentialLR(o, gamma=0.9), id="ExponentialLR"),
    S(lambda L, o: L.CosineAnnealingLR(o, T_max=6, eta_min=0.01), id="CosineAnnealingLR"),
    S(lambda L, o: L.LinearLR(o, total_iters=4), id="LinearLR"),
    S(lambda L, o: L.PolynomialLR(o, total_iters=6), id="PolynomialLR"),
    S(lambda L, o: L.ConstantLR(o, total_iters=4), id="ConstantLR"),
])
def test_closed_form_with_epoch_argument(make):
    epochs = [0, 3, 1, 7, 7, 2, 9, 12, 5, 4]
    assert_same_trace(make, steps=len(epochs), epochs=epochs)
    sched = make(dp.optim.lr_scheduler, make_optimizer(dp))
    with pytest.warns(UserWarning, match="epoch parameter"):
        sched.step(2)


ROUND_TRIP = [
    S(lambda L, o: L.CosineAnnealingLR(o, T_max=10, eta_min=0.001), id="CosineAnnealingLR"),
    S(lambda L, o: L.OneCycleLR(o, max_lr=0.5, total_steps=STEPS), id="OneCycleLR"),
    S(lambda L, o: L.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=7, mode="triangular2"),
      id="CyclicLR"),
    S(lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2), id="WarmRestarts"),
    S(lambda L, o: L.MultiplicativeLR(o, lambda e: 0.95), id="MultiplicativeLR"),
    S(lambda L, o: L.SequentialLR(o, [L.LinearLR(o, start_factor=0.1, total_iters=10),
                                      L.ExponentialLR(o, gamma=0.9)], milestones=[10]),
      id="SequentialLR"),
    S(lambda L, o: L.ChainedScheduler([L.ConstantLR(o, factor=0.5, total_iters=30),
                                       L.ExponentialLR(o, gamma=0.95)]), id="ChainedScheduler"),
    S(lambda L, o: L.ReduceLROnPlateau(o, patience=1, cooldown=1), id="ReduceLROnPlateau"),
]


@pytest.mark.parametrize("make", ROUND_TRIP)
def test_state_dict_round_trip(make):
    """Save optimiser + scheduler after 20 steps, resume in fresh ones: same lrs as going on."""
    L = dp.optim.lr_scheduler
    metrics = [1.0, 0.9, 0.95, 0.97, 0.8] * 8
    step = (lambda s, i: s.step(metrics[i])) if "Plateau" in str(make(L, make_optimizer(dp))) \
        else (lambda s, i: s.step())
    opt = make_optimizer(dp)
    sched = make(L, opt)
    for i in range(20):
        opt.step()
        step(sched, i)
    saved_opt, saved_sched = copy.deepcopy(opt.state_dict()), copy.deepcopy(sched.state_dict())
    expected = []
    for i in range(20, 40):
        opt.step()
        step(sched, i)
        expected.append(sched.get_last_lr() + [g.get("momentum") for g in opt.param_groups])

    opt2 = make_optimizer(dp)
    sched2 = make(L, opt2)
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved_sched)
    resumed = []
    for i in range(20, 40):
        opt2.step()
        step(sched2, i)
        resumed.append(sched2.get_last_lr() + [g.get("momentum") for g in opt2.param_groups])
    assert resumed == expected
    assert "optimizer" not in saved_sched


@pytest.mark.parametrize("make", [
    S(lambda L, o: L.CosineAnnealingLR(o, T_max=10, eta_min=0.01, last_epoch=4), id="Cosine"),
    S(lambda L, o: L.StepLR(o, step_size=3, gamma=0.5, last_epoch=4), id="StepLR"),
    S(lambda L, o: L.LambdaLR(o, lambda e: 0.9 ** e, last_epoch=4), id="LambdaLR"),
])
def test_resume_with_last_epoch(make):
    """Constructed with last_epoch >= 0 (groups already hold initial_lr), as when resuming."""
    def make_resumed(L, o):
        for g in o.param_groups:
            g["initial_lr"] = g["lr"] * 2
        return make(L, o)
    assert_same_trace(make_resumed, steps=25)


def test_lambda_state_dict_skips_functions_keeps_callable_objects():
    class Decay:
        def __init__(self):
            self.rate = 0.5

        def __call__(self, epoch):
            return self.rate ** epoch
    opt = make_optimizer(dp)
    decay = Decay()
    sched = dp.optim.lr_scheduler.LambdaLR(opt, [decay, lambda e: 1.0])
    sd = sched.state_dict()
    assert sd["lr_lambdas"] == [{"rate": 0.5}, None]
    sd["lr_lambdas"][0]["rate"] = 0.25
    sched.load_state_dict(sd)
    assert decay.rate == 0.25


def test_initial_lr_and_last_epoch():
    opt = make_optimizer(dp)
    sched = dp.optim.lr_scheduler.StepLR(opt, step_size=2)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.05]
    assert sched.last_epoch == 0 and sched.base_lrs == [0.1, 0.05]
    with pytest.raises(KeyError, match="initial_lr"):
        dp.optim.lr_scheduler.StepLR(make_optimizer(dp), step_size=2, last_epoch=3)
    resumed = dp.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5, last_epoch=3)
    assert resumed.last_epoch == 4


@pytest.mark.parametrize("make,error,message", [
    (lambda L, o: L.StepLR(object(), 2), TypeError, "object is not an Optimizer"),
    (lambda L, o: L.ReduceLROnPlateau(o, factor=1.0), ValueError, "Factor should be < 1.0."),
    (lambda L, o: L.ReduceLROnPlateau(o, mode="avg"), ValueError, "mode avg is unknown!"),
    (lambda L, o: L.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError, "expected 2 min_lrs, got 1"),
    (lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=0), ValueError,
     "Expected positive integer T_0, but got 0"),
    (lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0), ValueError,
     "Expected integer T_mult >= 1, but got 0"),
    (lambda L, o: L.OneCycleLR(o, max_lr=1.0), ValueError,
     "You must define either total_steps OR (epochs AND steps_per_epoch)"),
    (lambda L, o: L.OneCycleLR(o, max_lr=1.0, total_steps=10, pct_start=2.0), ValueError,
     "Expected float between 0 and 1 pct_start, but got 2.0"),
    (lambda L, o: L.OneCycleLR(o, max_lr=[1.0], total_steps=10), ValueError,
     "max_lr must have the same length as optimizer.param_groups"),
    (lambda L, o: L.CyclicLR(o, 0.1, 1.0, mode="square"), ValueError,
     "mode is invalid and scale_fn is None"),
    (lambda L, o: L.LinearLR(o, start_factor=0), ValueError,
     "Starting multiplicative factor expected to be greater than 0"),
    (lambda L, o: L.ConstantLR(o, factor=2), ValueError,
     "Constant multiplicative factor expected to be between 0 and 1."),
    (lambda L, o: L.LambdaLR(o, [lambda e: 1.0]), ValueError, "Expected 2 lr_lambdas, but got 1"),
    (lambda L, o: L.SequentialLR(o, [L.StepLR(o, 2)], milestones=[3]), ValueError,
     "Sequential Schedulers expects number of schedulers provided to be one more"),
    (lambda L, o: L.ChainedScheduler([L.ReduceLROnPlateau(o)]), ValueError,
     "does not support `ReduceLROnPlateau`"),
])
def test_errors(make, error, message):
    for lib in (dp, torch):
        with pytest.raises(error) as info:
            make(lib.optim.lr_scheduler, make_optimizer(lib))
        assert message in str(info.value), lib.__name__


def test_onecycle_past_total_steps():
    opt = make_optimizer(dp)
    sched = dp.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="Tried to step 4 times. The specified number of total "
                                         "steps is 3"):
        sched.step()


def test_cosine_matches_closed_form():
    """The recursive CosineAnnealingLR stays on the closed-form curve."""
    opt = make_optimizer(dp)
    sched = dp.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0.01)
    for t in range(1, 35):
        opt.step()
        sched.step()
        closed = 0.01 + (0.1 - 0.01) * (1 + math.cos(math.pi * t / 10)) / 2
        assert math.isclose(sched.get_last_lr()[0], closed, rel_tol=1e-12)
