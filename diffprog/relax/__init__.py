"""`diffprog.relax`: differentiable relaxations of discrete operations.

How to get a useful gradient through sampling, rounding, argmax, sorting and top-k:

- `gumbel_softmax`, `sample_gumbel`: reparameterised (relaxed) categorical samples.
- `straight_through`, `ste_sign`, `ste_round`, `ste_argmax`: the hard value forward, a
  surrogate's gradient backward (biased, low variance).
- `score_function_surrogate`, `MovingAverageBaseline`: the REINFORCE estimator (unbiased,
  high variance) with baselines and control variates.
- `neural_sort`, `softsort`, `soft_sort`, `soft_rank`: soft permutation matrices.
- `sinkhorn`: doubly stochastic matrices by Sinkhorn normalisation in log space.
- `soft_topk`: a relaxed k-hot mask (successive softmax).
"""
from .straight_through import straight_through, ste_sign, ste_round, ste_argmax
from .gumbel import sample_gumbel, gumbel_softmax
from .score_function import score_function_surrogate, MovingAverageBaseline
from .sorting import neural_sort, softsort, soft_sort, soft_rank
from .sinkhorn import sinkhorn
from .topk import soft_topk

__all__ = ["straight_through", "ste_sign", "ste_round", "ste_argmax", "sample_gumbel",
           "gumbel_softmax", "score_function_surrogate", "MovingAverageBaseline", "neural_sort",
           "softsort", "soft_sort", "soft_rank", "sinkhorn", "soft_topk"]
