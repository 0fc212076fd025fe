"""Function transforms: per-sample gradients of the MNIST MLP (784-256-256-10, batch 128)
with func.vmap(func.grad(loss)) against torch.func, and against a Python loop over the
samples on each side.

    python bench/bench_func.py [--threads 1]
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from runner import compare, pin_threads  # noqa: E402

import diffprog as dp  # noqa: E402
import torch  # noqa: E402
import torch.func  # noqa: E402

SIZES = (784, 256, 256, 10)


def mlp(lib, rng):
    """The MLP as a functional model: a params dict and loss(params, x, y) for one sample."""
    params = {}
    for i, (a, b) in enumerate(zip(SIZES, SIZES[1:])):
        params[f"w{i}"] = lib.tensor((rng.standard_normal((b, a)) / np.sqrt(a)).astype(np.float32))
        params[f"b{i}"] = lib.tensor(np.zeros(b, np.float32))
    F = lib.nn.functional

    def loss(p, x, y):
        h = F.relu(F.linear(x, p["w0"], p["b0"]))
        h = F.relu(F.linear(h, p["w1"], p["b1"]))
        return F.cross_entropy(F.linear(h, p["w2"], p["b2"]).unsqueeze(0), y.unsqueeze(0))
    return params, loss


def per_sample_grads(batch=128):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], batch)
    pd, loss_d = mlp(dp, np.random.default_rng(1))
    pt, loss_t = mlp(torch, np.random.default_rng(1))
    xd, yd, xt, yt = dp.tensor(x), dp.tensor(y), torch.tensor(x), torch.tensor(y)
    vd = dp.func.vmap(dp.func.grad(loss_d), in_dims=(None, 0, 0))
    vt = torch.func.vmap(torch.func.grad(loss_t), in_dims=(None, 0, 0))
    got, want = vd(pd, xd, yd), vt(pt, xt, yt)
    for k in got:             # the same numbers on both sides
        np.testing.assert_allclose(got[k].numpy(), want[k].numpy(), rtol=1e-4, atol=1e-5)
    compare(f"per-sample grads, MLP, batch {batch}: vmap", lambda: vd(pd, xd, yd),
            lambda: vt(pt, xt, yt), number=3, rounds=5, unit="ms")

    gd, gt = dp.func.grad(loss_d), torch.func.grad(loss_t)

    def loop_d():
        return [gd(pd, xd[i], yd[i]) for i in range(batch)]

    def loop_t():
        return [gt(pt, xt[i], yt[i]) for i in range(batch)]
    compare(f"per-sample grads, MLP, batch {batch}: loop", loop_d, loop_t, number=1, rounds=3,
            unit="ms")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    print(f"diffprog {dp.__version__}, torch {torch.__version__}, {pin_threads(args.threads)}")
    per_sample_grads()


if __name__ == "__main__":
    main()
