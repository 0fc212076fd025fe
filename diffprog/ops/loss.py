"""The hot classification losses as fused ops (the other losses are compositions of ops,
in `diffprog.nn.functional`, which also wraps these two).

`CrossEntropy`: log-softmax and the negative log-likelihood of class indices in one pass,
with class weights, `ignore_index` and label smoothing.  For target element i (a row of
classes c), target t_i, class weights w (1 when not given) and smoothing e over C classes:

    loss_i = -sum_c q_ic log softmax(x_i)_c,   q_ic = (1 - e) w_t [c = t_i] + (e / C) w_c

with q_i = 0 where t_i == ignore_index.  So d loss_i / d x_i = Q_i softmax(x_i) - q_i,
Q_i = sum_c q_ic: forward keeps exp(x) and its row sums, and `CrossEntropyBackward` (an op
of its own, hence differentiable again) scales them in one pass.  Rows are shifted by their
max only when some |x| is large enough for exp to overflow or vanish.  'mean' divides by the summed weights w_t of the
non-ignored targets, as PyTorch does.

`NllLoss`: -w_t x_i[t_i] picked from log-probabilities; its adjoint `NllBackward` puts
-w_t g back at the targets.

`BceWithLogits`: the unreduced binary cross entropy of logits (the VAEs' reconstruction
loss), one pass for softplus(x) - t x and sigmoid(x); `BceWithLogitsBackward` scales
sigmoid(x) - t by the incoming gradient.  `nn.functional` uses it when there is no
pos_weight.

`BinaryCrossEntropy`: the unreduced binary cross entropy of probabilities, with PyTorch's
derivatives, which stay finite where a probability is exactly 0 or 1 (float32's sigmoid
reaches 1 near 17): the derivative of the clamped logs would be 0 * inf there.

None of this is a PyTorch top-level function, so `__all__` is empty.
"""
import math
from types import SimpleNamespace

from .. import dtypes as _dt
from .._array import full, ones, xp
from .._array.device import key_for
from ..tensor import Tensor
from .batching import (array_of, batch_function, broadcasting, fold_batch, lift, loop, materialize,
                       unfold_batch)
from .fast import erf_kernels
from .selection import where
from .indexing import Index
from .op import Op, quiet
from .shape import stack
from .softmax import softmax


# --- helpers -------------------------------------------------------------------------

_EXP_SAFE = {"f": 80.0, "d": 700.0}    # exp(x) is finite and normal for |x| below these


def _rows(x):
    """x as a (rows, classes) array: the class dim (1, or 0 for a 1-d x) moved last."""
    if x.ndim == 2:
        return x
    if x.ndim == 1:
        return x[None]
    return xp.moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def _unrows(a, shape):
    """The inverse of `_rows`: a (rows, classes) array back in x's layout."""
    if len(shape) == 2:
        return a
    if len(shape) == 1:
        return a[0]
    return xp.moveaxis(a.reshape((shape[0],) + shape[2:] + (shape[1],)), -1, 1)


def _class_dim(shape):
    return 1 if len(shape) > 1 else 0


def _broadcast_rows(a, shape):
    """A flat per-target-element array as a constant tensor broadcasting against x's shape."""
    return Tensor._make(a.reshape((shape[0], 1) + shape[2:] if len(shape) > 1 else (-1,)))


def _targets(t, weight, ignore_index, dtype):
    """Flat safe target indices (ignored ones replaced by 0) and the weights w_t of the
    targets (0 where ignored), in the loss's dtype."""
    t = t.reshape(-1)
    valid = t != ignore_index
    if valid.all():
        return t, (weight[t] if weight is not None else ones(t.shape, dtype, like=t)), valid
    ts = xp.where(valid, t, 0)
    wt = weight[ts] * valid if weight is not None else valid.astype(dtype)
    return ts, wt, valid


def _reduce(loss, wt, reduction):
    """The reduced loss and the factor d loss / d loss_i (before the class weights)."""
    if reduction == "none":
        return loss, 1
    if reduction == "sum":
        return loss.sum(), 1
    denom = wt.sum()
    if not denom:                           # nothing to average: nan, as PyTorch
        return full((), xp.nan, loss.dtype, like=loss), denom
    return loss.sum() / denom, 1 / denom


# --- cross entropy -------------------------------------------------------------------

class CrossEntropy(Op):
    """Cross entropy of logits x (classes along dim 1, or 0 for 1-d x) and class indices."""

    op_name = "cross_entropy"

    @quiet
    def forward(ctx, x, target, weight, ignore_index, reduction, label_smoothing):
        z = _rows(x)
        M, C = z.shape
        ts, wt, valid = _targets(target, weight, ignore_index, x.dtype)
        rows = xp.arange(M, like=z)
        # Usually |x| is moderate and exp(x) can neither overflow nor vanish for a whole row:
        # then skip shifting each row by its max (a pass over the data and a temporary less)
        if z.size:
            limit = _EXP_SAFE.get(z.dtype.char, 0.0) - math.log(C)   # (other dtypes: always)
            if not (z.max() < limit and z.min() > -limit):
                z = z - z.max(axis=1, keepdims=True)
        zt = z[rows, ts]
        e = label_smoothing
        if e:
            valid = valid.astype(x.dtype)
            zw = z.sum(axis=1) if weight is None else z @ weight
        z = xp.exp(z) if xp.may_share_memory(z, x) else xp.exp(z, out=z)
        total = z @ ones(C, z.dtype, like=z)                    # row sums (BLAS: fast)
        lse = xp.log(total)
        loss = (lse - zt) * wt
        Q = wt
        if e:
            W = C if weight is None else weight.sum()
            loss *= 1 - e
            loss += (e / C) * (W * lse - zw) * valid
            Q = (1 - e) * wt + (e / C) * W * valid
        out, scale = _reduce(loss.reshape(target.shape), wt, reduction)
        # softmax(x) = exp / total: backward scales exp by Q / total in one pass
        ctx.s = SimpleNamespace(exp=z, inv=1 / total, rows=rows, ts=ts, wt=wt, Q=Q, valid=valid,
                                w=weight, e=e, C=C, scale=scale, reduction=reduction,
                                shape=x.shape, tshape=target.shape)
        return out

    def vjp(ctx, g):
        return CrossEntropyBackward.apply(g, ctx.input(0), s=ctx.s)

    def jvp(ctx, dx):
        return _per_element(_unit_grad(ctx.args[0], ctx.s) * dx, ctx.s)


class CrossEntropyBackward(Op):
    """d loss / d x = r (Q softmax(x) - q), r = g times the reduction's scale."""

    op_name = "cross_entropy_backward"

    @classmethod
    def batch(cls, n, args, batched, kwargs):
        return _linear_in_g(cls, n, args, batched, kwargs, lambda: _unit_grad(args[1], kwargs["s"]))

    def forward(ctx, g, x, s):
        ctx.s = s
        r = g.reshape(-1) * s.scale if s.reduction == "none" else g * s.scale
        out = s.exp * (r * s.Q * s.inv)[:, None]
        if s.e:
            out -= (r * (s.e / s.C) * s.valid)[:, None] * (1 if s.w is None else s.w)
        out[s.rows, s.ts] -= r * (1 - s.e) * s.wt
        return _unrows(out, s.shape)

    def vjp(ctx, gg):
        g, x = ctx.inputs
        need_g, need_x = ctx.needs_input_grad
        dg = _per_element(_unit_grad(x, ctx.s) * gg, ctx.s) if need_g else None
        return dg, (_softmax_hvp(g, x, gg, ctx.s) if need_x else None)

    def jvp(ctx, dg, dx):
        g, x = ctx.args
        return CrossEntropyBackward.apply(dg, x, s=ctx.s) + _softmax_hvp(g, x, dx, ctx.s)


def _linear_in_g(cls, n, args, batched, kwargs, unit):
    """vmap of a loss's backward op over a batch of incoming gradients g (the loss's own
    inputs shared): the op is linear in g, so it is the backward for g = 1 scaled by g."""
    if any(batched[1:]):
        return loop(cls, n, args, batched, kwargs)
    g, s = args[0], kwargs["s"]
    u = unit()
    if s.reduction == "none":
        return u * g.unsqueeze(_class_dim(s.shape) + 1)
    return u * lift(g, u.ndim)


def _unit_grad(x, s):
    """d loss_i / d x_i (times the reduction's scale): the backward for a gradient of ones."""
    g = ones(s.tshape if s.reduction == "none" else (), s.exp.dtype, like=s.exp)
    return CrossEntropyBackward.apply(Tensor._make(g), x, s=s)


def _per_element(a, s):
    """Sum a's classes (for 'none'), or all of it (for a reduced loss)."""
    return a.sum(_class_dim(s.shape)) if s.reduction == "none" else a.sum()


def _softmax_hvp(g, x, v, s):
    """The derivative of r (Q softmax(x) - q) along v: r Q p * (v - <v, p>), p = softmax(x)."""
    d = _class_dim(s.shape)
    if s.reduction == "none" and g.ndim:
        g = g.unsqueeze(d)
    p = softmax(x, d)
    return g * _broadcast_rows(s.Q * s.scale, s.shape) * p * (v - (v * p).sum(d, keepdim=True))


# --- nll -----------------------------------------------------------------------------

class NllLoss(Op):
    """-w_t x[t]: the negative log-likelihood of class indices given log-probabilities x."""

    op_name = "nll_loss"

    def forward(ctx, x, target, weight, ignore_index, reduction):
        ts, wt, _ = _targets(target, weight, ignore_index, x.dtype)
        ts, wt = ts.reshape(target.shape), wt.reshape(target.shape)
        grid = xp.indices(ts.shape, sparse=True)
        key = key_for(x, grid[:1] + (ts,) + grid[1:])     # x[key][i, ...] = x[i, t_i, ...]
        out, scale = _reduce(-x[key] * wt, wt, reduction)
        ctx.s = SimpleNamespace(key=key, coef=-wt * scale, shape=x.shape, reduction=reduction)
        return out

    def vjp(ctx, g):
        return NllBackward.apply(g, s=ctx.s)

    def jvp(ctx, dx):
        return _nll_pick(dx, ctx.s)


class NllBackward(Op):
    """Zeros with -w_t g (times the reduction's scale) at the targets: NllLoss's adjoint."""

    op_name = "nll_loss_backward"

    @classmethod
    def batch(cls, n, args, batched, kwargs):
        s = kwargs["s"]
        d = _class_dim(s.shape)
        tshape = s.shape[:d] + s.shape[d + 1:] if s.reduction == "none" else ()
        g = Tensor._make(ones(tshape, dtype=args[0].dtype.np, like=array_of(args[0])))
        return _linear_in_g(cls, n, args, batched, kwargs, lambda: cls.apply(g, s=s))

    def forward(ctx, g, s):
        ctx.s = s
        out = xp.zeros(s.shape, g.dtype, like=g)
        out[s.key] = g * s.coef                            # one position per target: no sums
        return out

    def vjp(ctx, gg):
        return _nll_pick(gg, ctx.s)

    def jvp(ctx, dg):
        return NllBackward.apply(dg, s=ctx.s)


def _nll_pick(a, s):
    """The linear map NllLoss applies to x, applied to a (a tangent, or a cotangent of the
    backward)."""
    picked = Index.apply(a, key=s.key) * Tensor._make(s.coef)
    return picked if s.reduction == "none" else picked.sum()


# --- the functions (nn.functional adds PyTorch's argument handling) ------------------

def _check_classes(name, input, target, weight, ignore_index, reduction):
    """Validate logits/log-probabilities and class-index targets (shapes, dtypes, range);
    return the target and weight arrays."""
    t = target._data if isinstance(target, Tensor) else xp.asarray(target)
    x = input._data
    shape = x.shape
    want = shape[:1] + shape[2:] if x.ndim > 1 else ()
    if t.shape != want or x.dtype.kind != "f" or t.dtype.kind not in "iu" or not x.ndim:
        what = (f"(input {shape} {input.dtype.name}, target {t.shape} "
                f"{_dt.from_numpy_dtype(t.dtype).name})")
        if not x.ndim:
            raise RuntimeError(f"{name}: input must have a dimension of classes {what}")
        if x.dtype.kind != "f":
            raise RuntimeError(f"{name}: expected a floating point input {what}")
        if t.dtype.kind not in "iu":
            raise RuntimeError(f"{name}: expected class indices (an integer target) or, for "
                               f"cross_entropy, class probabilities of the input's shape {what}")
        if x.ndim > 1 and t.ndim and t.shape[0] != shape[0]:
            raise ValueError(f"{name}: expected input batch_size ({shape[0]}) to match target "
                             f"batch_size ({t.shape[0]}) {what}")
        raise RuntimeError(f"{name}: expected target of shape {want} {what}")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{name}: {reduction} is not a valid value for reduction")
    C = shape[_class_dim(shape)]
    if t.size and (t.min() < 0 or t.max() >= C):
        bad = ((t < 0) | (t >= C)) & (t != ignore_index)
        if bad.any():
            raise IndexError(f"{name}: target {t[bad].flat[0]} is out of bounds for {C} classes")
    if weight is None:
        return t, None
    w = weight._data if isinstance(weight, Tensor) else xp.asarray(weight)
    if w.shape != (C,):
        raise RuntimeError(f"{name}: weight should have one entry per class ({C}), got weight of "
                           f"shape {w.shape} (input {shape} {input.dtype.name})")
    return t, w.astype(x.dtype, copy=False)


def _class_loss_rule(n, a, batched):
    """vmap of cross_entropy / nll_loss: the unreduced loss of every element at once (the
    batch folded into the loss's own batch dim), then each element's reduction."""
    fn = cross_entropy if "label_smoothing" in a else nll_loss
    x = materialize(a["input"], n, "input" in batched)
    t = materialize(a["target"], n, "target" in batched)
    w, reduction = a["weight"], a["reduction"]
    if "weight" in batched:                  # (class weights that differ per element)
        return stack([fn(**{**a, "input": x[i], "target": t[i], "weight": w[i]}) for i in range(n)])
    single = x.ndim == 2                     # one element is (C,) with a 0-d target
    loss = fn(**{**a, "input": x if single else fold_batch(x), "target": t if single else fold_batch(t),
                 "reduction": "none"})
    if not single:
        loss = unfold_batch(loss, n)
    if reduction == "none":
        return loss
    dims = tuple(range(1, loss.ndim))
    total = loss.sum(dims) if dims else loss
    if reduction == "sum":
        return total
    valid = t != a["ignore_index"]
    wt = valid.to(x.dtype) if w is None else w[where(valid, t, 0)] * valid
    return total / (wt.sum(dims) if dims else wt)


@batch_function(_class_loss_rule)
def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """Cross entropy between logits and class-index targets (one fused op)."""
    t, w = _check_classes("cross_entropy", input, target, weight, ignore_index, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got "
                           f"{label_smoothing}")
    return CrossEntropy.apply(input, target=t, weight=w, ignore_index=ignore_index,
                              reduction=reduction, label_smoothing=label_smoothing)


@batch_function(_class_loss_rule)
def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of class-index targets given log-probabilities."""
    t, w = _check_classes("nll_loss", input, target, weight, ignore_index, reduction)
    return NllLoss.apply(input, target=t, weight=w, ignore_index=ignore_index, reduction=reduction)


# --- binary cross entropy with logits ------------------------------------------------

class BceWithLogits(Op):
    """-(t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))) = max(x, 0) - t x + log1p(exp(-|x|))
    per element.  Forward keeps sigmoid(x), made from the same exp(-|x|), so that
    `BceWithLogitsBackward` computes d/dx = sigmoid(x) - t in one pass."""

    op_name = "binary_cross_entropy_with_logits"
    promote = "common"

    batch = broadcasting

    def forward(ctx, x, t):
        fast = erf_kernels(x, t, contiguous=True)     # (float32 arrays only)
        if fast is not None and x.shape == t.shape:
            loss, ctx.sig = xp.empty_like(x), xp.empty_like(x)
            fast.bce_with_logits(x.reshape(-1), t.reshape(-1), loss.reshape(-1), ctx.sig.reshape(-1))
            return loss
        e = xp.empty_like(x)
        xp.exp(xp.negative(xp.abs(x, out=e), out=e), out=e)
        loss = xp.log1p(e)
        loss += xp.maximum(x, 0)
        loss -= x * t
        # sigmoid(x) = (1 if x >= 0 else e) / (1 + e), without a (slow) masked select
        sig = (x >= 0).astype(x.dtype)
        sig *= 1 - e
        sig += e
        sig /= e + 1
        ctx.sig = sig
        return loss

    def vjp(ctx, g):
        x, t = ctx.inputs
        need_x, need_t = ctx.needs_input_grad
        return (BceWithLogitsBackward.apply(g, x, t, sig=ctx.sig) if need_x else None,
                -g * x if need_t else None)

    def jvp(ctx, dx, dt):
        x, t = ctx.args
        return BceWithLogitsBackward.apply(dx, x, t, sig=ctx.sig) - x * dt


class BceWithLogitsBackward(Op):
    """g (sigmoid(x) - t), with sigmoid(x) saved by the forward."""

    op_name = "binary_cross_entropy_with_logits_backward"

    @classmethod
    def batch(cls, n, args, batched, kwargs):
        rank = max(t.ndim - b for t, b in zip(args, batched))
        g, x, t = (lift(materialize(a, n, b), rank) for a, b in zip(args, batched))
        sig = kwargs["sig"]
        return cls.apply(g, x, t, sig=sig if batched[1] else xp.broadcast_to(sig, tuple(x.shape)))

    def forward(ctx, g, x, t, sig):
        out = sig - t
        out *= g
        return out

    def vjp(ctx, gg):
        g, x, t = ctx.inputs
        need_g, need_x, need_t = ctx.needs_input_grad
        s = x.sigmoid() if need_g or need_x else None
        return ((s - t) * gg if need_g else None, gg * g * s * (1 - s) if need_x else None,
                -gg * g if need_t else None)

    def jvp(ctx, dg, dx, dt):
        g, x, t = ctx.args
        s = x.sigmoid()
        return (s - t) * dg + g * (s * (1 - s) * dx - dt)


def binary_cross_entropy_with_logits(input, target):
    """The unreduced binary cross entropy of logits and targets of the same shape."""
    return BceWithLogits.apply(input, target)


# --- binary cross entropy of probabilities -----------------------------------------

_BCE_EPS = 1e-12            # PyTorch's floor for x (1 - x) in the second derivatives,
_BCE_EPS_GRAD = 0.9999999960041972e-12     # and in the first: 1e-12 rounded to float32


def _clamped_log(fn, x):
    """max(fn(x), -100), without NumPy's warning for log(0)."""
    with xp.errstate(divide="ignore"):
        out = fn(x)
    return xp.maximum(out, -100.0, out=out)


class BinaryCrossEntropy(Op):
    """-(t log x + (1 - t) log(1 - x)) per element, each log clamped to >= -100 (PyTorch's
    loss).  d/dx = (x - t) / max(x (1 - x), 1e-12) and d/dt = log(1 - x) - log(x), as PyTorch."""

    op_name = "binary_cross_entropy"
    batch = broadcasting
    promote = "common"

    def forward(ctx, x, t):
        log_x = _clamped_log(xp.log, x)
        log_1mx = _clamped_log(xp.log1p, -x)
        return (t - 1) * log_1mx - t * log_x

    def vjp(ctx, g):
        x, t = ctx.inputs
        need_x, need_t = ctx.needs_input_grad
        return (BinaryCrossEntropyBackward.apply(g, x, t) if need_x else None,
                -g * x.logit() if need_t else None)

    def jvp(ctx, dx, dt):
        x, t = ctx.args
        return BinaryCrossEntropyBackward.apply(dx, x, t) - dt * x.logit()


class BinaryCrossEntropyBackward(Op):
    """g (x - t) / max(x (1 - x), eps); its derivatives are PyTorch's double backward."""

    op_name = "binary_cross_entropy_backward"
    batch = broadcasting
    promote = "common"

    def forward(ctx, g, x, t):
        return g * (x - t) / xp.maximum(x * (1 - x), _BCE_EPS_GRAD)

    def vjp(ctx, gg):
        g, x, t = ctx.inputs
        need_g, need_x, need_t = ctx.needs_input_grad
        return (BinaryCrossEntropyBackward.apply(gg, x, t) if need_g else None,
                gg * g * _bce_curvature(x, t) if need_x else None,
                -gg * g / (x * (1 - x)).clamp_min(_BCE_EPS) if need_t else None)

    def jvp(ctx, dg, dx, dt):
        g, x, t = ctx.args
        return (BinaryCrossEntropyBackward.apply(dg, x, t)
                + g * (dx * _bce_curvature(x, t) - dt / (x * (1 - x)).clamp_min(_BCE_EPS)))


def _bce_curvature(x, t):
    """d/dx of (x - t) / (x (1 - x)), with PyTorch's eps: finite at x = 0 and 1."""
    return (x * x - 2 * x * t + t) / ((x + _BCE_EPS) ** 2 * (1 - x + _BCE_EPS) ** 2)


def binary_cross_entropy(input, target):
    """The unreduced binary cross entropy of probabilities and targets of the same shape."""
    return BinaryCrossEntropy.apply(input, target)


METHODS = {}

__all__ = []
