"""Regularising callbacks of Torchbearer: weight decay added to the loss, label smoothing,
mixup; and UnpackState, which hands the model a dict of state entries."""
from ...autograd.grad_mode import no_grad
from ...nn import functional as F
from ...random import randperm
from ..state import DATA, LOSS, MODEL, TRAIN_DATA, X, Y_PRED, Y_TRUE, state_key
from .callbacks import Callback

__all__ = ["WeightDecay", "L1WeightDecay", "L2WeightDecay", "LabelSmoothingRegularisation",
           "Mixup", "UnpackState", "MIXUP_LAMBDA", "MIXUP_PERMUTATION"]

MIXUP_LAMBDA = state_key("mixup_lambda")
MIXUP_PERMUTATION = state_key("mixup_permutation")


class WeightDecay(Callback):
    """Add rate * ||param||_p for each parameter (the model's, unless `params`) to the loss."""

    def __init__(self, rate=5e-4, p=2, params=None):
        super().__init__()
        self.rate, self.p, self.params = rate, p, params

    def on_start(self, state):
        self.params = list(state[MODEL].parameters() if self.params is None else self.params)

    def on_criterion(self, state):
        for param in self.params:
            state[LOSS] = state[LOSS] + self.rate * param.norm(self.p)


class L1WeightDecay(WeightDecay):
    def __init__(self, rate=5e-4, params=None):
        super().__init__(rate=rate, p=1, params=params)


class L2WeightDecay(WeightDecay):
    def __init__(self, rate=5e-4, params=None):
        super().__init__(rate=rate, p=2, params=params)


class LabelSmoothingRegularisation(Callback):
    """Train on targets (1 - epsilon) * one_hot + epsilon / classes; validate on one_hot."""

    def __init__(self, epsilon, classes=-1):
        super().__init__()
        self.epsilon, self.classes = epsilon, classes

    def _one_hot(self, state):
        target = state[Y_TRUE]
        if target.dim() == 1:
            target = F.one_hot(target, self.classes)
        return target.float()

    def on_sample(self, state):
        target = self._one_hot(state)
        state[Y_TRUE] = (1 - self.epsilon) * target + self.epsilon / target.size(1)

    def on_sample_validation(self, state):
        state[Y_TRUE] = self._one_hot(state)


class Mixup(Callback):
    """Train on convex combinations of pairs of samples (Zhang et al., 2018): lambda from
    Beta(alpha, alpha) per batch (or fixed `lam`); the targets become (y, y[permutation]).
    Use `Mixup.mixup_loss` as the criterion."""

    RANDOM = -10.0

    def __init__(self, alpha=1.0, lam=RANDOM):
        super().__init__()
        self.alpha, self.lam = alpha, lam

    @staticmethod
    def mixup_loss(state):
        y_pred, y_true = state[Y_PRED], state[Y_TRUE]
        if state[DATA] is TRAIN_DATA or state[DATA] == TRAIN_DATA:
            y1, y2 = y_true
            lam = state[MIXUP_LAMBDA]
            return F.cross_entropy(y_pred, y1) * lam + F.cross_entropy(y_pred, y2) * (1 - lam)
        return F.cross_entropy(y_pred, y_true)

    def on_sample(self, state):
        if self.lam == Mixup.RANDOM:
            from ...distributions import Beta
            lam = float(Beta(self.alpha, self.alpha).sample()) if self.alpha > 0 else 1.0
        else:
            lam = self.lam
        x = state[X]
        order = randperm(x.size(0))
        with no_grad():
            state[MIXUP_LAMBDA], state[MIXUP_PERMUTATION] = lam, order
        state[X] = x * lam + x[order] * (1 - lam)
        state[Y_TRUE] = (state[Y_TRUE], state[Y_TRUE][order])


class UnpackState(Callback):
    """Give the model a dict of these state entries (state[X] first) instead of state[X]; a
    dict the model returns is merged into the state (its Y_PRED entry, if any, the prediction)."""

    def __init__(self, keys=None, output_to_state=True):
        super().__init__()
        self.output_to_state = output_to_state
        self.keys = list(keys) if keys is not None else [X]
        if X not in self.keys:
            self.keys.insert(0, X)

    def on_sample(self, state):
        if self.keys != [X]:
            state[X] = {k: state[k] for k in self.keys}

    def on_sample_validation(self, state):
        self.on_sample(state)

    def on_forward(self, state):
        if self.output_to_state and isinstance(state[Y_PRED], dict):
            outputs = state[Y_PRED]
            state.update(outputs)
            state[Y_PRED] = outputs.get(Y_PRED, outputs)

    def on_forward_validation(self, state):
        self.on_forward(state)
