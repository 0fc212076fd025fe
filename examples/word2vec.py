"""word2vec (skip-gram with negative sampling, Mikolov et al. 2013) on Tiny Shakespeare.

    python examples/word2vec.py [--data-root DIR] [--epochs 10] [--dim 100] [--window 5]
        [--negatives 5] [--min-count 5] [--t 1e-3] [--lr 3e-3] [--out runs/word2vec]

Data: root/tinyshakespeare/input.txt (root from --data-root or DIFFPROG_DATA), split into
words with torchtext's basic_english tokenizer, punctuation tokens left out; words seen
fewer than --min-count times are dropped.  Each epoch subsamples frequent words (keep
probability sqrt(t / f)), makes the skip-gram pairs of a dynamic window of at most
--window words each side, shuffles them and trains `diffprog.models.SkipGram` on batches
of 1024 pairs with --negatives noise words each from the unigram^0.75 distribution, Adam.
The in-vectors are saved to OUT/word2vec.pt with the vocabulary (OUT/vocab.txt).

Full run with the defaults (`python examples/word2vec.py`: 192,897 words, vocabulary 3,184,
about 737,000 pairs per epoch, 10 epochs, dim 100, Adam lr 3e-3, seed 0), measured on the
development machine while it was heavily shared (2 cores, load average about 20, 1 BLAS
thread): mean loss 2.77, 2.61, 2.55, 2.50, 2.46, 2.42, 2.40, 2.38, 2.36, 2.35 per epoch
(it starts at 6 log 2 = 4.16 with word2vec's zero out-vectors), 70-310 s per epoch.
Cosine nearest neighbours after the run, as printed:

    king: richard 0.66, vi 0.63, henry 0.55, iii 0.53, ii 0.53, edward 0.52, allegiance 0.52, iv 0.51
    lord: catesby 0.50, willoughby 0.49, duke 0.47, buckingham 0.47, william 0.47, ratcliff 0.47,
          my 0.46, hastings 0.45
    love: hate 0.50, devotion 0.48, modesty 0.47, beauteous 0.46, protest 0.44, dissemble 0.44,
          conceal 0.43, dove 0.43
    thou: dost 0.70, art 0.66, st 0.65, thy 0.56, shalt 0.54, wert 0.53, hadst 0.53, wilt 0.53
    good: morrow 0.54, comfort 0.49, my 0.46, speed 0.45, learning 0.44, lord 0.43, sir 0.42, fares 0.41
    death: dying 0.52, exile 0.50, wretched 0.47, beams 0.45, vengeance 0.45, steep 0.41,
           fearing 0.41, perpetual 0.41

"king" finds the kings of the history plays and their regnal numbers, "lord" the lords of
Richard III, "thou" the second-person verb forms and "thy"; "love"/"death" are looser
(topical neighbours rather than synonyms), as expected from 200,000 words.
"""
import argparse
import os
import time

import numpy as np

import diffprog as dp
from diffprog.models import SkipGram, noise_distribution, skipgram_pairs, subsample
from diffprog.text import basic_english, build_vocab_from_iterator
from diffprog.vision.datasets.utils import resolve_root

QUERIES = ("king", "lord", "love", "thou", "good", "death")


def load_corpus(root=None, min_count=5, max_tokens=None):
    """(vocab, ids, counts): the corpus as an int64 array of word ids and the word counts."""
    path = os.path.join(resolve_root(root, "word2vec"), "tinyshakespeare", "input.txt")
    with open(path, encoding="utf-8") as f:
        words = [w for line in f for w in basic_english(line) if any(ch.isalpha() for ch in w)]
    words = words[:max_tokens]
    vocab = build_vocab_from_iterator([words], min_freq=min_count)
    ids = np.array([vocab.stoi[w] for w in words if w in vocab.stoi], dtype=np.int64)
    return vocab, ids, np.bincount(ids, minlength=len(vocab))


def main(root=None, epochs=10, dim=100, window=5, negatives=5, min_count=5, t=1e-3, lr=3e-3,
         batch_size=1024, seed=0, max_tokens=None, queries=QUERIES, k=8, out="runs/word2vec",
         verbose=True):
    """Train; returns a dict with the per-epoch losses, the model and the neighbours."""
    dp.manual_seed(seed)
    rng = np.random.default_rng(seed)
    vocab, ids, counts = load_corpus(root, min_count, max_tokens)
    model = SkipGram(len(vocab), dim, vocab, noise_distribution(counts), negatives)
    optimizer = dp.optim.Adam(model.parameters(), lr=lr)
    if verbose:
        print(f"{len(ids)} words, vocabulary {len(vocab)}")
    losses, seconds = [], []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        centers, contexts = skipgram_pairs(subsample(ids, counts, t, rng), window, rng)
        order = rng.permutation(len(centers))
        centers, contexts = dp.from_numpy(centers[order]), dp.from_numpy(contexts[order])
        total = 0.0
        for i in range(0, len(order), batch_size):
            optimizer.zero_grad()
            loss = model(centers[i:i + batch_size], contexts[i:i + batch_size])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(centers[i:i + batch_size])
        losses.append(total / len(order))
        seconds.append(time.perf_counter() - start)
        if verbose:
            print(f"epoch {epoch}: {len(order)} pairs, loss {losses[-1]:.4f} ({seconds[-1]:.1f} s)",
                  flush=True)
    neighbours = {w: model.nearest(w, k) for w in queries if w in vocab}
    if verbose:
        for w, near in neighbours.items():
            print(f"{w}: " + ", ".join(f"{n} {s:.2f}" for n, s in near))
    os.makedirs(out, exist_ok=True)
    dp.save({"in_embed": model.in_embed.weight.detach()}, os.path.join(out, "word2vec.pt"))
    with open(os.path.join(out, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab.get_itos()) + "\n")
    return {"losses": losses, "seconds": seconds, "model": model, "vocab": vocab,
            "neighbours": neighbours, "tokens": len(ids)}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-root", default=None, help="folder holding tinyshakespeare/ (default: $DIFFPROG_DATA)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--dim", type=int, default=100)
    p.add_argument("--window", type=int, default=5)
    p.add_argument("--negatives", type=int, default=5)
    p.add_argument("--min-count", type=int, default=5)
    p.add_argument("--t", type=float, default=1e-3, help="subsampling threshold")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/word2vec")
    return p.parse_args(argv)


if __name__ == "__main__":
    a = parse_args()
    main(a.data_root, a.epochs, a.dim, a.window, a.negatives, a.min_count, a.t, a.lr,
         a.batch_size, a.seed, out=a.out)
