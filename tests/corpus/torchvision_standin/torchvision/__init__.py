"""A stand-in for the few torchvision parts the MNIST examples use, for their PyTorch runs
(torchvision cannot be installed next to the PyTorch build here): MNIST read from the IDX
files, ToTensor, Normalize, Compose and save_image. Used by run_corpus.py --torch only."""
from . import datasets, transforms, utils  # noqa: F401
