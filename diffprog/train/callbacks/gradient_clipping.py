"""Gradient clipping after each backward pass (before the optimizer steps)."""
from ...nn.utils import clip_grad_norm_, clip_grad_value_
from ..state import MODEL
from .callbacks import Callback

__all__ = ["GradientNormClipping", "GradientClipping"]


def _trainable(params, state):
    params = state[MODEL].parameters() if params is None else params
    return [p for p in params if p.requires_grad]


class GradientNormClipping(Callback):
    """Scale the gradients so that their total `norm_type` norm is at most `max_norm`
    (`nn.utils.clip_grad_norm_`); `params` defaults to the model's trainable parameters."""

    def __init__(self, max_norm, norm_type=2, params=None):
        self.max_norm, self.norm_type, self.params = max_norm, norm_type, params

    def on_start(self, state):
        self._params = _trainable(self.params, state)

    def on_backward(self, state):
        clip_grad_norm_(self._params, self.max_norm, norm_type=self.norm_type)


class GradientClipping(Callback):
    """Clamp each gradient element to [-clip_value, clip_value] (`nn.utils.clip_grad_value_`);
    `params` defaults to the model's trainable parameters."""

    def __init__(self, clip_value, params=None):
        self.clip_value, self.params = clip_value, params

    def on_start(self, state):
        self._params = _trainable(self.params, state)

    def on_backward(self, state):
        clip_grad_value_(self._params, self.clip_value)
