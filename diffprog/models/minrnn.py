"""minGRU and minLSTM from "Were RNNs All We Needed?" (Feng et al., 2024).

Dropping the hidden state from the gates makes each step a linear recurrence
h_t = a_t * h_{t-1} + b_t with a_t, b_t computed from x_t alone, so the whole sequence can be
computed at once by a parallel scan instead of a loop over time:

    h_t = sum_{s <= t} (a_{s+1} ... a_t) b_s + (a_1 ... a_t) h_0,
    log h_t = A_t + logcumsumexp_s(log b_s - A_s),   A_t = a cumulative sum of log a.

As in the paper, the scan runs in log space (all a_t, b_t > 0: the candidate state goes
through g(x) = x + 0.5 for x >= 0 else sigmoid(x), so the states stay positive), which is
stable for long sequences. `mode="sequential"` is the plain loop (the same numbers).
"""
from .. import nn
from .._array import xp
from ..creation import zeros
from ..nn import functional as F
from ..ops.selection import where
from ..ops.batching import physical
from ..ops.reduction import cumsum, logcumsumexp
from ..ops.shape import cat, stack
from ..ops.transcendental import exp, log

__all__ = ["MinGRU", "MinLSTM", "parallel_scan_log"]


def parallel_scan_log(log_a, log_b, h0=None):
    """All h_t of h_t = a_t * h_{t-1} + b_t along dim 1, given log a and log b (B, T, H)
    and h0 (B, H) >= 0 (None: zeros)."""
    big_a = cumsum(log_a, 1)
    v = log_b - big_a
    if h0 is None:
        return exp(big_a + logcumsumexp(v, 1))
    if physical(h0.detach() < 0).any():
        raise ValueError("parallel_scan_log: the log-space scan needs h0 >= 0 (the minimal RNNs' "
                         "states are positive); use mode='sequential' for a negative h0")
    with xp.errstate(divide="ignore"):                            # h0 = 0: log h0 = -inf
        log_h0 = log(h0).unsqueeze(1)
    scanned = logcumsumexp(cat([log_h0, v], 1), 1)                # h0 enters with A_0 = 0
    return exp(big_a + scanned[:, 1:])


def g(x):
    """The paper's positive activation for the candidate state: x + 0.5 (x >= 0), sigmoid(x)."""
    return where(x >= 0, x + 0.5, F.sigmoid(x))


def log_g(x):
    """log g(x), without forming g: log(x + 0.5) for x >= 0, log sigmoid(x) otherwise."""
    return where(x >= 0, log(F.relu(x) + 0.5), F.logsigmoid(x))


class _MinRNN(nn.Module):
    """Shared driver: subclasses give per step the coefficient a (the kept fraction of the
    old state) and the added b, or their logs for the scan."""

    modes = ("parallel", "sequential")

    def __init__(self, input_size, hidden_size, gates, bias=True, mode="parallel", device=None, dtype=None):
        super().__init__()
        if mode not in self.modes:
            raise ValueError(f"{type(self).__name__}: mode must be 'parallel' or 'sequential', got {mode!r}")
        self.input_size, self.hidden_size, self.mode = input_size, hidden_size, mode
        for name in gates:
            setattr(self, name, nn.Linear(input_size, hidden_size, bias, device=device, dtype=dtype))

    def forward(self, input, h0=None, mode=None):
        """input (B, T, input_size), h0 (B, hidden_size) or None (zeros) -> (output (B, T,
        hidden_size): all hidden states, h_n (B, hidden_size): the last one)."""
        mode = mode or self.mode
        if mode not in self.modes:
            raise ValueError(f"{type(self).__name__}: mode must be 'parallel' or 'sequential', got {mode!r}")
        if input.ndim != 3 or input.shape[2] != self.input_size:
            raise RuntimeError(f"{type(self).__name__}: expected input of shape (batch, time, "
                               f"{self.input_size}), got {tuple(input.shape)}")
        if h0 is not None and tuple(h0.shape) != (input.shape[0], self.hidden_size):
            raise RuntimeError(f"{type(self).__name__}: expected h0 of shape ({input.shape[0]}, "
                               f"{self.hidden_size}), got {tuple(h0.shape)}")
        if mode == "parallel":
            out = parallel_scan_log(*self.log_coefficients(input), h0)
        else:
            a, b = self.coefficients(input)
            h = zeros(input.shape[0], self.hidden_size, dtype=a.dtype) if h0 is None else h0
            states = []
            for t in range(input.shape[1]):
                h = a[:, t] * h + b[:, t]
                states.append(h)
            out = stack(states, 1) if states else a
        return out, (out[:, -1] if out.shape[1] else h0)

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}, mode={self.mode!r}"


class MinGRU(_MinRNN):
    """h_t = (1 - z_t) * h_{t-1} + z_t * g(linear_h(x_t)), z_t = sigmoid(linear_z(x_t))."""

    def __init__(self, input_size, hidden_size, bias=True, mode="parallel", device=None, dtype=None):
        super().__init__(input_size, hidden_size, ("linear_z", "linear_h"), bias, mode, device, dtype)

    def coefficients(self, x):
        z = F.sigmoid(self.linear_z(x))
        return 1 - z, z * g(self.linear_h(x))

    def log_coefficients(self, x):
        k = self.linear_z(x)
        return F.logsigmoid(-k), F.logsigmoid(k) + log_g(self.linear_h(x))


class MinLSTM(_MinRNN):
    """h_t = f'_t * h_{t-1} + i'_t * g(linear_h(x_t)) with the gates normalised to sum to 1:
    f' = f / (f + i), i' = i / (f + i), f = sigmoid(linear_f(x_t)), i = sigmoid(linear_i(x_t))."""

    def __init__(self, input_size, hidden_size, bias=True, mode="parallel", device=None, dtype=None):
        super().__init__(input_size, hidden_size, ("linear_f", "linear_i", "linear_h"), bias, mode,
                         device, dtype)

    def _log_ratio(self, x):
        """log(i / f): then f' = sigmoid(-d), i' = sigmoid(d)."""
        return F.logsigmoid(self.linear_i(x)) - F.logsigmoid(self.linear_f(x))

    def coefficients(self, x):
        d = self._log_ratio(x)
        return F.sigmoid(-d), F.sigmoid(d) * g(self.linear_h(x))

    def log_coefficients(self, x):
        d = self._log_ratio(x)
        return F.logsigmoid(-d), F.logsigmoid(d) + log_g(self.linear_h(x))
