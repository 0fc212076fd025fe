"""Data-parallel training throughput: diffprog's DistributedDataParallel over MPI against
PyTorch's over gloo, on 1 and 2 ranks of this machine.

Workloads: the MNIST MLP (784-256-256-10, batch 128 per rank) and ResNet-18, CIFAR variant
(batch 16 per rank), each an SGD step (momentum 0.9) on cross entropy. Reported: images/s
over all ranks, the time ratio diffprog / PyTorch (below 1: diffprog is faster), and the
scaling efficiency, images/s on 2 ranks / (2 x images/s on 1 rank).

    python bench/bench_distributed.py [--models mlp,resnet18] [--rounds 2]

Each (library, model, ranks) is its own job, started the way a user would: diffprog's
with `python -m diffprog.distributed.run`, PyTorch's with torchrun (`python -m
torch.distributed.run --standalone`); every rank has 1 BLAS / OpenMP thread. A rank trains
on its own shard of real data (the MNIST test set, the CIFAR-10 subset of DIFFPROG_DATA;
random data of the same shapes when they are absent), prepared before timing. The time is
that of the steps after warm-up, between two barriers, on rank 0. Jobs run one after the
other, round after round, and the median of the rounds is reported.
"""
import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
BATCH = {"mlp": 128, "resnet18": 16}


# --- one rank of a job ------------------------------------------------------------------------

def _mnist(root, n):
    path = os.path.join(root or "", "MNIST", "raw", "t10k-images-idx3-ubyte.gz")
    if not os.path.exists(path):
        return np.random.default_rng(0).random((n, 784), dtype=np.float32), "random"
    with gzip.open(path) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)
    return (images / np.float32(255)).astype(np.float32), "MNIST test set"


def _cifar(root, n):
    path = os.path.join(root or "", "cifar10", "cifar10_subset.npz")
    if not os.path.exists(path):
        return np.random.default_rng(0).standard_normal((n, 3, 32, 32), dtype=np.float32), "random"
    images = np.load(path)["x_train"].transpose(0, 3, 1, 2)
    return (images / np.float32(255)).astype(np.float32), "CIFAR-10 subset"


def _model(lib, name):
    nn = lib.nn
    if name == "mlp":
        return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                             nn.Linear(256, 10))
    if lib.__name__ == "diffprog":
        from diffprog.vision.models import resnet18_cifar
        return resnet18_cifar()
    sys.path.insert(0, HERE)
    from bench_cnn import torch_resnet18_cifar
    return torch_resnet18_cifar()


def worker(args):
    from threadpoolctl import threadpool_limits
    threadpool_limits(1)
    if args.worker == "torch":
        import torch as lib
        lib.set_num_threads(1)
        backend = "gloo"
    else:
        import diffprog as lib
        backend = "mpi"
    dist = lib.distributed
    dist.init_process_group(backend)
    rank, world = dist.get_rank(), dist.get_world_size()
    lib.manual_seed(0)
    model = lib.nn.parallel.DistributedDataParallel(_model(lib, args.model))
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    batch, total = BATCH[args.model], args.warmup + args.steps
    root = os.environ.get("DIFFPROG_DATA")
    images, source = (_mnist if args.model == "mlp" else _cifar)(root, batch * world * total)
    labels = np.random.default_rng(1).integers(0, 10, len(images))
    batches = []
    for step in range(total):           # rank r's shard: every world-th batch, wrapping around
        rows = (np.arange(batch) + (step * world + rank) * batch) % len(images)
        batches.append((lib.tensor(images[rows]), lib.tensor(labels[rows])))

    def train(x, y):
        opt.zero_grad()
        lib.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    for x, y in batches[:args.warmup]:
        train(x, y)
    dist.barrier()
    start = time.perf_counter()
    for x, y in batches[args.warmup:]:
        train(x, y)
    dist.barrier()
    seconds = time.perf_counter() - start
    if rank == 0:
        with open(args.out, "w") as f:
            json.dump({"images_per_s": world * batch * args.steps / seconds,
                       "step_ms": 1e3 * seconds / args.steps, "data": source}, f)
    dist.destroy_process_group()


# --- the jobs ---------------------------------------------------------------------------------

def job(side, model, ranks, steps, warmup):
    """images/s etc. of one job, or None (with its output printed) when it failed."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.json")
        if side == "diffprog":
            launcher = [sys.executable, "-m", "diffprog.distributed.run"]
        else:
            launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
        cmd = launcher + ["--nproc-per-node", str(ranks), os.path.abspath(__file__),
                          "--worker", side, "--model", model, "--steps", str(steps),
                          "--warmup", str(warmup), "--out", out]
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                   GLOO_SOCKET_IFNAME="lo")
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        if p.returncode != 0 or not os.path.exists(out):
            print(f"{side} {model} x{ranks} failed:\n{p.stdout}{p.stderr}", file=sys.stderr)
            return None
        with open(out) as f:
            return json.load(f)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="mlp,resnet18")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps-mlp", type=int, default=40)
    parser.add_argument("--steps-resnet", type=int, default=5)
    parser.add_argument("--worker", choices=["diffprog", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--warmup", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    results = {}
    for _ in range(args.rounds):
        for model in args.models.split(","):
            steps = args.steps_mlp if model == "mlp" else args.steps_resnet
            warmup = 5 if model == "mlp" else 2
            for ranks in (1, 2):
                for side in ("diffprog", "torch"):
                    r = job(side, model, ranks, steps, warmup)
                    if r is not None:
                        results.setdefault((model, ranks, side), []).append(r)
    print(f"data-parallel training, images/s over all ranks (median of {args.rounds} rounds); "
          "1 thread per rank")
    for model in args.models.split(","):
        rate = {key[1:]: statistics.median(r["images_per_s"] for r in runs)
                for key, runs in results.items() if key[0] == model}
        data = next((runs[0]["data"] for key, runs in results.items() if key[0] == model), "-")
        for ranks in (1, 2):
            d, t = rate.get((ranks, "diffprog")), rate.get((ranks, "torch"))
            line = f"{model:<9s} batch {BATCH[model]}/rank ({data}), {ranks} rank(s): "
            line += f"diffprog {d:8.1f} img/s   " if d else "diffprog  failed   "
            line += f"torch {t:8.1f} img/s   " if t else "torch  failed   "
            if d and t:
                line += f"ratio (time) {t / d:5.2f}x"
            print(line)
        for side in ("diffprog", "torch"):
            one, two = rate.get((1, side)), rate.get((2, side))
            if one and two:
                print(f"{model:<9s} scaling efficiency, {side}: {two / (2 * one):.2f}")


if __name__ == "__main__":
    main()
