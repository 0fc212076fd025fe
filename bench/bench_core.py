"""Core engine benchmarks: per-op framework overhead and a 512x512 matmul fwd+bwd.

    python bench/bench_core.py [--threads 1,2]
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from runner import add_threads_option, compare, pin_threads  # noqa: E402

import diffprog as dp  # noqa: E402
import torch  # noqa: E402


def overhead():
    """y = (x*2+1).relu().sum(); y.backward() on 10 elements: pure framework cost."""
    data = np.linspace(-1, 1, 10).astype(np.float32)
    xd = dp.tensor(data, requires_grad=True)
    xt = torch.tensor(data, requires_grad=True)

    def run_dp():
        y = (xd * 2 + 1).relu().sum()
        y.backward()

    def run_torch():
        y = (xt * 2 + 1).relu().sum()
        y.backward()

    compare("overhead: (x*2+1).relu().sum().backward()", run_dp, run_torch, number=2000)


def matmul(n=512):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    ad, bd = dp.tensor(a, requires_grad=True), dp.tensor(b, requires_grad=True)
    at, bt = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)

    def run_dp():
        (ad @ bd).sum().backward()

    def run_torch():
        (at @ bt).sum().backward()

    compare(f"matmul {n}x{n} forward+backward", run_dp, run_torch, number=10, unit="ms")


def gelu(shape=(256, 1024)):
    """Exact (erf) GELU forward + backward on a float32 activation."""
    data = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
    xd = dp.tensor(data, requires_grad=True)
    xt = torch.tensor(data, requires_grad=True)

    def run_dp():
        dp.nn.functional.gelu(xd).sum().backward()

    def run_torch():
        torch.nn.functional.gelu(xt).sum().backward()

    compare(f"exact GELU {shape[0]}x{shape[1]} forward+backward", run_dp, run_torch, number=20, unit="ms")


def main():
    parser = argparse.ArgumentParser()
    add_threads_option(parser)
    args = parser.parse_args()
    for threads in args.threads:
        print(f"diffprog {dp.__version__}, torch {torch.__version__}, {pin_threads(threads)}")
        overhead()
        matmul()
        gelu()


if __name__ == "__main__":
    main()
