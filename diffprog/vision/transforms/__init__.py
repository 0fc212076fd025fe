"""Image transforms (torchvision's `transforms`) on PIL images and tensors (..., C, H, W).

Random transforms draw from diffprog's default generator, so `diffprog.manual_seed`
makes them reproducible."""
from .transforms import *  # noqa: F401,F403
from . import functional  # noqa: F401
from .transforms import __all__ as _all

__all__ = _all + ["functional"]
