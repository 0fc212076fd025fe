"""Connectionist temporal classification loss (`F.ctc_loss`, `nn.CTCLoss`).

`CTCLoss` gives each sample's negative log-likelihood -log p(target | log_probs), summed
over all alignments by the forward (alpha) recursion in log space over the target with
blanks around and between its labels.  Its VJP runs the backward (beta) recursion and
returns PyTorch's gradient, exp(log_probs) - posterior(label at t): the gradient with
respect to the logits of a log_softmax, which is what reaches the logits either way (the
exp term vanishes in log_softmax's backward).  So a finite-difference check agrees with it
through log_softmax, not on raw log-probabilities.  As in PyTorch, the gradient itself has
no derivative.  The JVP is the same gradient contracted with the tangent.
"""
from .._array import full, xp
from .._array.device import device_of, move
from ..tensor import Tensor
from .batching import batch_function
from .op import Op

_NEG_INF = -xp.inf


def _lse(*terms):
    out = terms[0]
    for t in terms[1:]:
        out = xp.logaddexp(out, t)
    return out


class CTCLoss(Op):
    """Per-sample negative log-likelihoods (N,) of targets under log_probs (T, N, C)."""

    op_name = "ctc_loss"

    def forward(ctx, lp, *, labels, input_lengths, target_lengths, blank, zero_infinity):
        T, N, _ = lp.shape
        L = labels.shape[1]
        ctx.labels, ctx.input_lengths, ctx.target_lengths = labels, input_lengths, target_lengths
        ctx.blank, ctx.zero_infinity = blank, zero_infinity
        # a label may be skipped to when it differs from the one two places back (not blank)
        ctx.skip = xp.zeros((N, L), bool, like=lp)
        ctx.skip[:, 2:] = (labels[:, 2:] != blank) & (labels[:, 2:] != labels[:, :-2])
        rows = xp.arange(N, like=lp)[:, None]
        emit = lp[:, rows, labels]                                  # (T, N, L)
        alpha = full((T, N, L), _NEG_INF, dtype=lp.dtype, like=lp)
        alpha[0, :, 0] = emit[0, :, 0]
        alpha[0, :, 1] = xp.where(target_lengths > 0, emit[0, :, 1], _NEG_INF)
        for t in range(1, T):
            prev = alpha[t - 1]
            one = xp.concatenate([full((N, 1), _NEG_INF, like=lp), prev[:, :-1]], 1)
            two = xp.concatenate([full((N, 2), _NEG_INF, like=lp), prev[:, :-2]], 1)
            alpha[t] = emit[t] + _lse(prev, one, xp.where(ctx.skip, two, _NEG_INF))
        last = input_lengths - 1
        end = 2 * target_lengths                                     # the final blank
        a_end = alpha[last, rows[:, 0], end]
        a_label = xp.where(target_lengths > 0, alpha[last, rows[:, 0], xp.maximum(end - 1, 0)],
                           _NEG_INF)
        nll = -xp.logaddexp(a_end, a_label)
        ctx.alpha, ctx.emit = alpha, emit
        if zero_infinity:
            nll = xp.where(xp.isinf(nll), 0.0, nll)
        ctx.nll = nll
        return nll

    def gradient(ctx):
        """d nll_n / d log_probs as PyTorch has it: (T, N, C), zero past each input length."""
        if "grad" in ctx.__dict__:
            return ctx.grad
        lp = ctx.input(0)._data
        alpha, emit, labels = ctx.alpha, ctx.emit, ctx.labels
        T, N, C = lp.shape
        L = labels.shape[1]
        n_idx = xp.arange(N, like=lp)
        beta = full((T, N, L), _NEG_INF, dtype=lp.dtype, like=lp)
        last, end = ctx.input_lengths - 1, 2 * ctx.target_lengths
        skip_next = xp.zeros((N, L), bool, like=lp)
        skip_next[:, :-2] = ctx.skip[:, 2:]
        for t in range(T - 1, -1, -1):
            if t < T - 1:
                nxt = beta[t + 1]
                one = xp.concatenate([nxt[:, 1:], full((N, 1), _NEG_INF, like=lp)], 1)
                two = xp.concatenate([nxt[:, 2:], full((N, 2), _NEG_INF, like=lp)], 1)
                beta[t] = emit[t] + _lse(nxt, one, xp.where(skip_next, two, _NEG_INF))
            starting = n_idx[last == t]                              # samples whose input ends at t
            beta[t, starting] = _NEG_INF
            beta[t, starting, end[starting]] = emit[t, starting, end[starting]]
            has_label = starting[ctx.target_lengths[starting] > 0]
            beta[t, has_label, end[has_label] - 1] = emit[t, has_label, end[has_label] - 1]
        occupancy = full((T, N, C), _NEG_INF, dtype=lp.dtype, like=lp)    # log sum of alpha * beta per label
        ab = alpha + beta
        for s in range(L):
            c = labels[:, s]
            occupancy[:, n_idx, c] = xp.logaddexp(occupancy[:, n_idx, c], ab[:, :, s])
        nll = -_lse(alpha[last, n_idx, end], xp.where(
            ctx.target_lengths > 0, alpha[last, n_idx, xp.maximum(end - 1, 0)], _NEG_INF))
        with xp.errstate(invalid="ignore", over="ignore"):
            grad = xp.exp(lp) - xp.exp(occupancy + nll[None, :, None] - lp)
        grad[xp.arange(T, like=lp)[:, None] >= ctx.input_lengths[None, :]] = 0
        if ctx.zero_infinity:
            grad[:, xp.isinf(nll)] = 0
        ctx.grad = grad
        return grad

    def vjp(ctx, g):
        return CTCLossBackward.apply(g, ctx.input(0), grad=ctx.gradient())

    def jvp(ctx, dlp):
        return (Tensor._make(ctx.gradient()) * dlp).sum((0, 2))


class CTCLossBackward(Op):
    """g (N,) times the CTC gradient: a function of log_probs too (it is part of the graph
    of a create_graph backward), but not differentiable again, as in PyTorch."""

    op_name = "ctc_loss_backward"

    def forward(ctx, g, log_probs, *, grad):
        return grad * g[None, :, None]

    def vjp(ctx, gg):
        raise RuntimeError("derivative for aten::_ctc_loss_backward is not implemented")


def _ints(v, name, n):
    a = xp.asarray(v.cpu()._data if isinstance(v, Tensor) else v).reshape(-1)
    if a.dtype.kind not in "iu":
        raise RuntimeError(f"ctc_loss: {name} must be integers, got {a.dtype}")
    if a.size != n:
        raise RuntimeError(f"ctc_loss: expected {name} to have size {n}, but got {a.size}")
    return a.astype(xp.int64)


@batch_function()          # (reads the targets and lengths: once per element under vmap)
def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
             zero_infinity=False):
    """The CTC loss of log_probs (T, N, C) (or (T, C)) for targets (N, S) padded, or all
    targets concatenated (sum(target_lengths),).  reduction 'mean' divides each loss by its
    target length, then averages."""
    unbatched = log_probs.ndim == 2
    if unbatched:
        log_probs = log_probs.unsqueeze(1)
    if log_probs.ndim != 3:
        raise RuntimeError(f"ctc_loss: expected log_probs of shape (T, N, C) or (T, C), got "
                           f"{tuple(log_probs.shape)}")
    T, N, C = log_probs.shape
    il = _ints(input_lengths, "input_lengths", N)
    tl = _ints(target_lengths, "target_lengths", N)
    if (il > T).any() or (il < 1).any():
        raise RuntimeError(f"ctc_loss: input_lengths must be in [1, {T}], got {il.tolist()}")
    tg = xp.asarray(targets.cpu()._data if isinstance(targets, Tensor) else targets)
    if unbatched and tg.ndim == 1 and tg.size == tl.sum() and tl.size == 1:
        tg = tg[None]
    S = int(tl.max()) if tl.size else 0
    rows = xp.zeros((N, S), dtype=xp.int64)
    if tg.ndim == 2:
        if tg.shape[0] != N or tg.shape[1] < S:
            raise RuntimeError(f"ctc_loss: targets of shape {tg.shape} do not hold {N} targets of "
                               f"lengths {tl.tolist()}")
        for n in range(N):
            rows[n, :tl[n]] = tg[n, :tl[n]]
    else:
        if tg.size != tl.sum():
            raise RuntimeError(f"ctc_loss: concatenated targets have {tg.size} labels, but "
                               f"target_lengths sum to {int(tl.sum())}")
        starts = xp.concatenate([[0], xp.cumsum(tl)[:-1]]).astype(int)
        for n in range(N):
            rows[n, :tl[n]] = tg[starts[n]:starts[n] + tl[n]]
    if ((rows < 0) | (rows >= C)).any() or not 0 <= blank < C:
        raise RuntimeError(f"ctc_loss: labels and blank must be in [0, {C}), got blank={blank}")
    labels = xp.full((N, 2 * S + 1), blank, dtype=xp.int64)    # blank, l1, blank, l2, ..., blank
    labels[:, 1::2] = rows
    # targets and lengths are read on the host (they may be on the CPU, as PyTorch allows);
    # the recursion runs on log_probs' device
    here = device_of(log_probs._data)
    nll = CTCLoss.apply(log_probs, labels=move(labels, here), input_lengths=move(il, here),
                        target_lengths=move(tl, here), blank=blank, zero_infinity=zero_infinity)
    if reduction == "none":
        return nll[0] if unbatched else nll
    if reduction == "sum":
        return nll.sum()
    if reduction == "mean":
        lengths = Tensor._make(move(xp.maximum(tl, 1).astype(nll._data.dtype), here))
        return (nll / lengths).mean()
    raise ValueError(f"{reduction} is not a valid value for reduction")


METHODS = {}
__all__ = ["ctc_loss"]
