"""Positional encodings for transformers: the fixed sinusoids of Vaswani et al. (2017) and
a learned table.  Both add the encoding of each position to x and apply dropout; inputs are
(T, B, d_model), or (B, T, d_model) with batch_first=True.
"""
import math

from .. import nn
from ..creation import arange, zeros

__all__ = ["SinusoidalPositionalEncoding", "LearnedPositionalEncoding"]


def _check_length(module, x, max_len):
    t = x.shape[1] if module.batch_first else x.shape[0]
    if x.ndim != 3 or x.shape[2] != module.d_model or t > max_len:
        layout = "(B, T, d_model)" if module.batch_first else "(T, B, d_model)"
        raise RuntimeError(f"{type(module).__name__}: expected input {layout} with d_model="
                           f"{module.d_model} and T <= max_len={max_len}, got {tuple(x.shape)}")
    return t


class SinusoidalPositionalEncoding(nn.Module):
    """x + PE[t] with PE[t, 2i] = sin(t / 10000^(2i/d)), PE[t, 2i+1] = cos(t / 10000^(2i/d)).
    The table is a (non-trainable) buffer `pe` of shape (max_len, d_model)."""

    def __init__(self, d_model, max_len=5000, dropout=0.1, batch_first=False):
        super().__init__()
        self.d_model, self.max_len, self.batch_first = d_model, max_len, batch_first
        self.dropout = nn.Dropout(dropout)
        position = arange(max_len, dtype=float).unsqueeze(1)
        freq = (arange(0, d_model, 2, dtype=float) * (-math.log(10000.0) / d_model)).exp()
        pe = zeros(max_len, d_model)
        pe[:, 0::2] = (position * freq).sin()
        pe[:, 1::2] = (position * freq[: d_model // 2]).cos()     # odd d_model: one sine more
        self.register_buffer("pe", pe)

    def forward(self, x):
        t = _check_length(self, x, self.max_len)
        pe = self.pe[:t].to(x.dtype)
        return self.dropout(x + (pe if self.batch_first else pe.unsqueeze(1)))

    def extra_repr(self):
        return f"d_model={self.d_model}, max_len={self.max_len}, batch_first={self.batch_first}"


class LearnedPositionalEncoding(nn.Module):
    """x + E[t] with E an nn.Embedding(max_len, d_model) trained with the model."""

    def __init__(self, max_len, d_model, dropout=0.0, batch_first=False):
        super().__init__()
        self.d_model, self.max_len, self.batch_first = d_model, max_len, batch_first
        self.embedding = nn.Embedding(max_len, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        t = _check_length(self, x, self.max_len)
        pe = self.embedding(arange(t))
        return self.dropout(x + (pe if self.batch_first else pe.unsqueeze(1)))

    def extra_repr(self):
        return f"max_len={self.max_len}, d_model={self.d_model}, batch_first={self.batch_first}"
