"""Straight-through estimators: the hard value forward, a surrogate's gradient backward.

The gradient is the surrogate's, not the (zero or undefined) gradient of the hard function,
so it is biased; it is exact where hard and surrogate agree to first order.
"""
from ..ops.op import Op
from ..ops.softmax import one_hot, softmax
from ..tensor import Tensor


class StraightThrough(Op):
    """Value of `hard`, derivative of `soft` (exact forward, unlike hard - soft.detach() + soft)."""
    promote = "common"

    def forward(ctx, hard, soft):
        if hard.shape != soft.shape:
            raise RuntimeError(f"straight_through: hard value of shape {hard.shape} and surrogate "
                               f"of shape {soft.shape} must have the same shape")
        return hard

    def vjp(ctx, g):
        return None, g

    def jvp(ctx, dhard, dsoft):
        return dsoft


def _identity(x):
    return x


def straight_through(hard, soft=None):
    """`straight_through(x_hard, x_soft)`: x_hard's value with x_soft's gradient.

    `straight_through(forward_fn, surrogate_fn=identity)`: a function x -> forward_fn(x)
    in the forward pass whose gradient is surrogate_fn's (e.g. `straight_through(torch.sign,
    F.hardtanh)`)."""
    if isinstance(hard, Tensor):
        if soft is None:
            raise TypeError("straight_through: give the surrogate x_soft along with x_hard")
        return StraightThrough.apply(hard.detach(), soft)
    forward_fn, surrogate_fn = hard, soft or _identity
    return lambda x: StraightThrough.apply(forward_fn(x.detach()), surrogate_fn(x))


def ste_sign(x):
    """sign(x) forward, identity gradient."""
    return StraightThrough.apply(x.detach().sign(), x)


def ste_round(x):
    """round(x) forward, identity gradient."""
    return StraightThrough.apply(x.detach().round(), x)


def ste_argmax(logits, dim=-1, tau=1.0):
    """One-hot of the argmax along dim forward, the gradient of softmax(logits / tau)."""
    soft = softmax(logits / tau, dim)
    return StraightThrough.apply(hard_one_hot(soft.detach(), dim), soft)


def hard_one_hot(x, dim=-1):
    """One-hot (in x's dtype) of x's argmax along dim."""
    return one_hot(x.argmax(dim), x.shape[dim]).movedim(-1, dim).to(x.dtype)
