"""Differentiable optimisers: pure functions over pytrees of tensors.

    opt = func.optim.Adam(lr=1e-2)
    state = opt.init(params)                         # params: a dict, list, ... of tensors
    params, state = opt.step(params, grads, state)   # new tensors; nothing is modified

The update rules and argument names are those of torch.optim's SGD, Adam and AdamW (the
tests compare them step by step), but each step returns new tensors computed with
differentiable ops instead of updating parameters in place.  So a loop of steps can be
unrolled and differentiated: w.r.t. the initial parameters (MAML), the data, or the
hyperparameters, which may be tensors that require grad (hypergradients of a learning
rate).  Gradients taken with create_graph (`func.grad` inside a transform, or
`autograd.grad(..., create_graph=True)`) give exact second-order derivatives through the
steps; detached gradients give first-order approximations (first-order MAML).

A gradient that is None leaves its parameter and that parameter's state unchanged, as in
torch.optim.  The state is a dict with one pytree per buffer (`momentum_buffer`;
`step`, `exp_avg`, `exp_avg_sq`, `max_exp_avg_sq`), shaped like the parameters.
"""
from .. import creation
from ..tensor import Tensor
from .pytree import tree_flatten, tree_unflatten

__all__ = ["FunctionalOptimizer", "SGD", "Adam", "AdamW"]


def _check(name, value, low=0.0):
    number = float(value.detach()) if isinstance(value, Tensor) else value
    if not number >= low:
        raise ValueError(f"Invalid {name}: {number}")


class FunctionalOptimizer:
    """Base class: `init(params) -> state` and `step(params, grads, state) -> (params,
    state)`; subclasses name their state buffers and write the update of one tensor."""

    buffers = ()           # names of the per-parameter state buffers

    def __init__(self, **hyper):
        self.hyper = hyper

    def init(self, params):
        leaves, spec = tree_flatten(params)
        return {name: tree_unflatten([self.init_buffer(name, p) for p in leaves], spec)
                for name in self.buffers}

    def init_buffer(self, name, param):
        return None

    def step(self, params, grads, state):
        """One step: (new params, new state), as pytrees shaped like params."""
        leaves, spec = tree_flatten(params)
        g_leaves, g_spec = tree_flatten(grads)
        if g_spec != spec:
            raise RuntimeError(f"{type(self).__name__}.step: grads must be a pytree structured like "
                               f"params")
        bufs = {name: tree_flatten(state[name])[0] for name in self.buffers}
        new_params, new_bufs = [], {name: [] for name in self.buffers}
        for i, (p, g) in enumerate(zip(leaves, g_leaves)):
            mine = {name: bufs[name][i] for name in self.buffers}
            if g is not None:
                if tuple(g.shape) != tuple(p.shape):
                    raise RuntimeError(f"{type(self).__name__}.step: gradient of shape "
                                       f"{tuple(g.shape)} for a parameter of shape {tuple(p.shape)}")
                p, mine = self.update(p, g, mine)
            new_params.append(p)
            for name in self.buffers:
                new_bufs[name].append(mine[name])
        return tree_unflatten(new_params, spec), {name: tree_unflatten(new_bufs[name], spec)
                                                  for name in self.buffers}

    def update(self, param, grad, state):
        """(new param, new state dict) for one tensor."""
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v}" for k, v in self.hyper.items())
        return f"func.optim.{type(self).__name__}({args})"


class SGD(FunctionalOptimizer):
    """Stochastic gradient descent with momentum (torch.optim.SGD's rule):

        g = grad + weight_decay * param          (maximize: -grad)
        buf = g at the first step, else momentum * buf + (1 - dampening) * g
        param = param - lr * (g + momentum * buf if nesterov else buf)

    Unlike torch.optim.SGD(differentiable=True), the first momentum buffer stays connected
    to the gradient, so derivatives through the first step are exact.
    """

    buffers = ("momentum_buffer",)

    def __init__(self, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, *,
                 maximize=False):
        for name, value in (("learning rate", lr), ("momentum value", momentum),
                            ("weight_decay value", weight_decay)):
            _check(name, value)
        if nesterov and (float(momentum) <= 0 or float(dampening) != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                         nesterov=nesterov, maximize=maximize)

    def update(self, param, grad, state):
        h = self.hyper
        g = -grad if h["maximize"] else grad
        if not _is_zero(h["weight_decay"]):
            g = g + h["weight_decay"] * param
        buf = state["momentum_buffer"]
        if not _is_zero(h["momentum"]):
            buf = g if buf is None else h["momentum"] * buf + (1 - h["dampening"]) * g
            g = g + h["momentum"] * buf if h["nesterov"] else buf
        return param - h["lr"] * g, {"momentum_buffer": buf}


class Adam(FunctionalOptimizer):
    """Adam (torch.optim.Adam's rule; Kingma & Ba, 2015):

        g = grad + weight_decay * param     (decoupled_weight_decay: param *= 1 - lr * wd)
        m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g^2
        param = param - lr / (1 - beta1^t) * m / (sqrt(v + eps_root) / sqrt(1 - beta2^t) + eps)

    amsgrad uses the running maximum of v.  `eps_root` (0 in torch) is optax's and
    torchopt's guard for differentiating through the steps: d sqrt(v)/dv is infinite at
    v = 0, which turns an exactly zero gradient element into NaN in a hypergradient;
    a tiny eps_root (1e-16) avoids it.
    """

    buffers = ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, *,
                 maximize=False, decoupled_weight_decay=False, eps_root=0.0):
        _check("learning rate", lr)
        _check("epsilon value", eps)
        _check("weight_decay value", weight_decay)
        _check("eps_root value", eps_root)
        for i, beta in enumerate(betas):
            _check(f"beta parameter at index {i}", beta)
            if float(beta) >= 1:
                raise ValueError(f"Invalid beta parameter at index {i}: {float(beta)}")
        super().__init__(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize,
                         decoupled_weight_decay=decoupled_weight_decay, eps_root=eps_root)

    def init_buffer(self, name, param):
        if name == "step":
            return 0
        if name == "max_exp_avg_sq" and not self.hyper["amsgrad"]:
            return None
        return creation.zeros_like(param)

    def update(self, param, grad, state):
        h = self.hyper
        step = state["step"] + 1
        beta1, beta2 = h["betas"]
        g = -grad if h["maximize"] else grad
        if not _is_zero(h["weight_decay"]):
            if h["decoupled_weight_decay"]:
                param = param * (1 - h["lr"] * h["weight_decay"])
            else:
                g = g + h["weight_decay"] * param
        m = beta1 * state["exp_avg"] + (1 - beta1) * g
        v = beta2 * state["exp_avg_sq"] + (1 - beta2) * g * g
        v_max = state["max_exp_avg_sq"]
        if h["amsgrad"]:
            v_max = v_max.maximum(v)
        root = (v_max if h["amsgrad"] else v) + h["eps_root"]
        denom = root.sqrt() / (1 - beta2 ** step) ** 0.5 + h["eps"]
        new = param - h["lr"] / (1 - beta1 ** step) * m / denom
        return new, {"step": step, "exp_avg": m, "exp_avg_sq": v, "max_exp_avg_sq": v_max}


class AdamW(Adam):
    """Adam with decoupled weight decay (torch.optim.AdamW): param *= 1 - lr * weight_decay
    before the Adam step; weight_decay defaults to 1e-2."""

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, eps_root=0.0):
        super().__init__(lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True, eps_root=eps_root)


def _is_zero(value):
    """A hyperparameter that is exactly 0 and not a tensor (a tensor may be tuned away from 0)."""
    return not isinstance(value, Tensor) and value == 0
