"""Datasets with torchvision's interface; `utils` downloads files and checks their MD5."""
from .mnist import MNIST, FashionMNIST  # noqa: F401
from .cifar import CIFAR10, CIFAR100  # noqa: F401
from .fakedata import FakeData  # noqa: F401
from .folder import DatasetFolder, ImageFolder, IMG_EXTENSIONS  # noqa: F401
from . import utils  # noqa: F401

__all__ = ["MNIST", "FashionMNIST", "CIFAR10", "CIFAR100", "FakeData", "DatasetFolder",
           "ImageFolder"]
