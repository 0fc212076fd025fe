"""EarlyStopping: stop training when a metric stops improving."""
import warnings

from ..state import METRICS, STOP_TRAINING
from .callbacks import Callback
from .checkpoint import _monitor_is_better

__all__ = ["EarlyStopping"]


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by more than `min_delta` for `patience`
    epochs (batches, with `step_on_batch`).  mode: 'min', 'max' or 'auto' ('max' for
    accuracies).  The epoch that triggers it still completes and enters the history."""

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 step_on_batch=False):
        self.monitor, self.min_delta, self.patience = monitor, abs(min_delta), patience
        self.verbose, self.step_on_batch = verbose, step_on_batch
        self.mode = _monitor_is_better(mode, monitor)
        self.best = float("inf") if self.mode == "min" else float("-inf")
        self.wait = 0

    def state_dict(self):
        return {"best": self.best, "wait": self.wait}

    def load_state_dict(self, state_dict):
        self.best, self.wait = state_dict["best"], state_dict["wait"]
        return self

    def _improved(self, current):
        if self.mode == "min":
            return current < self.best - self.min_delta
        return current > self.best + self.min_delta

    def step(self, state):
        current = state[METRICS].get(self.monitor)
        if current is None:
            warnings.warn(f"EarlyStopping: the monitored metric {self.monitor!r} is not among the "
                          f"metrics {sorted(state[METRICS])}")
            return
        if self._improved(current):
            self.best, self.wait = current, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            state[STOP_TRAINING] = True
            if self.verbose:
                print(f"EarlyStopping: {self.monitor} has not improved for {self.wait} "
                      f"{'steps' if self.step_on_batch else 'epochs'}, stopping")

    def on_step_training(self, state):
        if self.step_on_batch:
            self.step(state)

    def on_end_epoch(self, state):
        if not self.step_on_batch:
            self.step(state)
