"""Identity, Linear and Bilinear layers (PyTorch's parameters, shapes and default init)."""
import math

from .. import functional as F
from .. import init
from ..parameter import register_weight_and_bias
from .module import Module

__all__ = ["Identity", "Linear", "Bilinear"]  # and NonDynamicallyQuantizableLinear, by module path


class Identity(Module):
    """Returns its input (any constructor arguments are ignored)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """y = x @ weight.T + bias, weight (out_features, in_features).

    Default init as PyTorch: weight ~ kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)),
    and bias ~ U(-1/sqrt(in), 1/sqrt(in))."""

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        register_weight_and_bias(self, (out_features, in_features), out_features if bias else None,
                                 device, dtype)
        self.reset_parameters()

    def reset_parameters(self):
        init._linear_default_(self.weight, self.bias)

    def forward(self, input):
        shape = input.shape
        if not shape or shape[-1] != self.in_features:
            raise RuntimeError(f"{self._get_name()}({self.extra_repr()}): expected input with last "
                               f"dimension {self.in_features}, got shape {tuple(shape)}")
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Bilinear(Module):
    """y[..., k] = x1 @ weight[k] @ x2 + bias[k], weight (out, in1, in2); weight and bias
    ~ U(-1/sqrt(in1), 1/sqrt(in1))."""

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in1_features, self.in2_features, self.out_features = in1_features, in2_features, out_features
        register_weight_and_bias(self, (out_features, in1_features, in2_features),
                                 out_features if bias else None, device, dtype)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        if input1.shape[-1:] != (self.in1_features,) or input2.shape[-1:] != (self.in2_features,):
            raise RuntimeError(f"{self._get_name()}({self.extra_repr()}): expected inputs with last "
                               f"dimensions {self.in1_features} and {self.in2_features}, got shapes "
                               f"{tuple(input1.shape)} and {tuple(input2.shape)}")
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class NonDynamicallyQuantizableLinear(Linear):
    """The Linear of MultiheadAttention's output projection (PyTorch's name for it; the name
    matters to code that lists the classes of a saved model)."""
