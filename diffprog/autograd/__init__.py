"""Automatic differentiation: reverse mode (`backward`, `grad`), forward mode
(`forward_ad`), custom functions, functional transforms and checks.

Two layers live here.  The modes (`grad_mode`, `forward_ad`, `anomaly`) and the reverse-mode
`engine` sit below tensors and ops, which use them; `Function`, `functional`, `gradcheck`
and `Variable` are built on ops, so they load on first use (PEP 562), and importing the
engine never imports the ops.
"""
import importlib

from .engine import backward, grad
from .grad_mode import no_grad, enable_grad, set_grad_enabled, inference_mode
from . import forward_ad
from .anomaly import detect_anomaly, set_detect_anomaly, is_anomaly_enabled

_LATE = {"functional": ("functional", None), "Function": ("function", "Function"),
         "FunctionCtx": ("function", "FunctionCtx"),
         "once_differentiable": ("function", "once_differentiable"),
         "gradcheck": ("gradcheck", "gradcheck"), "gradgradcheck": ("gradcheck", "gradgradcheck"),
         "GradcheckError": ("gradcheck", "GradcheckError"), "Variable": ("variable", "Variable")}


def __getattr__(name):
    if name not in _LATE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attr = _LATE[name]
    value = importlib.import_module(f".{module}", __name__)
    value = value if attr is None else getattr(value, attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LATE))
