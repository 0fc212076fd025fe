"""`Variable`: PyTorch's pre-0.4 wrapper, kept for old code. `Variable(t)` is
`t.detach()` (the same storage) with `requires_grad` as asked, and every tensor is a
Variable (`isinstance(t, Variable)`)."""
import warnings

from ..tensor import Tensor


class _VariableMeta(type):
    def __instancecheck__(cls, other):
        return isinstance(other, Tensor)


class Variable(metaclass=_VariableMeta):
    def __new__(cls, data, requires_grad=False, volatile=False):
        if volatile:
            warnings.warn("volatile was removed and now has no effect. Use `with torch.no_grad():` "
                          "instead.", stacklevel=2)
        return data.detach().requires_grad_(requires_grad)
