"""Adagrad: per-coordinate step sizes that shrink with the accumulated squared gradient."""
from .._array import xp
from ..tensor import Tensor
from .optimizer import Optimizer, check, scalar_state, count_step, descent_grad, add_scaled

__all__ = ["Adagrad", "adagrad"]


def adagrad(param, grad, state_sum, step, work, *, lr, lr_decay, weight_decay, eps, maximize):
    """One Adagrad step (Duchi et al., 2011) on arrays, in place.

        g = grad + weight_decay * param
        sum += g^2
        param -= lr / (1 + (t - 1) * lr_decay) * g / (sqrt(sum) + eps)
    """
    g_buf, u_buf = work
    g = descent_grad(grad, param, weight_decay, maximize, g_buf)
    state_sum += xp.multiply(g, g, out=u_buf)
    std = xp.sqrt(state_sum, out=u_buf)
    std += eps
    update = xp.divide(g, std, out=u_buf)
    add_scaled(param, update, -lr / (1 + (step - 1) * lr_decay), update)


class Adagrad(Optimizer):
    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, *, maximize=False):
        check("learning rate", lr, 0.0 <= lr)
        check("lr_decay value", lr_decay, 0.0 <= lr_decay)
        check("weight_decay value", weight_decay, 0.0 <= weight_decay)
        check("initial_accumulator_value value", initial_accumulator_value,
              0.0 <= initial_accumulator_value)
        check("epsilon value", eps, 0.0 <= eps)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      maximize=maximize))
        for group in self.param_groups:           # PyTorch creates Adagrad's state up front
            for p in group["params"]:
                self._init_state(self.state[p], p._data, group)

    @staticmethod
    def _init_state(state, param, group):
        state["step"] = scalar_state(0.0)
        state["sum"] = Tensor._make(xp.full_like(param, group["initial_accumulator_value"]))

    def _update(self, param, grad, state, group):
        if not state:
            self._init_state(state, param, group)
        adagrad(param, grad, state["sum"]._data, count_step(state), self._scratch(param),
                lr=group["lr"], lr_decay=group["lr_decay"], weight_decay=group["weight_decay"],
                eps=group["eps"], maximize=group["maximize"])
