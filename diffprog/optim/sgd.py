"""Stochastic gradient descent, with momentum (heavy-ball or Nesterov) and weight decay."""
from .._array import xp
from ..tensor import Tensor
from .optimizer import Optimizer, check, descent_grad, add_scaled, numba_kernel

__all__ = ["SGD", "sgd"]


def sgd(param, grad, momentum_buffer, work, *, lr, momentum, dampening, weight_decay, nesterov,
        maximize):
    """One SGD step on arrays, in place; returns the momentum buffer (None without momentum).

        g = grad + weight_decay * param
        buf = momentum * buf + (1 - dampening) * g        (buf = g on the first step)
        d = g + momentum * buf if nesterov else buf
        param -= lr * d

    With numba, one pass per parameter after the first step (`update_numba.py`), with the
    same results.
    """
    kernel = numba_kernel("sgd", param, grad, momentum_buffer) if momentum and \
        momentum_buffer is not None else None
    if kernel is not None:
        f = param.dtype.type
        kernel(param.reshape(-1), grad.reshape(-1), momentum_buffer.reshape(-1),
               f(-1 if maximize else 1), f(weight_decay), f(momentum), f(1 - dampening), nesterov,
               f(-lr))
        return momentum_buffer
    g_buf, u_buf = work
    d = g = descent_grad(grad, param, weight_decay, maximize, g_buf)
    if momentum:
        if momentum_buffer is None:
            momentum_buffer = g.copy()
        else:
            momentum_buffer *= momentum
            add_scaled(momentum_buffer, g, 1 - dampening, u_buf)
        if nesterov:
            d = xp.multiply(momentum_buffer, momentum, out=u_buf)
            d += g
        else:
            d = momentum_buffer
    add_scaled(param, d, -lr, u_buf)
    return momentum_buffer


class SGD(Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False):
        check("learning rate", lr, lr >= 0.0)
        check("momentum value", momentum, momentum >= 0.0)
        check("weight_decay value", weight_decay, weight_decay >= 0.0)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def _update(self, param, grad, state, group):
        buf = state.get("momentum_buffer")
        buf = sgd(param, grad, None if buf is None else buf._data, self._scratch(param),
                  lr=group["lr"], momentum=group["momentum"], dampening=group["dampening"],
                  weight_decay=group["weight_decay"], nesterov=group["nesterov"],
                  maximize=group["maximize"])
        if buf is not None and "momentum_buffer" not in state:
            state["momentum_buffer"] = Tensor._make(buf)
