"""Neural-network benchmarks, diffprog vs PyTorch:

1. one training step of an MLP 784-256-256-10 (batch 128, cross entropy, Adam);
2. DataLoader throughput over the MNIST test set (10,000 images through MNIST + ToTensor,
   batch 128) with num_workers 0 and 2;
3. peak resident memory of one MNIST training epoch of that MLP (batch 128, Adam), each
   side in its own subprocess so that neither library's allocations count against the
   other (Linux: read from /proc/self/status).

    python bench/bench_nn.py [--threads 1,2] [--data-root DIR]   (default: $DIFFPROG_DATA)

The same model code runs on both sides: `lib` is either `diffprog` or `torch`.  PyTorch
has no MNIST dataset without torchvision, so its side uses `TorchMNIST` below, which does
what torchvision's MNIST + ToTensor do per image (PIL image, then a float tensor / 255).
"""
import argparse
import gzip
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from runner import add_threads_option, compare, memory_child, peak_memory, pin_threads, trainer  # noqa: E402


def mlp(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                         nn.Linear(256, 10))


def train_step():
    import diffprog as dp
    import torch
    rng = np.random.default_rng(0)
    x = rng.random((128, 784), dtype=np.float32)
    y = rng.integers(0, 10, 128)
    dp.manual_seed(0)
    torch.manual_seed(0)
    dp_step, torch_step = trainer(dp, mlp(dp)), trainer(torch, mlp(torch))
    xd, yd, xt, yt = dp.tensor(x), dp.tensor(y), torch.tensor(x), torch.tensor(y)
    return compare("MLP 784-256-256-10 Adam step, batch 128", lambda: dp_step(xd, yd),
                   lambda: torch_step(xt, yt), number=20, rounds=9, unit="ms")


def read_idx(path):
    """MNIST IDX file -> uint8 array (enough for the benchmark; the library's reader checks more)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(raw[3]))
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * raw[3]).reshape(shape)


class TorchMNIST:
    """torchvision's MNIST(transform=ToTensor()) item path, on PyTorch."""

    def __init__(self, root, train):
        import torch
        prefix = "train" if train else "t10k"
        raw = os.path.join(root, "MNIST", "raw")
        self.data = torch.from_numpy(read_idx(os.path.join(raw, f"{prefix}-images-idx3-ubyte.gz")).copy())
        self.targets = torch.from_numpy(read_idx(os.path.join(raw, f"{prefix}-labels-idx1-ubyte.gz")).astype(np.int64))

    def __getitem__(self, i):
        import torch
        from PIL import Image
        img = Image.fromarray(self.data[i].numpy())
        x = torch.from_numpy(np.array(img, copy=True)).view(28, 28, 1).permute(2, 0, 1).contiguous()
        return x.to(torch.get_default_dtype()).div(255), int(self.targets[i])

    def __len__(self):
        return len(self.data)


def loader_throughput(root):
    import diffprog as dp
    import torch
    from diffprog.vision import datasets, transforms
    dp_ds = datasets.MNIST(root, train=False, transform=transforms.ToTensor())
    th_ds = TorchMNIST(root, train=False)
    for workers in (0, 2):
        dp_loader = dp.utils.data.DataLoader(dp_ds, batch_size=128, num_workers=workers)
        th_loader = torch.utils.data.DataLoader(th_ds, batch_size=128, num_workers=workers)
        d, t = compare(f"DataLoader MNIST test set, num_workers={workers}",
                       lambda: sum(1 for _ in dp_loader), lambda: sum(1 for _ in th_loader),
                       number=1, rounds=5, unit="ms")
        print(f"{'':44s} diffprog {len(dp_ds) / d:9.0f} img/s torch {len(th_ds) / t:9.0f} img/s")


def mnist_epoch(root):
    """prepare(lib) for runner.memory_child: MNIST in memory, the MLP; the work is one
    training epoch (batch 128, Adam)."""
    def prepare(lib):
        raw = os.path.join(root, "MNIST", "raw")
        images = read_idx(os.path.join(raw, "train-images-idx3-ubyte.gz")).reshape(-1, 784)
        x = lib.from_numpy(np.divide(images, 255, dtype=np.float32))
        y = lib.from_numpy(read_idx(os.path.join(raw, "train-labels-idx1-ubyte.gz")).astype(np.int64))
        loader = lib.utils.data.DataLoader(lib.utils.data.TensorDataset(x, y), batch_size=128, shuffle=True)
        step = trainer(lib, mlp(lib))

        def epoch():
            for xb, yb in loader:
                step(xb, yb)
        return epoch
    return prepare


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_threads_option(parser)
    parser.add_argument("--data-root", default=os.environ.get("DIFFPROG_DATA"))
    parser.add_argument("--memory-child", choices=["diffprog", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        return memory_child(args.memory_child, args.threads[0], mnist_epoch(args.data_root))
    import diffprog as dp
    import torch
    mnist = args.data_root and os.path.isdir(os.path.join(args.data_root, "MNIST", "raw"))
    for threads in args.threads:
        print(f"diffprog {dp.__version__}, torch {torch.__version__}, {pin_threads(threads)}")
        train_step()
        if not mnist:
            print("MNIST benchmarks skipped: pass --data-root DIR (or set DIFFPROG_DATA) with MNIST/raw/")
            continue
        loader_throughput(args.data_root)
        peak_memory(__file__, ["--data-root", args.data_root, "--threads", str(threads)],
                    "an MNIST MLP epoch")


if __name__ == "__main__":
    main()
