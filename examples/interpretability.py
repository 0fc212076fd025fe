"""Mechanistic interpretability of a small transformer: linear probes on its residual stream and
activation patching, both through forward hooks (`diffprog.viz.record_activations`,
`patch_activations`, `activation_patching`), on a task whose algorithm is known: induction.

    python examples/interpretability.py [--steps 800] [--out runs/interpretability]

Task: sequences of 24 tokens (vocabulary 32) made of a random segment A of length L (5 to 12,
drawn per sequence), A again, then random tokens.  Inside the second copy the next token is
predictable only by induction: find the earlier occurrence of the current token and copy the
token that followed it.  Model: `diffprog.models.TransformerLM` (2 layers, d_model 64, 4 heads,
learned positions, no dropout), trained with Adam (lr 1e-3, batch 64) on the cross-entropy of
the predictable tokens only.  Elhage et al. (2021) and Olsson et al. (2022) found that such
models solve it with two attention heads in series: a *previous-token head* in layer 0 writes
each position's preceding token into its residual stream, and an *induction head* in layer 1
attends from the current token to the position whose preceding token matches it, copying that
position's token.

Probes (`diffprog.models.linear_probe`, logistic regression on 3,000 positions of the second
copy, scored on 1,000 others), at the residual stream after the embedding and after each block:
  "current token"  the token at the position;
  "previous token" the token one position earlier: readable only after layer 0 if a
                   previous-token head exists;
  "next token"     the token to predict: readable only after layer 1 (the induction head).

Activation patching: clean sequences have L = 8; their corrupted twins differ only in the first
copy's token A[5].  At the query position 8 + 4 (current token A[4], answer A[5]) the metric is
logit(clean answer) - logit(corrupted answer), averaged over 200 sequences; each activation
(the residual stream after the embedding and after each block, and each block's attention
output) at each position is copied from the clean run into the corrupted one, and the fraction
of the clean-corrupted gap it restores is recorded.

Full run (`--steps 800`, seed 0, OPENBLAS_NUM_THREADS=1, 2 cores shared with other jobs;
5.4 min): induction accuracy on held-out sequences 95.7 % (chance 3 %).
  probe held-out accuracy    embedding  block 0  block 1
      current token            100 %     100 %    100 %
      previous token             3 %      49 %     35 %
      next token                 3 %      11 %     96 %
  patching (clean metric 9.74, corrupted -9.78), fraction of the gap restored:
      embedding at position 5 (the changed token) 1.00, block 0 output there 0.97;
      block 1 output at the query position 12: 1.00, block 1 attention output there 0.97;
      block 0 attention output anywhere: at most 0.02; every other activation 0.00.
  So block 0 writes each position's previous token into its residual stream (linearly
  readable at 49 %, against 3 % after the embedding), the answer's token stays at its own
  position through block 0, and block 1's attention moves it to the query position, where
  the next token becomes readable: an induction head, as in the papers.

Outputs in --out: `patching.png` (the restored fraction per activation and position) and
`model.pt` (needs matplotlib for the figure).
"""
import argparse
import os
import time

import numpy as np

import diffprog as dp
import diffprog.nn.functional as F
from diffprog.models import TransformerLM, linear_probe
from diffprog.viz import activation_patching, record_activations

from plotting import pyplot

RESIDUAL = ["pos", "blocks.layers.0", "blocks.layers.1"]
ATTENTION = ["blocks.layers.0.self_attn", "blocks.layers.1.self_attn"]
LABELS = ["embedding", "block 0", "block 1", "block 0 attention", "block 1 attention"]


def induction_batch(n, vocab, length, rng, segment=None):
    """(tokens (n, length), mask of positions whose *next* token is predictable by induction)."""
    tokens = rng.integers(0, vocab, (n, length))
    mask = np.zeros((n, length), bool)
    lengths = rng.integers(5, length // 2 + 1, n) if segment is None else np.full(n, segment)
    for i, L in enumerate(lengths):
        tokens[i, L:2 * L] = tokens[i, :L]
        mask[i, L:2 * L - 1] = True
    return tokens, mask


def masked_loss(model, tokens, mask):
    logits = model(dp.tensor(tokens[:, :-1]))
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), dp.tensor(tokens[:, 1:]).reshape(-1),
                         reduction="none").reshape(tokens.shape[0], -1)
    w = dp.tensor(mask[:, :-1].astype(np.float32))
    return (ce * w).sum() / w.sum(), logits


def train(model, steps, batch, vocab, length, rng, lr, verbose):
    opt = dp.optim.Adam(model.parameters(), lr=lr)
    start = time.perf_counter()
    for step in range(1, steps + 1):
        loss, _ = masked_loss(model, *induction_batch(batch, vocab, length, rng))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if verbose and step % 100 == 0:
            print(f"step {step}: loss {loss.item():.3f} ({time.perf_counter() - start:.0f} s)", flush=True)


@dp.no_grad()
def induction_accuracy(model, vocab, length, rng, n=500):
    tokens, mask = induction_batch(n, vocab, length, rng)
    pred = model(dp.tensor(tokens[:, :-1])).argmax(-1).numpy()
    m = mask[:, :-1]
    return float((pred == tokens[:, 1:])[m].mean())


def probes(model, vocab, length, rng, n_train=3000, n_test=1000):
    """Probe accuracy {target: [per residual layer]} on positions of the second copy."""
    tokens, mask = induction_batch((n_train + n_test) // 4, vocab, length, rng)
    with dp.no_grad(), record_activations(model, RESIDUAL) as acts:
        model(dp.tensor(tokens[:, :-1]))
    rows, cols = np.nonzero(mask[:, :-1])
    rows, cols = rows[:n_train + n_test], cols[:n_train + n_test]
    targets = {"current token": tokens[rows, cols], "previous token": tokens[rows, cols - 1],
               "next token": tokens[rows, cols + 1]}
    result = {}
    for what, y in targets.items():
        y = dp.tensor(y)
        result[what] = []
        for name in RESIDUAL:
            feats = acts[name][dp.tensor(rows), dp.tensor(cols)]
            result[what].append(linear_probe(feats[:n_train], y[:n_train], feats[n_train:], y[n_train:],
                                             num_classes=vocab, steps=300)[1])
    return result


def patching(model, vocab, length, rng, n=200, segment=8, changed=5):
    """activation_patching on clean / corrupted pairs that differ in the first copy's token
    `changed`; the metric is logit(clean answer) - logit(corrupted answer) at the query."""
    clean, _ = induction_batch(n, vocab, length, rng, segment)
    corrupted = clean.copy()
    corrupted[:, changed] = (clean[:, changed] + rng.integers(1, vocab, n)) % vocab
    query = segment + changed - 1
    answer, wrong = dp.tensor(clean[:, changed]), dp.tensor(corrupted[:, changed])
    rows = dp.arange(n)

    def metric(logits):
        return (logits[rows, query, answer] - logits[rows, query, wrong]).mean().item()
    res = activation_patching(model, dp.tensor(clean[:, :-1]), dp.tensor(corrupted[:, :-1]), metric,
                              RESIDUAL + ATTENTION, positions=range(length - 1))
    res["query"], res["changed"] = query, changed
    return res


def plot(res, path):
    plt = pyplot("interpretability")
    fig, ax = plt.subplots(figsize=(10, 3.2))
    im = ax.imshow(res["restored"], cmap="RdBu", vmin=-1, vmax=1, aspect="auto")
    ax.set(yticks=range(len(LABELS)), yticklabels=LABELS, xlabel="position",
           title=f"activation patching: fraction of the logit difference restored (changed token at "
                 f"{res['changed']}, query at {res['query']})")
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(steps=800, batch=64, vocab=32, length=24, lr=1e-3, n_probe=4000, n_patch=200, seed=0,
         out="runs/interpretability", verbose=True):
    """Train on the induction task, probe, patch; returns the figures."""
    dp.manual_seed(seed)
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    model = TransformerLM(vocab, context=length, d_model=64, nhead=4, num_layers=2, dropout=0.0)
    train(model, steps, batch, vocab, length, rng, lr, verbose)
    model.eval()
    res = {"accuracy": induction_accuracy(model, vocab, length, rng),
           "probes": probes(model, vocab, length, rng, n_probe * 3 // 4, n_probe // 4),
           "patching": patching(model, vocab, length, rng, n_patch)}
    res["seconds"] = time.perf_counter() - start
    os.makedirs(out, exist_ok=True)
    dp.save(model.state_dict(), os.path.join(out, "model.pt"))
    plot(res["patching"], os.path.join(out, "patching.png"))
    if verbose:
        print(f"induction accuracy {res['accuracy']:.1%}")
        print("probe accuracy (embedding, block 0, block 1):")
        for what, accs in res["probes"].items():
            print(f"  {what:15s} " + "  ".join(f"{a:.0%}" for a in accs))
        p = res["patching"]
        print(f"patching: clean {p['clean']:.2f}, corrupted {p['corrupted']:.2f}; fraction restored:")
        for label, row in zip(LABELS, p["restored"]):
            print(f"  {label:18s} " + " ".join(f"{v:5.2f}" for v in row))
        print(f"{res['seconds'] / 60:.1f} min")
    return res


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="runs/interpretability")
    a = ap.parse_args()
    main(a.steps, seed=a.seed, out=a.out)
