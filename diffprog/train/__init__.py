"""`diffprog.train`: a training loop with Torchbearer's API (`import diffprog.train as
torchbearer`): `Trial`, state keys, `metrics` and `callbacks`."""
from ..version import __version__  # noqa: F401
from . import state, metrics, callbacks, cv_utils  # noqa: F401
from .state import *  # noqa: F401,F403
from .callbacks import Callback  # noqa: F401
from .metrics import Metric  # noqa: F401
from .trial import Trial, base_closure, deep_to  # noqa: F401

__all__ = ["Trial", "Callback", "Metric", "base_closure", "deep_to", "metrics", "callbacks",
           "cv_utils"] + state.__all__
