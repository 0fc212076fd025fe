"""The Adam family: Adam, AdamW, Adamax, NAdam, RAdam.

All keep running means of the gradient `m` (exp_avg) and of its square `v` (exp_avg_sq),
corrected for their zero start by dividing by 1 - beta^t.
"""
import math

from .._array import xp
from .optimizer import (Optimizer, check, check_betas, scalar_state, count_step, zeros_like,
                        descent_grad, add_scaled, add_square, lerp, numba_kernel)

__all__ = ["Adam", "AdamW", "Adamax", "NAdam", "RAdam", "adam", "adamax", "nadam", "radam"]


def adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, work, *, lr, beta1, beta2, eps,
         weight_decay, decoupled_weight_decay, maximize):
    """One Adam step (Kingma & Ba, 2015) on arrays, in place.

        g = grad + weight_decay * param      (AdamW: param *= 1 - lr * weight_decay instead)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g^2    (amsgrad: v_max = max(v_max, v) replaces v below)
        param -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    With numba, one pass per parameter (`update_numba.py`), with the same results.
    """
    kernel = numba_kernel("adam", param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq)
    if kernel is not None:
        decoupled = decoupled_weight_decay and weight_decay
        f = param.dtype.type
        kernel(*(a.reshape(-1) for a in (param, grad, exp_avg, exp_avg_sq)),
               (exp_avg_sq if max_exp_avg_sq is None else max_exp_avg_sq).reshape(-1),
               max_exp_avg_sq is not None, f(-1 if maximize else 1),
               f(1 - lr * weight_decay if decoupled else 1), f(0 if decoupled else weight_decay),
               f(1 - beta1), f(beta2), f(1 - beta2), f(math.sqrt(1 - beta2 ** step)), f(eps),
               f(-lr / (1 - beta1 ** step)))
        return
    g_buf, u_buf = work
    g = _weight_decayed(grad, param, lr, weight_decay, decoupled_weight_decay, maximize, g_buf)
    lerp(exp_avg, g, 1 - beta1, u_buf)
    exp_avg_sq *= beta2
    add_square(exp_avg_sq, g, 1 - beta2, u_buf)
    if max_exp_avg_sq is not None:
        exp_avg_sq = xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
    denom = xp.sqrt(exp_avg_sq, out=u_buf)
    denom /= math.sqrt(1 - beta2 ** step)
    denom += eps
    update = xp.divide(exp_avg, denom, out=u_buf)
    add_scaled(param, update, -lr / (1 - beta1 ** step), update)


def adamax(param, grad, exp_avg, exp_inf, step, work, *, lr, beta1, beta2, eps, weight_decay,
           maximize):
    """One Adamax step (Adam with the infinity norm) on arrays, in place.

        g = grad + weight_decay * param
        m = beta1 * m + (1 - beta1) * g
        u = max(beta2 * u, |g| + eps)
        param -= lr / (1 - beta1^t) * m / u
    """
    g_buf, u_buf = work
    g = descent_grad(grad, param, weight_decay, maximize, g_buf)
    lerp(exp_avg, g, 1 - beta1, u_buf)
    exp_inf *= beta2
    abs_g = xp.abs(g, out=u_buf)
    abs_g += eps
    xp.maximum(exp_inf, abs_g, out=exp_inf)
    update = xp.divide(exp_avg, exp_inf, out=u_buf)
    add_scaled(param, update, -lr / (1 - beta1 ** step), update)


def nadam(param, grad, exp_avg, exp_avg_sq, mu_product, step, work, *, lr, beta1, beta2, eps,
          weight_decay, momentum_decay, decoupled_weight_decay, maximize):
    """One NAdam step (Adam with Nesterov momentum, Dozat 2016) on arrays, in place;
    `mu_product` (a 0-d array) accumulates the momentum schedule.

        mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay))
        m, v as in Adam;  denom = sqrt(v / (1 - beta2^t)) + eps
        param -= lr * (1 - mu_t) / (1 - mu_1...mu_t) * g / denom
               + lr * mu_{t+1} / (1 - mu_1...mu_{t+1}) * m / denom
    """
    g_buf, d_buf, u_buf = work
    g = _weight_decayed(grad, param, lr, weight_decay, decoupled_weight_decay, maximize, g_buf)
    mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
    mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
    mu_product *= mu
    prod = float(mu_product)
    lerp(exp_avg, g, 1 - beta1, u_buf)
    exp_avg_sq *= beta2
    add_square(exp_avg_sq, g, 1 - beta2, u_buf)
    denom = xp.divide(exp_avg_sq, 1 - beta2 ** step, out=d_buf)
    xp.sqrt(denom, out=denom)
    denom += eps
    add_scaled(param, xp.divide(g, denom, out=u_buf), -lr * (1.0 - mu) / (1.0 - prod), u_buf)
    add_scaled(param, xp.divide(exp_avg, denom, out=u_buf), -lr * mu_next / (1.0 - prod * mu_next),
               u_buf)


def radam(param, grad, exp_avg, exp_avg_sq, step, work, *, lr, beta1, beta2, eps, weight_decay,
          decoupled_weight_decay, maximize):
    """One RAdam step (Adam with rectified variance, Liu et al. 2020) on arrays, in place.

        m, v as in Adam;  rho_inf = 2 / (1 - beta2) - 1;  rho_t = rho_inf - 2t beta2^t / (1 - beta2^t)
        while rho_t <= 5 (v too noisy): param -= lr * m / (1 - beta1^t)
        afterwards: param -= lr * m / (1 - beta1^t) * r_t * sqrt(1 - beta2^t) / (sqrt(v) + eps),
        r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
    """
    g_buf, u_buf = work
    g = _weight_decayed(grad, param, lr, weight_decay, decoupled_weight_decay, maximize, g_buf)
    lerp(exp_avg, g, 1 - beta1, u_buf)
    exp_avg_sq *= beta2
    add_square(exp_avg_sq, g, 1 - beta2, u_buf)
    bias_correction1, bias_correction2 = 1 - beta1 ** step, 1 - beta2 ** step
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
    if rho_t > 5.0:
        rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
        update = xp.sqrt(exp_avg_sq, out=u_buf)
        update += eps
        xp.divide(bias_correction2 ** 0.5, update, out=update)
        update *= exp_avg
        add_scaled(param, update, -lr * rect / bias_correction1, update)
    else:
        add_scaled(param, exp_avg, -lr / bias_correction1, u_buf)


def _weight_decayed(grad, param, lr, weight_decay, decoupled, maximize, out):
    """The gradient to follow; decoupled weight decay (AdamW) shrinks the parameter instead."""
    if decoupled and weight_decay:
        param *= 1 - lr * weight_decay
        weight_decay = 0
    return descent_grad(grad, param, weight_decay, maximize, out)


def _check(lr, betas, eps, weight_decay):
    check("learning rate", lr, 0.0 <= lr)
    check("epsilon value", eps, 0.0 <= eps)
    check_betas(betas)
    check("weight_decay value", weight_decay, 0.0 <= weight_decay)


def _moments(state, param):
    """Lazily create the step counter and the two running means."""
    if not state:
        state["step"] = scalar_state(0.0)
        state["exp_avg"] = zeros_like(param)
        state["exp_avg_sq"] = zeros_like(param)
    return count_step(state)


class Adam(Optimizer):
    """Adam; `foreach` and `fused` are accepted and kept in the groups as in PyTorch (every
    step is one pass per parameter where numba is installed, whatever they say)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
                 *, foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        _check(lr, betas, eps, weight_decay)
        if capturable or differentiable:
            raise NotImplementedError(f"{type(self).__name__}: capturable=True and differentiable=True "
                                      "are not supported (a step is never part of a graph)")
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                                      capturable=capturable, differentiable=differentiable,
                                      fused=fused, decoupled_weight_decay=decoupled_weight_decay))

    def _update(self, param, grad, state, group):
        step = _moments(state, param)
        vmax = None
        if group["amsgrad"]:
            if "max_exp_avg_sq" not in state:
                state["max_exp_avg_sq"] = zeros_like(param)
            vmax = state["max_exp_avg_sq"]._data
        beta1, beta2 = group["betas"]
        adam(param, grad, state["exp_avg"]._data, state["exp_avg_sq"]._data, vmax, step,
             self._scratch(param), lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
             weight_decay=group["weight_decay"],
             decoupled_weight_decay=group["decoupled_weight_decay"], maximize=group["maximize"])


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=True)


class Adamax(Optimizer):
    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, *,
                 maximize=False):
        _check(lr, betas, eps, weight_decay)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    def _update(self, param, grad, state, group):
        if not state:
            state["step"] = scalar_state(0.0)
            state["exp_avg"] = zeros_like(param)
            state["exp_inf"] = zeros_like(param)
        step = count_step(state)
        beta1, beta2 = group["betas"]
        adamax(param, grad, state["exp_avg"]._data, state["exp_inf"]._data, step,
               self._scratch(param), lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
               weight_decay=group["weight_decay"], maximize=group["maximize"])


class NAdam(Optimizer):
    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, maximize=False):
        _check(lr, betas, eps, weight_decay)
        check("momentum_decay value", momentum_decay, 0.0 <= momentum_decay)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize))

    def _update(self, param, grad, state, group):
        if not state:
            state["step"] = scalar_state(0.0)
            state["mu_product"] = scalar_state(1.0)
            state["exp_avg"] = zeros_like(param)
            state["exp_avg_sq"] = zeros_like(param)
        step = count_step(state)
        beta1, beta2 = group["betas"]
        nadam(param, grad, state["exp_avg"]._data, state["exp_avg_sq"]._data,
              state["mu_product"]._data, step, self._scratch(param, 3), lr=group["lr"],
              beta1=beta1, beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
              momentum_decay=group["momentum_decay"],
              decoupled_weight_decay=group["decoupled_weight_decay"], maximize=group["maximize"])


class RAdam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, maximize=False):
        _check(lr, betas, eps, weight_decay)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize))

    def _update(self, param, grad, state, group):
        step = _moments(state, param)
        beta1, beta2 = group["betas"]
        radam(param, grad, state["exp_avg"]._data, state["exp_avg_sq"]._data, step,
              self._scratch(param), lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
              weight_decay=group["weight_decay"],
              decoupled_weight_decay=group["decoupled_weight_decay"], maximize=group["maximize"])
