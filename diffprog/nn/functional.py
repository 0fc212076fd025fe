"""`diffprog.nn.functional` (`import diffprog.nn.functional as F`): PyTorch's functional
neural-network API.

Activations and softmax are the ops of `diffprog.ops` (re-exported here, not redefined);
linear, layer/batch norm and embedding are the fused ops of `diffprog/ops/nn.py`; the rest
(dropout, rms/group norm, distances, ...) are short compositions of differentiable ops.
Losses come from `_loss_functional.py`.
"""
import math
import warnings

from .._array import xp
from ..ops.activations import (celu, elu, gelu, hardsigmoid, hardswish, hardtanh, leaky_relu,
                               logsigmoid, mish, relu, relu6, selu, silu, softplus, softsign,
                               tanhshrink, threshold)
from ..ops.selection import where
from ..ops.batching import batch_function
from ..ops.linalg import einsum, vector_norm
from ..ops.nn import BatchNorm, Bags, Embedding, EmbeddingBag, LayerNorm, Linear, layer_norm
from ..ops.nn import _update_running
from ..ops.softmax import log_softmax, one_hot, softmax
from ..ops.transcendental import sigmoid, tanh
from ..random import dropout_mask, rand
from ..relax.gumbel import gumbel_softmax as _relax_gumbel_softmax
from ..tensor import Tensor

# --- layers ------------------------------------------------------------------------------


def linear(input, weight, bias=None):
    """input @ weight.T + bias, one fused op."""
    return Linear.apply(input, weight, bias)


def bilinear(input1, input2, weight, bias=None):
    """y[..., k] = input1 @ weight[k] @ input2 + bias[k]."""
    if weight.ndim != 3 or input1.shape[-1] != weight.shape[1] or input2.shape[-1] != weight.shape[2]:
        raise RuntimeError(f"bilinear: inputs of shapes {tuple(input1.shape)} and {tuple(input2.shape)} "
                           f"don't match the weight of shape {tuple(weight.shape)} (expected "
                           "(*, in1), (*, in2) and (out, in1, in2))")
    y = einsum("...i,kij,...j->...k", input1, weight, input2)
    return y + bias if bias is not None else y


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of weight picked by the integer ids in input (`sparse` is accepted, ignored)."""
    n = weight.shape[0]
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx %= n
    if max_norm is not None:
        _renorm_rows(weight, input, max_norm, norm_type)
    return Embedding.apply(weight, input, padding_idx=padding_idx, scale_grad_by_freq=scale_grad_by_freq)


@batch_function()      # (reads the ids and offsets: once per element under vmap)
def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False,
                  mode="mean", sparse=False, per_sample_weights=None, include_last_offset=False,
                  padding_idx=None):
    """Sum, mean or max of the embeddings of each bag of ids, without materializing the
    (bag, length, dim) lookups: the bags are the rows of a 2-D input, or the slices of a 1-D
    input that start at `offsets`. Entries equal to `padding_idx` are left out (and don't
    count towards a mean); an empty bag gives zeros; `per_sample_weights` scale each entry
    (sum mode only); `sparse` is accepted, ignored. One fused op (`ops.nn.EmbeddingBag`)."""
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"embedding_bag: mode has to be one of sum, mean or max, got {mode!r}")
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. "
                                      f"per_sample_weights is only supported for mode='sum' (got "
                                      f"mode={mode!r})")
        if tuple(per_sample_weights.shape) != tuple(input.shape):
            raise ValueError(f"embedding_bag: per_sample_weights of shape "
                             f"{tuple(per_sample_weights.shape)} must have the input's shape "
                             f"{tuple(input.shape)}")
    if mode == "max" and scale_grad_by_freq:
        raise ValueError("embedding_bag: max mode does not support scaling the gradient by the "
                         "frequency")
    n = weight.shape[0]
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise AssertionError("padding_idx must be within num_embeddings")
        padding_idx %= n
    ids = input._data if isinstance(input, Tensor) else xp.asarray(input)
    if offsets is not None:
        offsets = offsets._data if isinstance(offsets, Tensor) else xp.asarray(offsets)
    bags = Bags(ids, offsets, n, mode, padding_idx, include_last_offset, scale_grad_by_freq)
    if max_norm is not None:
        _renorm_rows(weight, ids, max_norm, norm_type)
    return EmbeddingBag.apply(weight, per_sample_weights, bags=bags, mode=mode)


def _renorm_rows(weight, ids, max_norm, norm_type):
    """Rescale (in place, untracked) the looked-up rows whose norm exceeds max_norm."""
    rows = xp.unique(ids._data if isinstance(ids, Tensor) else xp.asarray(ids))
    w = weight._data
    norms = xp.linalg.norm(w[rows], ord=norm_type, axis=1)
    big = norms > max_norm
    w[rows[big]] *= (max_norm / (norms[big] + 1e-7))[:, None].astype(w.dtype)
    weight._vc[0] += 1


# --- normalization -----------------------------------------------------------------------


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-05):
    """Normalize each channel (dim 1) by the batch statistics (training: the running
    statistics are updated in place) or by the running statistics (evaluation)."""
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected an input with at least 2 dimensions (N, C, *), "
                         f"got shape {tuple(input.shape)}")
    c = input.shape[1]
    shape = (c,) + (1,) * (input.ndim - 2)          # parameters broadcast along the channels
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and t.numel() != c:
            raise RuntimeError(f"batch_norm: {name} should contain {c} elements not {t.numel()}")
    weight = weight.reshape(shape) if weight is not None else None
    bias = bias.reshape(shape) if bias is not None else None
    if training:
        if input.numel() // c == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                             f"{input.shape}")
        running = (running_mean, running_var, momentum) if (
            running_mean is not None or running_var is not None) else None
        dims = (0,) + tuple(range(2, input.ndim))
        return BatchNorm.apply(input, weight, bias, dims=dims, eps=eps, running=running)
    if running_mean is None or running_var is None:
        raise RuntimeError("batch_norm: running_mean and running_var must be defined in evaluation mode")
    scale = (running_var + eps).rsqrt().reshape(shape)     # an affine map per channel
    if weight is not None:
        scale = scale * weight
    shift = -running_mean.reshape(shape) * scale
    if bias is not None:
        shift = shift + bias
    return input * scale + shift


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2) + eps) over the trailing dims, times weight (eps None: the
    dtype's machine epsilon)."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if tuple(input.shape[input.ndim - k:]) != shape or input.ndim < k:
        raise RuntimeError(f"rms_norm: given normalized_shape={list(shape)}, expected input with shape "
                           f"[*, {', '.join(map(str, shape))}], but got input of size {list(input.shape)}")
    if eps is None:
        eps = float(xp.finfo(input.dtype.np).eps)
    dims = tuple(range(input.ndim - k, input.ndim))
    y = input * ((input * input).mean(dims, keepdim=True) + eps).rsqrt()
    return y * weight if weight is not None else y


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-05):
    """Normalize over each group of channels (and all positions), then scale and shift per channel."""
    n, c = input.shape[0], input.shape[1] if input.ndim > 1 else 0
    if input.ndim < 2 or c % num_groups:
        raise RuntimeError(f"group_norm: expected the number of channels (dim 1) to be divisible "
                           f"by num_groups, but got input of shape {list(input.shape)} and "
                           f"num_groups={num_groups}")
    y = LayerNorm.apply(input.reshape(n, num_groups, -1), None, None, dims=(2,), eps=eps)
    y = y.reshape(input.shape)
    shape = (c,) + (1,) * (input.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(shape)
    return y + bias.reshape(shape) if bias is not None else y


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-05):
    """Normalize each channel of each sample over its positions (the fused batch-norm op
    over the spatial dims), then scale and shift per channel.  The running statistics (if
    given) take the batch average of the per-sample ones; without use_input_stats they
    normalize instead, as batch norm in evaluation."""
    if input.ndim < 3:
        raise ValueError(f"instance_norm: expected an input with at least 3 dimensions (N, C, *), "
                         f"got shape {tuple(input.shape)}")
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    c = input.shape[1]
    if input.numel() // max(input.shape[0] * c, 1) == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                         f"{list(input.shape)}")
    shape = (c,) + (1,) * (input.ndim - 2)
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and t.numel() != c:
            raise RuntimeError(f"instance_norm: {name} should contain {c} elements not {t.numel()}")
    dims = tuple(range(2, input.ndim))
    if running_mean is not None or running_var is not None:     # the batch means of the statistics
        x = input._data
        _update_running((running_mean, running_var, momentum), x.mean(dims).mean(0),
                        x.var(dims).mean(0), x.size // (x.shape[0] * c))
    return BatchNorm.apply(input, weight.reshape(shape) if weight is not None else None,
                           bias.reshape(shape) if bias is not None else None, dims=dims, eps=eps)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(||input||_p, eps) along dim."""
    return input / vector_norm(input, p, dim, keepdim=True).clamp_min(eps)


# --- dropout -----------------------------------------------------------------------------


def _check_p(p):
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability p and scale the rest by 1/(1-p) (training only)."""
    _check_p(p)
    if not training or p == 0:
        return input
    mask = dropout_mask(input, p, input.shape)
    return input.mul_(mask) if inplace else input * mask


def _feature_dropout(input, p, training, inplace, ndim, name):
    """Dropout of whole channels: one draw per (sample, channel), for inputs with `ndim`
    feature dims after the channel (a batch dim in front is optional)."""
    _check_p(p)
    if input.ndim not in (ndim + 1, ndim + 2):
        raise RuntimeError(f"{name}: expected a {ndim + 1}D (unbatched) or {ndim + 2}D (batched) "
                           f"input, got shape {tuple(input.shape)}")
    if not training or p == 0:
        return input
    lead = input.ndim - ndim
    mask = dropout_mask(input, p, tuple(input.shape[:lead]) + (1,) * ndim)
    return input.mul_(mask) if inplace else input * mask


def dropout1d(input, p=0.5, training=True, inplace=False):
    return _feature_dropout(input, p, training, inplace, 1, "dropout1d")


def _deprecated_rank(input, p, training, inplace, ndim, name):
    """PyTorch's dropout2d / dropout3d of an input without the expected rank: a warning, then
    one draw per (sample, channel) of an (N, C, *) input."""
    warnings.warn(f"{name}: Received a {input.ndim}-D input to {name}, which is deprecated and will "
                  "result in an error in a future release. To retain the behavior and silence this "
                  f"warning, please use dropout instead. Note that {name} exists to provide "
                  f"channel-wise dropout on inputs with {ndim} spatial dimensions, a channel "
                  f"dimension, and an optional batch dimension (i.e. {ndim + 1}D or {ndim + 2}D "
                  "inputs).", stacklevel=3)
    return _feature_dropout(input, p, training, inplace, max(input.ndim - 2, 0), name)


def dropout2d(input, p=0.5, training=True, inplace=False):
    if input.ndim not in (3, 4):
        return _deprecated_rank(input, p, training, inplace, 2, "dropout2d")
    if input.ndim == 3:     # PyTorch's (deprecated) reading: (N, C, L), channel-wise 1-d dropout
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
                      "dropout behavior is desired - input is interpreted as shape (N, C, L), as in "
                      "PyTorch; use dropout1d for that, or add a batch dim to a (C, H, W) input",
                      stacklevel=2)
        return _feature_dropout(input, p, training, inplace, 1, "dropout2d")
    return _feature_dropout(input, p, training, inplace, 2, "dropout2d")


def dropout3d(input, p=0.5, training=True, inplace=False):
    if input.ndim not in (4, 5):
        return _deprecated_rank(input, p, training, inplace, 3, "dropout3d")
    return _feature_dropout(input, p, training, inplace, 3, "dropout3d")


_SELU_ALPHA_SCALE = 1.7580993408473766       # selu's scale * alpha: its negative saturation


def alpha_dropout(input, p=0.5, training=False, inplace=False, _mask_shape=None):
    """Dropout for SELU networks: dropped units take selu's saturation value and an affine
    map keeps the mean and variance of the activations."""
    _check_p(p)
    if not training or p == 0:
        return input
    if p == 1:
        return input.mul_(0) if inplace else input * 0
    shape = _mask_shape or input.shape
    keep = (rand(shape, dtype=input.dtype) >= p).to(input.dtype)
    a = 1 / math.sqrt((_SELU_ALPHA_SCALE ** 2 * p + 1) * (1 - p))
    b = (keep - 1) * (_SELU_ALPHA_SCALE * a) + _SELU_ALPHA_SCALE * a * p
    if inplace:
        return input.mul_(keep * a).add_(b)
    return input * (keep * a) + b


# --- activations (beyond the ops) ----------------------------------------------------------


def relu_(input):
    return relu(input, inplace=True)


def elu_(input, alpha=1.0):
    return elu(input, alpha, inplace=True)


def celu_(input, alpha=1.0):
    return celu(input, alpha, inplace=True)


def selu_(input):
    return selu(input, inplace=True)


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, inplace=True)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


def threshold_(input, threshold_value, value):
    return threshold(input, threshold_value, value, inplace=True)


def prelu(input, weight):
    """max(0, x) + weight * min(0, x), weight per channel (dim 1) or one for all."""
    if weight.numel() != 1:
        c = input.shape[1] if input.ndim > 1 else input.shape[0]
        if weight.numel() != c:
            raise RuntimeError(f"prelu: mismatch of parameter numbers and input channel size: "
                               f"{weight.numel()} parameters, {c} channels (input shape "
                               f"{tuple(input.shape)})")
        if input.ndim > 1:
            weight = weight.reshape((c,) + (1,) * (input.ndim - 2))
    return where(input > 0, input, weight * input)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-input)."""
    return softmax(-input, dim, dtype=dtype)


def glu(input, dim=-1):
    """a * sigmoid(b), where a and b are the two halves of input along dim."""
    if input.shape[dim] % 2:
        raise RuntimeError(f"glu: Halving dimension must be even, but dimension {dim} is size "
                           f"{input.shape[dim]}")
    a, b = input.chunk(2, dim)
    return a * b.sigmoid()


def hardshrink(input, lambd=0.5):
    """x where |x| > lambd, else 0."""
    return where(input.abs() > lambd, input, 0.0)


def softshrink(input, lambd=0.5):
    """x - lambd above lambd, x + lambd below -lambd, else 0."""
    return where(input > lambd, input - lambd, where(input < -lambd, input + lambd, 0.0))


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    """`diffprog.relax.gumbel_softmax` (eps is unused, as in PyTorch)."""
    return _relax_gumbel_softmax(logits, tau, hard, dim)


# --- distances -----------------------------------------------------------------------------


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """<x1, x2> / (max(||x1||, eps) * max(||x2||, eps)) along dim (inputs broadcast)."""
    n1 = vector_norm(x1, 2, dim, keepdim=True).clamp_min(eps)
    n2 = vector_norm(x2, 2, dim, keepdim=True).clamp_min(eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


from ._loss_functional import *  # noqa: E402,F401,F403
from ._loss_functional import pairwise_distance  # noqa: E402,F401
from . import _loss_functional  # noqa: E402

__all__ = [
    "linear", "bilinear", "embedding", "embedding_bag", "batch_norm", "layer_norm", "rms_norm", "group_norm",
    "normalize", "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
    "relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "elu", "elu_", "selu", "selu_", "celu",
    "celu_", "gelu", "silu", "mish", "softplus", "hardtanh", "hardtanh_", "hardsigmoid",
    "hardswish", "logsigmoid", "softsign", "tanhshrink", "threshold", "threshold_", "prelu",
    "glu", "hardshrink", "softshrink", "sigmoid", "tanh", "softmax", "log_softmax", "softmin",
    "gumbel_softmax", "one_hot", "cosine_similarity", "pairwise_distance",
]
__all__ += _loss_functional.__all__
from ..ops.conv import (conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d,  # noqa: E402
                        conv_transpose3d, fold, unfold)
from ..ops.pool import (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_max_pool1d,  # noqa: E402
                        adaptive_max_pool2d, avg_pool1d, avg_pool2d, interpolate, local_response_norm,
                        lp_pool1d, lp_pool2d, max_pool1d, max_pool2d, max_unpool2d, pad, pixel_shuffle,
                        pixel_unshuffle)

__all__ += [
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "fold", "unfold", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d",
    "adaptive_max_pool2d", "avg_pool1d", "avg_pool2d", "interpolate", "local_response_norm",
    "lp_pool1d", "lp_pool2d", "max_pool1d", "max_pool2d", "max_unpool2d", "pad", "pixel_shuffle",
    "pixel_unshuffle",
]
from ..ops.attention import multi_head_attention_forward, scaled_dot_product_attention  # noqa: E402

__all__ += ["scaled_dot_product_attention", "multi_head_attention_forward"]
from ..ops.sampling import affine_grid, grid_sample  # noqa: E402

__all__ += ["grid_sample", "affine_grid", "instance_norm"]


# --- 3-d pooling, channel shuffle, randomized activations, deprecated aliases -------------------

from ..ops.pool import (adaptive_avg_pool3d, adaptive_max_pool1d_with_indices,  # noqa: E402
                        adaptive_max_pool2d_with_indices, adaptive_max_pool3d,
                        adaptive_max_pool3d_with_indices, avg_pool3d, channel_shuffle, lp_pool3d,
                        max_pool1d_with_indices, max_pool2d_with_indices, max_pool3d,
                        max_pool3d_with_indices, max_unpool1d, max_unpool3d)
from ..ops.composite import pdist  # noqa: E402
from ..ops.ctc import ctc_loss  # noqa: E402

native_channel_shuffle = channel_shuffle


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """alpha_dropout of whole channels (one draw per sample and channel)."""
    return alpha_dropout(input, p, training, inplace,
                         _mask_shape=tuple(input.shape[:2]) + (1,) * (input.ndim - 2))


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Leaky ReLU with a random negative slope from U(lower, upper) per element in training,
    the mean slope (lower + upper) / 2 in evaluation."""
    if training:
        slope = Tensor._make(rand(input.shape, dtype=input.dtype)._data * (upper - lower) + lower)
    else:
        slope = (lower + upper) / 2
    out = input.where(input >= 0, input * slope)
    return input.copy_(out) if inplace else out


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(input, lower, upper, training, inplace=True)


def _deprecated_upsample(name, mode, align_corners=None):
    def f(input, size=None, scale_factor=None, *args, **kwargs):
        import warnings
        warnings.warn(f"`nn.functional.{name}` is deprecated. Use `nn.functional.interpolate` "
                      "instead.", stacklevel=2)
        if mode is None:                 # upsample(input, size, scale_factor, mode, align_corners)
            return interpolate(input, size, scale_factor, *args, **kwargs)
        return interpolate(input, size, scale_factor, mode, align_corners)
    f.__name__ = name
    return f


upsample = _deprecated_upsample("upsample", None)
upsample_nearest = _deprecated_upsample("upsample_nearest", "nearest")
upsample_bilinear = _deprecated_upsample("upsample_bilinear", "bilinear", True)

__all__ += ["adaptive_avg_pool3d", "adaptive_max_pool3d", "avg_pool3d", "lp_pool3d", "max_pool3d",
            "max_unpool1d", "max_unpool3d", "max_pool1d_with_indices", "max_pool2d_with_indices",
            "max_pool3d_with_indices", "adaptive_max_pool1d_with_indices",
            "adaptive_max_pool2d_with_indices", "adaptive_max_pool3d_with_indices",
            "channel_shuffle", "native_channel_shuffle", "pdist", "ctc_loss",
            "feature_alpha_dropout", "rrelu", "rrelu_", "upsample", "upsample_nearest",
            "upsample_bilinear"]
