"""word2vec: skip-gram with negative sampling (Mikolov et al. 2013), with the data side of
the method: subsampling of frequent words, (center, context) pairs from a dynamic window
and the unigram^0.75 noise distribution."""
import numpy as np

from ..random import multinomial
from .. import nn
from ..nn import functional as F

__all__ = ["SkipGram", "subsample", "skipgram_pairs", "noise_distribution"]


def subsample(ids, counts, t=1e-4, generator=None):
    """Keep each token w of the id array `ids` with probability min(1, sqrt(t / f(w))),
    f(w) being its frequency in `counts` (one count per vocabulary word): frequent words
    ("the", ",") are mostly dropped, rare ones always kept. `generator`: a NumPy Generator."""
    counts = np.asarray(counts, dtype=np.float64)
    keep = np.minimum(1.0, np.sqrt(t / (counts / counts.sum())))
    rng = generator if generator is not None else np.random.default_rng()
    return ids[rng.random(len(ids)) < keep[ids]]


def skipgram_pairs(ids, window=5, generator=None):
    """(centers, contexts) id arrays of every skip-gram pair of the token array `ids`:
    each position draws a window size b in [1, window] (so near words count more, as in
    word2vec) and pairs with the tokens at most b steps before and after it."""
    rng = generator if generator is not None else np.random.default_rng()
    reach = rng.integers(1, window + 1, len(ids))
    centers, contexts = [], []
    for d in range(1, window + 1):
        pos = np.nonzero(reach[:len(ids) - d] >= d)[0]           # pairs (i, i + d)
        centers += [ids[pos]]
        contexts += [ids[pos + d]]
        pos = np.nonzero(reach[d:] >= d)[0] + d                  # pairs (i, i - d)
        centers += [ids[pos]]
        contexts += [ids[pos - d]]
    return np.concatenate(centers), np.concatenate(contexts)


def noise_distribution(counts, power=0.75):
    """The negative-sampling distribution: unigram counts raised to `power`, normalised."""
    p = np.asarray(counts, dtype=np.float64) ** power
    return p / p.sum()


class SkipGram(nn.Module):
    """Skip-gram with negative sampling: "in" vectors v (the embeddings one keeps) for
    center words and "out" vectors u for context words. For a pair (c, o) and K noise
    words k, loss = -log σ(u_o·v_c) - Σ_k log σ(-u_k·v_c), averaged over the batch.

    `vocab` (a Vocab or list of words) lets `nearest` take and return words. `noise`: the
    (V,) noise distribution (default uniform) that `forward` samples negatives from."""

    def __init__(self, vocab_size, embedding_dim=100, vocab=None, noise=None, num_negatives=5):
        super().__init__()
        self.in_embed = nn.Embedding(vocab_size, embedding_dim)
        self.out_embed = nn.Embedding(vocab_size, embedding_dim)
        # word2vec's initialisation: small uniform in-vectors, zero out-vectors
        nn.init.uniform_(self.in_embed.weight, -0.5 / embedding_dim, 0.5 / embedding_dim)
        nn.init.zeros_(self.out_embed.weight)
        self.itos = None if vocab is None else (vocab.get_itos() if hasattr(vocab, "get_itos") else list(vocab))
        self.stoi = None if vocab is None else {w: i for i, w in enumerate(self.itos)}
        noise = np.full(vocab_size, 1.0 / vocab_size) if noise is None else np.asarray(noise)
        self.register_buffer("noise", self.in_embed.weight.new_tensor(noise))
        self.num_negatives = num_negatives

    def forward(self, center, context, negatives=None):
        """Mean loss of the pairs center[i], context[i] (int64 (B,)); `negatives` (B, K)
        default to num_negatives draws from the noise distribution per pair."""
        if negatives is None:
            negatives = multinomial(self.noise, center.shape[0] * self.num_negatives,
                                    replacement=True).reshape(center.shape[0], -1)
        v = self.in_embed(center)                                  # (B, D)
        pos = F.logsigmoid((self.out_embed(context) * v).sum(-1))  # (B,)
        neg = F.logsigmoid(-(self.out_embed(negatives) * v.unsqueeze(1)).sum(-1)).sum(-1)
        return -(pos + neg).mean()

    def nearest(self, word, k=10):
        """The k words (or ids, without a vocab) whose in-vectors have the highest cosine
        similarity to `word`'s (a word or an id), itself excluded: [(word, similarity)]."""
        i = self.stoi[word] if isinstance(word, str) else int(word)
        w = self.in_embed.weight.detach()
        w = w / w.norm(dim=1, keepdim=True).clamp(min=1e-12)
        sims = w @ w[i]
        sims[i] = -float("inf")
        values, ids = sims.topk(k)
        names = ids.tolist() if self.itos is None else [self.itos[j] for j in ids.tolist()]
        return list(zip(names, values.tolist()))
