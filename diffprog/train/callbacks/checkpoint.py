"""Checkpointers: save the trial (or just the model's parameters) after epochs.

The file name is a format string over the state and the epoch's metrics, e.g.
'model.{epoch:02d}-{val_loss:.2f}.pt'.  Files are written with `diffprog.save`, which
writes a temporary file and renames it over the target: a crash or a failed save
never leaves a partial checkpoint and never replaces the last good one.  `Best` and
`MostRecent` delete the file they wrote before only after the new one is in place.
With several ranks (diffprog.distributed), only rank 0 writes; every rank keeps the same
record of what was written, so any rank's state resumes the run.
"""
import os
import warnings

from ...io import save
from ..distributed import writes_files
from ..state import METRICS, MODEL, SELF
from .callbacks import Callback

__all__ = ["ModelCheckpoint", "MostRecent", "Best", "Interval"]


def _monitor_is_better(mode, monitor):
    """mode 'min' / 'max', or 'auto': 'max' for accuracies, 'min' otherwise."""
    if mode == "auto":
        mode = "max" if "acc" in monitor else "min"
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min', 'max' or 'auto', got {mode!r}")
    return mode


class _Checkpointer(Callback):
    def __init__(self, fileformat, save_model_params_only=False):
        self.fileformat = os.fspath(fileformat)
        self.save_model_params_only = save_model_params_only
        self.most_recent = None

    def state_dict(self):
        return {"most_recent": self.most_recent}

    def load_state_dict(self, state_dict):
        self.most_recent = state_dict["most_recent"]
        return self

    def save_checkpoint(self, state, overwrite_most_recent=False):
        """Save to the formatted file name; with `overwrite_most_recent`, then delete the
        previous file this checkpointer wrote (when its name differs)."""
        fields = {str(key): value for key, value in state.items()}
        fields.update(state[METRICS])
        try:
            filepath = self.fileformat.format(**fields)
        except KeyError as e:
            raise KeyError(f"{type(self).__name__}: the file name {self.fileformat!r} uses {e}, which is "
                           f"neither a state key nor a metric (metrics: {sorted(state[METRICS])})") from None
        if not writes_files():
            self.most_recent = filepath
            return
        directory = os.path.dirname(filepath)
        if directory:
            os.makedirs(directory, exist_ok=True)
        previous, self.most_recent = self.most_recent, filepath     # saved in the trial's state
        try:
            save(state[MODEL].state_dict() if self.save_model_params_only else state[SELF].state_dict(),
                 filepath)
        except BaseException:
            self.most_recent = previous
            raise
        if overwrite_most_recent and previous is not None and previous != filepath:
            try:
                os.remove(previous)
            except FileNotFoundError:
                pass


class MostRecent(_Checkpointer):
    """Save after every epoch, keeping only the latest file."""

    def __init__(self, filepath="model.{epoch:02d}-{val_loss:.2f}.pt", save_model_params_only=False):
        super().__init__(filepath, save_model_params_only)

    def on_checkpoint(self, state):
        self.save_checkpoint(state, overwrite_most_recent=True)


class Best(_Checkpointer):
    """Save when the metric `monitor` improves on its best value by more than
    `min_delta` (checked every `period` epochs), keeping only the best file."""

    def __init__(self, filepath="model.{epoch:02d}-{val_loss:.2f}.pt", save_model_params_only=False,
                 monitor="val_loss", mode="auto", period=1, min_delta=0):
        super().__init__(filepath, save_model_params_only)
        self.monitor, self.period, self.min_delta = monitor, period, abs(min_delta)
        self.mode = _monitor_is_better(mode, monitor)
        self.best = float("inf") if self.mode == "min" else float("-inf")
        self.epochs_since_last_save = 0

    def state_dict(self):
        return dict(super().state_dict(), best=self.best, epochs_since_last_save=self.epochs_since_last_save)

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        self.best, self.epochs_since_last_save = state_dict["best"], state_dict["epochs_since_last_save"]
        return self

    def _improved(self, current):
        if self.mode == "min":
            return current < self.best - self.min_delta
        return current > self.best + self.min_delta

    def on_checkpoint(self, state):
        self.epochs_since_last_save += 1
        if self.epochs_since_last_save < self.period:
            return
        self.epochs_since_last_save = 0
        current = state[METRICS].get(self.monitor)
        if current is None:
            warnings.warn(f"Best: the monitored metric {self.monitor!r} is not among the metrics "
                          f"{sorted(state[METRICS])}; not saving")
        elif self._improved(current):
            self.best = current
            self.save_checkpoint(state, overwrite_most_recent=True)


class Interval(_Checkpointer):
    """Save every `period` epochs (every `period` training batches with `on_batch`),
    keeping every file."""

    def __init__(self, filepath="model.{epoch:02d}-{val_loss:.2f}.pt", save_model_params_only=False,
                 period=1, on_batch=False):
        super().__init__(filepath, save_model_params_only)
        self.period, self.on_batch = period, on_batch
        self.epochs_since_last_save = 0

    def state_dict(self):
        return dict(super().state_dict(), epochs_since_last_save=self.epochs_since_last_save)

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        self.epochs_since_last_save = state_dict["epochs_since_last_save"]
        return self

    def _tick(self, state):
        self.epochs_since_last_save += 1
        if self.epochs_since_last_save >= self.period:
            self.epochs_since_last_save = 0
            self.save_checkpoint(state)

    def on_step_training(self, state):
        if self.on_batch:
            self._tick(state)

    def on_checkpoint(self, state):
        if not self.on_batch:
            self._tick(state)


def ModelCheckpoint(filepath="model.{epoch:02d}-{val_loss:.2f}.pt", save_model_params_only=False,
                    monitor="val_loss", save_best_only=False, mode="auto", period=1, min_delta=0):
    """`Best` (with `save_best_only`) or `Interval`, as in Keras and Torchbearer."""
    if save_best_only:
        return Best(filepath, save_model_params_only, monitor, mode, period, min_delta)
    return Interval(filepath, save_model_params_only, period)
