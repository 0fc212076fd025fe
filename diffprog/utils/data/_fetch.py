"""Fetchers: turn what the sampler yields (an index, a list of them, or for iterable
datasets a request for the next sample(s)) into a collated batch.  Used in the main
process and in each worker process alike."""
import itertools

from .dataset import IterableDataset


class MapFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset, self.auto_collation, self.collate_fn = dataset, auto_collation, collate_fn

    def fetch(self, index):
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        getitems = getattr(self.dataset, "__getitems__", None)
        samples = getitems(index) if callable(getitems) else [self.dataset[i] for i in index]
        return self.collate_fn(samples)


class IterableFetcher:
    """Takes the next `len(index)` samples of the dataset's iterator; raises StopIteration
    when it is exhausted (or, with drop_last, when only a short batch is left)."""

    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.auto_collation, self.collate_fn, self.drop_last = auto_collation, collate_fn, drop_last
        self.samples = iter(dataset)
        self.ended = False

    def fetch(self, index):
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.samples))
        batch = list(itertools.islice(self.samples, len(index)))
        self.ended = len(batch) < len(index)
        if not batch or self.drop_last and self.ended:
            raise StopIteration
        return self.collate_fn(batch)


def make_fetcher(dataset, auto_collation, collate_fn, drop_last):
    kind = IterableFetcher if isinstance(dataset, IterableDataset) else MapFetcher
    return kind(dataset, auto_collation, collate_fn, drop_last)
