"""Implicit bias of gradient descent, and gradient starvation: which of the many solutions the
optimiser finds, and which features it never learns.

    python examples/implicit_bias.py [--seed 0] [--out runs/implicit_bias]

1. Over-parameterised least squares (20 equations, 100 unknowns; a noiseless linear teacher):
   gradient descent from zero stays in the row space of X and converges to the minimum-norm
   interpolant pinv(X) y; from an initialisation w0 it converges to that plus the part of w0
   orthogonal to the row space (distance |(I - P) w0|).  Adam interpolates too, but lands on
   a solution of larger norm (Wilson et al. 2017's point about adaptive methods).
2. Separable logistic regression: the gradient-descent iterate grows without bound and its
   direction converges, logarithmically slowly, to the hard-margin SVM direction (Soudry et
   al. 2018); the max-margin direction is found here by scikit-learn's SVC (C = 1e6).
3. Gradient starvation (Pezeshki et al. 2021): labels that two features both predict
   perfectly: an "easy" one (x1 = 2 y + noise, a large margin) and a "hard" one (two
   interleaved moons in (x2, x3) with noise 0.1).  An MLP (3-64-64-1, ReLU; Adam lr 1e-3,
   full batch, 2,000 steps, binary cross-entropy) trained on both is then tested with x1 set
   to 0: what it learned from the hard feature.  Once the easy feature drives the loss down,
   the gradient that would shape the boundary in the moons' plane starves.  A model trained
   with x1 = 0 shows what was learnable; the paper's remedy, spectral decoupling (an L2
   penalty of lambda / 2 on the logits, lambda = 0.1), is tried too.

Full run (defaults, seed 0, OPENBLAS_NUM_THREADS=1, 2 cores shared with other jobs; 3.2 min):
  1. |w_GD(0) - pinv(X) y| = 2.6e-14 (both norms 4.52); from w0 (|w0| = 9.6) the distance to
     pinv(X) y is 8.49, exactly the predicted |(I - P) w0| = 8.49; Adam from 0 interpolates
     (loss 6.5e-31) with norm 5.31.
  2. cosine(w_GD, SVM direction) after 10^2, 10^3, 10^4, 10^5 steps: 0.9722, 0.9938, 0.9990,
     0.9997, while |w| grows 3.9, 7.7, 13.2, 20.5 (logarithmically).
  3. every model fits its training set (100 %); with x1 = 0 at test time: trained on both
     features 81.7 %, with spectral decoupling 71.1 % (it did not help here), trained on the
     hard feature alone 99.9 %.  In starvation.png the both-features model's boundary in the
     moons' plane is a nearly straight cut, the hard-feature model's follows the moons.

Output in --out: `starvation.png`, the decision boundary of the three models of part 3 over
the hard feature's plane (x1 set to 0), with the data (needs matplotlib).
"""
import argparse
import math
import os
import time

import numpy as np

import diffprog as dp
import diffprog.nn.functional as F
from diffprog import nn

from plotting import pyplot


# --- 1. minimum-norm solutions -------------------------------------------------------------

def least_squares(n=20, d=100, steps=5000, lr=0.05, seed=0):
    rng = np.random.default_rng(seed)
    X = dp.tensor(rng.standard_normal((n, d)) / math.sqrt(d))
    y = X @ dp.tensor(rng.standard_normal(d))
    pinv = dp.linalg.pinv(X) @ y

    def fit(w0, optimiser):
        w = w0.clone().requires_grad_()
        opt = optimiser([w])
        for _ in range(steps):
            loss = 0.5 * ((X @ w - y) ** 2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        return w.detach(), loss.item()
    zero = dp.zeros(d, dtype=dp.float64)
    w0 = dp.tensor(rng.standard_normal(d))
    gd, _ = fit(zero, lambda p: dp.optim.SGD(p, lr=lr))
    gd_w0, _ = fit(w0, lambda p: dp.optim.SGD(p, lr=lr))
    adam, adam_loss = fit(zero, lambda p: dp.optim.Adam(p, lr=1e-2))
    projection = dp.linalg.pinv(X) @ X                      # onto the row space of X
    return dict(gd_distance=(gd - pinv).norm().item(), gd_norm=gd.norm().item(), pinv_norm=pinv.norm().item(),
                w0_norm=w0.norm().item(), w0_distance=(gd_w0 - pinv).norm().item(),
                w0_predicted=(w0 - projection @ w0).norm().item(), adam_norm=adam.norm().item(),
                adam_loss=adam_loss)


# --- 2. logistic regression on separable data ----------------------------------------------

def max_margin(steps=(100, 1000, 10_000, 100_000), n=40, lr=0.5, seed=0):
    try:
        from sklearn.svm import SVC
    except ImportError as e:
        raise ImportError("implicit_bias part 2 needs scikit-learn for the SVM (pip install scikit-learn)") from e
    rng = np.random.default_rng(seed)
    pos = rng.standard_normal((n // 2, 2)) * 0.6 + np.array([1.0, 0.5])
    pos = pos[pos @ np.array([1.0, 0.5]) > 0.2]                # separable with a margin
    x = np.concatenate([pos, -pos])                            # symmetric: the SVM's bias is 0
    y = np.concatenate([np.ones(len(pos)), -np.ones(len(pos))])
    svm = SVC(kernel="linear", C=1e6).fit(x, y)
    direction = svm.coef_[0] / np.linalg.norm(svm.coef_[0])
    X, Y = dp.tensor(x), dp.tensor(y)
    w = dp.zeros(2, dtype=dp.float64, requires_grad=True)       # no bias term, like the symmetric SVM
    opt = dp.optim.SGD([w], lr=lr)
    cosines, norms, done = [], [], 0
    for target in steps:
        for _ in range(target - done):
            loss = F.softplus(-Y * (X @ w)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        done = target
        v = w.detach().numpy()
        cosines.append(float(v @ direction / np.linalg.norm(v)))
        norms.append(float(np.linalg.norm(v)))
    return dict(steps=list(steps), cosines=cosines, norms=norms, svm_bias=float(svm.intercept_[0]))


# --- 3. gradient starvation ----------------------------------------------------------------

def moons(n, noise, rng):
    t = rng.uniform(0, math.pi, n)
    y = rng.integers(0, 2, n)
    pts = np.where(y[:, None] == 0, np.stack([np.cos(t), np.sin(t)], 1), np.stack([1 - np.cos(t), 0.5 - np.sin(t)], 1))
    return pts + noise * rng.standard_normal((n, 2)), y


def starvation_data(n, rng, easy=True):
    """x1 = 2 y + noise (easy=True) or 0 (the easy feature removed), then the two moons."""
    hard, y = moons(n, 0.1, rng)
    x1 = 2 * (2.0 * y - 1) + 0.1 * rng.standard_normal(n) if easy else np.zeros(n)
    return dp.tensor(np.column_stack([x1, hard]), dtype=dp.float32), dp.tensor(y.astype(np.float32))


def train_mlp(x, y, steps, sd, seed):
    dp.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
    opt = dp.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(steps):
        logits = model(x)[:, 0]
        loss = F.binary_cross_entropy_with_logits(logits, y) + sd / 2 * (logits ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def accuracy(model, x, y):
    with dp.no_grad():
        return ((model(x)[:, 0] > 0).float() == y).float().mean().item()


def starvation(steps=2000, n=1000, sd=0.1, seed=0):
    rng = np.random.default_rng(seed)
    x, y = starvation_data(n, rng)
    x_hard_only, y_hard_only = starvation_data(n, rng, easy=False)
    xt, yt = starvation_data(2000, rng, easy=False)              # x1 = 0: only the hard feature helps
    models = {"both features": train_mlp(x, y, steps, 0.0, seed),
              "both, spectral decoupling": train_mlp(x, y, steps, sd, seed),
              "hard feature only": train_mlp(x_hard_only, y_hard_only, steps, 0.0, seed)}
    train_sets = {"both features": (x, y), "both, spectral decoupling": (x, y),
                  "hard feature only": (x_hard_only, y_hard_only)}
    return ({name: dict(train=accuracy(m, *train_sets[name]), hard_only_test=accuracy(m, xt, yt))
             for name, m in models.items()}, models, (xt, yt))


def plot_starvation(models, data, path):
    plt = pyplot("implicit_bias")
    xt, yt = data
    g = np.linspace(-1.5, 2.5, 200), np.linspace(-1.0, 1.5, 150)
    gx, gy = np.meshgrid(*g)
    grid = dp.tensor(np.column_stack([np.zeros(gx.size), gx.ravel(), gy.ravel()]), dtype=dp.float32)
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 4))
    for ax, (name, m) in zip(axes, models.items()):
        with dp.no_grad():
            z = m(grid)[:, 0].numpy().reshape(gx.shape)
        ax.contourf(gx, gy, z > 0, levels=[-0.5, 0.5, 1.5], colors=["#c6dbef", "#f4c7c3"], alpha=0.8)
        pts = xt.numpy()[:400]
        ax.scatter(pts[:, 1], pts[:, 2], c=yt.numpy()[:400], cmap="coolwarm", s=6)
        ax.set(title=name, xlabel="x2", ylabel="x3")
    fig.suptitle("decision regions over the hard feature (x1 = 0)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(seed=0, ls_steps=5000, mm_steps=(100, 1000, 10_000, 100_000), starvation_steps=2000,
         out="runs/implicit_bias", verbose=True):
    start = time.perf_counter()
    res = {"least_squares": least_squares(steps=ls_steps, seed=seed), "max_margin": max_margin(mm_steps, seed=seed)}
    res["starvation"], models, data = starvation(starvation_steps, seed=seed)
    os.makedirs(out, exist_ok=True)
    plot_starvation(models, data, os.path.join(out, "starvation.png"))
    res["seconds"] = time.perf_counter() - start
    if verbose:
        ls, mm = res["least_squares"], res["max_margin"]
        print(f"1. |w_GD - pinv(X) y| = {ls['gd_distance']:.2g} (norms {ls['gd_norm']:.2f}, {ls['pinv_norm']:.2f}); "
              f"from w0 (|w0| = {ls['w0_norm']:.1f}): distance {ls['w0_distance']:.2f}, predicted "
              f"{ls['w0_predicted']:.2f}; Adam: norm {ls['adam_norm']:.2f}, training loss {ls['adam_loss']:.2g}")
        print("2. cosine to the SVM direction: " + ", ".join(f"{s} steps {c:.4f} (|w| {n:.1f})" for s, c, n in
                                                           zip(mm["steps"], mm["cosines"], mm["norms"])))
        print("3. " + "; ".join(f"{k}: train {v['train']:.1%}, hard feature only {v['hard_only_test']:.1%}"
                                for k, v in res["starvation"].items()))
        print(f"{res['seconds'] / 60:.1f} min")
    return res


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/implicit_bias")
    a = p.parse_args()
    main(a.seed, out=a.out)
