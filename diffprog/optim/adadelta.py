"""Adadelta: step sizes from the ratio of running RMS of updates to running RMS of gradients."""
from .._array import xp
from .optimizer import (Optimizer, check, scalar_state, count_step, zeros_like, descent_grad,
                        add_scaled, add_square)

__all__ = ["Adadelta", "adadelta"]


def adadelta(param, grad, square_avg, acc_delta, work, *, lr, rho, eps, weight_decay, maximize):
    """One Adadelta step (Zeiler, 2012) on arrays, in place.

        g = grad + weight_decay * param
        v = rho * v + (1 - rho) * g^2
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta^2
        param -= lr * delta
    """
    g_buf, s_buf, d_buf = work
    g = descent_grad(grad, param, weight_decay, maximize, g_buf)
    square_avg *= rho
    add_square(square_avg, g, 1 - rho, d_buf)
    std = xp.sqrt(xp.add(square_avg, eps, out=s_buf), out=s_buf)
    delta = xp.sqrt(xp.add(acc_delta, eps, out=d_buf), out=d_buf)
    delta /= std
    delta *= g
    acc_delta *= rho
    add_square(acc_delta, delta, 1 - rho, s_buf)
    add_scaled(param, delta, -lr, delta)


class Adadelta(Optimizer):
    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, *, maximize=False):
        check("learning rate", lr, 0.0 <= lr)
        check("rho value", rho, 0.0 <= rho <= 1.0)
        check("epsilon value", eps, 0.0 <= eps)
        check("weight_decay value", weight_decay, 0.0 <= weight_decay)
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    def _update(self, param, grad, state, group):
        if not state:
            state["step"] = scalar_state(0.0)
            state["square_avg"] = zeros_like(param)
            state["acc_delta"] = zeros_like(param)
        count_step(state)
        adadelta(param, grad, state["square_avg"]._data, state["acc_delta"]._data,
                 self._scratch(param, 3), lr=group["lr"], rho=group["rho"], eps=group["eps"],
                 weight_decay=group["weight_decay"], maximize=group["maximize"])
