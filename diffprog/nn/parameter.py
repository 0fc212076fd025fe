"""`Parameter`: a tensor that a `Module` registers as one of its learnable weights, and
`Buffer`: a tensor that a `Module` registers as state (running statistics, ...)."""
from .._array import xp
from ..tensor import Tensor, _init


class Parameter(Tensor):
    """A leaf tensor (requires_grad=True by default) that, assigned as a module attribute,
    shows up in `module.parameters()` and the state dict.  It shares `data`'s storage."""

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            data = Tensor._make(xp.empty((0,), dtype=xp.float32))
        elif not isinstance(data, Tensor):
            raise TypeError(f"Parameter: expected a Tensor as data, got {type(data).__name__}")
        p = object.__new__(cls)
        _init(p, data._data)
        p._vc = data._vc                     # an alias of data, as in PyTorch
        p.requires_grad_(requires_grad)
        return p

    def __init__(self, data=None, requires_grad=True):
        pass                                 # everything happens in __new__

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        if id(self) not in memo:
            memo[id(self)] = type(self)(Tensor._make(self._data.copy()), self._requires_grad)
        return memo[id(self)]

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (self._data, self._requires_grad))


def _rebuild_parameter(data, requires_grad):
    return Parameter(Tensor._make(data), requires_grad)


class Buffer:
    """Marks a tensor to be registered as a buffer when assigned to a module attribute:
    `self.mask = nn.Buffer(t, persistent=False)` is `self.register_buffer("mask", t, False)`."""

    def __init__(self, data, *, persistent=True):
        if not isinstance(data, Tensor):
            raise TypeError(f"Buffer: expected a Tensor as data, got {type(data).__name__}")
        self.data, self.persistent = data, persistent


def register_weight_and_bias(module, weight_shape, bias_shape, device=None, dtype=None):
    """Register uninitialised `weight` and `bias` parameters of these shapes on a module
    (a shape of None registers None, as PyTorch does for bias=False); the module's
    reset_parameters fills them."""
    from ..creation import empty
    for name, shape in (("weight", weight_shape), ("bias", bias_shape)):
        module.register_parameter(
            name, None if shape is None else Parameter(empty(shape, device=device, dtype=dtype)))
