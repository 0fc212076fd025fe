"""Pooling, padding and resampling layers: thin modules over `diffprog/ops/pool.py`."""
from ...ops import pool as P
from .module import Module

__all__ = ["MaxPool1d", "MaxPool2d", "MaxPool3d", "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d",
           "AvgPool1d", "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
           "AdaptiveAvgPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d",
           "LPPool1d", "LPPool2d", "LPPool3d", "Upsample", "UpsamplingNearest2d",
           "UpsamplingBilinear2d", "PixelShuffle", "PixelUnshuffle", "ChannelShuffle", "ZeroPad1d",
           "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
           "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d",
           "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d", "CircularPad2d", "CircularPad3d",
           "LocalResponseNorm"]


def _check_window(layer, input, k, kernel_size, stride, padding, dilation=1, ceil_mode=False):
    """Errors that name the layer (cheap, before the work): the rank, and a window larger
    than the padded input."""
    shape, head = tuple(input.shape), f"{layer._get_name()}({layer.extra_repr()})"
    if input.ndim not in (k + 1, k + 2):
        raise RuntimeError(f"{head}: expected {k + 1}D (unbatched) or {k + 2}D (batched) input, "
                           f"got {shape}")
    op = layer._get_name()
    kernel = P._ntuple(kernel_size, k, "kernel_size", op)
    stride = P._ntuple(kernel if stride is None or stride in ([], ()) else stride, k, "stride", op)
    padding, dilation = P._ntuple(padding, k, "padding", op), P._ntuple(dilation, k, "dilation", op)
    if min(kernel + stride + dilation) <= 0:
        return                                   # the op's own error says what is wrong
    if any(P._pool_len(n, kk, s, p, d, ceil_mode) < 1
           for n, kk, s, p, d in zip(shape[-k:], kernel, stride, padding, dilation)):
        padded = tuple(n + 2 * p for n, p in zip(shape[-k:], padding))
        raise RuntimeError(f"{head}: kernel size {kernel} is larger than the padded input size "
                           f"{padded}, got {shape}")


class _MaxPoolNd(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input):
        _check_window(self, input, self.k, self.kernel_size, self.stride, self.padding, self.dilation,
                      self.ceil_mode)
        return self.pool(input, self.kernel_size, self.stride, self.padding, self.dilation,
                         self.ceil_mode, self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    pool, k = staticmethod(P.max_pool1d), 1


class MaxPool2d(_MaxPoolNd):
    pool, k = staticmethod(P.max_pool2d), 2


class MaxPool3d(_MaxPoolNd):
    pool, k = staticmethod(P.max_pool3d), 3


class _MaxUnpoolNd(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        tup = lambda v, name: P._ntuple(v, self.k, name, type(self).__name__)
        self.kernel_size = tup(kernel_size, "kernel_size")
        self.stride = tup(stride if stride is not None else kernel_size, "stride")
        self.padding = tup(padding, "padding")

    def forward(self, input, indices, output_size=None):
        return self.unpool(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    unpool, k = staticmethod(P.max_unpool1d), 1


class MaxUnpool2d(_MaxUnpoolNd):
    unpool, k = staticmethod(P.max_unpool2d), 2


class MaxUnpool3d(_MaxUnpoolNd):
    unpool, k = staticmethod(P.max_unpool3d), 3


class AvgPool1d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        single = lambda v, name: P._ntuple(v, 1, name, "AvgPool1d")
        self.kernel_size = single(kernel_size, "kernel_size")
        self.stride = single(stride if stride is not None else kernel_size, "stride")
        self.padding = single(padding, "padding")
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, input):
        _check_window(self, input, 1, self.kernel_size, self.stride, self.padding, 1, self.ceil_mode)
        return P.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    pool, k = staticmethod(P.avg_pool2d), 2

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input):
        _check_window(self, input, self.k, self.kernel_size, self.stride, self.padding, 1,
                      self.ceil_mode)
        return self.pool(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                         self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool3d(AvgPool2d):
    pool, k = staticmethod(P.avg_pool3d), 3


class _AdaptivePool(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return self.pool(input, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptivePool):
    pool = staticmethod(P.adaptive_avg_pool1d)


class AdaptiveAvgPool2d(_AdaptivePool):
    pool = staticmethod(P.adaptive_avg_pool2d)


class AdaptiveAvgPool3d(_AdaptivePool):
    pool = staticmethod(P.adaptive_avg_pool3d)


class _AdaptiveMaxPool(_AdaptivePool):
    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input):
        return self.pool(input, self.output_size, self.return_indices)


class AdaptiveMaxPool1d(_AdaptiveMaxPool):
    pool = staticmethod(P.adaptive_max_pool1d)


class AdaptiveMaxPool2d(_AdaptiveMaxPool):
    pool = staticmethod(P.adaptive_max_pool2d)


class AdaptiveMaxPool3d(_AdaptiveMaxPool):
    pool = staticmethod(P.adaptive_max_pool3d)


class _LPPool(Module):
    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        self.norm_type, self.kernel_size = norm_type, kernel_size
        self.stride, self.ceil_mode = stride, ceil_mode

    def forward(self, input):
        _check_window(self, input, self.k, self.kernel_size, self.stride, 0, 1, self.ceil_mode)
        return self.pool(input, float(self.norm_type), self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self):
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPool):
    pool, k = staticmethod(P.lp_pool1d), 1


class LPPool2d(_LPPool):
    pool, k = staticmethod(P.lp_pool2d), 2


class LPPool3d(_LPPool):
    pool, k = staticmethod(P.lp_pool3d), 3


class Upsample(Module):
    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.size = size
        if isinstance(scale_factor, (tuple, list)):
            self.scale_factor = tuple(float(s) for s in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode, self.align_corners = mode, align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return P.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self):
        info = (f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None
                else f"size={self.size!r}")
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class PixelShuffle(Module):
    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input):
        return P.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    def __init__(self, downscale_factor):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input):
        return P.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"


class ChannelShuffle(Module):
    """Interleave the channels of `groups` groups (ShuffleNet)."""

    def __init__(self, groups):
        super().__init__()
        self.groups = groups

    def forward(self, input):
        return P.channel_shuffle(input, self.groups)

    def extra_repr(self):
        return f"groups={self.groups}"


class _PadNd(Module):
    """Padding of the last k dims; `padding` an int (all sides) or (left, right, top, bottom)."""
    mode, k = "constant", 2

    def __init__(self, padding):
        super().__init__()
        self.padding = P._ntuple(padding, 2 * self.k, "padding", type(self).__name__)

    def forward(self, input):
        return P.pad(input, self.padding, self.mode, getattr(self, "value", None))

    def extra_repr(self):
        return f"{self.padding}"


class ConstantPad1d(_PadNd):
    k = 1

    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = value

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ConstantPad2d(ConstantPad1d):
    k = 2


class ZeroPad1d(ConstantPad1d):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad2d(ZeroPad1d):
    k = 2


class ConstantPad3d(ConstantPad1d):
    k = 3


class ZeroPad3d(ZeroPad1d):
    k = 3


class ReflectionPad1d(_PadNd):
    mode, k = "reflect", 1


class ReflectionPad2d(_PadNd):
    mode = "reflect"


class ReplicationPad1d(_PadNd):
    mode, k = "replicate", 1


class ReplicationPad2d(_PadNd):
    mode = "replicate"


class CircularPad1d(_PadNd):
    mode, k = "circular", 1


class CircularPad2d(_PadNd):
    mode = "circular"


class ReflectionPad3d(_PadNd):
    mode, k = "reflect", 3


class ReplicationPad3d(_PadNd):
    mode, k = "replicate", 3


class CircularPad3d(_PadNd):
    mode, k = "circular", 3


class LocalResponseNorm(Module):
    def __init__(self, size, alpha=0.0001, beta=0.75, k=1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input):
        return P.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
