"""A small decoder-only transformer language model on Tiny Shakespeare characters, then
generated text.

    python examples/transformer_lm.py [--data-root DIR] [--steps 800] [--d-model 128] [--layers 2]
                                     [--positional learned/sinusoidal] [--out runs/transformer_lm]

Data and split as in char_lstm.py (first 90% of the characters train, last 10% validate).
`diffprog.models.TransformerLM`: token embedding + learned (or --positional sinusoidal)
positions, pre-norm
nn.TransformerEncoder layers with a causal mask (Transformer.generate_square_subsequent_mask,
so position t only attends to positions <= t), final LayerNorm, linear head.  Trained on
random windows of --context characters with AdamW, linear warm-up then cosine decay, and
gradient clipping.  Validation: mean next-character cross-entropy over all non-overlapping
--context windows of the held-out text (nats/char; ln 65 = 4.17 is a uniform guess).
Generation crops the context to the last --context characters.  Writes `model.pt` and
`samples.txt` under --out.

Full run with the defaults (`python examples/transformer_lm.py`: d_model 128, 4 heads, 2
layers, feed-forward 512, GELU, dropout 0.1, context 64, batch 32, 800 steps, AdamW lr 1e-3
with 100 warm-up steps, seed 0), validation cross-entropy in nats/char:

    step   200  train 2.527  val 2.454
    step   400  train 2.303  val 2.235
    step   600  train 2.219  val 2.158
    step   800  train 2.187  val 2.134

It took 1,559 s of wall time on the development machine while it was shared by many jobs (load
average about 20 on 2 cores; about 0.2 s of CPU per step).  800 steps see only 1.6 M
characters (1.6 passes over the training text): the model is still far from converged and
well behind the LSTM at equal steps (char_lstm.py: 1.63); more steps (--steps 5000) are what it
needs.  Sample after "ROMEO:" (T=0.8, seed 0) -- words and the play layout, not yet the
spelling:

    ROMEO:
    And I far bedroucuch my am nost thing
    Astell of gave riys word wou-m bear grome mand ef forende len,
    The ny thourd ford, and If bloines allt ancemp
    I the sprew butth bad ombleart mand if to for.
"""
import argparse
import math
import time

import numpy as np

import diffprog as dp
import diffprog.nn.functional as F
from diffprog.models import TransformerLM

from char_lstm import finish, load_corpus, random_batch


@dp.no_grad()
def evaluate(model, data, batch=64):
    """Mean next-character cross-entropy (nats) over the non-overlapping context windows of `data`."""
    model.eval()
    t = model.context
    n = (len(data) - 1) // t
    x = data[:n * t].reshape(n, t)
    y = data[1:n * t + 1].reshape(n, t)
    total = 0.0
    for s in range(0, n, batch):
        logits = model(dp.from_numpy(x[s:s + batch]))
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), dp.from_numpy(y[s:s + batch]).reshape(-1),
                                 reduction="sum").item()
    model.train()
    return total / (n * t)


def main(root=None, steps=800, batch=32, context=64, d_model=128, nhead=4, layers=2, dropout=0.1,
         positional="learned", lr=1e-3, warmup=100, clip=1.0, eval_every=200, limit=None, sample_len=300,
         out="runs/transformer_lm", seed=0, verbose=True):
    """Train, evaluate every `eval_every` steps and at the end, sample; returns the figures."""
    dp.manual_seed(seed)
    rng = np.random.default_rng(seed)
    tokenizer, train, val = load_corpus(root, limit)
    vocab = len(tokenizer)
    model = TransformerLM(vocab, context, d_model, nhead, layers, dropout=dropout, positional=positional)
    opt = dp.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    # Linear warm-up over `warmup` steps, then a cosine from lr down to lr / 10.
    sched = dp.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * (0.55 + 0.45 * math.cos(math.pi * min(s, steps) / steps)))
    history, t0, running = [], time.time(), None
    for step in range(1, steps + 1):
        x, y = random_batch(train, batch, context, rng)
        loss = F.cross_entropy(model(x).reshape(-1, vocab), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        dp.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        sched.step()
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        if step % eval_every == 0 or step == steps:
            val_loss = evaluate(model, val)
            history.append((step, running, val_loss))
            if verbose:
                print(f"step {step:5d}  train {running:.3f}  val {val_loss:.3f} nats/char  "
                      f"({time.time() - t0:.0f} s)", flush=True)
    return finish(model, tokenizer, history, time.time() - t0, out, verbose, sample_len, ((0.8, None), (1.0, 10)))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-root", default=None)
    p.add_argument("--steps", type=int, default=800)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--context", type=int, default=64)
    p.add_argument("--d-model", type=int, default=128)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--positional", default="learned", choices=["learned", "sinusoidal"])
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--eval-every", type=int, default=200)
    p.add_argument("--sample-len", type=int, default=300)
    p.add_argument("--out", default="runs/transformer_lm")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    main(a.data_root, a.steps, a.batch, a.context, a.d_model, a.heads, a.layers, a.dropout, a.positional, a.lr,
         eval_every=a.eval_every, sample_len=a.sample_len, out=a.out, seed=a.seed)
