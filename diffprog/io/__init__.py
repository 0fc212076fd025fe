"""Saving and loading tensors and state dicts (`diffprog.save` / `diffprog.load`)."""
from .serialization import save, load, load_torch  # noqa: F401
from .safetensors_format import CorruptFileError  # noqa: F401

__all__ = ["save", "load", "load_torch", "CorruptFileError"]
