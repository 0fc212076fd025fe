"""Batching variable-length token sequences: `pad_collate` and a length-bucketing sampler."""
import numpy as np

from .. import random as _random
from ..creation import from_numpy
from ..utils.data import Sampler, default_collate

__all__ = ["pad_collate", "BucketBatchSampler"]


def pad_collate(batch, padding_value=0, batch_first=True):
    """Pad a batch of token-id sequences (lists or 1-D tensors) to the longest one.

    Returns (padded int64, lengths int64) for a batch of sequences, or (padded, lengths,
    labels) for a batch of (sequence, label) pairs. Use functools.partial to change
    `padding_value`/`batch_first` for a DataLoader."""
    labels = None
    if batch and isinstance(batch[0], tuple):
        batch, labels = zip(*[(item[0], item[1]) for item in batch])
    seqs = [np.asarray(s.numpy() if hasattr(s, "numpy") else s, dtype=np.int64).reshape(-1)
            for s in batch]
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    padded = np.full((len(seqs), lengths.max(initial=0)), padding_value, dtype=np.int64)
    for row, s in zip(padded, seqs):
        row[:len(s)] = s
    padded = from_numpy(padded if batch_first else np.ascontiguousarray(padded.T))
    if labels is None:
        return padded, from_numpy(lengths)
    return padded, from_numpy(lengths), default_collate(list(labels))


class BucketBatchSampler(Sampler):
    """Batches of indices with similar `lengths`, so little padding is needed: the indices
    (shuffled when `shuffle`) are cut into pools of `batch_size * bucket_size_multiplier`,
    each pool is sorted by length and cut into batches, and the batch order is shuffled.
    Each pass draws a new order from `generator` (default: the global generator)."""

    def __init__(self, lengths, batch_size, drop_last=False, shuffle=True,
                 bucket_size_multiplier=100, generator=None):
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, "
                             f"but got batch_size={batch_size}")
        self.lengths = np.asarray(lengths)
        self.batch_size, self.drop_last, self.shuffle = batch_size, drop_last, shuffle
        self.pool = batch_size * bucket_size_multiplier
        self.generator = generator

    def __iter__(self):
        seed = int(_random.randint(0, 2**63 - 1, (), generator=self.generator).item())
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(self.lengths)) if self.shuffle else np.arange(len(self.lengths))
        batches = []
        for p in range(0, len(order), self.pool):
            pool = order[p:p + self.pool]
            pool = pool[np.argsort(self.lengths[pool], kind="stable")]
            batches += [pool[i:i + self.batch_size].tolist() for i in range(0, len(pool), self.batch_size)]
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size]
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return iter(batches)

    def __len__(self):
        n, b = len(self.lengths), self.batch_size
        pools = [min(self.pool, n - p) for p in range(0, n, self.pool)]
        return sum(s // b if self.drop_last else -(-s // b) for s in pools)
