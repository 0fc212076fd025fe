"""Autograd switches are per-thread, as in PyTorch: grad mode, anomaly mode and forward-AD
levels set in one thread never change what another records (issue 15, defect 3).

Threads are switched every microsecond (`fast_switching`) so that they interleave inside
single ops; results are compared with the same work run in one thread."""
import sys
import threading

import numpy as np
import pytest

import diffprog as dp
from diffprog.autograd import forward_ad as fwAD


@pytest.fixture(autouse=True)
def fast_switching():
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def run_threads(*fns):
    """Run each function in its own thread; return their results, re-raising the first error."""
    results, errors = [None] * len(fns), []

    def target(i, fn):
        try:
            results[i] = fn()
        except BaseException as e:      # noqa: B036 (handed to the main thread)
            errors.append(e)

    threads = [threading.Thread(target=target, args=(i, fn)) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def wait(event):
    assert event.wait(10), "the other thread never got there"


def make_problem(seed):
    rng = np.random.default_rng(seed)
    x = dp.tensor(rng.standard_normal((32, 4)), dtype=dp.float32)
    y = dp.tensor(rng.integers(0, 3, 32))
    dp.manual_seed(seed)
    model = dp.nn.Sequential(dp.nn.Linear(4, 16), dp.nn.Tanh(), dp.nn.Linear(16, 3))
    return model, x, y


def train(model, x, y, steps=60):
    """SGD on cross entropy; returns the losses and the final parameters."""
    opt = dp.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = dp.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, [p.detach().numpy().copy() for p in model.parameters()]


def evaluate(model, x, rounds=300):
    """Forward passes under no_grad; returns the outputs, checking none recorded a graph."""
    outs = []
    for _ in range(rounds):
        with dp.no_grad():
            out = model(x)
        assert not out.requires_grad and out.grad_fn is None
        outs.append(out.numpy())
    return outs


def same(a, b):
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)


def test_training_thread_keeps_its_graph_while_another_evaluates_under_no_grad():
    train_ref = train(*make_problem(0))
    model, x, _ = make_problem(1)
    eval_ref = evaluate(model, x, rounds=1)[0]
    (losses, params), outs = run_threads(lambda: train(*make_problem(0)), lambda: evaluate(model, x))
    assert losses == train_ref[0]
    same(params, train_ref[1])
    for out in outs:
        np.testing.assert_array_equal(out, eval_ref)
    assert dp.is_grad_enabled()


def test_threads_backward_on_their_own_graphs():
    refs = [train(*make_problem(seed)) for seed in range(4)]
    problems = [make_problem(seed) for seed in range(4)]
    got = run_threads(*[lambda p=p: train(*p) for p in problems])
    for (losses, params), (ref_losses, ref_params) in zip(got, refs):
        assert losses == ref_losses
        same(params, ref_params)


def test_interleaved_no_grad_blocks_restore_each_threads_mode():
    """Thread A enters no_grad, B enters, A leaves, B leaves: with one global flag B's exit
    restored A's `False`, leaving recording off for good."""
    step = [threading.Event() for _ in range(4)]
    seen = {}

    def a():
        with dp.no_grad():
            step[0].set()
            wait(step[1])
        seen["a"] = dp.is_grad_enabled(), (dp.ones(1, requires_grad=True) * 2).requires_grad
        step[2].set()

    def b():
        wait(step[0])
        with dp.no_grad():
            step[1].set()
            wait(step[2])
            seen["b inside"] = dp.is_grad_enabled()
        seen["b"] = dp.is_grad_enabled()

    run_threads(a, b)
    assert seen == {"a": (True, True), "b inside": False, "b": True}
    assert dp.is_grad_enabled()


def test_a_new_thread_starts_with_the_default_switches():
    with dp.no_grad(), dp.autograd.set_detect_anomaly(True):
        (mode, anomaly), = run_threads(lambda: (dp.is_grad_enabled(), dp.autograd.is_anomaly_enabled()))
    assert mode is True and anomaly is False


def test_backward_in_one_thread_leaves_recording_on_in_another():
    """The engine turns recording off while it runs vjps (unless create_graph): only in its
    own thread."""
    go = threading.Event()
    recorded = []

    def backward_loop():
        wait(go)
        for _ in range(200):
            w = dp.ones(50, requires_grad=True)
            (w.sin() * w.cos()).exp().sum().backward()

    def forward_loop():
        w = dp.ones(3, requires_grad=True)
        go.set()
        for _ in range(2000):
            recorded.append((w * 2).requires_grad)

    run_threads(backward_loop, forward_loop)
    assert all(recorded)


def test_anomaly_mode_is_per_thread():
    entered, done = threading.Event(), threading.Event()

    def debugging():
        with dp.autograd.set_detect_anomaly(True):
            entered.set()
            wait(done)
            return dp.autograd.is_anomaly_enabled()

    def other():
        wait(entered)
        try:
            w = dp.ones(2, requires_grad=True)
            y = w * 2
            return dp.autograd.is_anomaly_enabled(), y.grad_fn._trace
        finally:
            done.set()

    inside, (elsewhere, trace) = run_threads(debugging, other)
    assert inside is True and elsewhere is False and trace is None


def test_forward_ad_levels_are_per_thread():
    """Two threads hold dual levels at once; leaving one drops only its own tangents."""
    opened, left = threading.Barrier(2, timeout=10), threading.Event()

    def jvp(scale, leave_first):
        with fwAD.dual_level():
            x = fwAD.make_dual(dp.tensor([1.0, 2.0]), dp.tensor([scale, scale]))
            opened.wait()                        # both levels are open now
            if not leave_first:
                wait(left)                      # the other thread has left its level
            y = (x * x).sin()
            tangent = fwAD.unpack_dual(y).tangent
        if leave_first:
            left.set()
        return tangent.numpy()

    a, b = run_threads(lambda: jvp(1.0, True), lambda: jvp(3.0, False))
    want = 2 * np.array([1.0, 2.0], np.float32) * np.cos([1.0, 4.0]).astype(np.float32)
    np.testing.assert_allclose(a, want, rtol=1e-6)
    np.testing.assert_allclose(b, 3 * want, rtol=1e-6)
    assert not dp.autograd.grad_mode.state.fw_level          # the main thread opened none


def test_vmap_in_one_thread_leaves_another_thread_unbatched():
    inside, done = threading.Event(), threading.Event()

    def mapped():
        def f(x):
            inside.set()
            wait(done)
            return x * 2
        return dp.func.vmap(f)(dp.ones(3, 2)).tolist()

    def other():
        wait(inside)
        try:
            y = dp.ones(2) * 3
            return type(y) is dp.Tensor, y.tolist(), dp.autograd.grad_mode.state.active
        finally:
            done.set()

    batched, plain = run_threads(mapped, other)
    assert batched == [[2.0, 2.0]] * 3 and plain == (True, [3.0, 3.0], False)
