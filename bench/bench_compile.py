"""diffprog.compile vs PyTorch eager:

1. per-op overhead: y = (x*2+1).relu().sum(); y.backward() on 10 elements (bench_core's
   workload), the function compiled;
2. one Adam step of the MLP 784-256-256-10, batch 128 (bench_nn's workload), the model
   compiled (loss, backward and the optimiser step as usual).

Each row compares with PyTorch eager in the same run; diffprog eager is shown for reference.

    python bench/bench_compile.py [--threads 1] [--fusion auto|numba|numpy|none]
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from runner import compare, pin_threads, trainer  # noqa: E402
from bench_nn import mlp  # noqa: E402

import diffprog as dp  # noqa: E402
import torch  # noqa: E402


def overhead(fusion):
    data = np.linspace(-1, 1, 10).astype(np.float32)
    xd = dp.tensor(data, requires_grad=True)
    xt = torch.tensor(data, requires_grad=True)
    f = dp.compile(lambda x: (x * 2 + 1).relu().sum(), options={"fusion": fusion})

    def run_compiled():
        f(xd).backward()

    def run_eager():
        (xd * 2 + 1).relu().sum().backward()

    def run_torch():
        (xt * 2 + 1).relu().sum().backward()

    compare("overhead, compiled", run_compiled, run_torch, number=2000)
    compare("overhead, eager (reference)", run_eager, run_torch, number=2000)


def mlp_step(fusion):
    rng = np.random.default_rng(0)
    x = rng.random((128, 784), dtype=np.float32)
    y = rng.integers(0, 10, 128)
    dp.manual_seed(0)
    torch.manual_seed(0)
    model = mlp(dp)
    compiled = trainer(dp, dp.compile(model, options={"fusion": fusion}))
    eager = trainer(dp, mlp(dp))
    torch_step = trainer(torch, mlp(torch))
    xd, yd, xt, yt = dp.tensor(x), dp.tensor(y), torch.tensor(x), torch.tensor(y)
    compare("MLP 784-256-256-10 Adam step, compiled", lambda: compiled(xd, yd),
            lambda: torch_step(xt, yt), number=20, rounds=9, unit="ms")
    compare("MLP Adam step, eager (reference)", lambda: eager(xd, yd),
            lambda: torch_step(xt, yt), number=20, rounds=9, unit="ms")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--fusion", default="auto", choices=["auto", "numba", "numpy", "none"])
    args = parser.parse_args()
    print(f"diffprog {dp.__version__}, torch {torch.__version__}, {pin_threads(args.threads)}, "
          f"fusion {args.fusion}")
    overhead(args.fusion)
    mlp_step(args.fusion)


if __name__ == "__main__":
    main()
