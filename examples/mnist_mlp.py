"""MNIST with a 784-hidden-10 MLP and a hand-written training loop, PyTorch style.

    python examples/mnist_mlp.py [--data-root DIR] [--epochs 3] [--hidden 256] [--download]

Data: `root/MNIST/raw/` (the four IDX files), root from --data-root or DIFFPROG_DATA;
--download fetches them.  The loop is what a PyTorch course lab writes -- dataset with
ToTensor + Normalize, DataLoader, `zero_grad` / `backward` / `step`, an evaluation pass
under `no_grad` -- and runs unchanged with `import torch` in place of diffprog.

Full run with the defaults (all 60,000 training images, 3 epochs, hidden 256, Adam lr
1e-3, batch 64, seed 0), measured on the development machine (2 cores, 1 BLAS thread):
test accuracy on the 10,000 test images 96.4%, 97.3%, 97.3% after epochs 1, 2, 3
(--epochs 5: 97.7% after epoch 4, 97.4% after 5), about 5 s per epoch.  The small
settings the tests use (2,000 training images, 1 epoch) reach about 83%.
"""
import argparse
import time

import diffprog as dp
import diffprog.nn as nn
import diffprog.nn.functional as F
from diffprog.utils.data import DataLoader, Subset
from diffprog.vision import datasets, transforms


def make_loaders(root=None, batch_size=64, train_size=None, test_size=None, download=False):
    """Train / test DataLoaders over MNIST (the first `train_size` / `test_size` images)."""
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    train = datasets.MNIST(root, train=True, transform=tf, download=download)
    test = datasets.MNIST(root, train=False, transform=tf, download=download)
    if train_size:
        train = Subset(train, range(train_size))
    if test_size:
        test = Subset(test, range(test_size))
    return (DataLoader(train, batch_size=batch_size, shuffle=True),
            DataLoader(test, batch_size=1000))


def make_model(hidden=256):
    return nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def train_epoch(model, loader, optimizer):
    """One pass over the training data; returns the mean loss."""
    model.train()
    total, count = 0.0, 0
    for x, y in loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(y)
        count += len(y)
    return total / count


@dp.no_grad()
def evaluate(model, loader):
    """(mean loss, accuracy) on `loader`."""
    model.eval()
    loss, correct, count = 0.0, 0, 0
    for x, y in loader:
        out = model(x)
        loss += F.cross_entropy(out, y, reduction="sum").item()
        correct += (out.argmax(dim=1) == y).sum().item()
        count += len(y)
    return loss / count, correct / count


def main(root=None, epochs=3, hidden=256, lr=1e-3, batch_size=64, seed=0, train_size=None,
         test_size=None, download=False, verbose=True):
    """Train and evaluate; returns the test accuracy after the last epoch."""
    dp.manual_seed(seed)
    train_loader, test_loader = make_loaders(root, batch_size, train_size, test_size, download)
    model = make_model(hidden)
    optimizer = dp.optim.Adam(model.parameters(), lr=lr)
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        train_loss = train_epoch(model, train_loader, optimizer)
        test_loss, acc = evaluate(model, test_loader)
        if verbose:
            print(f"epoch {epoch}: train loss {train_loss:.4f}  test loss {test_loss:.4f}  "
                  f"test accuracy {acc:.2%}  ({time.perf_counter() - start:.1f} s)")
    return acc


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-root", default=None, help="folder holding MNIST/raw/ (default: $DIFFPROG_DATA)")
    p.add_argument("--download", action="store_true", help="fetch MNIST when missing")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--train-size", type=int, default=None, help="use only the first N training images")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


if __name__ == "__main__":
    a = parse_args()
    main(a.data_root, a.epochs, a.hidden, a.lr, a.batch_size, a.seed, a.train_size,
         download=a.download)
