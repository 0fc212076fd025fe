"""Recurrent layers: RNN, LSTM, GRU and their single-step cells, as in PyTorch.

Parameters, their names (`weight_ih_l0`, `bias_hh_l1_reverse`, `weight_hr_l0`, ...),
shapes, gate order and initialization U(-1/sqrt(hidden), 1/sqrt(hidden)) are PyTorch's,
so state dicts move between the two.  Each layer and direction over a padded batch is a
single node (`LSTMLayer`, `GRULayer`, `RNNLayer` in `diffprog/ops/rnn.py`), with a
hand-written backward through time.  Packed sequences, proj_size and forward-mode AD run
per step instead: the input projection of the whole sequence in one product, then per
step one product with w_hh and one fused gate op.
"""
import math
import warnings

from ...autograd.grad_mode import state as _grad_state
from ...creation import empty, zeros
from ...ops.nn import Linear as _Linear
from ...ops.rnn import GRUGates, GRULayer, LSTMGates, LSTMLayer, RNNGates, RNNLayer
from ...ops.shape import cat, split, stack, unbind
from .. import functional as F
from .. import init
from ..parameter import Parameter
from ..utils.rnn import PackedSequence
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _step(mode, w_hh, b_hh, w_hr=None):
    """The function (xg, state) -> state of one time step; state is h, or (h, c) for LSTM."""
    if mode == "LSTM":
        def step(xg, state):
            h, c = LSTMGates.apply(xg, _Linear.apply(state[0], w_hh, b_hh), state[1])
            return (h if w_hr is None else _Linear.apply(h, w_hr, None), c)
    elif mode == "GRU":
        def step(xg, h):
            return GRUGates.apply(xg, _Linear.apply(h, w_hh, b_hh), h)
    else:
        nonlinearity = "tanh" if mode == "RNN_TANH" else "relu"

        def step(xg, h):
            return RNNGates.apply(xg, _Linear.apply(h, w_hh, b_hh), nonlinearity=nonlinearity)
    return step


def _rows(state, a, b):
    return tuple(s[a:b] for s in state) if isinstance(state, tuple) else state[a:b]


def _join(parts):
    """cat along the batch dim of states (tensors or (h, c) tuples)."""
    if len(parts) == 1:
        return parts[0]
    if isinstance(parts[0], tuple):
        return tuple(cat(list(p)) for p in zip(*parts))
    return cat(parts)


def _scan(step, xgs, state, sizes, reverse):
    """Run `step` over the per-step inputs xgs, where step t has sizes[t] active sequences
    (decreasing, as in a PackedSequence; all equal for a padded batch).
    Returns the per-step outputs h (in time order) and the final state of every sequence."""
    T = len(xgs)
    outs = [None] * T
    if not reverse:
        done = []                                   # final states of sequences that ended
        for t in range(T):
            bs = sizes[t]
            h = state[0] if isinstance(state, tuple) else state
            if bs < h.shape[0]:
                done.append(_rows(state, bs, None))
                state = _rows(state, 0, bs)
            state = step(xgs[t], state)
            outs[t] = state[0] if isinstance(state, tuple) else state
        return outs, _join([state] + done[::-1])
    full = state
    state = _rows(full, 0, sizes[-1]) if sizes[-1] < sizes[0] else full
    for t in range(T - 1, -1, -1):
        bs = sizes[t]
        n = (state[0] if isinstance(state, tuple) else state).shape[0]
        if bs > n:                                  # sequences that start here join
            state = _join([state, _rows(full, n, bs)])
        state = step(xgs[t], state)
        outs[t] = state[0] if isinstance(state, tuple) else state
    return outs, state


class RNNBase(Module):
    """The shared multi-layer, optionally bidirectional, recurrence of RNN, LSTM and GRU."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          f"non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}")
        if not isinstance(hidden_size, int) or hidden_size <= 0:
            raise ValueError(f"hidden_size must be a positive integer, got {hidden_size!r}")
        if not isinstance(num_layers, int) or num_layers <= 0:
            raise ValueError(f"num_layers must be a positive integer, got {num_layers!r}")
        if proj_size < 0 or (proj_size and mode != "LSTM"):
            raise ValueError("proj_size should be a positive integer or zero to disable projections"
                             + ("" if mode == "LSTM" else "; it is only supported by LSTM"))
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bidirectional, proj_size
        gate_size = _GATES[mode] * hidden_size
        real_hidden = proj_size or hidden_size
        self._flat_weights_names = []
        for layer in range(num_layers):
            for suffix in ("", "_reverse")[:2 if bidirectional else 1]:
                layer_in = input_size if layer == 0 else real_hidden * (2 if bidirectional else 1)
                shapes = {"weight_ih": (gate_size, layer_in), "weight_hh": (gate_size, real_hidden)}
                if bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                if proj_size:
                    shapes["weight_hr"] = (proj_size, hidden_size)
                for kind, shape in shapes.items():
                    name = f"{kind}_l{layer}{suffix}"
                    setattr(self, name, Parameter(empty(shape, device=device, dtype=dtype)))
                    self._flat_weights_names.append(name)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    @property
    def _flat_weights(self):
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self):
        """The weights per (layer, direction): [[w_ih, w_hh, b_ih, b_hh(, w_hr)], ...]."""
        w, D = self._flat_weights, 2 if self.bidirectional else 1
        per = len(w) // (self.num_layers * D)
        return [w[i:i + per] for i in range(0, len(w), per)]

    def flatten_parameters(self):
        """No-op (kept for PyTorch compatibility: weights are always used as they are)."""

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    def _describe(self):
        return f"{self._get_name()}({self.extra_repr()})"

    def _check_input(self, input):
        layout = "(batch, seq, {})" if self.batch_first else "(seq, batch, {})"
        layout = layout.format(self.input_size)
        if input.ndim not in (2, 3):
            raise ValueError(f"{self._describe()}: expected input of shape {layout} or unbatched "
                             f"(seq, {self.input_size}), got {tuple(input.shape)}")
        if input.shape[-1] != self.input_size:
            expected = layout if input.ndim == 3 else f"(seq, {self.input_size})"
            raise RuntimeError(f"{self._describe()}: expected input of shape {expected}, got "
                               f"{tuple(input.shape)}")
        w = self.weight_ih_l0
        if input.dtype != w.dtype:
            raise ValueError(f"{self._describe()}: input dtype {input.dtype.name} does not match weight "
                             f"dtype {w.dtype.name}; convert the input (input.to({w.dtype.name})) or "
                             f"the model (model.to({input.dtype.name}))")

    def _check_hidden(self, hx, expected, what):
        if tuple(hx.shape) != expected:
            raise RuntimeError(f"{self._describe()}: expected {what} of shape {expected}, got "
                               f"{tuple(hx.shape)}")

    def forward(self, input, hx=None):
        packed = isinstance(input, PackedSequence)
        if packed:
            data, batch_sizes = input.data, input.batch_sizes.tolist()
            if data.ndim != 2 or data.shape[-1] != self.input_size:
                raise RuntimeError(f"{self._describe()}: expected packed data of shape (*, "
                                   f"{self.input_size}), got {tuple(data.shape)}")
            B, batched = batch_sizes[0], True
        else:
            self._check_input(input)
            batched = input.ndim == 3
            if not batched:
                input = input.unsqueeze(1)
            elif self.batch_first:
                input = input.transpose(0, 1)
            B = input.shape[1]
            batch_sizes = [B] * input.shape[0]
        state = self._initial_state(hx, B, batched, input.dtype if not packed else data.dtype)
        if packed and input.sorted_indices is not None:
            state = [s.index_select(1, input.sorted_indices) for s in state]

        D = 2 if self.bidirectional else 1
        x = data if packed else input
        finals, weights = [], self.all_weights
        for layer in range(self.num_layers):
            if layer and self.dropout and self.training:
                x = F.dropout(x, self.dropout, True)
            outs = []
            # the last layer's output laid out batch-first when that is what is returned
            last = layer == self.num_layers - 1 and D == 1
            for d in range(D):
                w = weights[layer * D + d]
                w_ih, w_hh = w[0], w[1]
                b_ih, b_hh = (w[2], w[3]) if self.bias else (None, None)
                w_hr = w[-1] if self.proj_size else None
                s0 = tuple(s[layer * D + d] for s in state)
                if not packed and not self.proj_size and not _grad_state.fw_level:
                    # the whole layer as one node (see ops/rnn.py: _Layer); forward-mode AD
                    # and packed or projected sequences take the per-step path below
                    hs, *final = self._layer(x, *s0, w_ih, w_hh, *(() if b_hh is None else (b_ih, b_hh)),
                                             reverse=d == 1, batch_first=last and self.batch_first)
                    outs.append(hs)
                    finals.append(tuple(final))
                    continue
                xg = _Linear.apply(x, w_ih, b_ih)
                xgs = split(xg, batch_sizes) if packed else unbind(xg, 0)
                hs, final = _scan(_step(self.mode, w_hh, b_hh, w_hr), xgs,
                                  s0 if self.mode == "LSTM" else s0[0], batch_sizes, reverse=d == 1)
                outs.append(cat(hs) if packed else stack(hs))
                finals.append(final if self.mode == "LSTM" else (final,))
            x = outs[0] if D == 1 else cat(outs, -1)
        h_n = tuple(stack(list(s)) for s in zip(*finals))
        if packed:
            if input.unsorted_indices is not None:
                h_n = tuple(h.index_select(1, input.unsorted_indices) for h in h_n)
            output = PackedSequence(x, input.batch_sizes, input.sorted_indices, input.unsorted_indices)
        else:
            output = x if batched else x.squeeze(1)
            if batched and self.batch_first:
                output = output.transpose(0, 1)
            if not batched:
                h_n = tuple(h.squeeze(1) for h in h_n)
        return output, (h_n if self.mode == "LSTM" else h_n[0])

    def _layer(self, *args, **kw):
        """One layer and direction as one op (LSTMLayer, GRULayer or RNNLayer)."""
        if self.mode == "LSTM":
            return LSTMLayer.apply(*args, **kw)
        if self.mode == "GRU":
            return GRULayer.apply(*args, **kw)
        return RNNLayer.apply(*args, nonlinearity="tanh" if self.mode == "RNN_TANH" else "relu", **kw)

    def _initial_state(self, hx, B, batched, dtype):
        """The initial states as a list [h0] or [h0, c0] of (layers * directions, B, size)."""
        D = 2 if self.bidirectional else 1
        sizes = [self.proj_size or self.hidden_size] + ([self.hidden_size] if self.mode == "LSTM" else [])
        names = ["h0", "c0"]
        if hx is None:
            return [zeros((self.num_layers * D, B, n), dtype=dtype) for n in sizes]
        hx = list(hx) if self.mode == "LSTM" else [hx]
        if len(hx) != len(sizes):
            raise RuntimeError(f"{self._describe()}: expected hx to be "
                               f"{'a tuple (h0, c0)' if self.mode == 'LSTM' else 'one tensor h0'}")
        out = []
        for h, n, name in zip(hx, sizes, names):
            expected = (self.num_layers * D, B, n) if batched else (self.num_layers * D, n)
            self._check_hidden(h, expected, name)
            out.append(h if batched else h.unsqueeze(1))
        return out


class RNN(RNNBase):
    """Elman RNN: h_t = tanh (or relu)(x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh)."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)


class LSTM(RNNBase):
    """Long short-term memory; forward returns (output, (h_n, c_n)).  With proj_size > 0 the
    hidden state is projected by weight_hr to proj_size after each step."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device=device, dtype=dtype)


class GRU(RNNBase):
    """Gated recurrent unit (PyTorch's formulation: r multiplies h @ W_hn.T + b_hn)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device=device, dtype=dtype)


class RNNCellBase(Module):
    """One time step; parameters weight_ih, weight_hh, bias_ih, bias_hh."""

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.weight_ih = Parameter(empty((num_chunks * hidden_size, input_size), device=device, dtype=dtype))
        self.weight_hh = Parameter(empty((num_chunks * hidden_size, hidden_size), device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty(num_chunks * hidden_size, device=device, dtype=dtype))
            self.bias_hh = Parameter(empty(num_chunks * hidden_size, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _prepare(self, input, hx, n_states):
        """Checked input and states, made batched; returns (input, states, batched)."""
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise (ValueError if input.ndim not in (1, 2) else RuntimeError)(
                f"{self._get_name()}({self.extra_repr()}): expected input of shape (batch, "
                f"{self.input_size}) or ({self.input_size},), got {tuple(input.shape)}")
        batched = input.ndim == 2
        if not batched:
            input = input.unsqueeze(0)
        B = input.shape[0]
        if hx is None:
            states = [zeros((B, self.hidden_size), dtype=input.dtype) for _ in range(n_states)]
        else:
            states = list(hx) if n_states == 2 else [hx]
            expected = (B, self.hidden_size) if batched else (self.hidden_size,)
            for s in states:
                if tuple(s.shape) != expected:
                    raise RuntimeError(f"{self._get_name()}({self.extra_repr()}): expected hidden "
                                       f"state of shape {expected}, got {tuple(s.shape)}")
            if not batched:
                states = [s.unsqueeze(0) for s in states]
        xg = _Linear.apply(input, self.weight_ih, self.bias_ih)
        hg = _Linear.apply(states[0], self.weight_hh, self.bias_hh)
        return xg, hg, states, batched


class RNNCell(RNNCellBase):
    """h' = tanh (or relu)(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, 1, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        xg, hg, _, batched = self._prepare(input, hx, 1)
        h = RNNGates.apply(xg, hg, nonlinearity=self.nonlinearity)
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """(h', c') from input and (h, c): gates i, f, g, o; c' = f*c + i*g, h' = o*tanh(c')."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        xg, hg, states, batched = self._prepare(input, hx, 2)
        h, c = LSTMGates.apply(xg, hg, states[1])
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """h' = (1 - z) * n + z * h with PyTorch's gates r, z, n."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        xg, hg, states, batched = self._prepare(input, hx, 1)
        h = GRUGates.apply(xg, hg, states[0])
        return h if batched else h.squeeze(0)
