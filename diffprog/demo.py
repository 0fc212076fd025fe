"""The demo: fit y = sin(3x) with a one-hidden-layer network by gradient descent.

Written with bare tensors and autograd only, so every step is visible: forward pass,
mean squared error, `backward()`, and a momentum update of each parameter.
"""
import math
import time

import diffprog as dp


def run(steps=2000, seed=0, hidden=32, lr=0.05, momentum=0.9, log_every=None):
    dp.manual_seed(seed)
    x = dp.linspace(-1, 1, 128).reshape(-1, 1)
    y = (3 * x).sin() + 0.05 * dp.randn(128, 1)

    w1 = (dp.randn(1, hidden) * 1.0).requires_grad_()
    b1 = dp.zeros(hidden, requires_grad=True)
    w2 = (dp.randn(hidden, 1) / math.sqrt(hidden)).requires_grad_()
    b2 = dp.zeros(1, requires_grad=True)
    params = [w1, b1, w2, b2]
    velocity = [dp.zeros_like(p) for p in params]

    log_every = log_every or max(1, steps // 10)
    start = time.perf_counter()
    print(f"diffprog {dp.__version__} demo: fitting sin(3x) with a 1-{hidden}-1 tanh network "
          f"({steps} steps of SGD with momentum)")
    for step in range(1, steps + 1):
        pred = (x @ w1 + b1).tanh() @ w2 + b2
        loss = ((pred - y) ** 2).mean()
        for p in params:
            p.grad = None
        loss.backward()
        with dp.no_grad():
            for p, v in zip(params, velocity):
                v.mul_(momentum).add_(p.grad)
                p.sub_(lr * v)
        if step == 1 or step % log_every == 0:
            print(f"  step {step:5d}  loss {loss.item():.5f}")
    final = loss.item()
    print(f"final loss {final:.5f} (noise floor 0.0025) in {time.perf_counter() - start:.2f}s")
    return 0
