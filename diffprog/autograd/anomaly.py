"""Anomaly detection: find the forward line whose backward produced NaN or inf.

    with autograd.detect_anomaly():
        y = f(x)            # each node remembers the stack of the call that created it
        y.backward()        # a non-finite gradient raises, showing that stack

Recording a stack per op is slow; use it for debugging only (as in PyTorch).
"""
import functools
import warnings

from .grad_mode import state


class detect_anomaly:
    """Context manager / decorator turning anomaly detection on (and back off after)."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime "
                      "and should only be enabled for debugging.", stacklevel=2)

    def __enter__(self):
        self._prev, state.anomaly = state.anomaly, True

    def __exit__(self, *exc):
        state.anomaly = self._prev

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)
        return wrapper


class set_detect_anomaly:
    """Set anomaly detection on or off: as a call, or for the length of a `with` block."""

    def __init__(self, mode, check_nan=True):
        self.check_nan = check_nan
        self._prev, state.anomaly = state.anomaly, bool(mode)

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        state.anomaly = self._prev


def is_anomaly_enabled():
    return state.anomaly


def is_anomaly_check_nan_enabled():
    return state.anomaly
