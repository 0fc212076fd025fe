"""CSVLogger: append each epoch's (or batch's) metrics to a CSV file."""
import csv
import io
import os

from ..distributed import writes_files
from ..state import BATCH, EPOCH, METRICS
from .callbacks import Callback

__all__ = ["CSVLogger"]


class CSVLogger(Callback):
    """Write 'epoch' (and 'batch' with `batch_granularity`) and the metrics: a row per
    epoch, and with `batch_granularity` also a row per training batch.  The columns are
    those of the first row.  Each row goes to the file in one write, flushed (and, at the
    end of an epoch, synced to disk), so a crash loses at most the row being written.
    With `append`, rows are added to an existing file (the header only if the file is
    empty): use it when resuming. With several ranks, rank 0 writes the file."""

    def __init__(self, filename, separator=",", batch_granularity=False, write_header=True,
                 append=False):
        self.filename = os.fspath(filename)
        self.separator, self.batch_granularity = separator, batch_granularity
        self.write_header, self.append = write_header, append
        self._file = None
        self._fields = None

    def on_start(self, state):
        if not writes_files():
            return
        self._file = open(self.filename, "a" if self.append else "w", newline="", encoding="utf-8")
        self._fields = None

    def _write(self, state, sync):
        if self._file is None:
            return
        row = {"epoch": state[EPOCH]}
        if self.batch_granularity:
            row["batch"] = state[BATCH]
        row.update(state[METRICS])
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=self._fields or list(row), delimiter=self.separator,
                                extrasaction="ignore")
        if self._fields is None:
            self._fields = writer.fieldnames
            if self.write_header and self._file.tell() == 0:
                writer.writeheader()
        writer.writerow(row)
        self._file.write(text.getvalue())
        self._file.flush()
        if sync:
            os.fsync(self._file.fileno())

    def on_step_training(self, state):
        if self.batch_granularity:
            self._write(state, sync=False)

    def on_end_epoch(self, state):
        self._write(state, sync=True)

    def on_end(self, state):
        if self._file is not None:
            self._file.close()
