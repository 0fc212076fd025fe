"""Fused recurrent cells: the nonlinear part of one time step as one op.

A step of an RNN/LSTM/GRU is two matrix products (`xg = x @ w_ih.T + b_ih`, done for
the whole sequence at once by the layers, and `hg = h @ w_hh.T + b_hh`) followed by gate
arithmetic.  That arithmetic is one op here, so a step is a handful of nodes; forward
keeps the gate activations for a plain backward, written directly on arrays.  When the
derivative is itself differentiated (create_graph), the same formulas run on tensors,
with the activations recomputed by differentiable ops.

`LSTMLayer` goes further for nn.LSTM: a whole layer over a sequence is one node with a
hand-written BPTT (its docstring says how double backward and JVP still work).

Gate layouts are PyTorch's: LSTM (i, f, g, o), GRU (r, z, n) with r applied to
(h @ w_hn.T + b_hn).  The public functions have the signatures of `torch.lstm_cell` etc.
"""
import functools

from ..autograd.grad_mode import state
from .._array import xp
from ..tensor import Tensor
from .batching import folding
from .nn import Linear
from .op import Op
from .shape import cat, stack


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

    batch = folding(first=3)

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


class LSTMLayer(Op):
    """A whole LSTM layer over a sequence as one node: (hs, h_T, c_T) from the input x
    (T, B, I), the initial state h0, c0 (B, H) and the weights w_ih, w_hh (and biases
    b_ih, b_hh, both or neither).

    Forward is a NumPy loop (one product and in-place gate arithmetic per step) keeping
    the gate activations, c_t and tanh(c_t); the plain backward is hand-written BPTT: per
    step one gate formula and one product for dh, then the weights' gradients as one
    product each over all steps.  Both loops work on transposed, feature-major states
    (4H or H, B): w_hh @ h^T is about 1.5x faster in OpenBLAS than h @ w_hh^T, each gate is
    a contiguous block of rows, and the input projection of all steps is one batched
    product w_ih @ x_t^T straight into that layout.  When the gradient itself must be
    differentiable (create_graph), the VJP instead recomputes the steps with
    differentiable ops (`_lstm_bptt`), so double backward works at the cost of that
    recomputation; the JVP also runs on tensors (`_lstm_tangents`).  With reverse=True the
    steps run from T-1 down to 0 (the backward direction of a bidirectional layer)."""

    op_name = "lstm_layer"
    n_out = 3

    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, *, reverse=False):
        if len({a.dtype for a in (x, h0, c0, w_ih, w_hh, b_ih, b_hh) if a is not None}) != 1:
            raise RuntimeError(f"lstm: expected input, states and weights of the same dtype, got input "
                               f"{x.dtype}, h0 {h0.dtype}, c0 {c0.dtype} and weights {w_ih.dtype}")
        T, H = x.shape[0], h0.shape[1]
        ctx.reverse = reverse
        scale, shift = (v[:, None] for v in _lstm_affine(H, x.dtype))
        # scale * (w_ih @ x_t + w_hh @ h + biases) is the argument of tanh: scale folded in
        acts = xp.matmul(w_ih * scale, x.transpose(0, 2, 1),
                         out=xp.empty((T, 4 * H, h0.shape[0]), dtype=x.dtype))
        if b_ih is not None:
            acts += ((b_ih + b_hh) * scale[:, 0])[:, None]
        hs, cs, tcs = (xp.empty((T, H, h0.shape[0]), dtype=x.dtype) for _ in range(3))
        w_s = w_hh * scale
        h, c, hg = h0.T.copy(), c0.T.copy(), xp.empty_like(acts[0])
        for t in (range(T - 1, -1, -1) if reverse else range(T)):
            a = acts[t]
            a += xp.matmul(w_s, h, out=hg)
            xp.tanh(a, out=a)
            a *= scale
            a += shift
            c2, tc = cs[t], tcs[t]
            xp.multiply(a[H:2 * H], c, out=c2)
            c2 += a[:H] * a[2 * H:3 * H]
            xp.tanh(c2, out=tc)
            h = xp.multiply(a[3 * H:], tc, out=hs[t])
            c = c2
        ctx.acts, ctx.cs, ctx.tcs = acts, cs, tcs
        return xp.ascontiguousarray(hs.transpose(0, 2, 1)), h.T.copy(), c.T.copy()

    def vjp(ctx, g_hs, g_h, g_c):
        if not _fast() or state.fw_level:        # the gradient's graph or tangents are needed
            return _lstm_bptt(ctx, g_hs, g_h, g_c)
        x, h0, c0, w_ih, w_hh = (ctx.input(k)._data for k in range(5))
        acts, cs, tcs, hs = ctx.acts, ctx.cs, ctx.tcs, ctx._out[0]
        T, H = acts.shape[0], h0.shape[1]
        g_hs = g_hs._data
        dh, dc = g_h._data.T.copy(), g_c._data.T.copy()              # (H, B)
        w_t = xp.ascontiguousarray(w_hh.T)
        da = xp.empty_like(acts)
        for t in (range(T) if ctx.reverse else range(T - 1, -1, -1)):
            prev = t + 1 if ctx.reverse else t - 1
            c_prev = cs[prev] if 0 <= prev < T else c0.T
            a, tc, d = acts[t], tcs[t], da[t]
            i, f, g, o = a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
            di, df, dg, do = d[:H], d[H:2 * H], d[2 * H:3 * H], d[3 * H:]
            dh += g_hs[t].T
            xp.multiply(tc, tc, out=do)                 # dc += dh * o * (1 - tanh(c)^2)
            xp.subtract(1, do, out=do)
            do *= o
            do *= dh
            dc += do
            xp.subtract(1, i, out=di)                   # d i = dc * g * i * (1 - i)
            di *= i
            di *= g
            di *= dc
            xp.subtract(1, f, out=df)                   # d f = dc * c_prev * f * (1 - f)
            df *= f
            df *= c_prev
            df *= dc
            xp.multiply(g, g, out=dg)                   # d g = dc * i * (1 - g^2)
            xp.subtract(1, dg, out=dg)
            dg *= i
            dg *= dc
            xp.subtract(1, o, out=do)                   # d o = dh * tanh(c) * o * (1 - o)
            do *= o
            do *= tc
            do *= dh
            dc *= f
            xp.matmul(w_t, d, out=dh)
        need = ctx.needs_input_grad
        grads = [None] * len(need)
        if need[0]:
            grads[0] = Tensor._make(xp.matmul(da.transpose(0, 2, 1), w_ih))
        if need[1]:
            grads[1] = Tensor._make(dh.T.copy())
        if need[2]:
            grads[2] = Tensor._make(dc.T.copy())
        da_rows = xp.ascontiguousarray(da.transpose(1, 0, 2)).reshape(4 * H, -1)   # (4H, T*B)
        if need[3]:
            grads[3] = Tensor._make(da_rows @ x.reshape(-1, x.shape[-1]))
        if need[4]:                     # sum over steps of da_t h_{t-1}^T: one product
            h_prev = xp.empty_like(hs)
            if ctx.reverse:
                h_prev[:-1], h_prev[-1] = hs[1:], h0
            else:
                h_prev[1:], h_prev[0] = hs[:-1], h0
            grads[4] = Tensor._make(da_rows @ h_prev.reshape(-1, H))
        if len(need) > 5 and (need[5] or need[6]):
            db = Tensor._make(da.sum((0, 2)))
            grads[5], grads[6] = (db if need[5] else None), (db if need[6] else None)
        return tuple(grads)

    def jvp(ctx, dx, dh0, dc0, dw_ih, dw_hh, db_ih=None, db_hh=None):
        return _lstm_tangents(ctx.args, (dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh), ctx.reverse)


def _lstm_steps(args, reverse):
    """The layer's forward on tensors: the input projections xg, and per step
    (t, h_prev, c_prev, (i, f, g, o), c, tanh c)."""
    x, h, c, w_ih, w_hh = args[:5]
    b_ih, b_hh = args[5:] if len(args) > 5 else (None, None)
    xg = Linear.apply(x, w_ih, b_ih)
    T, H = x.shape[0], c.shape[-1]
    steps = []
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        gates = _lstm_gates(xg[t], Linear.apply(h, w_hh, b_hh), H)
        c2 = gates[1] * c + gates[0] * gates[2]
        tc = c2.tanh()
        steps.append((t, h, c, gates, c2, tc))
        h, c = gates[3] * tc, c2
    return steps


def _lstm_bptt(ctx, g_hs, g_h, g_c):
    """LSTMLayer's VJP with differentiable ops (for create_graph)."""
    args = ctx.inputs
    x, w_ih, w_hh = args[0], args[3], args[4]
    steps = _lstm_steps(args, ctx.reverse)
    dh, dc = g_h, g_c
    das, h_prevs = [None] * len(steps), [None] * len(steps)
    for t, h, c, (i, f, g, o), c2, tc in reversed(steps):
        da, dc = _lstm_vjp(i, f, g, o, tc, c, dh + g_hs[t], dc, _cat_tensors)
        dh = da @ w_hh
        das[t], h_prevs[t] = da, h
    da = stack(das).flatten(0, 1)                                     # (T*B, 4H)
    need = ctx.needs_input_grad
    grads = [None] * len(need)
    if need[0]:
        grads[0] = (da @ w_ih).reshape(x.shape)
    grads[1], grads[2] = (dh if need[1] else None), (dc if need[2] else None)
    if need[3]:
        grads[3] = da.mT @ x.flatten(0, 1)
    if need[4]:
        grads[4] = da.mT @ stack(h_prevs).flatten(0, 1)
    if len(need) > 5:
        db = da.sum(0)
        grads[5], grads[6] = (db if need[5] else None), (db if need[6] else None)
    return tuple(grads)


def _lstm_tangents(args, tangents, reverse):
    """LSTMLayer's JVP on tensors: the tangents of (hs, h_T, c_T)."""
    dx, dh, dc, dw_ih, dw_hh, db_ih, db_hh = tangents
    x, w_ih, w_hh, H = args[0], args[3], args[4], args[2].shape[-1]
    bias = len(args) > 5
    dxg = Linear.apply(dx, w_ih) + Linear.apply(x, dw_ih)
    if bias:
        dxg = dxg + (db_ih + db_hh)
    dhs = [None] * x.shape[0]
    for t, h, c, (i, f, g, o), c2, tc in _lstm_steps(args, reverse):
        da = dxg[t] + Linear.apply(dh, w_hh) + Linear.apply(h, dw_hh)
        dc = (da[..., H:2 * H] * f * (1 - f) * c + f * dc + da[..., :H] * i * (1 - i) * g
              + i * da[..., 2 * H:3 * H] * (1 - g * g))
        dh = da[..., 3 * H:] * o * (1 - o) * tc + o * (1 - tc * tc) * dc
        dhs[t] = dh
    return stack(dhs), dh, dc


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

    batch = folding(first=3)

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

    batch = folding(first=2)

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
