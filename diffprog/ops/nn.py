"""Fused neural-network ops: linear layers, layer/batch normalization, embedding lookup.

Each is one node instead of a chain of elementwise ops, because they are the hot paths of
training: `Linear` is one matrix product with the bias added in place; `Normalize` computes
the statistics once and keeps the normalized input for its backward.  Their VJPs are
written with differentiable ops as usual, so double backward works.

The user-facing functions (with PyTorch's `nn.functional` signatures) are in
`diffprog/nn/functional.py`; `layer_norm` is also a top-level function, as in PyTorch.
"""
from ..autograd.grad_mode import state
from ..backend import xp
from ..tensor import Tensor
from .indexing import Index, IndexBackward
from .op import Op


class Linear(Op):
    """x @ w.T + b over the last dimension of x (w: (out, in), b: (out,))."""

    def forward(ctx, x, w, b=None):
        if w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[1]:
            raise RuntimeError(f"linear: input of shape {x.shape} can't be multiplied by the "
                               f"transposed weight of shape {w.shape} (expected input shape "
                               f"(*, {w.shape[-1]}))")
        if x.dtype != w.dtype or (b is not None and b.dtype != w.dtype):
            raise RuntimeError(f"linear: expected input, weight and bias of the same dtype, got "
                               f"{x.dtype}, {w.dtype}" + (f" and {b.dtype}" if b is not None else ""))
        y = xp.matmul(x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x, w.T)
        if b is not None:
            y += b
        return y.reshape(x.shape[:-1] + (w.shape[0],)) if x.ndim != 2 else y

    def vjp(ctx, g):
        need_x, need_w, need_b = ctx.needs_input_grad
        g2 = g.reshape(-1, g.shape[-1]) if g.ndim != 2 else g     # batch dims flattened
        gx = gw = gb = None
        if need_x:
            gx = g2 @ ctx.input(1)
            if g.ndim != 2:
                gx = gx.reshape(ctx.args[0].shape)
        if need_w:
            x = ctx.input(0)
            gw = g2.mT @ (x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x)
        if need_b:
            gb = g2.sum(0)
        return gx, gw, gb

    def jvp(ctx, dx, dw, db):
        x, w, b = ctx.args
        dy = Linear.apply(dx, w) + Linear.apply(x, dw)
        return dy + db if b is not None else dy


class Normalize(Op):
    """(x - mean) / sqrt(var + eps) over `dims`, then * w + b (w, b broadcast against x).

    The one computation behind layer norm (dims: the trailing normalized dims) and batch
    norm in training (dims: all but the channel dim), both with the biased variance.
    Given `running=(running_mean, running_var, momentum)`, forward also blends the batch
    statistics into those buffers in place (unbiased variance), as PyTorch's batch norm.
    """

    def forward(ctx, x, w=None, b=None, *, dims, eps, running=None):
        if x.dtype.kind != "f":
            raise RuntimeError(f"{ctx.name()}: expected a floating point input, got {x.dtype}")
        for name, p in (("weight", w), ("bias", b)):
            if p is not None and p.dtype != x.dtype:
                raise RuntimeError(f"{ctx.name()}: expected {name} of the input's dtype {x.dtype}, "
                                   f"got {p.dtype}")
        ctx.dims, ctx.eps = dims, eps
        mean = x.mean(axis=dims, keepdims=True)
        xhat = x - mean
        tmp = xp.multiply(xhat, xhat)
        var = tmp.mean(axis=dims, keepdims=True)
        ctx.rstd = 1 / xp.sqrt(var + eps)
        xhat *= ctx.rstd
        if running is not None:
            _update_running(running, mean, var, x.size // max(mean.size, 1))
        if w is None and b is None:
            ctx.xhat = None                  # the output itself (read version-checked)
            return xhat
        ctx.xhat = xhat
        if w is None:
            return xp.add(xhat, b, out=tmp)
        y = xp.multiply(xhat, w, out=tmp)
        if b is not None:
            y += b
        return y

    def stats(ctx, x=None):
        """(xhat, rstd) as tensors: the saved arrays for a plain backward; recomputed from x
        with differentiable ops when the derivative itself is differentiated."""
        if x is None and not state.grad_enabled:
            xhat = ctx.output if ctx.xhat is None else Tensor._make(ctx.xhat)
            return xhat, Tensor._make(ctx.rstd)
        x = ctx.input(0) if x is None else x
        xc = x - x.mean(ctx.dims, keepdim=True)
        rstd = ((xc * xc).mean(ctx.dims, keepdim=True) + ctx.eps).rsqrt()
        return xc * rstd, rstd

    def _through_norm(ctx, d, xhat, rstd):
        """The derivative of xhat = normalize(x) applied to d (symmetric: VJP and JVP)."""
        dims = ctx.dims
        return (d - d.mean(dims, keepdim=True) - xhat * (d * xhat).mean(dims, keepdim=True)) * rstd

    def vjp(ctx, g):
        need_x, need_w, need_b = ctx.needs_input_grad
        xhat, rstd = ctx.stats()
        gx = None
        if need_x:
            w = ctx.args[1]
            gx = ctx._through_norm(g * ctx.input(1) if w is not None else g, xhat, rstd)
        return gx, (g * xhat if need_w else None), (g if need_b else None)

    def jvp(ctx, dx, dw, db):
        x, w, b = ctx.args
        xhat, rstd = ctx.stats(x)
        dy = ctx._through_norm(dx, xhat, rstd)
        if w is not None:
            dy = dy * w + xhat * dw
        return dy + db if b is not None else dy


class LayerNorm(Normalize):
    op_name = "layer_norm"


class BatchNorm(Normalize):
    op_name = "batch_norm"


def _update_running(running, mean, var, n):
    """running <- (1 - momentum) * running + momentum * batch statistic, in place."""
    running_mean, running_var, momentum = running
    for buf, stat in ((running_mean, mean), (running_var, var * (n / max(n - 1, 1)))):
        if buf is not None:
            a = buf._data
            a *= 1 - momentum
            a += momentum * stat.reshape(a.shape)
            buf._vc[0] += 1


class Embedding(Op):
    """weight[ids]: rows of a lookup table.  The gradient skips `padding_idx` and, with
    `scale_grad_by_freq`, is divided by how often each id occurs in the batch."""

    def forward(ctx, w, ids, padding_idx=None, scale_grad_by_freq=False):
        if ids.dtype.kind not in "iu":
            raise RuntimeError(f"embedding: expected integer ids (int64 or int32), got {ids.dtype}")
        n = w.shape[0]
        if ids.size:
            lo, hi = ids.min(), ids.max()
            if lo < 0 or hi >= n:
                raise IndexError(f"index {lo if lo < 0 else hi} is out of range for an embedding "
                                 f"table of {n} entries (ids must be in [0, {n - 1}])")
        ctx.key, ctx.shape = (ids,), w.shape
        ctx.padding_idx, ctx.scale_grad_by_freq = padding_idx, scale_grad_by_freq
        return xp.take(w, ids, axis=0)

    def vjp(ctx, g):
        ids = ctx.key[0]
        if ctx.padding_idx is not None:
            g = g * Tensor._make((ids != ctx.padding_idx)[..., None].astype(g._data.dtype))
        if ctx.scale_grad_by_freq:
            counts = xp.bincount(ids.reshape(-1), minlength=ctx.shape[0])[ids]
            g = g / Tensor._make(counts[..., None].astype(g._data.dtype))
        return IndexBackward.apply(g, key=ctx.key, shape=ctx.shape), None

    def jvp(ctx, dw, dids):
        return Index.apply(dw, key=ctx.key)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05):
    """Normalize over the trailing `normalized_shape` dims, then scale and shift."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or tuple(input.shape[input.ndim - k:]) != shape or input.ndim < k:
        raise RuntimeError(f"layer_norm: given normalized_shape={list(shape)}, expected input "
                           f"with shape [*, {', '.join(map(str, shape))}], but got input of size "
                           f"{list(input.shape)}")
    return LayerNorm.apply(input, weight, bias, dims=tuple(range(input.ndim - k, input.ndim)), eps=eps)


METHODS = {}

__all__ = ["layer_norm"]
