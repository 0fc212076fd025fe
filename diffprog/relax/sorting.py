"""Soft sorting: row-stochastic relaxations of the sorting permutation matrix.

Row i of P is (close to) the one-hot of the index holding the i-th order statistic, so
P @ s is the (soft) sorted vector.  Both converge to the hard permutation as tau -> 0 (for
distinct scores); larger tau gives smoother, more biased gradients.
"""
from ..creation import arange
from ..ops.softmax import softmax
from .straight_through import StraightThrough, hard_one_hot


def _finish(p, hard):
    return StraightThrough.apply(hard_one_hot(p.detach(), -1), p) if hard else p


def neural_sort(s, tau=1.0, descending=False, hard=False):
    """NeuralSort (Grover et al. 2019): for scores s (..., n), the (..., n, n) matrix
    P[i] = softmax(((n + 1 - 2i) s - A_s 1) / tau), A_s = |s_j - s_k|.  With hard, the
    row-argmax permutation forward and P's gradient (straight-through)."""
    if not descending:
        s = -s                                    # ascending order of s = descending order of -s
    n = s.shape[-1]
    b = (s.unsqueeze(-1) - s.unsqueeze(-2)).abs().sum(-1)            # A_s 1
    scale = n + 1 - 2 * arange(1, n + 1, dtype=s.dtype)              # (n + 1 - 2i), i = 1..n
    return _finish(softmax((scale.unsqueeze(-1) * s.unsqueeze(-2) - b.unsqueeze(-2)) / tau, -1),
                   hard)


def softsort(s, tau=1.0, descending=False, hard=False):
    """SoftSort (Prillo & Eisenschlos 2020): P = softmax(-|sort(s)_i - s_j| / tau) along j."""
    sorted_s = s.sort(-1, descending=descending).values
    return _finish(softmax(-(sorted_s.unsqueeze(-1) - s.unsqueeze(-2)).abs() / tau, -1), hard)


_METHODS = {"neuralsort": neural_sort, "softsort": softsort}


def _matrix(s, tau, descending, method):
    if method not in _METHODS:
        raise ValueError(f"soft sort: unknown method {method!r} (use 'neuralsort' or 'softsort')")
    return _METHODS[method](s, tau, descending)


def soft_sort(s, tau=1.0, descending=False, method="softsort"):
    """The soft sorted values P @ s along the last dimension."""
    return (_matrix(s, tau, descending, method) @ s.unsqueeze(-1)).squeeze(-1)


def soft_rank(s, tau=1.0, descending=False, method="softsort"):
    """Soft ranks 1..n (rank 1 = smallest, or largest with descending): rank_j = sum_i i P[i, j].
    P's columns need not sum to 1, so soft ranks are exact only in the limit tau -> 0."""
    p = _matrix(s, tau, descending, method)
    return (arange(1, s.shape[-1] + 1, dtype=s.dtype).unsqueeze(-1) * p).sum(-2)
