"""RMSprop: divide the gradient by a running root-mean-square of its recent magnitudes."""
from .._array import xp
from .optimizer import (Optimizer, check, scalar_state, count_step, zeros_like, descent_grad,
                        add_scaled, add_square, lerp)

__all__ = ["RMSprop", "rmsprop"]


def rmsprop(param, grad, square_avg, grad_avg, momentum_buffer, work, *, lr, alpha, eps,
            weight_decay, momentum, maximize):
    """One RMSprop step (Hinton's lecture 6e; centered: Graves 2013) on arrays, in place.

        g = grad + weight_decay * param
        v = alpha * v + (1 - alpha) * g^2
        centered: gm = alpha * gm + (1 - alpha) * g, and v - gm^2 replaces v below
        d = g / (sqrt(v) + eps)
        momentum: buf = momentum * buf + d, and buf replaces d below
        param -= lr * d
    """
    g_buf, u_buf = work
    g = descent_grad(grad, param, weight_decay, maximize, g_buf)
    square_avg *= alpha
    add_square(square_avg, g, 1 - alpha, u_buf)
    if grad_avg is not None:
        lerp(grad_avg, g, 1 - alpha, u_buf)
        avg = xp.multiply(grad_avg, grad_avg, out=u_buf)
        xp.subtract(square_avg, avg, out=avg)
        xp.sqrt(avg, out=avg)
    else:
        avg = xp.sqrt(square_avg, out=u_buf)
    avg += eps
    d = xp.divide(g, avg, out=avg)
    if momentum_buffer is not None:
        momentum_buffer *= momentum
        momentum_buffer += d
        d = momentum_buffer
    add_scaled(param, d, -lr, u_buf)


class RMSprop(Optimizer):
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, *, maximize=False):
        check("learning rate", lr, 0.0 <= lr)
        check("epsilon value", eps, 0.0 <= eps)
        check("momentum value", momentum, 0.0 <= momentum)
        check("weight_decay value", weight_decay, 0.0 <= weight_decay)
        check("alpha value", alpha, 0.0 <= alpha)
        super().__init__(params, dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps,
                                      centered=centered, weight_decay=weight_decay,
                                      maximize=maximize))

    def _update(self, param, grad, state, group):
        if not state:
            state["step"] = scalar_state(0.0)
            state["square_avg"] = zeros_like(param)
            if group["momentum"] > 0:
                state["momentum_buffer"] = zeros_like(param)
            if group["centered"]:
                state["grad_avg"] = zeros_like(param)
        count_step(state)
        rmsprop(param, grad, state["square_avg"]._data,
                state["grad_avg"]._data if group["centered"] else None,
                state["momentum_buffer"]._data if group["momentum"] > 0 else None,
                self._scratch(param), lr=group["lr"], alpha=group["alpha"], eps=group["eps"],
                weight_decay=group["weight_decay"], momentum=group["momentum"],
                maximize=group["maximize"])
