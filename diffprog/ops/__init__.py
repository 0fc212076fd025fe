"""Every operation, each defined once (see `op.py` for the shape of an op).

Each module lists its public functions in `__all__` and ends with `METHODS`, the names
under which they are also Tensor methods and operators; those are bound onto `Tensor`
here, in one place.
"""
import importlib

from ..tensor import Tensor

_MODULES = [importlib.import_module(f".{name}", __name__) for name in
            ("selection", "arithmetic", "transcendental", "activations", "comparison", "reduction", "shape",
             "indexing", "linalg", "softmax", "misc", "loss", "nn", "conv", "pool", "rnn",
             "sampling", "composite", "complex", "special", "ctc", "sparse")]

__all__ = []
for _m in _MODULES:
    __all__ += _m.__all__
    globals().update({name: getattr(_m, name) for name in _m.__all__})
    for _name, _fn in _m.METHODS.items():
        setattr(Tensor, _name, _fn)
