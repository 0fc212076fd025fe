"""Metrics that aggregate other metrics' per-batch values over a pass (mean, standard
deviation, variance, running mean) and metrics made from a function of (y_pred, y_true).

Values may be tensors, NumPy arrays or numbers; aggregation happens in float64 NumPy,
outside autograd, and results are Python floats (lists for vector-valued metrics).
"""
from collections import deque

import numpy as np

from ...tensor import Tensor
from ..state import Y_PRED, Y_TRUE
from .metric import Metric

__all__ = ["Mean", "Var", "Std", "RunningMean", "BatchLambda", "EpochLambda"]


def as_numpy(value):
    """A tensor's (detached) values as a NumPy array; other values through np.asarray."""
    if isinstance(value, Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def to_python(a):
    """A float for one value, else a (nested) list of floats."""
    return a.item() if a.size == 1 else a.tolist()


class Mean(Metric):
    """The mean of all values seen in a pass (over `dim` only, when given)."""

    def __init__(self, name, dim=None):
        super().__init__(name)
        self.dim = dim
        self.reset(None)

    def reset(self, state):
        self._sum, self._count = 0.0, 0

    def process(self, *args):
        if args[0] is not None:
            self._add(as_numpy(args[0]).astype(np.float64, copy=False))

    def _add(self, a):
        self._sum = self._sum + a.sum(axis=self.dim)
        self._count += a.size if self.dim is None else a.shape[self.dim]

    def process_final(self, *args):
        if self._count == 0:
            return None
        return to_python(np.asarray(self._sum / self._count))


class Var(Mean):
    """The variance of all values seen in a pass (unbiased: divides by n - 1)."""

    def __init__(self, name, unbiased=True, dim=None):
        self.unbiased = unbiased
        super().__init__(name, dim)

    def reset(self, state):
        super().reset(state)
        self._sum_sq = 0.0

    def _add(self, a):
        super()._add(a)
        self._sum_sq = self._sum_sq + np.square(a).sum(axis=self.dim)

    def _variance(self):
        n = self._count
        mean = self._sum / n
        return np.maximum(self._sum_sq / n - mean * mean, 0.0) * (n / (n - 1) if self.unbiased else 1.0)

    def process_final(self, *args):
        if self._count <= int(self.unbiased):
            return None
        return to_python(np.asarray(self._variance()))


class Std(Var):
    """The standard deviation of all values seen in a pass (unbiased by default)."""

    def process_final(self, *args):
        if self._count <= int(self.unbiased):
            return None
        return to_python(np.sqrt(self._variance()))


class RunningMean(Metric):
    """During training, the mean of the last `batch_size` batch means, refreshed every
    `step_size` batches (first on the first batch).  Reports nothing in evaluation."""

    def __init__(self, name, batch_size=50, step_size=10, dim=None):
        super().__init__(name)
        self.batch_size, self.step_size, self.dim = batch_size, step_size, dim
        self.reset(None)

    def reset(self, state):
        self._cache = deque(maxlen=self.batch_size)
        self._step = 0
        self._result = None

    def process(self, *args):
        if not self.training or args[0] is None:
            return None
        self._cache.append(as_numpy(args[0]).astype(np.float64, copy=False).mean(axis=self.dim))
        if self._step % self.step_size == 0:
            self._result = to_python(np.mean(self._cache, axis=0))
        self._step += 1
        return self._result


class BatchLambda(Metric):
    """`metric_function(y_pred, y_true)` on each batch."""

    def __init__(self, name, metric_function):
        super().__init__(name)
        self.metric_function = metric_function

    def process(self, *args):
        state = args[0]
        return self.metric_function(state[Y_PRED], state[Y_TRUE])


class EpochLambda(Metric):
    """`metric_function(y_pred, y_true)` on all the batches of a pass at once (e.g. an
    AUC).  With `running`, training also reports it on the data so far every
    `step_size` batches."""

    def __init__(self, name, metric_function, running=True, step_size=50):
        super().__init__(name)
        self.metric_function = metric_function
        self.running, self.step_size = running, step_size
        self.reset(None)

    def reset(self, state):
        self._y_pred, self._y_true = [], []
        self._result = None

    def _value(self):
        from ...ops.shape import cat
        return self.metric_function(cat(self._y_pred), cat(self._y_true))

    def process(self, *args):
        state = args[0]
        self._y_pred.append(state[Y_PRED].detach())
        self._y_true.append(state[Y_TRUE].detach())
        if not (self.training and self.running):
            return None
        if (len(self._y_pred) - 1) % self.step_size == 0:
            self._result = self._value()
        return self._result

    def process_final(self, *args):
        return self._value() if self._y_pred else None
