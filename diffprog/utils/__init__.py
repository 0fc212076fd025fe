"""Utilities that sit beside the tensor library: data loading (`diffprog.utils.data`) and
activation checkpointing (`diffprog.utils.checkpoint`)."""
from . import checkpoint, data  # noqa: F401
