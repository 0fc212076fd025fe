"""Zeroth-order gradient estimates: gradients from loss values only (no backpropagation).

`zeroth_order_grad` estimates the gradient of the Gaussian-smoothed loss
f_sigma(theta) = E[f(theta + sigma eps)], eps ~ N(0, I), whose gradient is

    grad f_sigma(theta) = E[f(theta + sigma eps) eps] / sigma
                        ~ 1 / (2 sigma n) sum_i (f(theta + sigma eps_i) - f(theta - sigma eps_i)) eps_i

(the antithetic form, Nesterov & Spokoiny 2017; Salimans et al. 2017's evolution strategies),
from 2n loss evaluations.  It writes the estimate into each parameter's `.grad`, so any
optimiser (SGD, Adam) then takes the step: an evolution strategy is this plus `opt.step()`.
"""
from ..autograd.grad_mode import no_grad
from .._array import xp
from ..random import randn
from ..tensor import Tensor

__all__ = ["zeroth_order_grad"]


def zeroth_order_grad(closure, params, sigma=0.01, n_samples=16, antithetic=True, fitness_shaping=False,
                      generator=None):
    """Fill `p.grad` for every parameter with an estimate of the loss gradient from
    `n_samples` random directions; returns the mean loss over the evaluations.

    Args:
        closure: returns the loss at the current parameter values (no backward).
        params: the tensors to perturb (all at once, as one vector).
        sigma: the smoothing scale (perturbation size).
        antithetic: evaluate theta +- sigma eps (2 n evaluations, lower variance) rather
            than theta + sigma eps against the baseline f(theta) (n + 1 evaluations).
        fitness_shaping: replace losses by their centred ranks in [-0.5, 0.5] (Salimans et
            al.): invariant to the loss's scale and robust to outliers, but no longer an
            unbiased estimate (its scale is arbitrary; pair it with Adam or a tuned lr).
    """
    params = [p for p in params]
    shapes = [p._data.shape for p in params]
    sizes = [p._data.size for p in params]
    theta = [p._data.copy() for p in params]

    def loss_at(direction):
        offset = 0
        for p, t, k in zip(params, theta, sizes):
            p._data[...] = t + direction[offset:offset + k].reshape(t.shape)
            p._vc[0] += 1
            offset += k
        return float(closure())

    n = sum(sizes)
    dtype = params[0]._data.dtype
    eps = randn(n_samples, n, generator=generator, dtype="float64")._data
    with no_grad():
        if antithetic:
            plus = xp.array([loss_at(sigma * e) for e in eps])
            minus = xp.array([loss_at(-sigma * e) for e in eps])
            values = xp.concatenate([plus, minus])
        else:
            base = loss_at(xp.zeros(n))
            plus = xp.array([loss_at(sigma * e) for e in eps])
            values = xp.concatenate([[base], plus])
        loss_at(xp.zeros(n))               # back to theta (the closure may have side effects)
    if fitness_shaping:
        ranks = xp.empty(len(values))
        ranks[xp.argsort(values, kind="stable")] = xp.arange(len(values))
        shaped = ranks / (len(values) - 1) - 0.5
        plus, minus = shaped[:n_samples], (shaped[n_samples:] if antithetic else None)
        base = None if antithetic else shaped[0]
    if antithetic:
        grad = ((plus - minus) / (2 * sigma)) @ eps / n_samples
    else:
        grad = ((plus - base) / sigma) @ eps / n_samples
    offset = 0
    for p, shape, k in zip(params, shapes, sizes):
        p.grad = Tensor._make(grad[offset:offset + k].reshape(shape).astype(dtype))
        offset += k
    return float(values.mean())
