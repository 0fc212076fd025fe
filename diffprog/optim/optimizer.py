"""Optimizer: parameter groups, per-parameter state and PyTorch's state_dict layout.

An optimizer holds `param_groups` (dicts with 'params' and that group's options, e.g.
'lr') and `state` (a dict per parameter: step counters and moment buffers).  The update
itself is not differentiated, so each algorithm is one small function that changes the
parameter's array in place with NumPy `out=` calls; `step()` then bumps the
parameter's version counter so autograd's saved-tensor checks see the change.
"""
import copy
import warnings
from collections import defaultdict

from .. import dtypes as _dt
from ..autograd.grad_mode import enable_grad
from .._array import xp
from ..ops.fast import usable
from ..tensor import Tensor


class _RequiredParameter:
    """Default of an option every parameter group must set itself."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


class Optimizer:
    """Base class: `Optimizer(params, defaults)`, params a list of tensors or of group dicts."""

    def __init__(self, params, defaults):
        self.defaults = defaults
        self.state = defaultdict(dict)
        self.param_groups = []
        self._work = {}
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {_typename(params)}")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group):
        """Add a group of parameters with its own options (missing ones take the defaults)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but "
                            "the ordering of tensors in sets will change between runs. Please use "
                            "a list instead.")
        params = list(params)
        if params and all(isinstance(p, tuple) for p in params):        # named parameters
            param_group["param_names"] = [name for name, _ in params]
            params = [p for _, p in params]
        param_group["params"] = params
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + _typename(p))
            if not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)
        ids = [id(p) for p in params]
        if len(ids) != len(set(ids)):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; "
                          "in future, this will cause an error", stacklevel=3)
        taken = {id(p) for group in self.param_groups for p in group["params"]}
        if not taken.isdisjoint(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none=True):
        """Forget the gradients: drop them (default) or fill them with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p._grad
                if g is None:
                    continue
                if set_to_none:
                    p._grad = None
                elif g.grad_fn is None and g._data.flags.writeable:
                    g._requires_grad = False
                    g._data.fill(0)
                    g._vc[0] += 1
                else:                           # part of a graph, or a read-only array
                    p._grad = Tensor._make(xp.zeros_like(g._data))

    def step(self, closure=None):
        """Update every parameter that has a gradient; `closure` re-evaluates the loss first."""
        loss = _evaluate(closure) if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p._grad is not None:
                    state = self.state.get(p, {})      # an entry only once there is state
                    self._update(p._data, p._grad._data, state, group)
                    if state:
                        self.state[p] = state
                    p._vc[0] += 1
        return loss

    def _update(self, param, grad, state, group):
        """Apply one step of the algorithm to the arrays of one parameter, in place."""
        raise NotImplementedError

    def _scratch(self, like, n=2):
        """`n` reusable work arrays shaped like `like` (shared by parameters of one shape)."""
        key = (like.shape, like.dtype, n)
        bufs = self._work.get(key)
        if bufs is None:
            bufs = self._work[key] = tuple(xp.empty(like.shape, like.dtype, like=like) for _ in range(n))
        return bufs

    # --- saving and resuming ---------------------------------------------------------

    def state_dict(self):
        """{'state': {index: state}, 'param_groups': [options + 'params': [indices]]}, with
        parameters numbered in group order (PyTorch's layout)."""
        index, groups = {}, []
        for group in self.param_groups:
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)] if isinstance(p, Tensor) else p: s for p, s in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Resume from `state_dict()`: options and copies of the state, cast to each
        parameter's dtype (except 'step')."""
        saved = copy.deepcopy(state_dict["param_groups"])
        if len(saved) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(s["params"]) != len(g["params"]) for s, g in zip(saved, self.param_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        by_index = {i: p for s, g in zip(saved, self.param_groups)
                    for i, p in zip(s["params"], g["params"])}
        self.state = defaultdict(dict)
        for key, value in state_dict["state"].items():
            if key in by_index:
                p = by_index[key]
                self.state[p] = {k: _load_value(v, p, k) for k, v in value.items()}
            else:
                self.state[key] = copy.deepcopy(value)
        for s, g in zip(saved, self.param_groups):
            s["params"] = g["params"]
            if "param_names" in g:
                s.setdefault("param_names", g["param_names"])
        self.param_groups = saved

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_work"}      # not the scratch

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._work = {}

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines) + "\n)"


def _evaluate(closure):
    """Run the closure (forward + backward) with gradients on; return its loss."""
    with enable_grad():
        return closure()


# Scalar state keeps its own dtype on load (PyTorch also casts 'mu_product' to the
# parameter's dtype, which makes a resumed NAdam differ in the last bit).
_SCALAR_STATE = ("step", "mu_product")


def _load_value(value, param, key):
    """A copy of a saved state value; floating tensors take the parameter's dtype, except
    the scalar state."""
    if isinstance(value, Tensor):
        data = value._data
        if key not in _SCALAR_STATE and param._data.dtype.kind == "f" and data.dtype.kind in "fc":
            return Tensor._make(data.astype(param._data.dtype, copy=True))
        return Tensor._make(data.copy())
    if isinstance(value, dict):
        return {k: _load_value(v, param, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_load_value(v, param, key) for v in value)
    return copy.deepcopy(value)


def _typename(obj):
    return f"{type(obj).__module__}.{type(obj).__name__}" if isinstance(obj, Tensor) \
        else type(obj).__name__


# --- pieces shared by the algorithms ------------------------------------------------------

def check(name, value, ok):
    """Raise PyTorch's `ValueError('Invalid <name>: <value>')` unless `ok`."""
    if not ok:
        raise ValueError(f"Invalid {name}: {value}")


def check_betas(betas):
    for i, b in enumerate(betas):
        check(f"beta parameter at index {i}", b, 0.0 <= b < 1.0)


def scalar_state(value):
    """A 0-d state tensor ('step', NAdam's 'mu_product'): float64 when that is the default
    dtype, else float32, as in PyTorch."""
    dtype = xp.float64 if _dt.get_default_dtype() is _dt.float64 else xp.float32
    return Tensor._make(xp.asarray(value, dtype=dtype))


def count_step(state):
    """Advance the parameter's step counter and return the new step number."""
    step = state["step"]._data
    step += 1
    return float(step)


def zeros_like(param):
    return Tensor._make(xp.zeros_like(param))


def descent_grad(grad, param, weight_decay, maximize, out):
    """The gradient the update follows: `grad` (negated to maximize) plus the L2 term
    `weight_decay * param`.  Returns `grad` itself when nothing changes (never modify it),
    otherwise `out`."""
    if weight_decay:
        xp.multiply(param, weight_decay, out=out)
        return (xp.subtract if maximize else xp.add)(out, grad, out=out)
    return xp.negative(grad, out=out) if maximize else grad


def add_scaled(y, x, alpha, work):
    """y += alpha * x, with `work` holding the product (`work` may be `x` if disposable)."""
    if alpha != 1:
        x = xp.multiply(x, alpha, out=work)
    y += x
    return y


def add_square(v, g, alpha, work):
    """v += alpha * g * g."""
    xp.multiply(g, g, out=work)
    return add_scaled(v, work, alpha, work)


def lerp(m, g, weight, work):
    """m += weight * (g - m): the running mean update, as PyTorch's `lerp_` computes it."""
    xp.subtract(g, m, out=work)
    return add_scaled(m, work, weight, work)


def numba_kernel(name, *arrays):
    """The update `name` of `update_numba.py` where numba is installed and the arrays (None
    ones left out) are C-contiguous NumPy arrays of one float dtype; else None (the NumPy
    path, which device arrays take too)."""
    if not usable(arrays):
        return None
    from . import update_numba
    return getattr(update_numba, name)
