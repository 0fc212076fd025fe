"""Fused recurrent cells: the nonlinear part of one time step as one op.

A step of an RNN/LSTM/GRU is two matrix products (`xg = x @ w_ih.T + b_ih`, done for
the whole sequence at once by the layers, and `hg = h @ w_hh.T + b_hh`) followed by gate
arithmetic.  That arithmetic is one op here, so a step is a handful of nodes; forward
keeps the gate activations for a plain backward, written directly on arrays.  When the
derivative is itself differentiated (create_graph), the same formulas run on tensors,
with the activations recomputed by differentiable ops.

`LSTMLayer`, `GRULayer` and `RNNLayer` go further for nn.LSTM, nn.GRU and nn.RNN: a whole
layer over a sequence is one node with a hand-written BPTT; they share everything but the
cell's own arithmetic (`_Layer`'s docstring says how, and how double backward, JVP and
vmap still work); where numba is installed, LSTMLayer's per-step gate
arithmetic runs as numba loops (`rnn_numba.py`), with the NumPy path kept.

Gate layouts are PyTorch's: LSTM (i, f, g, o), GRU (r, z, n) with r applied to
(h @ w_hn.T + b_hn).  The public functions have the signatures of `torch.lstm_cell` etc.
"""
import functools

from ..autograd.grad_mode import state
from .._array import xp
from .._array.device import device_of, move
from ..tensor import Tensor
from . import batching
from .nn import Linear
from .fast import rnn_kernels
from .op import Op
from .shape import cat, stack


def _sigmoid_(a):
    """In place: a <- sigmoid(a) = tanh(a / 2) / 2 + 1 / 2 (one transcendental)."""
    a *= 0.5
    xp.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


def _lstm_affine(H, like):
    """Per-column (scale, shift) with scale * tanh(scale * a) + shift = (sigmoid, sigmoid,
    tanh, sigmoid)(a) on the gate blocks (i, f, g, o): all four in one tanh pass; of
    `like`'s dtype, on its device."""
    return _lstm_affine_on(H, like.dtype, device_of(like))


@functools.cache
def _lstm_affine_on(H, dtype, device):
    scale, shift = xp.full(4 * H, 0.5, dtype=dtype), xp.full(4 * H, 0.5, dtype=dtype)
    scale[2 * H:3 * H], shift[2 * H:3 * H] = 1, 0
    return move(scale, device), move(shift, device)


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

    batch = batching.folding(first=3)

    def forward(ctx, xg, hg, c):
        H = c.shape[-1]
        scale, shift = _lstm_affine(H, c)
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
        i, f, g, o = _lstm_gates(xg, hg, c.shape[-1])
        return _lstm_tangent(i, f, g, o, (f * c + i * g).tanh(), c, dxg + dhg, dc)


def _lstm_tangent(i, f, g, o, tc, c, da, dc):
    """Tangents of (h', c') from those of the pre-activations (da) and of c."""
    H = c.shape[-1]
    dc2 = (da[..., H:2 * H] * f * (1 - f) * c + f * dc + da[..., :H] * i * (1 - i) * g
           + i * da[..., 2 * H:3 * H] * (1 - g * g))
    return da[..., 3 * H:] * o * (1 - o) * tc + o * (1 - tc * tc) * dc2, dc2


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

    batch = batching.folding(first=3)

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
        return _gru_tangent(*_gru_gates(xg, hg, H), hg[..., 2 * H:], h, dxg, dhg, dh)


def _gru_tangent(r, z, n, hn, h, dxg, dhg, dh):
    """Tangent of h' from those of xg, hg and h; hn = hg[..., 2H:]."""
    H = h.shape[-1]
    da = dxg[..., :2 * H] + dhg[..., :2 * H]
    dr = da[..., :H] * r * (1 - r)
    dz = da[..., H:] * z * (1 - z)
    dn = (1 - n * n) * (dxg[..., 2 * H:] + dr * hn + r * dhg[..., 2 * H:])
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

    batch = batching.folding(first=2)

    def forward(ctx, xg, hg, *, nonlinearity):
        ctx.nonlinearity = nonlinearity
        a = xg + hg
        return xp.tanh(a, out=a) if nonlinearity == "tanh" else xp.maximum(a, 0, out=a)

    def vjp(ctx, g):
        if _fast() and ctx.nonlinearity == "tanh":
            y = ctx.output._data
            ga = Tensor._make(g._data * (1 - y * y))
        else:
            ga = g * _rnn_deriv(ctx.output, ctx.nonlinearity)
        need = ctx.needs_input_grad
        return (ga if need[0] else None), (ga if need[1] else None)

    def jvp(ctx, dxg, dhg):
        return (dxg + dhg) * _rnn_deriv(ctx.output, ctx.nonlinearity)


def _rnn_deriv(y, nonlinearity):
    """d h' / d(xg + hg), from the output h' (relu's derivative at 0 is 0, as in PyTorch)."""
    if nonlinearity == "tanh":
        return 1 - y * y
    return (y > 0).to(y.dtype)


# --- whole layers: one node per layer and direction -------------------------------------

class _Layer(Op):
    """A whole recurrent layer over a sequence as one node: (hs, h_T) or, for LSTM,
    (hs, h_T, c_T) from the input x (T, B, I), the initial state h0 (and c0), each (B, H),
    the weights w_ih, w_hh and the biases b_ih, b_hh (both or neither).

    Forward is a NumPy loop (one product and in-place gate arithmetic per step) keeping
    the gates; the plain backward is hand-written BPTT: per step one gate formula and one
    product for dh, then each weight's gradient as one product over all steps.  Both loops
    work on transposed, feature-major states ((G*H or H, B), G gates): w_hh @ h^T is about
    1.5x faster in OpenBLAS than h @ w_hh^T, each gate is a contiguous block of rows, and
    the input projection of all steps is one batched product w_ih @ x_t^T straight into
    that layout.  When the gradient itself must be differentiable (create_graph), the VJP
    instead recomputes the steps with differentiable ops (`_bptt`), so double backward
    works at the cost of that recomputation; the JVP also runs on tensors (`_tangents`).
    With reverse=True the steps run from T-1 down to 0 (the backward direction of a
    bidirectional layer).  With batch_first=True hs is still (T, B, H) but laid out as
    (B, T, H) in memory, so that nn's batch-first output is contiguous (the Linear after
    it then copies nothing, forward or backward).

    A subclass is one cell: `n_state` (1: h; 2: h and c), on arrays `_run` (the forward
    loop) and `_back` (the backward loop, returning each step's gradients of x_t @ w_ih.T
    and h @ w_hh.T as rows of one (rows, T*B) array that `_blocks` locates), and on tensors
    `_cell`, `_cell_vjp` and `_cell_jvp` (one step, its VJP and its JVP)."""

    n_state = 1
    n_out = 2

    def forward(ctx, x, *args, reverse=False, batch_first=False):
        if len({a.dtype for a in (x,) + args}) != 1:
            raise RuntimeError(f"{ctx.name()}: expected input, states and weights of the same dtype, got "
                               f"input {x.dtype}, states {', '.join(str(s.dtype) for s in args[:ctx.n_state])} "
                               f"and weights {args[ctx.n_state].dtype}")
        k, T = ctx.n_state, x.shape[0]
        w_ih, w_hh = args[k], args[k + 1]
        b_ih, b_hh = args[k + 2:] or (None, None)
        ctx.reverse = reverse
        states = [s.T.copy() for s in args[:k]]
        hs, finals = ctx._run(x, states, w_ih, w_hh, b_ih, b_hh,
                              range(T - 1, -1, -1) if reverse else range(T))
        hs = hs.transpose(2, 0, 1).copy().transpose(1, 0, 2) if batch_first else hs.transpose(0, 2, 1).copy()
        return (hs,) + tuple(s.T.copy() for s in finals)

    def vjp(ctx, *g):
        if not _fast() or state.fw_level:        # the gradient's graph or tangents are needed
            return _bptt(ctx, g)
        k = ctx.n_state
        x, w_ih, w_hh = ctx.input(0)._data, ctx.input(k + 1)._data, ctx.input(k + 2)._data
        T, H = x.shape[0], w_hh.shape[1]
        states0 = [ctx.input(1 + j)._data.T for j in range(k)]
        rows, d0 = ctx._back(g[0]._data, [gj._data.T.copy() for gj in g[1:]], states0, w_hh,
                             range(T) if ctx.reverse else range(T - 1, -1, -1))
        need = ctx.needs_input_grad
        grads = [None] * len(need)
        for j in range(k):
            if need[1 + j]:
                grads[1 + j] = Tensor._make(d0[j].T.copy())
        x_rows, h_rows, shift = ctx._blocks(H)
        dxg, dhg = rows[x_rows], rows[h_rows]
        if need[0]:
            w = xp.roll(w_ih, shift, 0) if shift else w_ih
            grads[0] = Tensor._make((dxg.T @ w).reshape(x.shape))
        if need[k + 1]:
            grads[k + 1] = Tensor._make(_unroll(dxg @ x.reshape(-1, x.shape[2]), shift))
        if need[k + 2]:                 # sum over steps of dhg_t h_{t-1}^T: one product
            hs, h0 = ctx._out[0], ctx.input(1)._data
            h_prev = xp.empty_like(hs)
            if ctx.reverse:
                h_prev[:-1], h_prev[-1] = hs[1:], h0
            else:
                h_prev[1:], h_prev[0] = hs[:-1], h0
            grads[k + 2] = Tensor._make(dhg @ h_prev.reshape(-1, H))
        if len(need) > k + 3 and (need[k + 3] or need[k + 4]):
            db_hh = Tensor._make(dhg.sum(1))
            db_ih = db_hh if x_rows == h_rows else Tensor._make(_unroll(dxg.sum(1), shift))
            grads[k + 3], grads[k + 4] = (db_ih if need[k + 3] else None), (db_hh if need[k + 4] else None)
        return tuple(grads)

    def jvp(ctx, *tangents):
        return _tangents(ctx, ctx.args, tangents)

    @classmethod
    def batch(cls, n, args, batched, kwargs):
        """vmap over inputs and states: the batch folded into the sequences' batch dim
        (one layer run); over weights: once per element."""
        k = cls.n_state
        if any(batched[k + 1:]):
            return batching.loop(cls, n, args, batched, kwargs)
        x = batching.materialize(args[0], n, batched[0]).transpose(0, 1)            # (T, n, B, I)
        x = x.reshape((x.shape[0], -1, x.shape[-1]))
        states = [batching.fold_batch(batching.materialize(s, n, b)) for s, b in zip(args[1:k + 1], batched[1:])]
        out = cls.apply(x, *states, *args[k + 1:], **kwargs)
        hs = out[0].reshape((out[0].shape[0], n, -1, out[0].shape[-1])).transpose(0, 1)
        return (hs,) + tuple(batching.unfold_batch(s, n) for s in out[1:])

    def _blocks(ctx, H):
        """(rows of the backward buffer holding the gradient of x_t @ w_ih.T, those holding
        that of h @ w_hh.T, how far w_ih's rows are rolled to line up with the first)."""
        return slice(None), slice(None), 0


def _rows(da):
    """A (T, rows, B) buffer of per-step gradients as (rows, T*B), for the weight products."""
    return da.transpose(1, 0, 2).copy().reshape(da.shape[1], -1)


def _unroll(a, shift):
    """Rows of a gradient laid out like w_ih rolled by `shift`, back in w_ih's order."""
    return xp.roll(a, -shift, 0) if shift else a


def _project(x, w, b):
    """w @ x_t^T + b for every step t at once: (T, rows of w, B), feature-major."""
    out = xp.matmul(w, x.transpose(0, 2, 1), out=xp.empty((x.shape[0], w.shape[0], x.shape[1]), dtype=x.dtype, like=x))
    if b is not None:
        out += b[:, None]
    return out


class LSTMLayer(_Layer):
    """nn.LSTM's layer (see `_Layer`): args x, h0, c0, w_ih, w_hh(, b_ih, b_hh)."""

    op_name = "lstm_layer"
    n_state = 2
    n_out = 3

    def _run(ctx, x, states, w_ih, w_hh, b_ih, b_hh, order):
        (h, c), H = states, w_hh.shape[1]
        scale = _lstm_affine(H, x)[0][:, None]
        # scale * (w_ih @ x_t + w_hh @ h + biases) is the argument of tanh: scale folded in
        fast, half = rnn_kernels(x, w_hh, h, c), x.dtype.type(0.5)
        bias = None if b_ih is None else (b_ih + b_hh) * scale[:, 0]
        # the kernels add the bias at each step, where the step's block is in cache anyway
        acts = _project(x, w_ih * scale, None if fast else bias)
        T, B = acts.shape[0], acts.shape[2]
        hs, cs, tcs = (xp.empty((T, H, B), dtype=x.dtype, like=x) for _ in range(3))
        w_s, hg = w_hh * scale, xp.empty_like(acts[0])
        for t in order:
            a, c2, tc = acts[t], cs[t], tcs[t]
            xp.matmul(w_s, h, out=hg)
            if fast:
                fast.add_preactivations(acts, t, hg, bias)
            else:
                a += hg
            xp.tanh(a, out=a)
            if fast:
                fast.lstm_cell(acts, t, c, c2, half)
            else:
                for s in (a[:2 * H], a[3 * H:]):        # sigmoid(x) = tanh(x / 2) / 2 + 1 / 2
                    s *= half
                    s += half
                xp.multiply(a[H:2 * H], c, out=c2)
                c2 += a[:H] * a[2 * H:3 * H]
            xp.tanh(c2, out=tc)
            h = xp.multiply(a[3 * H:], tc, out=hs[t])
            c = c2
        ctx.acts, ctx.cs, ctx.tcs = acts, cs, tcs
        return hs, (h, c)

    def _back(ctx, g_hs, d_final, states0, w_hh, order):
        acts, cs, tcs = ctx.acts, ctx.cs, ctx.tcs
        (dh, dc), T, H = d_final, acts.shape[0], w_hh.shape[1]
        w_t, c0 = w_hh.T.copy(), states0[1].copy()
        fast = rnn_kernels(acts, dh, dc, g_hs)
        # the kernel writes step t's gradients straight into block t of a (4H, T, B) buffer,
        # already laid out for the weight products; NumPy's strided writes would cost more
        # than one transposed copy of a (T, 4H, B) buffer at the end
        da = xp.empty((4 * H, T, dh.shape[1]), dtype=acts.dtype) if fast else xp.empty_like(acts)
        tmp, one = xp.empty_like(dh), acts.dtype.type(1)
        for t in order:
            prev = t + 1 if ctx.reverse else t - 1
            c_prev = cs[prev] if 0 <= prev < T else c0
            if fast:
                fast.lstm_cell_back(acts, tcs, t, c_prev, g_hs, dh, dc, da, one, tmp)
                d = da[:, t]
            else:
                d = da[t]
                _lstm_back_step(acts[t], tcs[t], c_prev, g_hs[t].T, dh, dc, d, tmp)
            xp.matmul(w_t, d, out=dh)
        return (da.reshape(4 * H, -1) if fast else _rows(da)), (dh, dc)

    def _cell(ctx, xg, hg, state):
        i, f, g, o = _lstm_gates(xg, hg, state[1].shape[-1])
        c2 = f * state[1] + i * g
        tc = c2.tanh()
        return (o * tc, c2), (i, f, g, o, tc)

    def _cell_vjp(ctx, saved, state, hg, d):
        da, dc = _lstm_vjp(*saved, state[1], d[0], d[1], _cat_tensors)
        return da, da, (None, dc)

    def _cell_jvp(ctx, saved, state, hg, dxg, dhg, d):
        return _lstm_tangent(*saved, state[1], dxg + dhg, d[1])


def _lstm_back_step(a, tc, c_prev, g_h, dh, dc, d, tmp):
    """One step of the LSTM layer's BPTT on (.., B) arrays, in NumPy (`rnn_numba.py` has
    the same as one loop): dh += g_h; writes the pre-activations' gradients into d (4H, B)
    and dc <- (dc + dh o (1 - tanh(c')^2)) f."""
    H, B = dc.shape
    i, f, g, o = a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
    di, df, dg, do = d[:H], d[H:2 * H], d[2 * H:3 * H], d[3 * H:]
    dh += g_h
    xp.multiply(tc, tc, out=tmp)                        # dc += dh * o * (1 - tanh(c)^2)
    xp.subtract(1, tmp, out=tmp)
    tmp *= o
    tmp *= dh
    dc += tmp
    xp.subtract(1, a[:2 * H], out=d[:2 * H])            # (d i, d f, d g) = dc * (g * i * (1 - i),
    d[:2 * H] *= a[:2 * H]                              #   c_prev * f * (1 - f), i * (1 - g^2))
    di *= g
    df *= c_prev
    xp.multiply(g, g, out=dg)
    xp.subtract(1, dg, out=dg)
    dg *= i
    d_ifg = d[:3 * H].reshape(3, H, B)
    d_ifg *= dc
    xp.subtract(1, o, out=do)                           # d o = dh * tanh(c) * o * (1 - o)
    do *= o
    do *= tc
    do *= dh
    dc *= f


class GRULayer(_Layer):
    """nn.GRU's layer (see `_Layer`): args x, h0, w_ih, w_hh(, b_ih, b_hh).  Forward keeps
    r, z, n, h @ w_hn.T + b_hn and h - n per step; the backward buffer's rows are
    (d xn, d r, d z, d hn), so that the gradient of h @ w_hh.T is rows H:4H, that of
    x_t @ w_ih.T rows 0:3H in the order (n, r, z)."""

    op_name = "gru_layer"

    def _run(ctx, x, states, w_ih, w_hh, b_ih, b_hh, order):
        (h,), H = states, w_hh.shape[1]
        # r and z are sigmoid(a) = tanh(a / 2) / 2 + 1 / 2: their rows of the weights halved
        half = _gru_scale(H, x)
        b = None
        if b_ih is not None:
            b = b_ih * half
            b[:2 * H] += b_hh[:2 * H] * 0.5
        acts = _project(x, w_ih * half[:, None], b)
        T, B = acts.shape[0], acts.shape[2]
        hs, hns, hmn = (xp.empty((T, H, B), dtype=x.dtype, like=x) for _ in range(3))
        w_s, hg = w_hh * half[:, None], xp.empty_like(acts[0])
        b_n = None if b_hh is None else b_hh[2 * H:, None]
        for t in order:
            a, hn = acts[t], hns[t]
            xp.matmul(w_s, h, out=hg)
            rz = a[:2 * H]
            rz += hg[:2 * H]
            xp.tanh(rz, out=rz)
            rz *= 0.5
            rz += 0.5
            r, z, n = a[:H], a[H:2 * H], a[2 * H:]
            if b_n is None:
                hn[...] = hg[2 * H:]
            else:
                xp.add(hg[2 * H:], b_n, out=hn)
            n += r * hn                                 # n = tanh(xn + r * hn)
            xp.tanh(n, out=n)
            xp.subtract(h, n, out=hmn[t])               # h' = n + z * (h - n)
            h = xp.multiply(z, hmn[t], out=hs[t])
            h += n
        ctx.acts, ctx.hns, ctx.hmn = acts, hns, hmn
        return hs, (h,)

    def _back(ctx, g_hs, d_final, states0, w_hh, order):
        acts, hns, hmn = ctx.acts, ctx.hns, ctx.hmn
        (dh,), H = d_final, w_hh.shape[1]
        T, B = acts.shape[0], acts.shape[2]
        w_t = w_hh.T.copy()
        da, dhz = xp.empty((T, 4 * H, B), dtype=acts.dtype, like=acts), xp.empty_like(dh)
        for t in order:
            a, hn, d = acts[t], hns[t], da[t]
            r, z, n = a[:H], a[H:2 * H], a[2 * H:]
            dxn, dr, dz, dhn = d[:H], d[H:2 * H], d[2 * H:3 * H], d[3 * H:]
            dh += g_hs[t].T
            xp.multiply(n, n, out=dxn)                  # d xn = dh * (1 - z) * (1 - n^2)
            xp.subtract(1, dxn, out=dxn)
            dxn *= dh
            xp.subtract(1, z, out=dz)
            dxn *= dz
            xp.multiply(dxn, r, out=dhn)                # d hn = d xn * r
            xp.subtract(1, r, out=dr)                   # d r = d xn * hn * r * (1 - r)
            dr *= r
            dr *= hn
            dr *= dxn
            dz *= z                                     # d z = dh * (h - n) * z * (1 - z)
            dz *= hmn[t]
            dz *= dh
            xp.multiply(dh, z, out=dhz)                 # dh_prev = w_hh^T (dr, dz, dhn) + dh * z
            xp.matmul(w_t, d[H:], out=dh)
            dh += dhz
        return _rows(da), (dh,)

    def _blocks(ctx, H):
        return slice(0, 3 * H), slice(H, 4 * H), H

    def _cell(ctx, xg, hg, state):
        h = state[0]
        r, z, n = _gru_gates(xg, hg, h.shape[-1])
        return ((h - n) * z + n,), (r, z, n)

    def _cell_vjp(ctx, saved, state, hg, d):
        H = state[0].shape[-1]
        dxg, dhg, dh = _gru_vjp(*saved, hg[..., 2 * H:], state[0], d[0], _cat_tensors)
        return dxg, dhg, (dh,)

    def _cell_jvp(ctx, saved, state, hg, dxg, dhg, d):
        H = state[0].shape[-1]
        return (_gru_tangent(*saved, hg[..., 2 * H:], state[0], dxg, dhg, d[0]),)


def _gru_scale(H, like):
    """1/2 on the rows of r and z, 1 on those of n (`like`'s dtype and device)."""
    return _gru_scale_on(H, like.dtype, device_of(like))


@functools.cache
def _gru_scale_on(H, dtype, device):
    scale = xp.full(3 * H, 0.5, dtype=dtype)
    scale[2 * H:] = 1
    return move(scale, device)


class RNNLayer(_Layer):
    """nn.RNN's layer (see `_Layer`): args x, h0, w_ih, w_hh(, b_ih, b_hh), option
    nonlinearity ("tanh" or "relu").  The outputs are all forward keeps."""

    op_name = "rnn_layer"

    def forward(ctx, *args, nonlinearity, reverse=False, batch_first=False):
        ctx.nonlinearity = nonlinearity
        return _Layer.forward(ctx, *args, reverse=reverse, batch_first=batch_first)

    def _run(ctx, x, states, w_ih, w_hh, b_ih, b_hh, order):
        (h,) = states
        hs = _project(x, w_ih, None if b_ih is None else b_ih + b_hh)
        hg = xp.empty_like(hs[0])
        for t in order:
            a = hs[t]
            a += xp.matmul(w_hh, h, out=hg)
            h = xp.tanh(a, out=a) if ctx.nonlinearity == "tanh" else xp.maximum(a, 0, out=a)
        ctx.hs = hs
        return hs, (h,)

    def _back(ctx, g_hs, d_final, states0, w_hh, order):
        hs, (dh,) = ctx.hs, d_final
        w_t = w_hh.T.copy()
        da = xp.empty_like(hs)
        for t in order:
            h, d = hs[t], da[t]
            dh += g_hs[t].T
            if ctx.nonlinearity == "tanh":              # d a = dh * (1 - h^2)
                xp.multiply(h, h, out=d)
                xp.subtract(1, d, out=d)
                d *= dh
            else:                                       # d a = dh * (h > 0)
                xp.multiply(dh, h > 0, out=d)
            xp.matmul(w_t, d, out=dh)
        return _rows(da), (dh,)

    def _cell(ctx, xg, hg, state):
        a = xg + hg
        h = a.tanh() if ctx.nonlinearity == "tanh" else a.relu()
        return (h,), _rnn_deriv(h, ctx.nonlinearity)

    def _cell_vjp(ctx, deriv, state, hg, d):
        da = d[0] * deriv
        return da, da, (None,)

    def _cell_jvp(ctx, deriv, state, hg, dxg, dhg, d):
        return ((dxg + dhg) * deriv,)


# --- whole layers on tensors: the VJP for create_graph, and the JVP --------------------

def _steps(ctx, args):
    """The layer's forward on tensors: the input projections xg (T, B, rows) and per step
    (t, state before it, h @ w_hh.T + b_hh, what the cell kept)."""
    k = ctx.n_state
    x, state, w_ih, w_hh = args[0], tuple(args[1:k + 1]), args[k + 1], args[k + 2]
    b_ih, b_hh = args[k + 3:] or (None, None)
    xg = Linear.apply(x, w_ih, b_ih)
    steps = []
    for t in (range(x.shape[0] - 1, -1, -1) if ctx.reverse else range(x.shape[0])):
        hg = Linear.apply(state[0], w_hh, b_hh)
        new, saved = ctx._cell(xg[t], hg, state)
        steps.append((t, state, hg, saved))
        state = new
    return xg, steps


def _bptt(ctx, g):
    """The layer's VJP with differentiable ops (for create_graph)."""
    args, k = ctx.inputs, ctx.n_state
    x, w_ih, w_hh = args[0], args[k + 1], args[k + 2]
    _, steps = _steps(ctx, args)
    d = tuple(g[1:])
    dxgs, dhgs, h_prevs = [None] * len(steps), [None] * len(steps), [None] * len(steps)
    for t, s, hg, saved in reversed(steps):
        dxg, dhg, direct = ctx._cell_vjp(saved, s, hg, (d[0] + g[0][t],) + d[1:])
        dh = dhg @ w_hh
        d = (dh if direct[0] is None else dh + direct[0],) + direct[1:]
        dxgs[t], dhgs[t], h_prevs[t] = dxg, dhg, s[0]
    dxg = stack(dxgs).flatten(0, 1)                                     # (T*B, rows)
    dhg = dxg if dhgs[0] is dxgs[0] else stack(dhgs).flatten(0, 1)
    need = ctx.needs_input_grad
    grads = [None] * len(need)
    if need[0]:
        grads[0] = (dxg @ w_ih).reshape(x.shape)
    for j in range(k):
        grads[1 + j] = d[j] if need[1 + j] else None
    if need[k + 1]:
        grads[k + 1] = dxg.mT @ x.flatten(0, 1)
    if need[k + 2]:
        grads[k + 2] = dhg.mT @ stack(h_prevs).flatten(0, 1)
    if len(need) > k + 3:
        grads[k + 3] = dxg.sum(0) if need[k + 3] else None
        grads[k + 4] = dhg.sum(0) if need[k + 4] else None
    return tuple(grads)


def _tangents(ctx, args, tangents):
    """The layer's JVP on tensors: the tangents of (hs, h_T(, c_T))."""
    k = ctx.n_state
    x, w_ih, w_hh = args[0], args[k + 1], args[k + 2]
    dx, d, dw_ih, dw_hh = tangents[0], tuple(tangents[1:k + 1]), tangents[k + 1], tangents[k + 2]
    db_ih, db_hh = tangents[k + 3:] or (None, None)
    xg, steps = _steps(ctx, args)
    dxg = Linear.apply(dx, w_ih, None) + Linear.apply(x, dw_ih, db_ih)
    dhs = [None] * x.shape[0]
    for t, s, hg, saved in steps:
        dhg = Linear.apply(d[0], w_hh, None) + Linear.apply(s[0], dw_hh, db_hh)
        d = ctx._cell_jvp(saved, s, hg, dxg[t], dhg, d)
        dhs[t] = d[0]
    return (stack(dhs),) + d


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
