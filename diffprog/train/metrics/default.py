"""The built-in metrics and the names a Trial knows them by:

- 'loss': the criterion's value (`Loss`)
- 'acc', 'accuracy': an accuracy chosen from the criterion (`DefaultAccuracy`)
- 'cat_acc': `CategoricalAccuracy` (reported as 'acc'), 'binary_acc': `BinaryAccuracy`
- 'top_5_acc', 'top_10_acc': `TopKCategoricalAccuracy`
- 'mse': `MeanSquaredError`, 'mae': `MeanAbsoluteError`
- 'epoch': `Epoch`, 'lr': `LR` (the optimizer's learning rate)

Per-batch metrics report their mean over each pass under their name ('val_' prefixed in
validation) and, in training, a running mean as 'running_<name>'.
"""
import numpy as np

from ..state import CRITERION, EPOCH, LOSS, OPTIMIZER, Y_PRED, Y_TRUE
from .aggregators import as_numpy
from .decorators import default_for_key, mean, running_mean, to_dict
from .metric import Metric

__all__ = ["Loss", "Epoch", "LR", "CategoricalAccuracy", "BinaryAccuracy", "TopKCategoricalAccuracy",
           "MeanSquaredError", "MeanAbsoluteError", "DefaultAccuracy"]


@default_for_key("loss")
@running_mean
@mean
class Loss(Metric):
    """The value of the criterion, state[LOSS]."""

    def __init__(self):
        super().__init__("loss")

    def process(self, state):
        return state[LOSS]


@default_for_key("epoch")
@to_dict
class Epoch(Metric):
    """The current epoch (during training)."""

    def __init__(self):
        super().__init__("epoch")

    def process(self, state):
        return state[EPOCH] if self.training else None

    process_final = process


@default_for_key("lr")
@to_dict
class LR(Metric):
    """The optimizer's learning rate during training (a list with several parameter groups)."""

    def __init__(self):
        super().__init__("lr")

    def process(self, state):
        groups = getattr(state[OPTIMIZER], "param_groups", None)
        if not self.training or not groups:
            return None
        lrs = [group["lr"] for group in groups]
        return lrs[0] if len(lrs) == 1 else lrs

    process_final = process


def _targets(state, pred_key, target_key, ignore_index):
    """Predictions (N, C, ...) and class targets (N, ...) as NumPy arrays, without the
    samples whose target is ignore_index.  One-hot / probability targets become classes."""
    y_pred, y_true = as_numpy(state[pred_key]), as_numpy(state[target_key])
    if y_true.shape == y_pred.shape and y_pred.ndim > 1:
        y_true = y_true.argmax(1)
    keep = y_true != ignore_index
    return y_pred, y_true, keep


@default_for_key("cat_acc")
@running_mean
@mean
class CategoricalAccuracy(Metric):
    """Whether argmax over dim 1 of the prediction is the target class, per sample."""

    def __init__(self, pred_key=Y_PRED, target_key=Y_TRUE, ignore_index=-100):
        super().__init__("acc")
        self.pred_key, self.target_key, self.ignore_index = pred_key, target_key, ignore_index

    def process(self, state):
        y_pred, y_true, keep = _targets(state, self.pred_key, self.target_key, self.ignore_index)
        return (y_pred.argmax(1) == y_true)[keep].astype(np.float64)


@default_for_key("top_10_acc", k=10)
@default_for_key("top_5_acc", k=5)
@running_mean
@mean
class TopKCategoricalAccuracy(Metric):
    """Whether the target class is among the k largest predictions (dim 1), per sample."""

    def __init__(self, k=5, pred_key=Y_PRED, target_key=Y_TRUE, ignore_index=-100):
        super().__init__(f"top_{k}_acc")
        self.k = k
        self.pred_key, self.target_key, self.ignore_index = pred_key, target_key, ignore_index

    def process(self, state):
        y_pred, y_true, keep = _targets(state, self.pred_key, self.target_key, self.ignore_index)
        k = min(self.k, y_pred.shape[1])
        top = np.argpartition(-y_pred, k - 1, axis=1)[:, :k]
        return (top == np.expand_dims(y_true, 1)).any(1)[keep].astype(np.float64)


@default_for_key("binary_acc")
@running_mean
@mean
class BinaryAccuracy(Metric):
    """Whether (prediction > threshold) equals the 0/1 target, per element."""

    def __init__(self, pred_key=Y_PRED, target_key=Y_TRUE, threshold=0.5):
        super().__init__("binary_acc")
        self.pred_key, self.target_key, self.threshold = pred_key, target_key, threshold

    def process(self, state):
        y_pred, y_true = as_numpy(state[self.pred_key]), as_numpy(state[self.target_key])
        return ((y_pred > self.threshold) == y_true.reshape(y_pred.shape)).ravel().astype(np.float64)


@default_for_key("mse")
@running_mean
@mean
class MeanSquaredError(Metric):
    """The squared error of each element of the prediction."""

    def __init__(self, pred_key=Y_PRED, target_key=Y_TRUE):
        super().__init__("mse")
        self.pred_key, self.target_key = pred_key, target_key

    def process(self, state):
        y_pred, y_true = as_numpy(state[self.pred_key]), as_numpy(state[self.target_key])
        return np.square(y_pred - y_true.reshape(y_pred.shape), dtype=np.float64)


@default_for_key("mae")
@running_mean
@mean
class MeanAbsoluteError(Metric):
    """The absolute error of each element of the prediction."""

    def __init__(self, pred_key=Y_PRED, target_key=Y_TRUE):
        super().__init__("mae")
        self.pred_key, self.target_key = pred_key, target_key

    def process(self, state):
        y_pred, y_true = as_numpy(state[self.pred_key]), as_numpy(state[self.target_key])
        return np.abs(y_pred - y_true.reshape(y_pred.shape), dtype=np.float64)


# Criterion (class or function) name -> the metric 'acc' stands for with it.
_ACCURACY_FOR_LOSS = {
    "CrossEntropyLoss": CategoricalAccuracy, "NLLLoss": CategoricalAccuracy,
    "cross_entropy": CategoricalAccuracy, "nll_loss": CategoricalAccuracy,
    "BCELoss": BinaryAccuracy, "BCEWithLogitsLoss": BinaryAccuracy,
    "binary_cross_entropy": BinaryAccuracy, "binary_cross_entropy_with_logits": BinaryAccuracy,
    "MSELoss": MeanSquaredError, "mse_loss": MeanSquaredError,
}


@default_for_key("accuracy")
@default_for_key("acc")
class DefaultAccuracy(Metric):
    """'acc': categorical accuracy, unless the criterion says otherwise (binary accuracy
    for BCE losses, mean squared error for MSE), decided on the first reset."""

    dict_output = True

    def __init__(self):
        super().__init__("acc")
        self.metric = CategoricalAccuracy()
        self._chosen = False
        self._data_key = None

    def reset(self, state):
        if not self._chosen:
            criterion = state[CRITERION]
            name = getattr(criterion, "__name__", type(criterion).__name__)
            if name in _ACCURACY_FOR_LOSS:
                self.metric = _ACCURACY_FOR_LOSS[name]()
                self.name = self.metric.name
                if self.training:
                    self.metric.train()
                else:
                    self.metric.eval(self._data_key)
            self._chosen = True
        self.metric.reset(state)

    def process(self, *args):
        return self.metric.process(*args)

    def process_final(self, *args):
        return self.metric.process_final(*args)

    def train(self):
        super().train()
        self.metric.train()

    def eval(self, data_key=None):
        super().eval(data_key)
        self._data_key = data_key
        self.metric.eval(data_key)
