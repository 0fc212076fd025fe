"""Decorators that build metrics: register one by name, make one from a function, and
attach aggregators (mean, std, var, running mean) to a per-batch metric.

Stacked on a Metric class they return a class whose instances are `MetricTree`s (the
class's metric at the root, one child per aggregator); on a Metric instance they
return the tree itself::

    @metrics.default_for_key('my_acc')
    @metrics.running_mean
    @metrics.mean
    class MyAccuracy(metrics.Metric):
        def __init__(self):
            super().__init__('my_acc')

        def process(self, state):
            return (state[Y_PRED].argmax(1) == state[Y_TRUE]).float()
"""
import inspect

from .aggregators import BatchLambda, EpochLambda, Mean, RunningMean, Std, Var
from .metric import MetricTree, ToDict, add_default

__all__ = ["default_for_key", "lambda_metric", "to_dict", "mean", "std", "var", "running_mean"]


def default_for_key(key, *args, **kwargs):
    """Register the decorated metric class under `key` (built with *args, **kwargs)."""
    def decorator(metric):
        add_default(key, metric, *args, **kwargs)
        return metric
    return decorator


def lambda_metric(name, on_epoch=False):
    """Turn `fn(y_pred, y_true)` into a metric: per batch, or over the whole pass
    (`on_epoch=True`)."""
    def decorator(metric_function):
        return (EpochLambda if on_epoch else BatchLambda)(name, metric_function)
    return decorator


def _renamed(wrapper, clazz):
    wrapper.__name__, wrapper.__qualname__ = clazz.__name__, clazz.__qualname__
    wrapper.__doc__, wrapper.__module__ = clazz.__doc__, clazz.__module__
    return wrapper


def to_dict(clazz):
    """Make the metric (class or instance) report {name: value}."""
    if not inspect.isclass(clazz):
        return ToDict(clazz)

    class Wrapper(ToDict):
        def __init__(self, *args, **kwargs):
            super().__init__(clazz(*args, **kwargs))
    return _renamed(Wrapper, clazz)


def _add_to_tree(clazz, make_child):
    """Add make_child(root metric) as a child of the metric's tree (made if needed)."""
    if not inspect.isclass(clazz):
        tree = clazz if isinstance(clazz, MetricTree) else MetricTree(clazz)
        tree.add_child(make_child(tree.root))
        return tree

    class Wrapper(MetricTree):
        def __init__(self, *args, **kwargs):
            inner = clazz(*args, **kwargs)
            if isinstance(inner, MetricTree):
                super().__init__(inner.root)
                self.children = inner.children
            else:
                super().__init__(inner)
            self.add_child(make_child(self.root))
    return _renamed(Wrapper, clazz)


def _optional_args(decorate):
    """Let a decorator with keyword options be used bare (@mean) or called (@mean(dim=0))."""
    def decorator(clazz=None, **options):
        if clazz is None:
            return lambda c: decorate(c, **options)
        return decorate(clazz, **options)
    decorator.__name__, decorator.__doc__ = decorate.__name__, decorate.__doc__
    return decorator


@_optional_args
def mean(clazz, dim=None):
    """Report the metric's mean over each pass, under its own name."""
    return _add_to_tree(clazz, lambda m: ToDict(Mean(m.name, dim=dim)))


@_optional_args
def std(clazz, unbiased=True, dim=None):
    """Report the metric's standard deviation over each pass, as '<name>_std'."""
    return _add_to_tree(clazz, lambda m: ToDict(Std(m.name + "_std", unbiased=unbiased, dim=dim)))


@_optional_args
def var(clazz, unbiased=True, dim=None):
    """Report the metric's variance over each pass, as '<name>_var'."""
    return _add_to_tree(clazz, lambda m: ToDict(Var(m.name + "_var", unbiased=unbiased, dim=dim)))


@_optional_args
def running_mean(clazz, batch_size=50, step_size=10, dim=None):
    """Report, during training, the mean over the last `batch_size` batches (refreshed
    every `step_size` batches) as 'running_<name>'."""
    return _add_to_tree(clazz, lambda m: ToDict(RunningMean("running_" + m.name, batch_size=batch_size,
                                                            step_size=step_size, dim=dim)))
