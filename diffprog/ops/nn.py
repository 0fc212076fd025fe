"""Fused neural-network ops: linear layers, layer/batch normalization, embedding lookup.

Each is one node instead of a chain of elementwise ops, because they are the hot paths of
training: `Linear` is one matrix product with the bias added in place; `Normalize` computes
the statistics once and keeps the normalized input for its backward.  Their VJPs are
written with differentiable ops as usual, so double backward works.

The user-facing functions (with PyTorch's `nn.functional` signatures) are in
`diffprog/nn/functional.py`; `layer_norm` is also a top-level function, as in PyTorch.
"""
import math

from ..autograd.grad_mode import state
from .._array import ufunc_method, xp
from ..tensor import Tensor
from .batching import lift, loop, materialize, shift
from .fast import row_kernels
from .linalg import per_element_matmul
from .indexing import Index, IndexBackward
from .op import Op


def _swapped_pays(x, w):
    """Is x @ w.T faster as (w @ x.T).T, written back row-major as the bias is added?  With
    OpenBLAS, for M rows at most half the N out-features, a long enough sum (K >= 384) that
    the GEMM outweighs the transposing write, and an output that stays in cache (M N <= 2^19):
    measured 0.38-0.97x the time (8-128 rows, 200-4096 features), never above 1.01x; with a
    short sum (K = 64-256) or a large output it was up to 1.36x slower (bench/README.md)."""
    m, (n, k) = x.shape[0], w.shape
    return (type(x) is xp.ndarray and 4 <= m and 2 * m <= n and k >= 384 and m * n <= 1 << 19
            and m * n * k >= 1 << 20)


class Linear(Op):
    """x @ w.T + b over the last dimension of x (w: (out, in), b: (out,))."""

    raw = True

    @classmethod
    def batch(cls, n, args, batched, kwargs):
        (x, w, b), (bx, bw, bb) = args + (None,) * (3 - len(args)), batched + (False,) * (3 - len(args))
        if bw:                  # a weight per element (ensembles, per-sample gradients)
            x = materialize(x, n, bx)
            rows = x.unsqueeze(-2) if x.ndim == 2 else x
            # (w @ x^T)^T: the weight's gradient comes out in the weight's own layout
            y = per_element_matmul(n, w, rows.mT).mT
            y = y.squeeze(-2) if x.ndim == 2 else y
        else:
            y = cls.apply(x, w, None if bb else b)
            if not bx:
                y = y.expand((n,) + tuple(y.shape))
        if b is not None and (bb or bw):
            y = y + (lift(b, y.ndim - 1) if bb else b)
        return y

    def forward(ctx, x, w, b=None):
        if w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[1]:
            raise RuntimeError(f"linear: input of shape {x.shape} can't be multiplied by the "
                               f"transposed weight of shape {w.shape} (expected input shape "
                               f"(*, {w.shape[-1]}))")
        if x.dtype != w.dtype or (b is not None and b.dtype != w.dtype):
            raise RuntimeError(f"linear: expected input, weight and bias of the same dtype, got "
                               f"{x.dtype}, {w.dtype}" + (f" and {b.dtype}" if b is not None else ""))
        x2 = x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x
        if _swapped_pays(x2, w):
            y, yt = xp.empty((x2.shape[0], w.shape[0]), dtype=x.dtype), xp.matmul(w, x2.T).T
            if b is None:
                xp.copyto(y, yt)
            else:
                xp.add(yt, b, out=y)
        else:
            y = xp.matmul(x2, w.T)
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
            gw = g2.T @ (x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x)
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
    The statistics come from `moments` (forward) and `mean_over` (derivatives), which a
    subclass may take over several processes (nn.SyncBatchNorm).
    """

    @classmethod
    def batch(cls, n, args, batched, kwargs):
        (x, w, b), (bx, bw, bb) = args + (None,) * (3 - len(args)), batched + (False,) * (3 - len(args))
        if kwargs.get("running") is not None:
            raise RuntimeError(f"vmap: {cls.name()} updating running statistics (train mode with "
                               "track_running_stats) would update them once per element; use eval "
                               "mode or track_running_stats=False inside vmap")
        rank = x.ndim - bx
        x = materialize(x, n, bx)
        kw = {**kwargs, "dims": shift(kwargs["dims"], rank)}
        if not (bw or bb):
            return cls.apply(x, *args[1:], **kw)
        y = cls.apply(x, None, None, **kw)   # weights per element: applied after normalizing
        if w is not None:
            y = y * (lift(w, rank) if bw else w)
        return y + (lift(b, rank) if bb else b) if b is not None else y

    def forward(ctx, x, w=None, b=None, *, dims, eps, running=None):
        if x.dtype.kind != "f":
            raise RuntimeError(f"{ctx.name()}: expected a floating point input, got {x.dtype}")
        for name, p in (("weight", w), ("bias", b)):
            if p is not None and p.dtype != x.dtype:
                raise RuntimeError(f"{ctx.name()}: expected {name} of the input's dtype {x.dtype}, "
                                   f"got {p.dtype}")
        ctx.dims, ctx.eps = dims, eps
        mean, xhat, tmp, var, n = ctx.moments(x)
        ctx.rstd = 1 / xp.sqrt(var + eps)
        xhat *= ctx.rstd
        if running is not None:
            _update_running(running, mean, var, n)
        if w is None and b is None:
            ctx.mean = None                  # xhat is the output itself (read version-checked)
            return xhat
        ctx.mean = mean                      # backward recomputes xhat from x, as PyTorch does:
        if w is None:                        # one saved tensor fewer
            return xp.add(xhat, b, out=tmp)
        y = xp.multiply(xhat, w, out=tmp)
        if b is not None:
            y += b
        return y

    def moments(ctx, x):
        """(mean, x - mean, (x - mean)^2, the biased variance, the count) over ctx.dims, as
        arrays; forward reuses the squares' array for its output."""
        mean = x.mean(axis=ctx.dims, keepdims=True)
        xc = x - mean
        sq = xp.multiply(xc, xc)
        return mean, xc, sq, sq.mean(axis=ctx.dims, keepdims=True), x.size // max(mean.size, 1)

    def mean_over(ctx, t):
        """The mean of tensor `t` over ctx.dims (differentiable)."""
        return t.mean(ctx.dims, keepdim=True)

    def stats(ctx, x=None):
        """(xhat, rstd) as tensors: from arrays for a plain backward; recomputed from x with
        differentiable ops when the derivative itself is differentiated."""
        if x is None and not state.grad_enabled:
            rstd = Tensor._make(ctx.rstd)
            if ctx.mean is None:
                return ctx.output, rstd
            return (ctx.input(0) - Tensor._make(ctx.mean)) * rstd, rstd
        x = ctx.input(0) if x is None else x
        xc = x - ctx.mean_over(x)
        rstd = (ctx.mean_over(xc * xc) + ctx.eps).rsqrt()
        return xc * rstd, rstd

    def _through_norm(ctx, d, xhat, rstd):
        """The derivative of xhat = normalize(x) applied to d (symmetric: VJP and JVP)."""
        return (d - ctx.mean_over(d) - xhat * ctx.mean_over(d * xhat)) * rstd

    def xhat_array(ctx):
        """The normalized input: the output, or (x - mean) * rstd as forward computed it."""
        if ctx.mean is None:
            return ctx.output._data
        xhat = ctx.input(0)._data - ctx.mean
        xhat *= ctx.rstd
        return xhat

    def _constant_over_dims(ctx, p):
        """Is the parameter p (None, or broadcast against x) constant over the normalized
        dims (batch norm's per-channel weight, not layer norm's)?"""
        lead = ctx.args[0].ndim - p.ndim
        return all(i < lead or p.shape[i - lead] == 1 for i in ctx.dims)

    def _plain_vjp(ctx, g, needs):
        """The VJP on arrays, for a backward that is not itself differentiated: the formula
        of `_through_norm` in fewer passes and temporaries than as tensor ops.  With a
        per-channel weight, mean(g w) = w mean(g) and mean(g w xhat) = w mean(g xhat), and
        the parameters' gradients are those sums."""
        need_x, need_w, need_b = needs
        x, b, g, dims = ctx.args[0], ctx.args[2], g._data, ctx.dims
        w = ctx.input(1)._data if ctx.args[1] is not None else None
        xhat, gx = ctx.xhat_array(), None
        if not all(p is None or ctx._constant_over_dims(p) for p in (w, b)):
            if need_x:                      # layer norm's weight: d = g w, a tensor of its own
                d = g * w if w is not None else g
                gx = d - d.mean(axis=dims, keepdims=True)
                t = xp.multiply(d, xhat, out=None if d is g else d)
                gx -= xp.multiply(xhat, t.mean(axis=dims, keepdims=True), out=t)
                gx *= ctx.rstd
            return gx, g * xhat if need_w else None, g if need_b else None
        u = g * xhat
        sum_g, sum_u = g.sum(axis=dims, keepdims=True), u.sum(axis=dims, keepdims=True)
        if need_x:
            scale = ctx.rstd if w is None else w * ctx.rstd
            n = x.numel() // sum_g.size
            gx = g * scale
            gx -= scale * (sum_g / n)
            gx -= xp.multiply(xhat, scale * (sum_u / n), out=u)
        return gx, sum_u if need_w else None, sum_g if need_b else None

    def vjp(ctx, g):
        need_x, need_w, need_b = ctx.needs_input_grad
        if not (state.grad_enabled or state.active) and type(ctx).mean_over is Normalize.mean_over:
            return tuple(None if a is None else Tensor._make(a) for a in ctx._plain_vjp(g, ctx.needs_input_grad))
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
    """Normalize over trailing dims; with numba, forward and the plain VJP are one kernel
    over the rows (`rows_numba.py`), the statistics saved as the NumPy path saves them."""

    op_name = "layer_norm"

    def forward(ctx, x, w=None, b=None, *, dims, eps, running=None):
        fast = ctx._kernels(x, w, b, dims)
        if fast is None or running is not None:
            return Normalize.forward(ctx, x, w, b, dims=dims, eps=eps, running=running)
        ctx.dims, ctx.eps = dims, eps
        x2, w1, b1 = _rows(x, w, b, dims)
        y, mean, rstd = xp.empty_like(x2), xp.empty(len(x2), x.dtype), xp.empty(len(x2), x.dtype)
        fast.layer_norm(x2, w1, b1, eps, y, mean, rstd)
        stat_shape = x.shape[:dims[0]] + (1,) * len(dims)
        ctx.mean, ctx.rstd = mean.reshape(stat_shape), rstd.reshape(stat_shape)
        return y.reshape(x.shape)

    @staticmethod
    def _kernels(x, w, b, dims, g=None):
        """`rows_numba` where it applies: the trailing dims, parameters of their shape, a
        non-empty input (and gradient) of a dtype and layout the kernels take."""
        trailing = x.shape[dims[0]:]
        if dims != tuple(range(dims[0], x.ndim)) or not x.size or any(
                p is not None and p.shape != trailing for p in (w, b)):
            return None
        return row_kernels(x, w, b, g)

    def _plain_vjp(ctx, g, needs):
        x, w = ctx.input(0)._data, ctx.input(1)._data if ctx.args[1] is not None else None
        fast = ctx._kernels(x, w, None, ctx.dims, g._data) if ctx.mean is not None else None
        if fast is None:
            return Normalize._plain_vjp(ctx, g, needs)
        x2, w1, _ = _rows(x, w, None, ctx.dims)
        gx, gw, gb = xp.empty_like(x2), xp.zeros(x2.shape[1]), xp.zeros(x2.shape[1])
        fast.layer_norm_vjp(x2, g._data.reshape(x2.shape), w1, ctx.mean.reshape(-1), ctx.rstd.reshape(-1),
                            gx, gw, gb)
        trailing = x.shape[ctx.dims[0]:]
        return (gx.reshape(x.shape) if needs[0] else None,
                gw.astype(x.dtype).reshape(trailing) if needs[1] else None,
                gb.astype(x.dtype).reshape(trailing) if needs[2] else None)


def _rows(x, w, b, dims):
    """x as rows (R, D) over the trailing dims, w and b flat (ones and zeros where absent)."""
    x2 = x.reshape(-1, math.prod(x.shape[dims[0]:]))
    d = x2.shape[1]
    return (x2, xp.ones(d, x.dtype) if w is None else w.reshape(d),
            xp.zeros(d, x.dtype) if b is None else b.reshape(d))


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

    @classmethod
    def batch(cls, n, args, batched, kwargs):
        (w, ids), (w_batched, ids_batched) = args, batched
        if not w_batched:                  # one table for all: ids of every element at once
            return cls.apply(w, ids, **kwargs)
        if kwargs.get("padding_idx") is not None or kwargs.get("scale_grad_by_freq"):
            return loop(cls, n, args, batched, kwargs)
        ids = materialize(ids, n, ids_batched)    # a table per element (ensembles): w[b, ids[b]]
        rows = Tensor._make(xp.arange(n).reshape((n,) + (1,) * (ids.ndim - 1)))
        return w[rows, ids]

    def forward(ctx, w, ids, padding_idx=None, scale_grad_by_freq=False):
        if ids.dtype.kind not in "iu":
            raise RuntimeError(f"embedding: expected integer ids (int64 or int32), got {ids.dtype}")
        _check_ids(ids, w.shape[0])
        ctx.key, ctx.shape = (ids,), w.shape
        ctx.padding_idx, ctx.scale_grad_by_freq = padding_idx, scale_grad_by_freq
        return xp.take(w, ids, axis=0)

    def vjp(ctx, g):
        ids = ctx.key[0]
        if ctx.padding_idx is not None:
            g = g * (Tensor._make(ids) != ctx.padding_idx).unsqueeze(-1)
        if ctx.scale_grad_by_freq:
            counts = xp.bincount(ids.reshape(-1), minlength=ctx.shape[0])[ids]
            g = g / Tensor._make(counts[..., None].astype(g.dtype.np))
        return IndexBackward.apply(g, key=ctx.key, shape=ctx.shape), None

    def jvp(ctx, dw, dids):
        return Index.apply(dw, key=ctx.key)


def _check_ids(ids, n, prefix=""):
    """IndexError naming the first bad id, before anything is gathered."""
    if ids.size:
        lo, hi = ids.min(), ids.max()
        if lo < 0 or hi >= n:
            raise IndexError(f"{prefix}index {lo if lo < 0 else hi} is out of range for a vocabulary of {n} "
                             f"(num_embeddings={n}; ids must be in [0, {n - 1}], the table's {n} entries)")


class Bags:
    """Which rows of the table each bag of `embedding_bag` combines, from the ids and offsets
    (NumPy arrays), with padding entries dropped: `ids` and `bag` (its bag, non-decreasing)
    per kept entry, `pos` (its position in the flat input, None when all are kept),
    `starts` of the non-empty bags `full` (None when none is empty), `coef` (1/bag size per
    kept entry in mean mode, else None) and `freq` (how often each kept entry's id occurs,
    with scale_grad_by_freq, else None)."""

    def __init__(self, ids, offsets, n_rows, mode, padding_idx=None, include_last_offset=False,
                 scale_grad_by_freq=False):
        if ids.dtype.kind not in "iu":
            raise RuntimeError(f"embedding_bag: expected integer ids (int64 or int32), got {ids.dtype}")
        if ids.ndim == 2:
            if offsets is not None:
                raise ValueError("embedding_bag: if input is 2D, then offsets has to be None, as "
                                 "input is treated as a mini-batch of fixed length sequences")
            n_bags, length = ids.shape
            bag = xp.repeat(xp.arange(n_bags, like=ids), length)
        elif ids.ndim == 1:
            if offsets is None or offsets.ndim != 1:
                raise ValueError("embedding_bag: offsets has to be a 1D tensor when input is 1D")
            if offsets.size and offsets[0] != 0:
                raise RuntimeError(f"embedding_bag: offsets[0] has to be 0, i.e., the first sequence "
                                   f"in the mini-batch has to start from position 0, got {offsets[0]}")
            if offsets.size and offsets[-1] > ids.size:
                raise RuntimeError(f"embedding_bag: offsets[-1] can not be greater than input's "
                                   f"length {ids.size} but got offsets[-1] of {offsets[-1]}")
            if (xp.diff(offsets) < 0).any():
                raise RuntimeError(f"embedding_bag: offsets must be non-decreasing, got {offsets.tolist()}")
            # as PyTorch, the last bag runs to the end of the input (include_last_offset: its
            # extra offset, normally len(input), is not read)
            starts = offsets[:-1] if include_last_offset else offsets
            n_bags = starts.size
            # entry k is in the last bag starting at or before it (CuPy repeats no arrays)
            bag = xp.searchsorted(starts, xp.arange(ids.size if n_bags else 0, like=ids), side="right") - 1
            ids = ids[:bag.size]                    # no bags: no entries
        else:
            raise ValueError(f"embedding_bag: input has to be 1D or 2D, got shape {ids.shape}")
        ids = ids.reshape(-1)
        _check_ids(ids, n_rows, "embedding_bag: ")
        self.n, self.n_bags, self.pos = ids.size, n_bags, None
        if padding_idx is not None:
            keep = ids != padding_idx
            if not keep.all():
                self.pos = xp.flatnonzero(keep)
                ids, bag = ids[keep], bag[keep]
        self.ids, self.bag = ids, bag
        sizes = xp.bincount(bag, minlength=n_bags)
        self.coef = 1.0 / sizes[bag] if mode == "mean" else None
        # with scale_grad_by_freq the weight's gradient rows are divided by how often each id
        # occurs in the input (the output itself does not change)
        self.freq = xp.bincount(ids, minlength=n_rows)[ids] if scale_grad_by_freq and ids.size else None
        self._locate(sizes)
        self._t = None

    def _locate(self, sizes):
        self.full = None if sizes.all() else xp.flatnonzero(sizes)
        firsts = xp.arange(self.n_bags, like=self.bag) if self.full is None else self.full
        self.starts = xp.searchsorted(self.bag, firsts)
        self.sizes = sizes if self.full is None else sizes[self.full]
        # all bags of one length: (n_bags, length) rows, summed by a reshape
        self.width = int(sizes[0]) if sizes.size and self.full is None and (sizes == sizes[0]).all() else None

    def transposed(self, n_rows):
        """The bags of the weight's gradient: one per table row, holding the kept entries
        that read it (`ids` now index the output's bags; `pos` the entries' weights, given
        in this object's entry order)."""
        if self._t is None:
            t = Bags.__new__(Bags)
            order = xp.argsort(self.ids, kind="stable")
            t.ids, t.bag, t.pos = self.bag[order], self.ids[order], order
            t.n, t.n_bags, t.coef, t.freq, t._t = self.ids.size, n_rows, None, None, None
            t._locate(xp.bincount(t.bag, minlength=n_rows))
            self._t = t
        return self._t

    def spread(self, rows):
        """(n_bags, ...) sums of the kept entries' rows (n_kept, ...) per bag (a NumPy array)."""
        if self.width is not None:
            return rows.reshape((self.n_bags, self.width) + rows.shape[1:]).sum(1)
        out = xp.zeros((self.n_bags,) + rows.shape[1:], dtype=rows.dtype, like=rows)
        if not rows.shape[0]:
            return out
        if self.sizes.max() < 32:
            # short bags (e.g. the gradient's: one per table row): add every bag's r-th entry at
            # once, several times faster than add.reduceat's per-bag loop
            sums = rows[self.starts]
            for r in range(1, int(self.sizes.max())):
                live = self.sizes > r
                sums[live] += rows[self.starts[live] + r]
        else:
            sums = xp.add.reduceat(rows, self.starts, axis=0)
        if self.full is None:
            return sums
        out[self.full] = sums
        return out


class EmbeddingBag(Op):
    """Per bag, the sum / mean / max of the table rows its ids pick (sum: each row scaled by
    its per-sample weight); an empty bag gives zeros.  `bags` (a `Bags`) holds the ids.

    Sum and mean are linear in the table: their VJP scatter-adds the output gradient of each
    bag into the rows it read, which is itself an EmbeddingBag (sum) of the gradient over the
    transposed bags (one per table row); max reads one row per bag and column (the first
    maximum), and its VJP scatters into those (IndexBackward).  Both are differentiable ops."""

    def forward(ctx, w, psw=None, *, bags, mode):
        if psw is not None and psw.dtype != w.dtype:
            raise RuntimeError(f"embedding_bag: expected per_sample_weights of the weight's dtype "
                               f"{w.dtype}, got {psw.dtype}")
        ctx.bags, ctx.mode = bags, mode
        rows = xp.take(w, bags.ids, axis=0)
        if mode == "max":
            if not rows.shape[0]:
                ctx.sel = xp.zeros((0, w.shape[1]), dtype=xp.int64, like=w)
                return xp.zeros((bags.n_bags, w.shape[1]), dtype=w.dtype, like=w)
            best = ufunc_method(xp.maximum, "reduceat", rows, bags.starts, axis=0)
            seg = xp.searchsorted(bags.starts, xp.arange(rows.shape[0], like=w), side="right") - 1
            at = xp.where(rows == best[seg], xp.arange(rows.shape[0], like=w)[:, None], rows.shape[0])
            ctx.sel = bags.ids[ufunc_method(xp.minimum, "reduceat", at, bags.starts, axis=0)]   # first maximum
            if bags.full is None:
                return best
            out = xp.zeros((bags.n_bags, w.shape[1]), dtype=w.dtype, like=w)
            out[bags.full] = best
            return out
        if psw is not None:
            rows *= (psw.reshape(-1) if bags.pos is None else psw.reshape(-1)[bags.pos])[:, None]
        if bags.coef is not None:
            rows *= bags.coef[:, None].astype(w.dtype)
        return bags.spread(rows)

    def vjp(ctx, g):
        bags, need_w, need_p = ctx.bags, *ctx.needs_input_grad
        w, psw = ctx.args
        if ctx.mode == "max":
            if bags.full is not None:
                g = Index.apply(g, key=(bags.full,))
            cols = xp.arange(w.shape[1], like=ctx.sel)[None, :]
            return IndexBackward.apply(g, key=(ctx.sel, cols), shape=tuple(w.shape)), None
        gw = gp = None
        if need_w:      # each kept entry's bag gradient, weighted, summed into the row it read
            gw = EmbeddingBag.apply(g, ctx.entry_weights(g._data.dtype), bags=bags.transposed(w.shape[0]),
                                    mode="sum")
        if need_p:
            gp = (Index.apply(g, key=(bags.bag,)) * Index.apply(ctx.input(0), key=(bags.ids,))).sum(-1)
            if bags.pos is not None:
                gp = IndexBackward.apply(gp, key=(bags.pos,), shape=(bags.n,))
            gp = gp.reshape(psw.shape)
        return gw, gp

    def entry_weights(ctx, dtype):
        """The factor on each kept entry in the weight's gradient: its per-sample weight,
        1/bag size (mean), 1/frequency (scale_grad_by_freq); None when all are 1."""
        bags, psw = ctx.bags, ctx.args[1]
        if psw is not None:
            psw = ctx.input(1).reshape(-1)
            psw = psw if bags.pos is None else Index.apply(psw, key=(bags.pos,))
        const = bags.coef
        if bags.freq is not None:
            const = 1.0 / bags.freq if const is None else const / bags.freq
        if const is None:
            return psw
        const = Tensor._make(const.astype(dtype))
        return const if psw is None else psw * const

    def jvp(ctx, dw, dp):
        w, psw = ctx.args
        bags = ctx.bags
        if ctx.mode == "max":
            picked = Index.apply(dw, key=(ctx.sel, xp.arange(w.shape[1], like=ctx.sel)[None, :]))
            if bags.full is None:
                return picked
            return IndexBackward.apply(picked, key=(bags.full,), shape=(bags.n_bags, w.shape[1]))
        out = EmbeddingBag.apply(dw, psw, bags=bags, mode=ctx.mode)
        return out + EmbeddingBag.apply(w, dp, bags=bags, mode=ctx.mode) if psw is not None else out


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
