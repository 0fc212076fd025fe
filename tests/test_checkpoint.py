"""diffprog.utils.checkpoint against PyTorch's torch.utils.checkpoint and against the same
computation without checkpointing."""
import gc
import warnings
import weakref

import numpy as np
import pytest

import diffprog as dp
from oracle import torch


def _net(m, dropout=0.0):
    net = m.nn.Sequential(m.nn.Linear(3, 5), m.nn.Tanh(), m.nn.Dropout(dropout), m.nn.Linear(5, 2)).double()
    with m.no_grad():
        for i, p in enumerate(net.parameters()):
            p.copy_(m.tensor(np.cos(np.arange(p.numel()) * 0.7 + i).reshape(p.shape)))
    return net


def _grads(m, mode):
    ck = dp.utils.checkpoint if m is dp else torch.utils.checkpoint
    net = _net(m)
    x = m.tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)
    if mode == "plain":
        y = net(x * 1.5)
    elif mode == "sequential":
        y = ck.checkpoint_sequential(net, 2, x * 1.5, use_reentrant=False)
    else:
        y = ck.checkpoint(net, x * 1.5, use_reentrant=False)
    first = m.autograd.grad((y ** 3).sum(), [x, *net.parameters()], create_graph=True)
    second = m.autograd.grad(sum((g ** 2).sum() for g in first), [x, *net.parameters()])
    return [g.detach().numpy() for g in first + second]


@pytest.mark.parametrize("mode", ["checkpoint", "sequential"])
def test_gradients_of_first_and_second_order_match(mode):
    for a, b, c in zip(_grads(dp, mode), _grads(torch, mode), _grads(dp, "plain")):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(a, c, rtol=1e-10, atol=1e-12)


def test_backward_reaches_parameters_and_replays_dropout():
    net = _net(dp, dropout=0.5).train()
    x = dp.randn(8, 3, dtype=dp.float64, requires_grad=True)
    dp.manual_seed(3)
    y = dp.utils.checkpoint.checkpoint(net, x, use_reentrant=False)
    y.sum().backward()
    got = [p.grad.numpy().copy() for p in net.parameters()] + [x.grad.numpy().copy()]
    net.zero_grad()
    x.grad = None
    dp.manual_seed(3)
    y2 = net(x)
    y2.sum().backward()
    np.testing.assert_array_equal(y.detach().numpy(), y2.detach().numpy())
    for a, b in zip(got, [p.grad.numpy() for p in net.parameters()] + [x.grad.numpy()]):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_intermediate_results_are_freed():
    kept = []

    def fn(x):
        h = x.exp()
        kept.append(weakref.ref(h))
        return (h * 2).sum()
    out = dp.utils.checkpoint.checkpoint(fn, dp.ones(4, requires_grad=True), use_reentrant=False)
    gc.collect()
    assert kept[0]() is None and out.requires_grad


def test_use_reentrant_as_pytorch():
    lin = dp.nn.Linear(2, 2)
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed explicitly"):
        dp.utils.checkpoint.checkpoint(lin, dp.ones(1, 2, requires_grad=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = dp.utils.checkpoint.checkpoint(lin, dp.ones(1, 2), use_reentrant=True)
    assert not y.requires_grad             # reentrant: no input requires grad, no graph
    assert dp.utils.checkpoint.checkpoint(lin, dp.ones(1, 2), use_reentrant=False).requires_grad
    with dp.no_grad():
        assert not dp.utils.checkpoint.checkpoint(lin, dp.ones(1, 2, requires_grad=True),
                                                  use_reentrant=False).requires_grad
    a, b = dp.utils.checkpoint.detach_variable((dp.ones(1, requires_grad=True), 3))
    assert a.requires_grad and a.grad_fn is None and b == 3
