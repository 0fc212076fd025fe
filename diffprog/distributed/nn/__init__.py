"""`diffprog.distributed.nn` (`torch.distributed.nn`): collectives that autograd goes
through, and the ops built on them (functional.py)."""
from .functional import all_reduce  # noqa: F401

__all__ = ["all_reduce"]
