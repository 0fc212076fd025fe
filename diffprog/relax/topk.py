"""Differentiable top-k by successive softmax (the relaxed subset selection of Xie & Ermon
2019): k rounds of a = softmax(w / tau), mask += a, w += log(1 - a), so each round softly
picks the largest score not yet taken."""
from .._array import xp
from ..creation import zeros_like
from ..ops.softmax import softmax
from .straight_through import StraightThrough


def soft_topk(s, k, tau=1.0, dim=-1, hard=False):
    """A relaxed k-hot mask of the k largest entries of s along dim: nonnegative, sums to k
    exactly, the hard top-k mask as tau -> 0 (for distinct scores).  An entry may exceed 1
    when tau is large against the score gaps (the rounds are softmaxes, not a projection).
    Add Gumbel noise to s for a relaxed sample of k items without replacement.  With hard,
    the exact top-k mask forward and the soft mask's gradient (straight-through)."""
    if not 0 <= k <= s.shape[dim]:
        raise RuntimeError(f"soft_topk: k ({k}) out of range for dimension of size {s.shape[dim]}")
    tiny = float(xp.finfo(s.dtype.np).tiny)
    w, mask = s, zeros_like(s)
    for _ in range(k):
        a = softmax(w / tau, dim)
        mask = mask + a
        w = w + (1 - a).clamp_min(tiny).log()
    if not hard:
        return mask
    index = s.detach().topk(k, dim).indices
    return StraightThrough.apply(zeros_like(mask).scatter(dim, index, 1.0), mask)
