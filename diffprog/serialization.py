"""`diffprog.serialization` (`torch.serialization`): save / load, and the allow-list of
classes that `load` may rebuild (see io/objects.py)."""
from .io import load, save  # noqa: F401
from .io.objects import (add_safe_globals, clear_safe_globals, get_safe_globals,  # noqa: F401
                         safe_globals)

__all__ = ["save", "load", "add_safe_globals", "clear_safe_globals", "get_safe_globals",
           "safe_globals"]
