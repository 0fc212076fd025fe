"""Datasets, samplers and the DataLoader (PyTorch's `torch.utils.data`)."""
from .dataset import (Dataset, IterableDataset, TensorDataset, Subset, ConcatDataset,  # noqa: F401
                      ChainDataset, random_split)
from .sampler import (Sampler, SequentialSampler, RandomSampler, SubsetRandomSampler,  # noqa: F401
                      WeightedRandomSampler, BatchSampler)
from .distributed import DistributedSampler  # noqa: F401
from .collate import default_collate, default_convert  # noqa: F401
from .dataloader import DataLoader  # noqa: F401
from ._worker import WorkerInfo, get_worker_info  # noqa: F401

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset",
           "ChainDataset", "random_split", "Sampler", "SequentialSampler", "RandomSampler",
           "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler", "DistributedSampler",
           "default_collate", "default_convert", "DataLoader", "WorkerInfo", "get_worker_info"]
