"""A model ensemble trained as one program: `stack_module_state` + `functional_call` + `vmap`.

    python examples/ensembles.py [--data-root DIR] [--members 8] [--epochs 2]

K MLPs with different initialisations are stacked into one set of parameters (each of
shape (K, *shape), `func.stack_module_state`), and `vmap(functional_call)` evaluates all
of them on a batch at once: every linear layer becomes one product over the members.
The loss is the sum of the members' losses, so its gradient with respect to the stacked
parameters holds each member's own gradient, and one Adam over the stacked tensors trains
the K models exactly as K separate Adams would (Adam is elementwise).  The example checks
that against training member 0 on its own, compares the time with training the members
one after the other, and reports each member's test accuracy and the ensemble's (the mean
of the members' softmax outputs).

Data: `root/MNIST/raw/` (root from --data-root or DIFFPROG_DATA).

Full run with the defaults (8 members, 784-128-10 MLPs, Adam lr 1e-3, batch 128, all
60,000 training images, 2 epochs, seed 0) on the development machine (2 cores, 1 BLAS
thread, shared with other jobs): FIGURES PENDING.  The test trains 3 members on 1,000
images for one epoch.
"""
import argparse
import copy
import time

import diffprog as dp
import diffprog.nn as nn
import diffprog.nn.functional as F
from diffprog.func import functional_call, stack_module_state, vmap
from diffprog.vision import datasets


def load(root, train, size=None):
    """(images normalised as usual, (N, 784) float32; labels), the first `size`."""
    ds = datasets.MNIST(root, train=train)
    x, y = (ds.data[:size], ds.targets[:size]) if size else (ds.data, ds.targets)
    return ((x.float() / 255 - 0.1307) / 0.3081).reshape(len(x), -1), y


def make_model(hidden=128):
    return nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10))


class Ensemble:
    """K copies of `base`'s architecture with the given members' weights, stacked."""

    def __init__(self, members):
        self.base = copy.deepcopy(members[0])          # the architecture functional_call runs
        self.params, self.buffers = stack_module_state(members)

    def __call__(self, x):
        """(K, N, classes): every member's output on the same batch x."""
        run = lambda p, b, v: functional_call(self.base, (p, b), (v,))  # noqa: E731
        return vmap(run, in_dims=(0, 0, None))(self.params, self.buffers, x)


def train(step_model, parameters, x, y, epochs, batch_size, lr, seed, loss_of):
    """Adam over `parameters` on shuffled batches (the same order for a given seed)."""
    opt = dp.optim.Adam(parameters, lr=lr)
    g = dp.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in dp.randperm(len(x), generator=g).split(batch_size):
            loss = loss_of(step_model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()


def ensemble_loss(out, y):
    """The sum over members of each member's mean cross entropy."""
    k = out.shape[0]
    return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.repeat(k), reduction="sum") / len(y)


@dp.no_grad()
def accuracy(logits, y):
    return float((logits.argmax(-1) == y).float().mean())


def main(root=None, members=8, hidden=128, epochs=2, batch_size=128, lr=1e-3, train_size=None,
         test_size=None, seed=0, verbose=True):
    """Train the ensemble with vmap and, for comparison, its members one by one."""
    (x, y), (x_test, y_test) = load(root, True, train_size), load(root, False, test_size)
    dp.manual_seed(seed)
    models = [make_model(hidden) for _ in range(members)]
    alone = copy.deepcopy(models)                       # the same initial weights

    ens = Ensemble(models)
    start = time.perf_counter()
    train(ens, list(ens.params.values()), x, y, epochs, batch_size, lr, seed, ensemble_loss)
    t_vmap = time.perf_counter() - start

    start = time.perf_counter()
    for m in alone:
        train(m, list(m.parameters()), x, y, epochs, batch_size, lr, seed, F.cross_entropy)
    t_loop = time.perf_counter() - start

    diff = max(float((ens.params[k][i] - p).abs().max())
               for i, m in enumerate(alone) for k, p in m.named_parameters())
    with dp.no_grad():
        out = ens(x_test)
    member_acc = [accuracy(o, y_test) for o in out]
    ensemble_acc = accuracy(out.softmax(-1).mean(0), y_test)
    if verbose:
        print(f"{members} members, {epochs} epoch(s): vmap {t_vmap:.1f} s, one by one {t_loop:.1f} s "
              f"({t_loop / t_vmap:.1f}x); largest difference between the two {diff:.1e}")
        print("member test accuracies: " + ", ".join(f"{a:.2%}" for a in member_acc))
        print(f"ensemble (mean softmax): {ensemble_acc:.2%}")
    return dict(difference=diff, speedup=t_loop / t_vmap, members=member_acc, ensemble=ensemble_acc)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--members", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--train-size", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    a = parser.parse_args()
    main(a.data_root, a.members, a.hidden, a.epochs, a.batch_size, a.lr, a.train_size, seed=a.seed)
