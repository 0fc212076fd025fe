"""Dropout for recurrent networks, with the names of the AWD-LSTM code (Merity et al. 2018):
`LockedDropout` (variational dropout, Gal & Ghahramani 2016: one mask per sequence, shared
by all time steps) and `WeightDrop` (DropConnect on a wrapped RNN's hidden-to-hidden weights,
one mask per forward call).  Zaremba et al. (2014)'s dropout on the non-recurrent
connections only is `nn.LSTM(dropout=p)` between layers plus `nn.Dropout` before and after.
"""
from ...creation import ones
from .. import functional as F
from ..parameter import Parameter
from .module import Module

__all__ = ["LockedDropout", "WeightDrop"]


class LockedDropout(Module):
    """Zero the same features at every time step of a sequence (scaling the rest by 1/(1-p)),
    in training mode only.

    Shape: (seq, batch, features), or (batch, seq, features) with `batch_first=True`.
    """

    def __init__(self, p=0.5, batch_first=False):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.batch_first = p, batch_first

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        if x.ndim != 3:
            raise ValueError(f"LockedDropout: expected a (seq, batch, features) input, got shape {tuple(x.shape)}")
        time_dim = 1 if self.batch_first else 0
        mask_shape = list(x.shape)
        mask_shape[time_dim] = 1
        return x * _mask(mask_shape, self.p, x.dtype)

    def extra_repr(self):
        return f"p={self.p}" + (", batch_first=True" if self.batch_first else "")


class WeightDrop(Module):
    """Wrap `module` (an nn.LSTM, GRU, RNN or any layer) and apply dropout to the named weights
    anew at each forward call in training mode: DropConnect (Wan et al. 2013) on the
    hidden-to-hidden matrices ('weight_hh_l0', ...) regularises the recurrence itself while
    keeping each sequence's recurrence fixed over time.

    The dropped weights live on as `<name>_raw` parameters of the wrapped module (so the
    state dict has 'module.weight_hh_l0_raw'); `variational=True` drops whole rows.
    """

    def __init__(self, module, weights=("weight_hh_l0",), dropout=0.5, variational=False):
        super().__init__()
        if not 0 <= dropout <= 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {dropout}")
        self.module, self.weights, self.dropout, self.variational = module, list(weights), dropout, variational
        for name in self.weights:
            w = getattr(module, name, None)
            if not isinstance(w, Parameter):
                raise ValueError(f"WeightDrop: {type(module).__name__} has no parameter {name!r}")
            del module._parameters[name]
            module.register_parameter(name + "_raw", Parameter(w.detach()))
        self._set_weights()

    def _set_weights(self):
        for name in self.weights:
            raw = getattr(self.module, name + "_raw")
            if not self.training or self.dropout == 0:
                w = raw * 1.0               # a fresh tensor each call, like the dropped one
            elif self.variational:
                w = raw * _mask((raw.shape[0], 1), self.dropout, raw.dtype)
            else:
                w = F.dropout(raw, self.dropout, True)
            object.__setattr__(self.module, name, w)

    def forward(self, *args, **kwargs):
        self._set_weights()
        return self.module(*args, **kwargs)

    def extra_repr(self):
        return f"weights={self.weights}, dropout={self.dropout}" + (", variational=True" if self.variational else "")


def _mask(shape, p, dtype):
    """0 with probability p, else 1/(1-p): dropout applied to ones."""
    return F.dropout(ones(shape, dtype=dtype), p, True)
