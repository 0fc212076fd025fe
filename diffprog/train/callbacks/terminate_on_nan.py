"""TerminateOnNaN: stop training when a metric becomes NaN or infinite."""
import math

from ..state import METRICS, STOP_TRAINING
from .callbacks import Callback

__all__ = ["TerminateOnNaN"]


class TerminateOnNaN(Callback):
    """Stop when `monitor` (checked after each training and validation batch and each
    epoch) is NaN or infinite."""

    def __init__(self, monitor="running_loss"):
        self.monitor = monitor

    def _check(self, state):
        value = state[METRICS].get(self.monitor)
        if isinstance(value, float) and not math.isfinite(value):
            print(f"Invalid {self.monitor} ({value}), terminating")
            state[STOP_TRAINING] = True

    on_step_training = on_step_validation = on_end_epoch = _check
