"""The metric protocol, the containers that route values between metrics, and the
registry that lets a `Trial` take metrics by name (`metrics=['loss', 'acc']`).

A metric sees the trial state once per batch (`process`) and once at the end of a
training or validation pass (`process_final`); `reset` starts a new pass, and
`train()` / `eval(data_key)` say which kind of pass it is.  Metrics that a `Trial`
reports return dicts `{name: value}`: `ToDict` turns a plain value into one, naming it
'val_...' (or 'test_...') in evaluation.  A `MetricTree` feeds its root metric's value
to its children, e.g. a per-batch accuracy into a `Mean` and a `RunningMean`.
"""
import copy

from ..state import TEST_DATA, TRAIN_DATA

__all__ = ["Metric", "ToDict", "MetricTree", "MetricList", "DEFAULT_METRICS", "add_default",
           "get_default"]


class Metric:
    """Base class of metrics.  `dict_output` says whether process() returns {name: value}."""

    dict_output = False
    training = True

    def __init__(self, name):
        self.name = name

    def process(self, *args):
        """The value for this batch (args[0] is the state, or a parent metric's value)."""

    def process_final(self, *args):
        """The value for the whole pass."""

    def train(self):
        self.training = True

    def eval(self, data_key=None):
        self.training = False

    def reset(self, state):
        """Forget the values of the last pass."""

    def __str__(self):
        return self.name

    def __repr__(self):
        return f"{type(self).__name__}({self.name!r})"


_PREFIXES = {TRAIN_DATA: "train_", TEST_DATA: "test_"}


class ToDict(Metric):
    """Wraps a metric's value as {name: value}; in evaluation the name gets a 'val_'
    prefix ('test_' for test data, 'train_' when evaluating on the training data)."""

    dict_output = True

    def __init__(self, metric):
        super().__init__(metric.name)
        self.metric = metric
        self.prefix = ""

    def _wrap(self, value):
        return {} if value is None else {self.prefix + self.metric.name: value}

    def process(self, *args):
        return self._wrap(self.metric.process(*args))

    def process_final(self, *args):
        return self._wrap(self.metric.process_final(*args))

    def train(self):
        super().train()
        self.metric.train()
        self.prefix = ""

    def eval(self, data_key=None):
        super().eval(data_key)
        self.metric.eval(data_key)
        self.prefix = _PREFIXES.get(data_key, "val_")

    def reset(self, state):
        self.metric.reset(state)


class MetricTree(Metric):
    """A root metric whose value is passed to each child; returns the children's dicts merged."""

    dict_output = True

    def __init__(self, metric):
        super().__init__(metric.name)
        self.root = metric
        self.children = []

    def add_child(self, child):
        self.children.append(child)

    def process(self, *args):
        value = self.root.process(*args)
        return _merge(child.process(value) for child in self.children)

    def process_final(self, *args):
        value = self.root.process_final(*args)
        return _merge(child.process_final(value) for child in self.children)

    def train(self):
        super().train()
        for m in (self.root, *self.children):
            m.train()

    def eval(self, data_key=None):
        super().eval(data_key)
        for m in (self.root, *self.children):
            m.eval(data_key)

    def reset(self, state):
        for m in (self.root, *self.children):
            m.reset(state)

    def __repr__(self):
        return f"MetricTree({self.root!r}, children={self.children!r})"


class MetricList(Metric):
    """The metrics of a trial: names (see `get_default`), Metric instances or classes."""

    dict_output = True

    def __init__(self, metric_list):
        super().__init__("metric_list")
        self.metric_list = [_build(m) for m in metric_list]

    def process(self, *args):
        return _merge(m.process(*args) for m in self.metric_list)

    def process_final(self, *args):
        return _merge(m.process_final(*args) for m in self.metric_list)

    def train(self):
        super().train()
        for m in self.metric_list:
            m.train()

    def eval(self, data_key=None):
        super().eval(data_key)
        for m in self.metric_list:
            m.eval(data_key)

    def reset(self, state):
        for m in self.metric_list:
            m.reset(state)

    def __str__(self):
        return str([str(m) for m in self.metric_list])

    def __repr__(self):
        return f"MetricList({self.metric_list!r})"


def _merge(dicts):
    out = {}
    for d in dicts:
        out.update(d)
    return out


def _build(metric):
    if isinstance(metric, str):
        metric = get_default(metric)
    elif isinstance(metric, type):
        metric = metric()
    if isinstance(metric, (list, tuple)):
        return MetricList(metric)
    if not callable(getattr(metric, "process", None)):
        raise TypeError(f"metrics: expected a metric name, Metric or Metric class, got {metric!r}")
    return metric if metric.dict_output else ToDict(metric)


DEFAULT_METRICS = {}


def add_default(key, metric, *args, **kwargs):
    """Register under the name `key` a Metric class (built as metric(*args, **kwargs)) or
    a Metric instance (each use gets a copy)."""
    DEFAULT_METRICS[key] = (metric, args, kwargs)


def get_default(key):
    """A new instance of the metric registered under `key`."""
    if key not in DEFAULT_METRICS:
        raise ValueError(f"metrics: unknown metric {key!r}; the names known are "
                         f"{', '.join(sorted(DEFAULT_METRICS))}")
    metric, args, kwargs = DEFAULT_METRICS[key]
    return metric(*args, **kwargs) if isinstance(metric, type) else copy.deepcopy(metric)
