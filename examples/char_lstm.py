"""Character-level LSTM language model on Tiny Shakespeare, then sampled text.

    python examples/char_lstm.py [--data-root DIR] [--steps 1200] [--hidden 256] [--out runs/char_lstm]

Data: `root/tinyshakespeare/input.txt` (root from --data-root or DIFFPROG_DATA), read with
diffprog.text.CharCorpus; the first 90% of the characters train, the last 10% validate.
Training draws random windows of --seq-len characters (batch --batch), runs
`diffprog.models.CharRNN` (embedding -> LSTM -> linear) over them, and minimises the mean
next-character cross-entropy with Adam (cosine learning-rate decay) and gradient-norm
clipping at 1.  Validation reads the whole held-out text as --batch parallel streams, carrying
the LSTM state from chunk to chunk (truncated BPTT), and reports nats per character (a
uniform guess over the 65 characters is ln 65 = 4.17).  Writes `model.pt` and `samples.txt`
under --out.

Full run with the defaults (`python examples/char_lstm.py`: embedding 64, one LSTM layer of
256, random windows of 100 characters, batch 32, 1,200 steps, Adam lr 3e-3 decaying to 1.5e-4,
seed 0), validation cross-entropy in nats/char (train: running mean of the batch losses):

    step   200  train 1.890  val 1.917
    step   400  train 1.656  val 1.764
    step   600  train 1.565  val 1.693
    step   800  train 1.529  val 1.658
    step  1000  train 1.495  val 1.642
    step  1200  train 1.498  val 1.632   (1.632 nats/char = 2.35 bits/char)

It took 1,676 s of wall time on the development machine while it was shared by many jobs (load
average about 20 on 2 cores; about 0.1 s per step on an idle core).  An earlier run with
--steps 3000 (stopped after 500 steps to fit the session) was at val 1.705 after 500 steps.
Samples of the final model after the prompt "ROMEO:" (seed 0):

T=0.8:
    ROMEO:
    Great is he draw'st doth my lord find
    The last peace rive were would bear are eye!
    And thou namble bouth now doord for
    and have blood of Gless but the crown
    That thou stake the Country,--to you.

    COMINIUS:
    What is no great miched.

T=0.5, top_k=5:
    ROMEO:
    And I was were that hath thousand of my lords.

    LEONTES:
    I say the crown the crestress the peace and the peace.

    KING RICHARD II:
    The depend me to be the counterful to my princes
"""
import argparse
import math
import os
import time

import numpy as np

import diffprog as dp
import diffprog.nn.functional as F
from diffprog.models import CharRNN, generate
from diffprog.text import CharCorpus


def load_corpus(root=None, limit=None):
    """(tokenizer, train ids, val ids): CharCorpus's encoded text (first `limit` chars) split 90/10."""
    path = os.path.join(root, "tinyshakespeare", "input.txt") if root else None
    corpus = CharCorpus(path, seq_len=1)
    data = corpus.data[:limit] if limit else corpus.data
    cut = int(len(data) * 0.9)
    return corpus.tokenizer, data[:cut], data[cut:]


def random_batch(data, batch, seq_len, rng):
    """(inputs, targets) of shape (batch, seq_len): random windows and the same shifted by one."""
    starts = rng.integers(0, len(data) - seq_len - 1, size=batch)
    idx = starts[:, None] + np.arange(seq_len + 1)
    win = data[idx]
    return dp.from_numpy(win[:, :-1]), dp.from_numpy(win[:, 1:])


@dp.no_grad()
def evaluate(model, data, batch=32, seq_len=128):
    """Mean next-character cross-entropy (nats) over all of `data`, read as `batch` parallel
    streams whose LSTM state is carried across chunks of `seq_len`."""
    model.eval()
    n = (len(data) - 1) // batch
    x = data[:n * batch].reshape(batch, n)
    y = data[1:n * batch + 1].reshape(batch, n)
    hidden, total = None, 0.0
    for s in range(0, n, seq_len):
        logits, hidden = model(dp.from_numpy(x[:, s:s + seq_len]), hidden)
        target = dp.from_numpy(y[:, s:s + seq_len])
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                                 reduction="sum").item()
    model.train()
    return total / (n * batch)


def sample(model, tokenizer, prompt="ROMEO:", length=300, temperature=0.8, top_k=None, seed=0):
    ids = dp.tensor(tokenizer.encode(prompt), dtype=dp.int64)
    out = generate(model, ids, length, temperature=temperature, top_k=top_k,
                   generator=dp.Generator().manual_seed(seed))
    return tokenizer.decode(out.tolist())


def main(root=None, steps=1200, batch=32, seq_len=100, embed=64, hidden=256, lr=3e-3, clip=1.0,
         eval_every=200, limit=None, sample_len=300, out="runs/char_lstm", seed=0, verbose=True):
    """Train, evaluate every `eval_every` steps and at the end, sample; returns the figures."""
    dp.manual_seed(seed)
    rng = np.random.default_rng(seed)
    tokenizer, train, val = load_corpus(root, limit)
    vocab = len(tokenizer)
    model = CharRNN(vocab, embed, hidden)
    opt = dp.optim.Adam(model.parameters(), lr=lr)
    sched = dp.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=lr / 20)
    history, t0, running = [], time.time(), None
    for step in range(1, steps + 1):
        x, y = random_batch(train, batch, seq_len, rng)
        logits, _ = model(x)
        loss = F.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        dp.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        sched.step()
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        if step % eval_every == 0 or step == steps:
            val_loss = evaluate(model, val, batch)
            history.append((step, running, val_loss))
            if verbose:
                print(f"step {step:5d}  train {running:.3f}  val {val_loss:.3f} nats/char  "
                      f"({time.time() - t0:.0f} s)", flush=True)
    return finish(model, tokenizer, history, time.time() - t0, out, verbose, sample_len,
                  ((0.8, None), (1.0, 10), (0.5, 5)))


def finish(model, tokenizer, history, seconds, out, verbose, sample_len, settings):
    """Sample after "ROMEO:" at each (temperature, top_k) in settings, save the model and the
    samples under `out`, and return the figures (shared with transformer_lm.py)."""
    samples = {f"T={t}, top_k={k}": sample(model, tokenizer, length=sample_len, temperature=t, top_k=k)
               for t, k in settings}
    if out:
        os.makedirs(out, exist_ok=True)
        dp.save(model.state_dict(), os.path.join(out, "model.pt"))
        with open(os.path.join(out, "samples.txt"), "w") as f:
            for name, text in samples.items():
                f.write(f"--- {name}\n{text}\n\n")
    if verbose:
        for name, text in samples.items():
            print(f"--- {name}\n{text}\n")
    vocab = len(tokenizer)
    return {"val_loss": history[-1][2], "train_loss": history[-1][1], "history": history, "vocab_size": vocab,
            "uniform_loss": math.log(vocab), "seconds": seconds, "samples": samples, "model": model,
            "tokenizer": tokenizer}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-root", default=None)
    p.add_argument("--steps", type=int, default=1200)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq-len", type=int, default=100)
    p.add_argument("--embed", type=int, default=64)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--eval-every", type=int, default=200)
    p.add_argument("--sample-len", type=int, default=300)
    p.add_argument("--out", default="runs/char_lstm")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    main(a.data_root, a.steps, a.batch, a.seq_len, a.embed, a.hidden, a.lr, eval_every=a.eval_every,
         sample_len=a.sample_len, out=a.out, seed=a.seed)
