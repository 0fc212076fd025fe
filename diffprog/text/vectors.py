"""Pretrained word vectors in the GloVe / word2vec text formats, and an nn.Embedding
initialised from them for a Vocab."""
import gzip

import numpy as np

from .. import nn
from ..creation import from_numpy

__all__ = ["load_vectors", "embedding_from_vectors"]


def _is_header(parts):
    """word2vec text files start with "<count> <dim>"; GloVe files start with a vector."""
    return len(parts) == 2 and all(p.isdigit() for p in parts)


def load_vectors(path, max_vectors=None, dtype=np.float32):
    """(itos, vectors) from a text file of "word v1 ... vd" lines (plain or .gz), with or
    without a word2vec header line; vectors is a (len(itos), d) tensor. Words holding
    spaces (GloVe 840B) are kept whole; a repeated word keeps its first vector."""
    opener = gzip.open if str(path).endswith(".gz") else open
    itos, rows, seen, dim = [], [], set(), None
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f):
            parts = line.rstrip().split(" ")
            if n == 0 and _is_header(parts):
                continue
            if dim is None:
                dim = len(parts) - 1
            if len(parts) <= dim:
                raise ValueError(f"load_vectors: {path} line {n + 1} has {len(parts) - 1} values, "
                                 f"expected {dim}")
            word = " ".join(parts[:-dim])
            if word in seen:
                continue
            seen.add(word)
            itos.append(word)
            rows.append(np.asarray(parts[-dim:], dtype=dtype))
            if max_vectors is not None and len(itos) >= max_vectors:
                break
    if not rows:
        raise ValueError(f"load_vectors: no vectors in {path}")
    return itos, from_numpy(np.stack(rows))


def embedding_from_vectors(vocab, vectors, freeze=True, unk_init="zeros", lower_case_backup=False,
                           padding_idx=None):
    """nn.Embedding.from_pretrained with one row per token of `vocab` (a Vocab or a list of
    tokens): the pretrained vector where `vectors` = (itos, tensor) has the token (or its
    lower-case form with `lower_case_backup`), else "zeros" (torchtext's default), "normal"
    (standard normal, from the global generator) or `unk_init(tensor)` filled in place."""
    itos, table = vectors
    tokens = vocab.get_itos() if hasattr(vocab, "get_itos") else list(vocab)
    stoi = {w: i for i, w in enumerate(itos)}
    weight = table.new_zeros((len(tokens), table.shape[1]))
    if unk_init == "normal":
        nn.init.normal_(weight)
    elif callable(unk_init):
        unk_init(weight)
    elif unk_init != "zeros":
        raise ValueError(f"embedding_from_vectors: unk_init must be 'zeros', 'normal' or a "
                         f"callable, got {unk_init!r}")
    rows, found = [], []
    for r, token in enumerate(tokens):
        i = stoi.get(token)
        if i is None and lower_case_backup:
            i = stoi.get(token.lower())
        if i is not None:
            rows.append(r)
            found.append(i)
    if rows:
        weight.numpy()[rows] = table.numpy()[found]
    return nn.Embedding.from_pretrained(weight, freeze=freeze, padding_idx=padding_idx)
