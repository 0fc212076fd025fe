"""Metrics for `diffprog.train.Trial` (Torchbearer's `torchbearer.metrics`).

Give a Trial metric names (`metrics=['loss', 'acc', 'top_5_acc']`, see `default`),
Metric instances or classes.  Build new ones with the decorators::

    @metrics.running_mean
    @metrics.mean
    @metrics.lambda_metric('error')
    def error(y_pred, y_true):
        return (y_pred - y_true).abs()
"""
from .metric import (Metric, ToDict, MetricTree, MetricList, DEFAULT_METRICS,  # noqa: F401
                     add_default, get_default)
from .aggregators import Mean, Var, Std, RunningMean, BatchLambda, EpochLambda  # noqa: F401
from .decorators import (default_for_key, lambda_metric, to_dict, mean, std, var,  # noqa: F401
                         running_mean)
from .default import (Loss, Epoch, LR, CategoricalAccuracy, BinaryAccuracy,  # noqa: F401
                      TopKCategoricalAccuracy, MeanSquaredError, MeanAbsoluteError, DefaultAccuracy)

__all__ = ["Metric", "ToDict", "MetricTree", "MetricList", "DEFAULT_METRICS", "add_default",
           "get_default", "Mean", "Var", "Std", "RunningMean", "BatchLambda", "EpochLambda",
           "default_for_key", "lambda_metric", "to_dict", "mean", "std", "var", "running_mean",
           "Loss", "Epoch", "LR", "CategoricalAccuracy", "BinaryAccuracy", "TopKCategoricalAccuracy",
           "MeanSquaredError", "MeanAbsoluteError", "DefaultAccuracy"]
