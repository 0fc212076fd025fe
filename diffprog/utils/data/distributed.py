"""`DistributedSampler`: each rank's share of a dataset, in PyTorch's order.

The indices are those of `torch.utils.data.DistributedSampler` for the same seed, epoch,
number of replicas, rank, shuffle and drop_last: the shuffle is torch.randperm's for a
generator seeded with seed + epoch (reproduced here from PyTorch's Mersenne Twister and
its swap order), so a job mixing diffprog and PyTorch ranks, or resumed in the other,
visits the same samples.
"""
import math

import numpy as np

from .sampler import Sampler

__all__ = ["DistributedSampler"]


def _mt19937(seed):
    """NumPy's Mersenne Twister in the state torch.Generator().manual_seed(seed) gives: the
    reference initialisation from 32 bits, which is also RandomState's for an int seed."""
    _, key, pos, _, _ = np.random.RandomState(seed & 0xFFFFFFFF).get_state()
    generator = np.random.MT19937()
    generator.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": pos}}
    return generator


def torch_randperm(n, seed):
    """torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist(): a
    Fisher-Yates pass swapping i with i + (32-bit draw mod (n - i))."""
    if n >= 2**32 // 20:
        raise ValueError(f"DistributedSampler: a dataset of {n} samples is beyond the sizes whose "
                         "shuffle reproduces PyTorch's (under 2**32 / 20)")
    perm = list(range(n))
    draws = _mt19937(seed).random_raw(max(n - 1, 0)).tolist()
    for i, d in enumerate(draws):
        j = i + d % (n - i)
        perm[i], perm[j] = perm[j], perm[i]
    return perm


class DistributedSampler(Sampler):
    """The indices of `dataset` that rank `rank` of `num_replicas` visits: every
    num_replicas-th of a (shuffled, with `shuffle`) list padded by repeating its start to a
    multiple of num_replicas, or cut to one with `drop_last`. Call `set_epoch(e)` before
    each epoch for a new shuffle. num_replicas and rank default to the default process
    group's world size and rank."""

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        if num_replicas is None or rank is None:
            from ... import distributed
            if not distributed.is_initialized():
                raise RuntimeError("DistributedSampler: give num_replicas and rank, or call "
                                   "diffprog.distributed.init_process_group() first")
            num_replicas = distributed.get_world_size() if num_replicas is None else num_replicas
            rank = distributed.get_rank() if rank is None else rank
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, num_replicas, rank
        self.shuffle, self.seed, self.drop_last, self.epoch = shuffle, seed, drop_last, 0
        n = len(dataset)
        if drop_last and n % num_replicas:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def __iter__(self):
        n = len(self.dataset)
        indices = torch_randperm(n, self.seed + self.epoch) if self.shuffle else list(range(n))
        if self.drop_last:
            indices = indices[:self.total_size]
        elif indices:
            repeats = math.ceil(self.total_size / len(indices))
            indices = (indices * repeats)[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Shuffle for epoch `epoch` (every rank must set the same)."""
        self.epoch = epoch
