"""Convolution layers: Conv1d/2d/3d and ConvTranspose1d/2d/3d (PyTorch's parameters, shapes,
default init, padding modes and reprs).  The work is done by `diffprog/ops/conv.py`."""

from ...ops.conv import _pad_mode, _pairs, _tuple
from .. import functional as F
from .. import init
from ..parameter import register_weight_and_bias
from .module import Module

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """Shared by all conv layers: weight (out, in/groups, *k), or (in, out/groups, *k) when
    transposed; init weight ~ kaiming_uniform_(a=sqrt(5)), bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    _dims = 2
    transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", output_padding=0, device=None, dtype=None):
        super().__init__()
        d, name = self._dims, type(self).__name__
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups:
            raise ValueError("out_channels must be divisible by groups")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {list(_PADDING_MODES)}, but got "
                             f"padding_mode='{padding_mode}'")
        if self.transposed and padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {name}')
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _tuple(kernel_size, d, "kernel_size", name)
        self.stride = _tuple(stride, d, "stride", name)
        self.dilation = _tuple(dilation, d, "dilation", name)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string '{padding}', should be one of ['valid', 'same']")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = _tuple(padding, d, "padding", name)
        self.output_padding = _tuple(output_padding, d, "output_padding", name)
        self.groups, self.padding_mode = groups, padding_mode
        # (low, high) per spatial dim, for the non-zero padding modes
        self._pads = _pairs(self.padding, self.kernel_size, self.stride, self.dilation, name)
        shape = ((in_channels, out_channels // groups) if self.transposed
                 else (out_channels, in_channels // groups)) + self.kernel_size
        register_weight_and_bias(self, shape, out_channels if bias else None, device, dtype)
        self.reset_parameters()

    def reset_parameters(self):
        init._linear_default_(self.weight, self.bias)

    def _check_input(self, input):
        """Errors that name the layer (cheap, before the work): the rank, the number of
        channels and, for convolutions, a kernel larger than the padded input."""
        d, shape = self._dims, tuple(input.shape)
        head = f"{type(self).__name__}({self.in_channels}, {self.out_channels})"
        if input.ndim not in (d + 1, d + 2):
            raise RuntimeError(f"{head}: expected {d + 1}D (unbatched) or {d + 2}D (batched) input, "
                               f"got {shape}")
        if shape[-d - 1] != self.in_channels:
            raise RuntimeError(f"{head}: expected input with {self.in_channels} channels, got {shape}")
        if self.transposed:
            return
        padded = tuple(s + lo + hi for s, (lo, hi) in zip(shape[-d:], self._pads))
        span = tuple(dl * (k - 1) + 1 for dl, k in zip(self.dilation, self.kernel_size))
        if any(k > s for k, s in zip(span, padded)):
            dilated = f" (dilated {span})" if span != self.kernel_size else ""
            raise RuntimeError(f"{head}: kernel size {self.kernel_size}{dilated} is larger than the "
                               f"padded input size {padded}, got {shape}")

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * len(self.padding):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, 0, device, dtype)

    def forward(self, input):
        self._check_input(input)
        conv = getattr(F, f"conv{self._dims}d")
        if self.padding_mode == "zeros":
            return conv(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        return conv(_pad_mode(input, self._pads, self.padding_mode), self.weight, self.bias, self.stride,
                    0, self.dilation, self.groups)


class Conv1d(_Conv):
    """1-d convolution over (N, C_in, L) (or unbatched (C_in, L)) inputs."""
    _dims = 1


class Conv2d(_Conv):
    """2-d convolution over (N, C_in, H, W) (or unbatched (C_in, H, W)) inputs."""
    _dims = 2


class Conv3d(_Conv):
    """3-d convolution over (N, C_in, D, H, W) (or unbatched) inputs."""
    _dims = 3


class _ConvTranspose(_ConvNd):
    transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        if isinstance(padding, str):
            raise ValueError(f"{type(self).__name__}: padding must be an int or a tuple, got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding, device, dtype)

    def _output_padding(self, input, output_size):
        """The output padding that makes the output `output_size` (trailing spatial dims)."""
        if output_size is None:
            return self.output_padding
        d = self._dims
        size = tuple(output_size)[-d:]
        if len(size) != d:
            raise ValueError(f"{type(self).__name__}: output_size must have {d} or {d + 2} elements "
                             f"(got {len(output_size)})")
        pad = []
        for i in range(d):
            smallest = ((input.shape[input.ndim - d + i] - 1) * self.stride[i] - 2 * self.padding[i]
                        + self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            largest = smallest + self.stride[i] - 1
            if not smallest <= size[i] <= largest:
                raise ValueError(f"{type(self).__name__}: requested an output size of {size}, but valid "
                                 f"sizes range from {smallest} to {largest} (for an input of "
                                 f"{tuple(input.shape[-d:])})")
            pad.append(size[i] - smallest)
        return tuple(pad)

    def forward(self, input, output_size=None):
        self._check_input(input)
        conv = getattr(F, f"conv_transpose{self._dims}d")
        return conv(input, self.weight, self.bias, self.stride, self.padding,
                    self._output_padding(input, output_size), self.groups, self.dilation)


class ConvTranspose1d(_ConvTranspose):
    """Transposed 1-d convolution (the gradient of Conv1d w.r.t. its input)."""
    _dims = 1


class ConvTranspose2d(_ConvTranspose):
    """Transposed 2-d convolution (the gradient of Conv2d w.r.t. its input)."""
    _dims = 2


class ConvTranspose3d(_ConvTranspose):
    """Transposed 3-d convolution (the gradient of Conv3d w.r.t. its input)."""
    _dims = 3
