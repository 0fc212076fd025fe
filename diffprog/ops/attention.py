"""Attention: scaled dot-product attention and the multi-head attention forward pass.

Both run on one fused op, `Attention`: softmax(q k^T * scale + bias) times a dropout mask,
then @ v, with the attention weights as a second output (saved for the VJP, returned by
multi-head attention).  Mask conventions are PyTorch's, which differ:
for `scaled_dot_product_attention` a boolean mask is True where a position *takes part*;
for `multi_head_attention_forward` (attn_mask and key_padding_mask) True means *masked out*.
Float masks are added to the scores in both.
"""
import math

from .._array import ones, xp
from ..random import dropout_mask
from ..tensor import Tensor
from .batching import array_of, lift, loop, materialize, ndim_of
from .fast import row_kernels
from .nn import Linear
from .selection import where
from .op import Op, quiet
from .shape import cat

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]
METHODS = {}


def _check_mask(name, mask, shape):
    """A mask must broadcast to the attention weights' shape, else an error naming both."""
    try:
        ok = xp.broadcast_shapes(tuple(mask.shape), shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise RuntimeError(f"{name}: attn_mask of shape {tuple(mask.shape)} cannot be broadcast to the "
                           f"attention weights' shape {shape}")


class Attention(Op):
    """(softmax(q @ k^T * scale + bias) * keep) @ v, and the softmax P (the weights).

    bias (optional operand) is the additive float mask; keep (option) a constant dropout
    multiplier (0 or 1/(1-p)) or None.  A row that the mask leaves empty gets weights 0
    with `empty_rows_zero` (PyTorch's scaled_dot_product_attention), NaN without
    (its multi-head attention).  With dS the gradient at the scores,
    dS = P * (dP - sum(dP * P)), dP = (g @ v^T) * keep + gP."""

    op_name = "scaled_dot_product_attention"
    n_out = 2
    raw = True
    materialize_grads = False   # (the weights' gradient is usually None: no pass over zeros)

    @classmethod
    def batch(cls, n, args, batched, kwargs):
        if kwargs.get("keep") is not None:          # (a dropout mask drawn for one element)
            return loop(cls, n, args, batched, kwargs)
        rank = max(ndim_of(a, b) for a, b in zip(args, batched))
        return cls.apply(*(lift(materialize(a, n, b), rank) for a, b in zip(args, batched)), **kwargs)

    @quiet
    def forward(ctx, q, k, v, bias=None, *, scale, keep=None, empty_rows_zero=False):
        if not q.dtype == k.dtype == v.dtype:
            raise RuntimeError(f"scaled_dot_product_attention: expected query, key and value of the same "
                               f"dtype, got {q.dtype}, {k.dtype} and {v.dtype}")
        ctx.scale, ctx.keep = scale, keep
        p = xp.matmul(q, xp.swapaxes(k, -1, -2))
        fast, rows = _score_rows(p, bias)
        if fast is not None:
            fast.softmax_scores(p.reshape(-1, p.shape[-1]), scale, rows, empty_rows_zero)
        else:
            _softmax_scores(p, scale, bias, empty_rows_zero)
        if keep is None:
            return xp.matmul(p, v), p
        ctx.dropped = p * keep              # (for v's gradient)
        return xp.matmul(ctx.dropped, v), p

    def vjp(ctx, g, g_p):
        if ctx._raw:
            return ctx._array_vjp(g, g_p)
        q, k, v = ctx.input(0), ctx.input(1), ctx.input(2)
        p = ctx.outputs[1]
        dp = None if g is None else ctx._dropped(g @ v.mT)
        dp = g_p if dp is None else dp if g_p is None else dp + g_p
        ds = p * (dp - (dp * p).sum(-1, keepdim=True))
        need = ctx.needs_input_grad
        return ((ds @ k) * ctx.scale if need[0] else None,
                (ds.mT @ q) * ctx.scale if need[1] else None,
                ctx._dropped(p).mT @ g if need[2] and g is not None else None,
                *((ds,) if len(need) > 3 else ()))

    def _dropped(ctx, x):
        return x if ctx.keep is None else x * Tensor._make(ctx.keep)

    def _array_vjp(ctx, g, g_p):
        """`vjp` on arrays (a backward that is not itself differentiated), the gradient at
        the scores made in place by one kernel where numba is installed."""
        q, k, v = ctx.input(0), ctx.input(1), ctx.input(2)
        p, keep, need = ctx.outputs[1], ctx.keep, ctx.needs_input_grad
        if g is None:
            ds = p * (g_p - (g_p * p).sum(-1, keepdims=True))
        else:
            d = xp.matmul(g, xp.swapaxes(v, -1, -2))
            fast = row_kernels(d, p, keep) if g_p is None and d.shape == p.shape else None
            if fast is not None:
                ds = d.reshape(-1, d.shape[-1])
                fast.softmax_scores_vjp(ds, p.reshape(ds.shape), xp.ones((1, ds.shape[1]), p.dtype)
                                        if keep is None else keep.reshape(ds.shape))
                ds = d
            else:
                if keep is not None:
                    d *= keep
                if g_p is not None:
                    d += g_p
                ds = p * (d - (d * p).sum(-1, keepdims=True))
        gq = gk = gv = None
        if need[0]:
            gq = xp.matmul(ds, k)
            gq *= ctx.scale
        if need[1]:
            gk = xp.matmul(xp.swapaxes(ds, -1, -2), q)
            gk *= ctx.scale
        if need[2] and g is not None:
            gv = xp.matmul(xp.swapaxes(p if keep is None else ctx.dropped, -1, -2), g)
        return (gq, gk, gv, *((ds,) if len(need) > 3 else ()))

    def jvp(ctx, dq, dk, dv, dbias=None):
        q, k, v = ctx.args[:3]
        p = ctx.outputs[1]
        ds = (dq @ k.mT + q @ dk.mT) * ctx.scale
        if dbias is not None:
            ds = ds + dbias
        dp = p * (ds - (ds * p).sum(-1, keepdim=True))
        return ctx._dropped(dp) @ v + ctx._dropped(p) @ dv, dp


def _softmax_scores(p, scale, bias, empty_rows_zero):
    """In place, p becomes softmax(p * scale + bias) over its last dim (NumPy)."""
    p *= scale
    if bias is not None:
        p += bias
    top = p.max(axis=-1, keepdims=True)
    if empty_rows_zero and bias is not None:
        top[top == -xp.inf] = 0
    p -= top
    xp.exp(p, out=p)
    total = p.sum(axis=-1, keepdims=True)
    if empty_rows_zero and bias is not None:
        total[total == 0] = 1
    p /= total


def _score_rows(p, bias):
    """(rows_numba, bias rows) for the scores p where the kernel applies: float32 (its exp
    is exact to float32's precision, not float64's) and a bias that is absent (a row of
    zeros), of p's shape, or one (L, S) matrix for all batch elements."""
    if p.dtype != xp.float32 or type(p) is not xp.ndarray:
        return None, None
    if bias is None:
        bias = xp.zeros((1, p.shape[-1]), p.dtype)
    elif bias.shape != p.shape:
        if bias.shape[-2:] != p.shape[-2:] or bias.size != p.shape[-2] * p.shape[-1]:
            return None, None
        bias = xp.ascontiguousarray(bias.reshape(p.shape[-2:]))
    fast = row_kernels(p, bias)
    if fast is None or not p.size:
        return None, None
    return fast, bias.reshape(-1, p.shape[-1])


def _attention(q, k, v, bias, scale, dropout_p, empty_rows_zero=False, need_weights=True):
    """Attention.apply with a fresh dropout mask when dropout_p > 0: (output, weights),
    the weights with dropout applied as PyTorch returns them (None unless need_weights)."""
    keep = None
    if dropout_p > 0:
        shape = (*xp.broadcast_shapes(q.shape[:-2], k.shape[:-2]), q.shape[-2], k.shape[-2])
        keep = dropout_mask(q, dropout_p, shape)._data
    args = (q, k, v) if bias is None else (q, k, v, bias)
    out, weights = Attention.apply(*args, scale=scale, keep=keep, empty_rows_zero=empty_rows_zero)
    if not need_weights:
        return out, None
    return out, weights if keep is None else weights * Tensor._make(keep)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False,
                                 scale=None, enable_gqa=False):
    """softmax(query @ key^T * scale + mask) @ value over the last two dims, scale = 1/sqrt(E).

    attn_mask: bool (True = takes part) or float (added); is_causal: the top-left aligned
    lower-triangular mask.  enable_gqa repeats key/value heads (dim -3) to match query's."""
    L, S = query.shape[-2], key.shape[-2]
    if enable_gqa and query.ndim >= 3 and query.shape[-3] != key.shape[-3]:
        groups = query.shape[-3] // key.shape[-3]
        key, value = key.repeat_interleave(groups, -3), value.repeat_interleave(groups, -3)
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"scaled_dot_product_attention: shapes of query {tuple(query.shape)}, key "
                           f"{tuple(key.shape)} and value {tuple(value.shape)} do not match")
    scale = 1 / math.sqrt(query.shape[-1]) if scale is None else scale
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError("scaled_dot_product_attention: explicit attn_mask should not be set "
                               "when is_causal=True")
        attn_mask = Tensor._make(xp.tril(ones((L, S), dtype=bool, like=array_of(query))))
    if attn_mask is not None:
        shape = (*xp.broadcast_shapes(query.shape[:-2], key.shape[:-2]), L, S)
        _check_mask("scaled_dot_product_attention", attn_mask, shape)
        if attn_mask.dtype.name == "bool":             # True takes part: the opposite of MHA's
            attn_mask = _float_mask(attn_mask.logical_not(), query.dtype)
    return _attention(query, key, value, attn_mask, scale, dropout_p, empty_rows_zero=True,
                      need_weights=False)[0]


def _float_mask(mask, dtype):
    """A bool mask (True = masked out) as an additive float mask (-inf there, 0 elsewhere)."""
    if mask is None or mask.dtype.name != "bool":
        return mask
    return where(mask, -math.inf, 0.0).to(dtype)


def _in_projection(q, k, v, w_q, w_k, w_v, b, E):
    bq, bk, bv = (None, None, None) if b is None else (b[:E], b[E:2 * E], b[2 * E:])
    return Linear.apply(q, w_q, bq), Linear.apply(k, w_k, bk), Linear.apply(v, w_v, bv)


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight,
                                 in_proj_bias, bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight,
                                 out_proj_bias, training=True, key_padding_mask=None, need_weights=True,
                                 attn_mask=None, use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None, static_v=None,
                                 average_attn_weights=True, is_causal=False):
    """PyTorch's multi-head attention on (L, N, E) inputs (or unbatched (L, E)).

    Returns (output (L, N, E), weights (N, L, S) averaged over heads, (N, H, L, S) if not
    averaged, or None when need_weights is False).  is_causal is only a hint: attn_mask must
    be given with it and is what is applied."""
    name = "multi_head_attention_forward"
    batched = query.ndim == 3
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    L, N, E = query.shape
    S = key.shape[0]
    if E != embed_dim_to_check:
        raise RuntimeError(f"{name}: was expecting embedding dimension of {embed_dim_to_check}, but got {E}")
    if key.shape[:2] != value.shape[:2]:
        raise RuntimeError(f"{name}: key shape {tuple(key.shape)} does not match value shape "
                           f"{tuple(value.shape)}")
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer "
                           "module method `generate_square_subsequent_mask` to create this mask.")
    H, hd = num_heads, E // num_heads
    if H * hd != E:
        raise RuntimeError(f"{name}: embed_dim {E} not divisible by num_heads {H}")

    attn_mask = _float_mask(attn_mask, query.dtype)
    key_padding_mask = _float_mask(key_padding_mask, query.dtype)
    if attn_mask is not None:
        if attn_mask.ndim == 2:
            if tuple(attn_mask.shape) != (L, S):
                raise RuntimeError(f"The shape of the 2D attn_mask is {tuple(attn_mask.shape)}, but "
                                   f"should be {(L, S)}.")
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.ndim == 3:
            if tuple(attn_mask.shape) != (N * H, L, S):
                raise RuntimeError(f"The shape of the 3D attn_mask is {tuple(attn_mask.shape)}, but "
                                   f"should be {(N * H, L, S)}.")
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.ndim} is not supported")

    if key_padding_mask is not None and tuple(key_padding_mask.shape) != (N, S):
        raise RuntimeError(f"{name}: expected key_padding_mask of shape {(N, S)}, but got "
                           f"{tuple(key_padding_mask.shape)}")

    if use_separate_proj_weight:
        q, k, v = _in_projection(query, key, value, q_proj_weight, k_proj_weight, v_proj_weight,
                                 in_proj_bias, E)
    elif query is key and key is value:                 # self-attention: one product
        q, k, v = Linear.apply(query, in_proj_weight, in_proj_bias).chunk(3, -1)
    else:
        w = in_proj_weight
        q, k, v = _in_projection(query, key, value, w[:E], w[E:2 * E], w[2 * E:], in_proj_bias, E)

    if bias_k is not None and bias_v is not None:       # one more key/value: the learned biases
        k = cat([k, bias_k.expand(1, N, E)])
        v = cat([v, bias_v.expand(1, N, E)])
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)

    q = q.reshape(L, N * H, hd).transpose(0, 1)
    k = k.reshape(k.shape[0], N * H, hd).transpose(0, 1) if static_k is None else static_k
    v = v.reshape(v.shape[0], N * H, hd).transpose(0, 1) if static_v is None else static_v
    if add_zero_attn:                                   # one more all-zero key/value
        k = cat([k, k.new_zeros((N * H, 1, hd))], 1)
        v = cat([v, v.new_zeros((N * H, 1, hd))], 1)
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)
    S = k.shape[1]

    if key_padding_mask is not None:
        kpm = key_padding_mask.reshape(N, 1, 1, S).expand(N, H, 1, S).reshape(N * H, 1, S)
        attn_mask = kpm if attn_mask is None else attn_mask + kpm
    if not training:
        dropout_p = 0.0

    out, weights = _attention(q, k, v, attn_mask, 1 / math.sqrt(hd), dropout_p, need_weights=need_weights)
    out = out.transpose(0, 1).reshape(L * N, E)
    out = Linear.apply(out, out_proj_weight, out_proj_bias).reshape(L, N, E)
    if not batched:
        out = out.squeeze(1)
    if not need_weights:
        return out, None
    weights = weights.reshape(N, H, L, S)
    if average_attn_weights:
        weights = weights.mean(1)
    return out, (weights if batched else weights.squeeze(0))


def _pad_last(mask):
    """Let a float mask cover one more key (appended at the end, not masked)."""
    if mask is None:
        return None
    return cat([mask, mask.new_zeros((*mask.shape[:-1], 1))], -1)
