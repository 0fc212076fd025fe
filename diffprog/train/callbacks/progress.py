"""Progress output: a tqdm bar per training / validation pass (`Tqdm`), or plain lines
(`ConsolePrinter`).  A Trial adds one according to `verbose`: 2 a bar per pass, 1 one
bar over the epochs, 0 nothing."""
from numbers import Number

from ..state import BATCH, EPOCH, HISTORY, MAX_EPOCHS, METRICS, STEPS
from .callbacks import Callback

__all__ = ["Tqdm", "ConsolePrinter"]


def _format_metrics(metrics, precision):
    """'acc=0.9, loss=0.2312': the metrics sorted by name, numbers to `precision` digits."""
    def fmt(value):
        if isinstance(value, Number) and not isinstance(value, bool):
            short = f"{value:.{precision}g}"
            return short if len(short) < len(str(value)) else str(value)
        return str(value)
    return ", ".join(f"{key}={fmt(metrics[key])}" for key in sorted(metrics))


def _tqdm():
    try:
        from tqdm import tqdm
    except ImportError:
        raise ImportError("Tqdm needs the tqdm package (pip install tqdm, or the diffprog[demo] "
                          "extra); use verbose=0 or the ConsolePrinter callback without it") from None
    return tqdm


class Tqdm(Callback):
    """A tqdm bar for each training and validation pass, labelled 'epoch/max_epochs(t)'
    ('(v)' for validation), showing the metrics as they update.  `on_epoch`: one bar
    over the epochs instead.  Extra keyword arguments go to tqdm (e.g. file=...)."""

    def __init__(self, tqdm_module=None, validation_label_letter="v", precision=4, on_epoch=False,
                 **tqdm_args):
        self.tqdm_module = tqdm_module or _tqdm()
        self.validation_label = validation_label_letter
        self.precision, self.on_epoch, self.tqdm_args = precision, on_epoch, tqdm_args
        self._bar = None

    def _open(self, state, letter):
        desc = f"{state[EPOCH]}/{state[MAX_EPOCHS]}({letter})"
        self._bar = self.tqdm_module(total=state[STEPS], desc=desc, **self.tqdm_args)

    def _update(self, state):
        self._bar.set_postfix_str(_format_metrics(state[METRICS], self.precision), refresh=False)
        self._bar.update(1)     # redraws at most every `mininterval` seconds

    def _close(self, state):
        self._bar.set_postfix_str(_format_metrics(state[METRICS], self.precision))
        self._bar.close()

    def on_start(self, state):
        if self.on_epoch:
            done = len(state[HISTORY])
            self._bar = self.tqdm_module(initial=done, total=state[MAX_EPOCHS], **self.tqdm_args)
            if done:
                self._bar.set_postfix_str(_format_metrics(state[HISTORY][-1], self.precision))

    def on_end_epoch(self, state):
        if self.on_epoch:
            self._update(state)

    def on_end(self, state):
        if self.on_epoch:
            self._close(state)

    def on_start_training(self, state):
        if not self.on_epoch:
            self._open(state, "t")

    def on_step_training(self, state):
        if not self.on_epoch:
            self._update(state)

    def on_end_training(self, state):
        if not self.on_epoch:
            self._close(state)

    def on_start_validation(self, state):
        if not self.on_epoch:
            self._open(state, self.validation_label)

    def on_step_validation(self, state):
        if not self.on_epoch:
            self._update(state)

    def on_end_validation(self, state):
        if not self.on_epoch:
            self._close(state)


class ConsolePrinter(Callback):
    """Print the metrics: a line updated in place each batch, a final line per pass."""

    def __init__(self, validation_label_letter="v", precision=4):
        self.validation_label, self.precision = validation_label_letter, precision

    def _line(self, state, letter):
        return f"\r{state[EPOCH]}/{state[MAX_EPOCHS]}({letter}): "

    def on_step_training(self, state):
        print(f"{self._line(state, 't')}{state[BATCH]}/{state[STEPS]} "
              f"{_format_metrics(state[METRICS], self.precision)}", end="")

    def on_end_training(self, state):
        print(self._line(state, "t") + _format_metrics(state[METRICS], self.precision))

    def on_step_validation(self, state):
        print(f"{self._line(state, self.validation_label)}{state[BATCH]}/{state[STEPS]} "
              f"{_format_metrics(state[METRICS], self.precision)}", end="")

    def on_end_validation(self, state):
        print(self._line(state, self.validation_label) + _format_metrics(state[METRICS], self.precision))
