"""Regularising recurrent networks: no dropout, Zaremba et al. (2014)'s dropout on the
non-recurrent connections, variational (locked) dropout (Gal & Ghahramani 2016) and locked
dropout plus DropConnect on the recurrent weights (AWD-LSTM, Merity et al. 2018), on a
character language model given so little text that it overfits.

    python examples/rnn_regularization.py [--data-root DIR] [--steps 800] [--out runs/rnn_regularization]

Data: Tiny Shakespeare (`root/tinyshakespeare/input.txt`, read by char_lstm.py's functions):
the first 30,000 characters for training, the last 30,000 for validation.  Model
(`RegularizedLSTM`): embedding 64 -> an LSTM of 256 (--layers stacks single-layer LSTMs) ->
linear head, about 350k parameters for 30k training characters; random windows of 64
characters, batch 32, Adam (lr 3e-3, cosine decay), gradient clipping at 1, 800 steps (55
passes over the text).  Losses in nats/char over the validation text and over as many
training characters, read as streams carrying the LSTM state, every 100 steps.  Dropout
p = 0.4 wherever it is used:
  none          no dropout;
  zaremba       nn.Dropout on the embeddings, between stacked LSTMs and before the head (a new
                mask for every element at every time step);
  variational   nn.LockedDropout at the same places (one mask per sequence, the same at
                every time step);
  awd           variational plus nn.WeightDrop on the hidden-to-hidden matrices.

Full run (defaults, seed 0, OPENBLAS_NUM_THREADS=1, 2 cores shared with other jobs; 19 min,
2.5-6 min per scheme), train / validation at the end, and the best validation:
  none        1.012 / 2.408   best 2.252 at step 200, then rising: overfitting
  zaremba     1.454 / 2.195   best 2.195 (at the end)
  variational 1.438 / 2.202   best 2.201
  awd         1.559 / 2.253   best 2.253, still falling: with weight drop on top, 800 steps
                              underfit
Each dropout scheme stops the overfitting (a 0.2 nats/char better final validation loss);
with one layer the per-element and the locked masks end up alike here.  An earlier run with
two layers of 128 on 60k characters (p = 0.25, 1,200 steps) hardly overfitted (train 1.39,
validation 2.15-2.17) and dropout did not help (best validation 2.154 without, 2.16-2.21 with).

Output in --out: `curves.png`, the training and validation losses of the four schemes
against steps (needs matplotlib).
"""
import argparse
import os
import sys
import time

import numpy as np

import diffprog as dp
import diffprog.nn.functional as F
from diffprog import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plotting import pyplot  # noqa: E402
from char_lstm import evaluate, load_corpus, random_batch  # noqa: E402


SCHEMES = ("none", "zaremba", "variational", "awd")


class RegularizedLSTM(nn.Module):
    """Embedding -> stacked single-layer LSTMs -> linear, with one of the dropout `scheme`s."""

    def __init__(self, vocab, embed=64, hidden=128, layers=2, scheme="none", p=0.25):
        super().__init__()
        if scheme not in SCHEMES:
            raise ValueError(f"RegularizedLSTM: scheme must be one of {SCHEMES}, got {scheme!r}")
        self.embed = nn.Embedding(vocab, embed)
        rnns = [nn.LSTM(embed if i == 0 else hidden, hidden, batch_first=True) for i in range(layers)]
        if scheme == "awd":
            rnns = [nn.WeightDrop(r, ["weight_hh_l0"], dropout=p) for r in rnns]
        self.rnns = nn.ModuleList(rnns)
        drops = {"none": nn.Identity(), "zaremba": nn.Dropout(p)}
        self.drop = drops.get(scheme) or nn.LockedDropout(p, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, ids, hidden=None):
        x = self.drop(self.embed(ids))
        states = []
        for i, rnn in enumerate(self.rnns):
            x, s = rnn(x, None if hidden is None else hidden[i])
            states.append(s)
            x = self.drop(x)
        return self.head(x), states


def train(scheme, train_ids, val_ids, vocab, steps, batch, seq_len, hidden, layers, p, lr, eval_every, seed,
          verbose):
    dp.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = RegularizedLSTM(vocab, hidden=hidden, layers=layers, scheme=scheme, p=p)
    opt = dp.optim.Adam(model.parameters(), lr=lr)
    sched = dp.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=lr / 20)
    history, running, start = [], None, time.perf_counter()
    for step in range(1, steps + 1):
        x, y = random_batch(train_ids, batch, seq_len, rng)
        logits, _ = model(x)
        loss = F.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        dp.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        if step % eval_every == 0 or step == steps:
            history.append((step, evaluate(model, train_ids[:len(val_ids)]), evaluate(model, val_ids)))
            if verbose:
                print(f"{scheme:11s} step {step:5d}  train {history[-1][1]:.3f}  val {history[-1][2]:.3f}  "
                      f"({time.perf_counter() - start:.0f} s)", flush=True)
    return history, time.perf_counter() - start


def plot(histories, path):
    plt = pyplot("rnn_regularization")
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for k, (scheme, h) in enumerate(histories.items()):
        steps, tr, va = zip(*h)
        ax.plot(steps, tr, "--", color=f"C{k}", lw=1)
        ax.plot(steps, va, "-", color=f"C{k}", lw=1.8, label=scheme)
    ax.set(xlabel="step", ylabel="nats / char", title="validation (solid) and training (dashed) loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(root=None, steps=800, batch=32, seq_len=64, hidden=256, layers=1, train_chars=30_000, val_chars=30_000,
         p=0.4, lr=3e-3, eval_every=100, schemes=SCHEMES, seed=0, out="runs/rnn_regularization", verbose=True):
    """Train one model per scheme; returns {scheme: {train, val, best_val, history, seconds}}."""
    tokenizer, train_ids, val_ids = load_corpus(root)
    train_ids, val_ids = train_ids[:train_chars], val_ids[-val_chars:]
    vocab = len(tokenizer)
    res, histories = {}, {}
    for scheme in schemes:
        history, seconds = train(scheme, train_ids, val_ids, vocab, steps, batch, seq_len, hidden, layers, p,
                                 lr, eval_every, seed, verbose)
        histories[scheme] = history
        res[scheme] = dict(train=history[-1][1], val=history[-1][2], best_val=min(h[2] for h in history),
                           history=history, seconds=seconds)
    os.makedirs(out, exist_ok=True)
    plot(histories, os.path.join(out, "curves.png"))
    if verbose:
        for scheme, r in res.items():
            print(f"{scheme:11s} train {r['train']:.3f}  val {r['val']:.3f}  best val {r['best_val']:.3f}  "
                  f"({r['seconds']:.0f} s)")
    return res


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--p", type=float, default=0.4)
    ap.add_argument("--train-chars", type=int, default=30_000, help="train on the first N characters")
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--out", default="runs/rnn_regularization")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    main(a.data_root, a.steps, hidden=a.hidden, layers=a.layers, train_chars=a.train_chars, p=a.p,
         eval_every=a.eval_every, out=a.out, seed=a.seed)
