"""Image transforms (torchvision's `transforms`): ToTensor, Normalize, Compose, Lambda."""
from .transforms import Compose, ToTensor, Normalize, Lambda  # noqa: F401
from . import functional  # noqa: F401

__all__ = ["Compose", "ToTensor", "Normalize", "Lambda", "functional"]
