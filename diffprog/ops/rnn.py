"""Fused recurrent cells: the nonlinear part of one time step as one op.

A step of an RNN/LSTM/GRU is two matrix products (`xg = x @ w_ih.T + b_ih`, done for
the whole sequence at once by the layers, and `hg = h @ w_hh.T + b_hh`) followed by gate
arithmetic.  That arithmetic is one op here, so a step is a handful of nodes; forward
keeps the gate activations for a plain backward, written directly on arrays.  When the
derivative is itself differentiated (create_graph), the same formulas run on tensors,
with the activations recomputed by differentiable ops.

Gate layouts are PyTorch's: LSTM (i, f, g, o), GRU (r, z, n) with r applied to
(h @ w_hn.T + b_hn).  The public functions have the signatures of `torch.lstm_cell` etc.
"""
import functools

from ..autograd.grad_mode import state
from ..backend import xp
from ..tensor import Tensor
from .nn import Linear
from .op import Op
from .shape import cat


def _sigmoid_(a):
    """In place: a <- sigmoid(a) = tanh(a / 2) / 2 + 1 / 2 (one transcendental)."""
    a *= 0.5
    xp.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


@functools.cache
def _lstm_affine(H, dtype):
    """Per-column (scale, shift) with scale * tanh(scale * a) + shift = (sigmoid, sigmoid,
    tanh, sigmoid)(a) on the gate blocks (i, f, g, o): all four in one tanh pass."""
    scale, shift = xp.full(4 * H, 0.5, dtype=dtype), xp.full(4 * H, 0.5, dtype=dtype)
    scale[2 * H:3 * H], shift[2 * H:3 * H] = 1, 0
    return scale, shift


def _fast():
    """True for a plain backward: the gradient's own graph is not needed."""
    return not state.grad_enabled


def _cat_arrays(parts):
    return Tensor._make(xp.concatenate(parts, axis=-1))


def _cat_tensors(parts):
    return cat(parts, -1)


# --- LSTM ------------------------------------------------------------------------------

def _lstm_gates(xg, hg, H):
    """(i, f, g, o) as tensors, recomputed with differentiable ops."""
    a = xg + hg
    return (a[..., :H].sigmoid(), a[..., H:2 * H].sigmoid(), a[..., 2 * H:3 * H].tanh(),
            a[..., 3 * H:].sigmoid())


def _lstm_vjp(i, f, g, o, tc, c, gh, gc, cat):
    """Gradients of (h', c') = (o * tanh(c'), f * c + i * g) w.r.t. the gate
    pre-activations and c; arrays or tensors alike."""
    dc = gc + gh * o * (1 - tc * tc)
    da = cat((dc * g * i * (1 - i), dc * c * f * (1 - f), dc * i * (1 - g * g), gh * tc * o * (1 - o)))
    return da, dc * f


class LSTMGates(Op):
    """(h', c') from the pre-activations xg + hg (..., 4H) and the cell state c (..., H)."""

    op_name = "lstm_cell"
    n_out = 2

    def forward(ctx, xg, hg, c):
        H = c.shape[-1]
        scale, shift = _lstm_affine(H, c.dtype)
        a = xg + hg
        a *= scale
        xp.tanh(a, out=a)
        a *= scale
        a += shift
        i, f, g, o = a[..., :H], a[..., H:2 * H], a[..., 2 * H:3 * H], a[..., 3 * H:]
        c2 = f * c
        c2 += i * g
        tc = xp.tanh(c2)
        ctx.acts, ctx.tc = a, tc
        return o * tc, c2

    def vjp(ctx, gh, gc):
        H = ctx.args[2].shape[-1]
        if _fast():
            a = ctx.acts
            da, dc = _lstm_vjp(a[..., :H], a[..., H:2 * H], a[..., 2 * H:3 * H], a[..., 3 * H:],
                               ctx.tc, ctx.input(2)._data, gh._data, gc._data, _cat_arrays)
            dc = Tensor._make(dc)
        else:
            xg, hg, c = ctx.inputs
            i, f, g, o = _lstm_gates(xg, hg, H)
            tc = (f * c + i * g).tanh()
            da, dc = _lstm_vjp(i, f, g, o, tc, c, gh, gc, _cat_tensors)
        need = ctx.needs_input_grad
        return (da if need[0] else None), (da if need[1] else None), (dc if need[2] else None)

    def jvp(ctx, dxg, dhg, dc):
        xg, hg, c = ctx.args
        H = c.shape[-1]
        i, f, g, o = _lstm_gates(xg, hg, H)
        c2 = f * c + i * g
        tc = c2.tanh()
        da = dxg + dhg
        dc2 = (da[..., H:2 * H] * f * (1 - f) * c + f * dc + da[..., :H] * i * (1 - i) * g
               + i * da[..., 2 * H:3 * H] * (1 - g * g))
        dh = da[..., 3 * H:] * o * (1 - o) * tc + o * (1 - tc * tc) * dc2
        return dh, dc2


# --- GRU -------------------------------------------------------------------------------

def _gru_vjp(r, z, n, hn, h, gh, cat):
    """Gradients of h' = (1 - z) * n + z * h, n = tanh(xn + r * hn), w.r.t. xg, hg and h."""
    dan = gh * (1 - z) * (1 - n * n)
    dar = dan * hn * r * (1 - r)
    daz = gh * (h - n) * z * (1 - z)
    return cat((dar, daz, dan)), cat((dar, daz, dan * r)), gh * z


class GRUGates(Op):
    """h' from the pre-activations xg, hg (..., 3H) and the hidden state h (..., H)."""

    op_name = "gru_cell"

    def forward(ctx, xg, hg, h):
        H = h.shape[-1]
        rz = _sigmoid_(xg[..., :2 * H] + hg[..., :2 * H])
        r, z = rz[..., :H], rz[..., H:]
        n = r * hg[..., 2 * H:]
        n += xg[..., 2 * H:]
        xp.tanh(n, out=n)
        ctx.rz, ctx.n = rz, n
        out = h - n
        out *= z
        out += n
        return out

    def vjp(ctx, g):
        H = ctx.args[2].shape[-1]
        if _fast():
            rz, hg = ctx.rz, ctx.input(1)._data
            grads = _gru_vjp(rz[..., :H], rz[..., H:], ctx.n, hg[..., 2 * H:], ctx.input(2)._data,
                             g._data, _cat_arrays)
            grads = grads[:2] + (Tensor._make(grads[2]),)
        else:
            xg, hg, h = ctx.inputs
            r, z, n = _gru_gates(xg, hg, H)
            grads = _gru_vjp(r, z, n, hg[..., 2 * H:], h, g, _cat_tensors)
        return tuple(gr if need else None for gr, need in zip(grads, ctx.needs_input_grad))

    def jvp(ctx, dxg, dhg, dh):
        xg, hg, h = ctx.args
        H = h.shape[-1]
        r, z, n = _gru_gates(xg, hg, H)
        da = dxg[..., :2 * H] + dhg[..., :2 * H]
        dr = da[..., :H] * r * (1 - r)
        dz = da[..., H:] * z * (1 - z)
        dn = (1 - n * n) * (dxg[..., 2 * H:] + dr * hg[..., 2 * H:] + r * dhg[..., 2 * H:])
        return dn * (1 - z) + dz * (h - n) + z * dh


def _gru_gates(xg, hg, H):
    """(r, z, n) as tensors, recomputed with differentiable ops."""
    rz = (xg[..., :2 * H] + hg[..., :2 * H]).sigmoid()
    r = rz[..., :H]
    return r, rz[..., H:], (xg[..., 2 * H:] + r * hg[..., 2 * H:]).tanh()


# --- Elman RNN -------------------------------------------------------------------------

class RNNGates(Op):
    """h' = tanh(xg + hg) or relu(xg + hg)."""

    op_name = "rnn_cell"

    def forward(ctx, xg, hg, *, nonlinearity):
        ctx.nonlinearity = nonlinearity
        a = xg + hg
        return xp.tanh(a, out=a) if nonlinearity == "tanh" else xp.maximum(a, 0, out=a)

    def deriv(ctx):
        """d h' / d(xg + hg), from the output (relu's derivative at 0 is 0, as in PyTorch)."""
        y = ctx.output
        if ctx.nonlinearity == "tanh":
            return 1 - y * y
        return Tensor._make((y._data > 0).astype(y._data.dtype))

    def vjp(ctx, g):
        if _fast() and ctx.nonlinearity == "tanh":
            y = ctx.output._data
            ga = Tensor._make(g._data * (1 - y * y))
        else:
            ga = g * ctx.deriv()
        need = ctx.needs_input_grad
        return (ga if need[0] else None), (ga if need[1] else None)

    def jvp(ctx, dxg, dhg):
        return (dxg + dhg) * ctx.deriv()


# --- public functions (torch.lstm_cell, torch.gru_cell, torch.rnn_tanh_cell, ...) ------

def _check(name, input, h, w_ih, w_hh, gates):
    H = h.shape[-1]
    if (input.ndim not in (1, 2) or w_ih.shape[0] != gates * H or w_hh.shape[0] != gates * H
            or input.shape[-1] != w_ih.shape[-1] or h.shape[-1] != w_hh.shape[-1]
            or h.shape[:-1] != input.shape[:-1]):
        raise RuntimeError(f"{name}: input {tuple(input.shape)} and hidden state {tuple(h.shape)} "
                           f"don't match w_ih {tuple(w_ih.shape)} and w_hh {tuple(w_hh.shape)} "
                           f"(expected input (batch, in), hidden (batch, H), w_ih ({gates}*H, in), "
                           f"w_hh ({gates}*H, H))")


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step: hx = (h, c) -> (h', c')."""
    h, c = hx
    _check("lstm_cell", input, c, w_ih, w_hh, 4)
    return LSTMGates.apply(Linear.apply(input, w_ih, b_ih), Linear.apply(h, w_hh, b_hh), c)


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step: h -> h'."""
    _check("gru_cell", input, hx, w_ih, w_hh, 3)
    return GRUGates.apply(Linear.apply(input, w_ih, b_ih), Linear.apply(hx, w_hh, b_hh), hx)


def _rnn_cell(nonlinearity):
    def rnn_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
        _check(f"rnn_{nonlinearity}_cell", input, hx, w_ih, w_hh, 1)
        return RNNGates.apply(Linear.apply(input, w_ih, b_ih), Linear.apply(hx, w_hh, b_hh),
                              nonlinearity=nonlinearity)
    rnn_cell.__name__ = rnn_cell.__qualname__ = f"rnn_{nonlinearity}_cell"
    rnn_cell.__doc__ = f"One Elman RNN step: h' = {nonlinearity}(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh)."
    return rnn_cell


rnn_tanh_cell = _rnn_cell("tanh")
rnn_relu_cell = _rnn_cell("relu")

METHODS = {}

__all__ = ["lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell"]
