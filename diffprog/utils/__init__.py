"""Utilities that sit beside the tensor library: data loading (`diffprog.utils.data`)."""
from . import data  # noqa: F401
