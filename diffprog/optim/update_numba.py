"""Adam's and SGD-with-momentum's update of one parameter in one pass over its elements
(numba).

`adam.py` and `sgd.py` use them where numba is installed (`pip install diffprog[fast]`, see
`ops/fast.py`, and `optimizer.numba_kernel`); their NumPy paths make about a dozen (Adam)
or five (SGD) passes over the parameter, the gradient and the state.  A kernel does the
same operations in the same order on each element, with the hyper-parameters cast to the
parameter's dtype (as NumPy casts Python scalars), and without fused multiply-adds, so
that its results equal the NumPy path's bit for bit.  `error_model="numpy"` (x / 0 is inf,
not an exception) lets LLVM vectorise the loops.
"""
import math

import numba
import numpy as np


@numba.njit(cache=True, error_model="numpy")
def adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, amsgrad, sign, decay, weight_decay,
         weight1, beta2, weight2, bias_correction2_sqrt, eps, step_size):
    """On flat arrays, in place: p *= decay; g = sign * grad + weight_decay * p;
    m += weight1 (g - m); v = beta2 v + weight2 g^2 (amsgrad: v_max = max(v_max, v), used
    below); p += step_size * m / (sqrt(v) / bias_correction2_sqrt + eps)."""
    for i in range(param.shape[0]):
        p = param[i] * decay
        g = grad[i] * sign
        if weight_decay != 0:
            g = p * weight_decay + g
        m = exp_avg[i]
        m = m + (g - m) * weight1
        exp_avg[i] = m
        v = exp_avg_sq[i] * beta2 + (g * g) * weight2
        exp_avg_sq[i] = v
        if amsgrad:
            v = np.maximum(max_exp_avg_sq[i], v)
            max_exp_avg_sq[i] = v
        param[i] = p + m / (math.sqrt(v) / bias_correction2_sqrt + eps) * step_size


@numba.njit(cache=True, error_model="numpy")
def sgd(param, grad, momentum_buffer, sign, weight_decay, momentum, weight, nesterov, step_size):
    """On flat arrays, in place: g = sign * grad + weight_decay * p; buf = momentum buf +
    weight g; p += step_size * (momentum buf + g if nesterov else buf)."""
    for i in range(param.shape[0]):
        p = param[i]
        g = grad[i] * sign
        if weight_decay != 0:
            g = p * weight_decay + g
        b = momentum_buffer[i] * momentum + g * weight
        momentum_buffer[i] = b
        if nesterov:
            b = b * momentum + g
        param[i] = p + b * step_size
