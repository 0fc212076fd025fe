"""LiveLossPlot: draw the metrics' curves over epochs to a PNG file as training goes."""
import math
import os

from ...io.atomic import write_atomically
from ..state import HISTORY
from .callbacks import Callback

__all__ = ["LiveLossPlot"]

_NOT_PLOTTED = ("train_steps", "validation_steps", "epoch")


def _matplotlib():
    """matplotlib's Figure and Agg canvas, without touching pyplot's global backend."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("LiveLossPlot needs matplotlib (pip install matplotlib, or the "
                          "diffprog[demo] extra)") from None
    return Figure, FigureCanvasAgg


class LiveLossPlot(Callback):
    """After each epoch, plot every metric in the history (or those named in `metrics`)
    against the epoch, one panel per metric with its training and validation curves, and
    write the figure to `filepath` (replacing the file atomically).  `draw_once`: draw
    only when the run ends (as after `Trial.replay`).  Running metrics are left out."""

    def __init__(self, filepath="training_curves.png", metrics=None, draw_once=False,
                 figsize=None, dpi=100):
        self.figure, self.canvas = _matplotlib()
        self.filepath = os.fspath(filepath)
        self.metrics, self.draw_once = metrics, draw_once
        self.figsize, self.dpi = figsize, dpi
        self._drawn = None      # the number of epochs in the last drawing

    def _panels(self, history):
        """{metric: {label: values}}: training and validation curves by base name."""
        panels = {}
        for key in dict.fromkeys(k for epoch in history for k in epoch):
            if key.startswith("running_") or key in _NOT_PLOTTED:
                continue
            for prefix, label in (("val_", "validation"), ("test_", "test"), ("", "training")):
                if key.startswith(prefix):
                    name = key[len(prefix):]
                    break
            if self.metrics is not None and name not in self.metrics:
                continue
            values = [epoch.get(key, math.nan) for epoch in history]
            if all(isinstance(v, (int, float)) for v in values):
                panels.setdefault(name, {})[label] = values
        return panels

    def draw(self, history):
        panels = self._panels(history)
        if not panels:
            return
        n = len(panels)
        cols = min(n, 3)
        rows = math.ceil(n / cols)
        fig = self.figure(figsize=self.figsize or (4.5 * cols, 3.5 * rows), dpi=self.dpi)
        self.canvas(fig)
        epochs = range(1, len(history) + 1)
        for i, (name, curves) in enumerate(panels.items()):
            ax = fig.add_subplot(rows, cols, i + 1)
            for label, values in curves.items():
                ax.plot(epochs, values, marker="o", markersize=3, label=label)
            ax.set_title(name)
            ax.set_xlabel("epoch")
            ax.grid(True, alpha=0.3)
            ax.legend()
        fig.tight_layout()
        self._drawn = len(history)
        write_atomically(self.filepath, lambda out: fig.savefig(out, format="png"))

    def on_checkpoint(self, state):
        if not self.draw_once:
            self.draw(state[HISTORY])

    def on_end(self, state):
        if self.draw_once or self._drawn != len(state[HISTORY]):
            self.draw(state[HISTORY])
