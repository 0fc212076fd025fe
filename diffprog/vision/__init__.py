"""Datasets, image transforms and image utilities for vision (torchvision's `datasets`,
`transforms` and `utils`).

    from diffprog.vision import datasets, transforms
    train = datasets.MNIST("data", train=True, download=True, transform=transforms.ToTensor())

Pillow is optional: with it, datasets return PIL images as torchvision does; without it
they return the image as a uint8 NumPy array (H x W), which `transforms.ToTensor` accepts
just the same.
"""
from ..version import __version__  # noqa: F401
from . import datasets, models, transforms, utils  # noqa: F401

__all__ = ["datasets", "models", "transforms", "utils"]
