"""Next-value prediction of noisy sine waves with a recurrent network.

    python examples/sine_rnn.py [--steps 1500] [--hidden 32] [--cell gru] [--out runs/sine_rnn]

Each sequence is sin(2 pi f t + phase) sampled at 0.1-second steps, with frequency f uniform in
[0.1, 0.5] Hz, a uniform random phase and Gaussian noise (std --noise, default 0.05).  A
one-layer GRU (or --cell rnn: nn.RNN, tanh) reads the sequence and a linear layer predicts
the next value at every step; training minimises the MSE with Adam on freshly drawn batches.
The test set is 512 fresh sequences; we report the test MSE of the network and of the naive
baseline "the next value equals the last one", both over steps 10.. of each sequence (the
first steps give the network too little history to know the frequency).  The noise itself
caps how good any predictor can be: its variance is noise**2 = 0.0025.  Writes
`prediction.png` (truth, noisy input and the network's one-step predictions for three
test sequences) under --out.

Full run with the defaults (`python examples/sine_rnn.py`: GRU with 32 hidden units, 1,500
steps of 64 fresh sequences of 60 steps, Adam lr 1e-2 with cosine decay, seed 0): test MSE
0.0033 against 0.0246 for the last-value baseline (noise floor 0.0025), i.e. 7.5 times
better; training MSE 0.0069 after 250 steps, 0.0043 from step 1,000 on.  It took 110 s of
wall time (18 s of CPU) on the shared 2-core development machine.  In `prediction.png` the
red one-step predictions wobble during the first few steps, then lie on the clean sine,
ignoring the noise in the grey points, for slow and fast waves alike.  (--cell rnn: a plain
tanh nn.RNN.)
"""
import argparse
import math
import os
import time

import numpy as np

import diffprog as dp
import diffprog.nn as nn
import diffprog.nn.functional as F


def make_waves(n, length, noise, rng, dt=0.1):
    """(noisy (n, length), clean (n, length)) float32 sine waves of random frequency and phase."""
    freq = rng.uniform(0.1, 0.5, (n, 1))
    phase = rng.uniform(0, 2 * math.pi, (n, 1))
    clean = np.sin(2 * math.pi * freq * dt * np.arange(length) + phase)
    noisy = clean + noise * rng.standard_normal(clean.shape)
    return noisy.astype(np.float32), clean.astype(np.float32)


class NextValue(nn.Module):
    """A recurrent layer over the scalar signal and a linear read-out of the next value."""

    def __init__(self, hidden=32, cell="gru"):
        super().__init__()
        self.rnn = {"gru": nn.GRU, "rnn": nn.RNN, "lstm": nn.LSTM}[cell](1, hidden, batch_first=True)
        self.out = nn.Linear(hidden, 1)

    def forward(self, x):  # (batch, time) -> (batch, time) predictions of x[:, t + 1]
        h, _ = self.rnn(x.unsqueeze(-1))
        return self.out(h).squeeze(-1)


def plot(noisy, clean, pred, path, burn_in):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError("sine_rnn: writing the plot needs matplotlib (pip install diffprog[demo])") from e
    fig, axes = plt.subplots(len(noisy), 1, figsize=(9, 2.3 * len(noisy)), sharex=True)
    t = np.arange(noisy.shape[1])
    for ax, n, c, p in zip(axes, noisy, clean, pred):
        ax.plot(t, c, color="k", lw=1, label="clean signal")
        ax.plot(t, n, ".", color="gray", ms=3, label="noisy input")
        ax.plot(t[1:], p, color="tab:red", lw=1.2, label="RNN one-step prediction")
        ax.axvline(burn_in, color="tab:blue", ls=":", lw=1)
    axes[0].legend(loc="upper right", fontsize=8)
    axes[-1].set_xlabel("time step")
    fig.suptitle("Next-value prediction of noisy sine waves (test sequences)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(steps=1500, batch=64, length=60, hidden=32, cell="gru", noise=0.05, lr=1e-2, burn_in=10,
         out="runs/sine_rnn", seed=0, verbose=True):
    """Train on fresh batches, then test against the last-value baseline; returns the figures."""
    dp.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = NextValue(hidden, cell)
    opt = dp.optim.Adam(model.parameters(), lr=lr)
    sched = dp.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=lr / 20)
    t0 = time.time()
    for step in range(1, steps + 1):
        x = dp.from_numpy(make_waves(batch, length + 1, noise, rng)[0])
        loss = F.mse_loss(model(x[:, :-1]), x[:, 1:])
        opt.zero_grad()
        loss.backward()
        dp.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if verbose and (step % 250 == 0 or step == steps):
            print(f"step {step:5d}  train MSE {loss.item():.4f}  ({time.time() - t0:.0f} s)", flush=True)
    noisy, clean = make_waves(512, length + 1, noise, np.random.default_rng(seed + 1))
    model.eval()
    with dp.no_grad():
        pred = model(dp.from_numpy(noisy[:, :-1])).numpy()
    target = noisy[:, burn_in + 1:]
    test_mse = float(np.mean((pred[:, burn_in:] - target) ** 2))
    naive_mse = float(np.mean((noisy[:, burn_in:-1] - target) ** 2))
    if verbose:
        print(f"test MSE {test_mse:.4f}   last-value baseline {naive_mse:.4f}   noise floor {noise ** 2:.4f}")
    result = {"test_mse": test_mse, "naive_mse": naive_mse, "noise_floor": noise ** 2,
              "seconds": time.time() - t0, "model": model}
    if out:
        os.makedirs(out, exist_ok=True)
        result["plot"] = os.path.join(out, "prediction.png")
        plot(noisy[:3], clean[:3], pred[:3], result["plot"], burn_in)
    return result


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--length", type=int, default=60)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--cell", default="gru", choices=["gru", "rnn", "lstm"])
    p.add_argument("--noise", type=float, default=0.05)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--out", default="runs/sine_rnn")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    main(a.steps, a.batch, a.length, a.hidden, a.cell, a.noise, a.lr, out=a.out, seed=a.seed)
