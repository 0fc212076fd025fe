"""The Gumbel-max trick and its relaxation (Jang et al. 2017; Maddison et al. 2017)."""
from .._array import xp
from ..ops.softmax import softmax
from ..random import rand
from .straight_through import StraightThrough, hard_one_hot


def sample_gumbel(shape, *, dtype=None, generator=None):
    """Standard Gumbel samples -log(E), E ~ Exponential(1) = -log(1 - U)."""
    u = rand(shape, dtype=dtype, generator=generator)
    e = -(1 - u).log()
    return -e.clamp_min(float(xp.finfo(e.dtype.np).tiny)).log()   # E = 0 has probability ~2**-53


def gumbel_softmax(logits, tau=1.0, hard=False, dim=-1, generator=None):
    """softmax((logits + Gumbel noise) / tau) along dim: a relaxed one-hot sample of
    Categorical(logits=logits).  Its argmax is an exact categorical sample (Gumbel-max); the
    relaxed sample's gradient is biased, approaching the exact gradient as tau -> 0 (at the
    price of variance).  With hard, the one-hot argmax forward and the soft sample's
    gradient (straight-through)."""
    noise = sample_gumbel(logits.shape, dtype=logits.dtype, generator=generator)
    y = softmax((logits + noise) / tau, dim)
    return StraightThrough.apply(hard_one_hot(y.detach(), dim), y) if hard else y
