"""Loss functions of `nn.functional`, with PyTorch's signatures and defaults.

`cross_entropy` (class indices) and `nll_loss` are fused ops (`diffprog/ops/loss.py`); the
others are short compositions of differentiable ops following PyTorch's definitions, so
their derivatives (kinks included) match.  Every loss takes `reduction` ('mean', 'sum' or
'none') and, where PyTorch still does, the legacy `size_average`/`reduce` arguments.
"""
import math
import warnings

from .._array import ones, xp
from ..ops import loss as _fused
from ..ops.activations import logsigmoid
from ..ops.selection import minimum, where
from ..ops.batching import batch_function, physical
from ..ops.linalg import vector_norm
from ..ops.special import xlogy
from ..tensor import Tensor


# --- helpers -------------------------------------------------------------------------

def _reduction(name, reduction, size_average=None, reduce=None):
    """The reduction to apply, from `reduction` or PyTorch's legacy size_average/reduce."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "mean" if size_average and reduce else "sum" if reduce else "none"
        warnings.warn(f"size_average and reduce args will be deprecated, please use "
                      f"reduction='{reduction}' instead.", stacklevel=3)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{name}: {reduction} is not a valid value for reduction "
                         "(expected 'none', 'mean' or 'sum')")
    return reduction


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def _same_size(name, input, target, error=False):
    """PyTorch warns (mse, l1, ...) or raises (bce) when target's shape differs from input's."""
    if input.shape == target.shape:
        return
    msg = (f"{name}: using a target size {tuple(target.shape)} that is different to the input "
           f"size {tuple(input.shape)}")
    if error:
        raise ValueError(msg + ". Please ensure they have the same size.")
    warnings.warn(msg + ". This will likely lead to incorrect results due to broadcasting. "
                  "Please ensure they have the same size.", stacklevel=3)


def _weighted(name, loss, weight, input, reduction, mean_by_weight=True):
    """loss * weight, reduced; the weighted 'mean' divides by the sum of the weights."""
    if weight is None:
        return _reduce(loss, reduction)
    if weight.shape != input.shape:
        raise ValueError(f"{name}: weights and input must have the same size (weight "
                         f"{tuple(weight.shape)}, input {tuple(input.shape)})")
    loss = loss * weight
    if reduction == "mean" and mean_by_weight:
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


def _tensor(name, x, what):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected {what} to be a Tensor, got {type(x).__name__}")


# --- regression ----------------------------------------------------------------------

def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error: (input - target)^2."""
    reduction = _reduction("mse_loss", reduction, size_average, reduce)
    _same_size("mse_loss", input, target)
    d = input - target
    return _weighted("mse_loss", d * d, weight, input, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error: |input - target|."""
    reduction = _reduction("l1_loss", reduction, size_average, reduce)
    _same_size("l1_loss", input, target)
    return _weighted("l1_loss", (input - target).abs(), weight, input, reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target)."""
    reduction = _reduction("smooth_l1_loss", reduction, size_average, reduce)
    if beta < 0:
        raise RuntimeError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    _same_size("smooth_l1_loss", input, target)
    d = (input - target).abs()
    if beta == 0:
        return _reduce(d, reduction)
    return _reduce(where(d < beta, (0.5 / beta) * d * d, d - 0.5 * beta), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta)."""
    reduction = _reduction("huber_loss", reduction)
    if delta <= 0:
        raise RuntimeError(f"huber_loss: delta must be positive, got {delta}")
    _same_size("huber_loss", input, target)
    d = (input - target).abs()
    loss = where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta))
    return _weighted("huber_loss", loss, weight, input, reduction, mean_by_weight=False)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8,
                     reduce=None, reduction="mean"):
    """exp(input) - target * input (log_input), or input - target * log(input + eps);
    `full` adds Stirling's approximation of log(target!) where target > 1."""
    reduction = _reduction("poisson_nll_loss", reduction, size_average, reduce)
    loss = input.exp() - target * input if log_input else input - target * (input + eps).log()
    if full:
        stirling = xlogy(target, target) - target + 0.5 * (2 * math.pi * target).log()
        loss = loss + stirling.masked_fill(target <= 1, 0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """0.5 (log var + (input - target)^2 / var) (+ 0.5 log 2 pi with `full`); var is clamped
    to >= eps without changing its gradient, as PyTorch."""
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError("gaussian_nll_loss: var has negative entry/entries")
        var = input.new_full(input.shape, float(var))
    elif bool(physical(var < 0).any()):
        raise ValueError("gaussian_nll_loss: var has negative entry/entries")
    if var.shape != input.shape:
        if tuple(var.shape) == tuple(input.shape[:-1]):
            var = var.unsqueeze(-1)            # one variance per row (homoscedastic)
        elif var.ndim != input.ndim or sum(v for i, v in zip(input.shape, var.shape) if i != v) != 1:
            raise ValueError(f"gaussian_nll_loss: var is of incorrect size {tuple(var.shape)} for "
                             f"input of size {tuple(input.shape)}")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"gaussian_nll_loss: {reduction} is not valid")
    var = var + (var.clamp_min(eps) - var).detach()
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


# --- classification ------------------------------------------------------------------

def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Cross entropy of logits (classes along dim 1) with class indices, or with class
    probabilities when target has the input's shape."""
    reduction = _reduction("cross_entropy", reduction, size_average, reduce)
    _tensor("cross_entropy", input, "input")
    if not (isinstance(target, Tensor) and target.shape == input.shape and input.ndim):
        return _fused.cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)
    if not target.is_floating_point():
        raise RuntimeError(f"cross_entropy: expected a floating point target for class "
                           f"probabilities (target of the input's shape {tuple(input.shape)}), "
                           f"got {target.dtype.name}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got "
                           f"{label_smoothing}")
    dim = 1 if input.ndim > 1 else 0
    C = input.shape[dim]
    if label_smoothing:
        target = target * (1 - label_smoothing) + label_smoothing / C
    loss = input.log_softmax(dim) * target
    if weight is not None:
        if tuple(weight.shape) != (C,):
            raise RuntimeError(f"cross_entropy: weight should have one entry per class ({C}), "
                               f"got weight of shape {tuple(weight.shape)}")
        loss = loss * weight.reshape((C,) + (1,) * (input.ndim - dim - 1))
    if reduction == "none":
        return -loss.sum(dim)
    loss = -loss.sum()
    if reduction == "sum":
        return loss
    return loss / (input.numel() // C) if input.numel() else loss * math.nan


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """Negative log-likelihood: -weight[t] * input[t] for log-probabilities input."""
    reduction = _reduction("nll_loss", reduction, size_average, reduce)
    _tensor("nll_loss", input, "input")
    return _fused.nll_loss(input, target, weight, ignore_index, reduction)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """-(t log x + (1 - t) log(1 - x)), each log clamped to >= -100, with PyTorch's
    derivatives (finite where x is 0 or 1)."""
    reduction = _reduction("binary_cross_entropy", reduction, size_average, reduce)
    _same_size("binary_cross_entropy", input, target, error=True)
    for name, x in (("input", input), ("target", target)):
        x = physical(x)._data
        if x.size and not ((x >= 0) & (x <= 1)).all():
            raise RuntimeError(f"binary_cross_entropy: all elements of {name} should be between 0 and "
                               f"1 (input {tuple(input.shape)} {input.dtype.name}, target "
                               f"{tuple(target.shape)} {target.dtype.name})")
    loss = _fused.binary_cross_entropy(input, target)
    return _reduce(loss if weight is None else loss * weight, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """binary_cross_entropy(sigmoid(input), target), computed stably from the logits:
    (1 - t) x - (1 + (pos_weight - 1) t) log sigmoid(x)."""
    reduction = _reduction("binary_cross_entropy_with_logits", reduction, size_average, reduce)
    if input.shape != target.shape:
        raise ValueError(f"binary_cross_entropy_with_logits: target size {tuple(target.shape)} "
                         f"must be the same as input size {tuple(input.shape)}")
    if pos_weight is None:
        loss = _fused.binary_cross_entropy_with_logits(input, target)
    else:
        loss = (1 - target) * input - (1 + (pos_weight - 1) * target) * logsigmoid(input)
    return _reduce(loss if weight is None else loss * weight, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """target * (log target - input), input being log-probabilities; 'batchmean' divides the
    sum by the batch size (the mathematical KL divergence)."""
    if size_average is None and reduce is None and reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with the "
                      "KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", stacklevel=2)
    batchmean = reduction == "batchmean" and size_average is None and reduce is None
    reduction = _reduction("kl_div", "sum" if batchmean else reduction, size_average, reduce)
    loss = target.exp() * (target - input) if log_target else xlogy(target, target) - target * input
    loss = _reduce(loss, reduction)
    return loss / input.shape[0] if batchmean and input.ndim else loss


def _margin_targets(name, input, target, shape, what):
    """The integer target array of the class-margin losses, checked: input (N, C) or (C,)."""
    t = target._data if isinstance(target, Tensor) else xp.asarray(target)
    if input.ndim not in (1, 2) or input.numel() == 0 or t.dtype.kind not in "iu" or t.shape != shape:
        raise RuntimeError(f"{name}: expected a non-empty 1-d or 2-d input and {what} of shape "
                           f"{shape}, got input {tuple(input.shape)} {input.dtype.name} and target "
                           f"{t.shape} {t.dtype}")
    return t


@batch_function()        # (reads the targets' values: once per element under vmap)
def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None,
                      reduce=None, reduction="mean"):
    """sum over j != t of max(0, margin - x[t] + x[j])^p / C (times weight[t]) per row."""
    reduction = _reduction("multi_margin_loss", reduction, size_average, reduce)
    if p not in (1, 2):
        raise ValueError("multi_margin_loss: only p == 1 and p == 2 supported")
    t = _margin_targets("multi_margin_loss", input, target, tuple(input.shape[:-1]), "class indices")
    C = input.shape[-1]
    if t.size and (t.min() < 0 or t.max() >= C):
        raise RuntimeError(f"multi_margin_loss: target {t[(t < 0) | (t >= C)].flat[0]} is out of "
                           f"bounds for {C} classes")
    idx = Tensor._make(t[..., None])
    z = (margin - input.gather(-1, idx) + input).relu()      # relu: PyTorch's z > 0
    if p == 2:
        z = z * z
    if weight is not None:
        z = z * weight[idx]
    others = ones(input.shape, dtype=bool, like=t)
    xp.put_along_axis(others, t[..., None], False, axis=-1)
    loss = (z * Tensor._make(others)).sum(-1) / C
    return _reduce(loss, reduction)


@batch_function()        # (reads the targets' values: once per element under vmap)
def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """sum over targets j and non-targets k of max(0, 1 - (x[j] - x[k])) / C per row; the
    targets of a row are its first entries, up to the first -1."""
    reduction = _reduction("multilabel_margin_loss", reduction, size_average, reduce)
    t = _margin_targets("multilabel_margin_loss", input, target, tuple(input.shape), "class lists")
    C = input.shape[-1]
    t2 = t.reshape(-1, C)
    listed = xp.cumprod(t2 >= 0, axis=1).astype(bool)        # entries before the first -1
    if ((t2 >= C) & listed).any():
        raise RuntimeError(f"multilabel_margin_loss: target {t2[(t2 >= C) & listed][0]} is out of "
                         f"bounds for {C} classes")
    count = xp.zeros(t2.shape, input._data.dtype, like=input._data)            # how often j is listed
    xp.add.at(count, (xp.nonzero(listed)[0], t2[listed]), 1)
    pairs = count[:, :, None] * (count == 0)[:, None, :]      # (rows, j, k) weights
    x = input.reshape(-1, C)
    z = (1 - x.unsqueeze(2) + x.unsqueeze(1)).relu()
    loss = (z * Tensor._make(pairs)).sum((1, 2)) / C
    return _reduce(loss.reshape(input.shape[:-1]), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction="mean"):
    """The mean over classes of -(t log sigmoid(x) + (1 - t) log sigmoid(-x))."""
    reduction = _reduction("multilabel_soft_margin_loss", reduction, size_average, reduce)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    loss = loss.sum(input.ndim - 1) / input.shape[-1]
    return _reduce(loss, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(-target * input)) (computed as -log sigmoid(target * input))."""
    reduction = _reduction("soft_margin_loss", reduction, size_average, reduce)
    return _reduce(-logsigmoid(target * input), reduction)


# --- embeddings and ranking ----------------------------------------------------------

def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,
                         reduction="mean"):
    """input where target == 1, max(0, margin - input) where target == -1."""
    reduction = _reduction("hinge_embedding_loss", reduction, size_average, reduce)
    zero = input.new_zeros(())
    loss = where(target != 1, (margin - input).clamp_min(0), zero) + where(target != -1, input, zero)
    return _reduce(loss, reduction)


def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                          reduction="mean"):
    """1 - cos(x1, x2) where target == 1, max(0, cos(x1, x2) - margin) where target == -1."""
    reduction = _reduction("cosine_embedding_loss", reduction, size_average, reduce)
    if input1.ndim not in (1, 2) or input1.shape != input2.shape or \
            target.ndim != input1.ndim - 1 or (target.ndim and target.shape[0] != input1.shape[0]):
        raise RuntimeError(f"cosine_embedding_loss: expected inputs of the same 1-d or 2-d shape "
                           f"and a target with one entry per row, got {tuple(input1.shape)}, "
                           f"{tuple(input2.shape)} and target {tuple(target.shape)}")
    d = input1.ndim - 1
    eps = 1e-12
    cos = (input1 * input2).sum(d) / (((input1 * input1).sum(d) + eps) *
                                      ((input2 * input2).sum(d) + eps)).sqrt()
    zero = cos.new_zeros(())
    loss = where(target == 1, 1 - cos, zero) + where(target == -1, (cos - margin).clamp_min(0), zero)
    return _reduce(loss, reduction)


def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                        reduction="mean"):
    """max(0, -target * (input1 - input2) + margin)."""
    reduction = _reduction("margin_ranking_loss", reduction, size_average, reduce)
    if not input1.ndim == input2.ndim == target.ndim:
        raise RuntimeError(f"margin_ranking_loss: all input tensors should have the same dimension "
                           f"but got sizes: input1: {tuple(input1.shape)}, input2: "
                           f"{tuple(input2.shape)}, target: {tuple(target.shape)}")
    return _reduce((-target * (input1 - input2) + margin).clamp_min(0), reduction)


def pairwise_distance(x1, x2, p=2.0, eps=1e-06, keepdim=False):
    """||x1 - x2 + eps||_p along the last dimension."""
    return vector_norm(x1 - x2 + eps, p, -1, keepdim=keepdim)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    """max(0, margin + d(anchor, positive) - d(anchor, negative)), d the p-norm distance;
    `swap` uses d(positive, negative) when it is smaller."""
    reduction = _reduction("triplet_margin_loss", reduction, size_average, reduce)
    if not anchor.ndim == positive.ndim == negative.ndim or anchor.ndim not in (1, 2):
        raise RuntimeError(f"triplet_margin_loss: expected anchor, positive and negative of the "
                           f"same 1-d or 2-d shape, got {tuple(anchor.shape)}, "
                           f"{tuple(positive.shape)} and {tuple(negative.shape)}")
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    loss = (margin + pairwise_distance(anchor, positive, p, eps) - d_neg).clamp_min(0)
    return _reduce(loss, reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean"):
    """triplet_margin_loss with any distance (pairwise_distance by default)."""
    reduction = _reduction("triplet_margin_with_distance_loss", reduction)
    if margin <= 0:
        raise ValueError(f"triplet_margin_with_distance_loss: expected margin to be greater than 0, "
                         f"got {margin} instead")
    dist = distance_function or pairwise_distance
    d_neg = dist(anchor, negative)
    if swap:
        d_neg = minimum(d_neg, dist(positive, negative))
    return _reduce((margin + dist(anchor, positive) - d_neg).clamp_min(0), reduction)


__all__ = [
    "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "poisson_nll_loss",
    "gaussian_nll_loss", "cross_entropy", "nll_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "kl_div", "multi_margin_loss", "multilabel_margin_loss",
    "multilabel_soft_margin_loss", "soft_margin_loss", "hinge_embedding_loss",
    "cosine_embedding_loss", "margin_ranking_loss", "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
]
