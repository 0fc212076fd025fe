"""Training / validation splits (Torchbearer's `torchbearer.cv_utils`)."""
import math
import random

from ..random import randperm
from ..utils.data import Subset, TensorDataset

__all__ = ["train_valid_splitter", "get_train_valid_sets", "DatasetValidationSplitter"]


def train_valid_splitter(x, y, split, shuffle=True):
    """Split tensors x, y (first dimension: samples) into (x_train, y_train, x_val, y_val),
    the first `floor(len * split)` samples (after an optional shuffle) for validation."""
    n = x.size(0)
    n_val = int(math.floor(n * split))
    if shuffle:
        order = randperm(n)
        x, y = x[order], y[order]
    return x[n_val:], y[n_val:], x[:n_val], y[:n_val]


def get_train_valid_sets(x, y, validation_data, validation_split, shuffle=True):
    """(train, validation) TensorDatasets: validation from `validation_data` = (x_val, y_val)
    if given, else split off x, y by the float `validation_split`, else None."""
    x_val = y_val = None
    if validation_data is not None:
        x_val, y_val = validation_data
    elif isinstance(validation_split, float):
        x, y, x_val, y_val = train_valid_splitter(x, y, validation_split, shuffle=shuffle)
    val = TensorDataset(x_val, y_val) if x_val is not None and y_val is not None else None
    return TensorDataset(x, y), val


class DatasetValidationSplitter:
    """Shuffled train / validation indices for a dataset of `dataset_len` items, the fraction
    `split_fraction` for validation. With `shuffle_seed` the shuffle is Python's `random`
    seeded with it (the same split as Torchbearer's); without, the global `random` state."""

    def __init__(self, dataset_len, split_fraction, shuffle_seed=None):
        self.dataset_len, self.split_fraction = dataset_len, split_fraction
        ids = list(range(dataset_len))
        (random.Random(shuffle_seed) if shuffle_seed is not None else random).shuffle(ids)
        n_val = int(math.floor(dataset_len * split_fraction))
        self.valid_ids, self.train_ids = ids[:n_val], ids[n_val:]

    def get_train_dataset(self, dataset):
        return Subset(dataset, self.train_ids)

    def get_val_dataset(self, dataset):
        return Subset(dataset, self.valid_ids)
