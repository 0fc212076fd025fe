"""AggregatePredictions: gather the model's outputs over a pass (what Trial.predict returns)."""
from ...ops import cat
from ..state import FINAL_PREDICTIONS, Y_PRED
from .callbacks import Callback

__all__ = ["AggregatePredictions"]


def _concatenate(batches):
    """Concatenate tensors along dim 0; tuples / lists / dicts of them element-wise."""
    first = batches[0]
    if isinstance(first, (list, tuple)):
        return type(first)(_concatenate([b[i] for b in batches]) for i in range(len(first)))
    if isinstance(first, dict):
        return {k: _concatenate([b[k] for b in batches]) for k in first}
    return cat(batches)


class AggregatePredictions(Callback):
    """After each validation pass, state[FINAL_PREDICTIONS] holds the pass's
    predictions concatenated along the batch dimension (None for an empty pass)."""

    def __init__(self):
        self.predictions = []

    def on_start_validation(self, state):
        self.predictions = []

    def on_step_validation(self, state):
        self.predictions.append(state[Y_PRED])

    def on_end_validation(self, state):
        state[FINAL_PREDICTIONS] = _concatenate(self.predictions) if self.predictions else None
        self.predictions = []
