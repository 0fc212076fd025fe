"""The demo: train a small network to read handwritten digits, end to end, offline.

    python -m diffprog demo [--out DIR] [--epochs N] [--quick]
    python -m diffprog demo --dataset mnist --data-root DIR [--download]     # 28x28 MNIST

The default data are scikit-learn's bundled digits (1,797 images of 8 x 8 pixels, no
download): 75% for training, 25% held out for testing.  A multilayer perceptron built
with `diffprog.nn` is trained by `optim.Adam` inside a `train.Trial`, which shows a tqdm
progress bar, saves a resumable checkpoint after each epoch and draws the learning
curves to a PNG (after each epoch on MNIST, once at the end on the digits, whose epochs
are short).  At the end it prints the test accuracy: about 97.5% on both.  The held-out
set also draws the validation curve; nothing is tuned on it.
"""
import os
import time

import diffprog as dp
import diffprog.nn as nn
from diffprog.train import Trial
from diffprog.train.callbacks import LiveLossPlot, ModelCheckpoint

EXTRA = 'pip install "diffprog[demo]"  (scikit-learn, tqdm, matplotlib)'


def load_digits(seed, test_fraction=0.25):
    """scikit-learn's 8x8 digits as (x_train, y_train, x_test, y_test), pixels in [0, 1]."""
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError:
        raise SystemExit(f"The demo trains on scikit-learn's bundled digits: {EXTRA}") from None
    images, labels = sk_load_digits(return_X_y=True)
    x, y = dp.tensor(images / 16.0, dtype=dp.float32), dp.tensor(labels)
    order = dp.randperm(len(x), generator=dp.Generator().manual_seed(seed))
    n_test = int(len(x) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


def mnist_loaders(root, batch_size, download=False):
    """DataLoaders over MNIST's training and test sets, normalized as usual."""
    from diffprog.utils.data import DataLoader
    from diffprog.vision import datasets, transforms
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    try:
        train = datasets.MNIST(root, train=True, transform=tf, download=download)
        test = datasets.MNIST(root, train=False, transform=tf, download=download)
    except (RuntimeError, ValueError) as e:      # no data: say where it goes, no traceback
        raise SystemExit(f"{e}\n(python -m diffprog demo --dataset mnist --data-root DIR "
                         "[--download])") from None
    return DataLoader(train, batch_size=batch_size, shuffle=True), DataLoader(test, batch_size=1000)


def mlp(n_in, hidden, n_out=10):
    return nn.Sequential(nn.Flatten(), nn.Linear(n_in, hidden), nn.ReLU(),
                         nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, n_out))


def _one_blas_thread():
    """Run the matrix products on one BLAS thread: this network's matrices are small, where
    OpenBLAS's threads cost more than they bring, and many times more when another process
    keeps a core busy."""
    from threadpoolctl import threadpool_limits
    return threadpool_limits(1)


def _verbosity():
    """1 (a tqdm bar over the epochs) with tqdm installed, else 2 (a printed line per pass)."""
    try:
        import tqdm  # noqa: F401
        return 1
    except ImportError:
        print(f"(tqdm is not installed: plain progress lines instead of a bar; {EXTRA})")
        return 2


def _callbacks(out, draw_once):
    callbacks = [ModelCheckpoint(os.path.join(out, "checkpoint.pt"))]
    try:
        callbacks.append(LiveLossPlot(os.path.join(out, "learning_curves.png"), draw_once=draw_once))
    except ImportError:
        print(f"(matplotlib is not installed: no learning-curve plot; {EXTRA})")
    return callbacks


def run(dataset="digits", data_root=None, out="diffprog-demo", epochs=None, quick=False, seed=0,
        hidden=256, lr=1e-3, batch_size=None, download=False):
    """Train, evaluate, write the plot and checkpoint into `out`; returns the test accuracy.

    `quick`: a smoke test (digits: 256 training images, 3 epochs; MNIST: 50 steps)."""
    start = time.perf_counter()
    dp.manual_seed(seed)
    if dataset == "digits":
        x_train, y_train, x_test, y_test = load_digits(seed)
        if quick:
            x_train, y_train = x_train[:256], y_train[:256]
        n_in, epochs, n_train, n_test = 64, epochs or (3 if quick else 20), len(x_train), len(x_test)
    elif dataset == "mnist":
        train_loader, test_loader = mnist_loaders(data_root, batch_size or 128, download)
        n_in, epochs = 784, epochs or (1 if quick else 5)
        n_train, n_test = len(train_loader.dataset), len(test_loader.dataset)
    else:
        raise ValueError(f"unknown dataset {dataset!r} (digits or mnist)")

    model = mlp(n_in, hidden)
    optimizer = dp.optim.Adam(model.parameters(), lr=lr)
    os.makedirs(out, exist_ok=True)
    trial = Trial(model, optimizer, nn.CrossEntropyLoss(), metrics=["loss", "acc"],
                  callbacks=_callbacks(out, draw_once=dataset == "digits"), verbose=_verbosity())
    if dataset == "digits":
        trial.with_train_data(x_train, y_train, batch_size=batch_size or 32)
        trial.with_val_data(x_test, y_test, batch_size=n_test, shuffle=False)
    else:
        trial.with_generators(train_loader, val_generator=test_loader)
        if quick:
            trial.for_train_steps(50)

    side = int(n_in ** 0.5)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"diffprog {dp.__version__} demo: {dataset}, {side}x{side} pixels, {n_train} training / "
          f"{n_test} test images")
    print(f"model: MLP {n_in}-{hidden}-{hidden}-10 ({n_params:,} parameters), Adam lr {lr}, "
          f"{epochs} epochs")
    with _one_blas_thread():
        history = trial.run(epochs)
    accuracy = history[-1]["val_acc"]
    print(f"test accuracy: {accuracy:.2%}   ({time.perf_counter() - start:.1f} s)")
    print(f"learning curves and checkpoint (a Trial state dict: trial.load_state_dict("
          f"diffprog.load(path)) resumes) in {os.path.abspath(out)}{os.sep}")
    return accuracy
