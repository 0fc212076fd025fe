"""Datasets with torchvision's interface; `utils` downloads files and checks their MD5."""
from .mnist import MNIST, FashionMNIST  # noqa: F401
from . import utils  # noqa: F401

__all__ = ["MNIST", "FashionMNIST"]
