"""Lazy modules: layers whose input size is read from their first input (`LazyLinear(10)`
learns `in_features` when first called), as PyTorch's.

Until then the weights are `UninitializedParameter`s (buffers `UninitializedBuffer`s),
placeholders of unknown shape. The first call (a forward pre-hook) gives them their shape
in place, so an optimizer built earlier holds the real parameters, runs the layer's
`reset_parameters`, and turns the module into its ordinary class (LazyLinear becomes
Linear). Loading a state dict into a lazy module takes the shapes from the state dict.
"""
from ... import dtypes as _dt
from ...autograd.grad_mode import no_grad
from ..._array import xp
from ...tensor import Tensor, _init
from ..parameter import Parameter
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .linear import Linear
from .normalization import (BatchNorm1d, BatchNorm2d, BatchNorm3d, InstanceNorm1d,
                            InstanceNorm2d, InstanceNorm3d, _InstanceNorm)

__all__ = ["UninitializedParameter", "UninitializedBuffer", "LazyLinear", "LazyConv1d",
           "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d",
           "LazyConvTranspose3d", "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d",
           "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d"]

_SHAPE_ERROR = ("Can't access the shape of an uninitialized parameter or buffer. This error usually "
                "happens in `load_state_dict` when trying to load an uninitialized parameter into an "
                "initialized one. Call `forward` to initialize the parameters before accessing their "
                "attributes.")


class _Uninitialized:
    """What the two placeholders share: no shape until `materialize(shape)`."""

    cls_to_become = None

    def materialize(self, shape, device=None, dtype=None):
        """Give the placeholder `shape` (uninitialised values) and make it an ordinary one."""
        npd = (dtype or self._data.dtype)
        self._data = xp.empty(tuple(shape), dtype=getattr(npd, "np", npd))
        self._vc[0] += 1
        self.__class__ = self.cls_to_become

    @property
    def shape(self):
        raise RuntimeError(_SHAPE_ERROR)

    def size(self, dim=None):
        raise RuntimeError(_SHAPE_ERROR)

    def __repr__(self):
        return f"<{type(self).__name__}>"

    def __deepcopy__(self, memo):
        if id(self) not in memo:
            memo[id(self)] = type(self)(self._requires_grad, dtype=self._data.dtype)
        return memo[id(self)]


def _placeholder(dtype):
    npd = (dtype or _dt.get_default_dtype())
    return Tensor._make(xp.empty((0,), dtype=getattr(npd, "np", npd)))


class UninitializedParameter(_Uninitialized, Parameter):
    cls_to_become = Parameter

    def __new__(cls, requires_grad=True, device=None, dtype=None):
        return Parameter.__new__(cls, _placeholder(dtype), requires_grad)

    def __init__(self, requires_grad=True, device=None, dtype=None):
        pass


class UninitializedBuffer(_Uninitialized, Tensor):
    cls_to_become = Tensor

    def __new__(cls, requires_grad=False, device=None, dtype=None):
        b = object.__new__(cls)
        _init(b, _placeholder(dtype)._data)
        b.requires_grad_(requires_grad)
        return b

    def __init__(self, requires_grad=False, device=None, dtype=None):
        pass


def is_lazy(t):
    return isinstance(t, _Uninitialized)


class LazyModuleMixin:
    """Mixed in before the ordinary class: `initialize_parameters(*inputs)` gives the
    placeholders their shapes at the first call, then the module becomes `cls_to_become`."""

    cls_to_become = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._initialize_hook = self.register_forward_pre_hook(_infer_parameters, with_kwargs=True)
        self._load_hook = self.register_load_state_dict_pre_hook(_lazy_load_hook)

    def has_uninitialized_params(self):
        return any(is_lazy(t) for t in (*self._parameters.values(), *self._buffers.values()))

    def initialize_parameters(self, *args, **kwargs):
        raise NotImplementedError(f"initialize_parameters is not implemented for {type(self).__name__}")

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self._input_size() != 0:
            super().reset_parameters()


def _infer_parameters(module, args, kwargs):
    module.initialize_parameters(*args, **kwargs)
    if module.has_uninitialized_params():
        raise RuntimeError(f"module {module._get_name()} has not been fully initialized")
    module._initialize_hook.remove()
    module._load_hook.remove()
    del module._initialize_hook, module._load_hook
    if module.cls_to_become is not None:
        module.__class__ = module.cls_to_become


def _lazy_load_hook(module, state_dict, prefix, *args):
    """Placeholders take the shapes of the entries that are about to be loaded into them."""
    for registry in (module._parameters, module._buffers):
        for name, t in registry.items():
            if is_lazy(t) and prefix + name in state_dict:
                with no_grad():
                    t.materialize(state_dict[prefix + name].shape)
    if not module.has_uninitialized_params():
        module._set_input_size_from_weights()


class LazyLinear(LazyModuleMixin, Linear):
    """Linear with in_features taken from the first input's last dim."""

    cls_to_become = Linear

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        super().__init__(0, 0, False)
        self.out_features = out_features
        self.weight = UninitializedParameter(dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(dtype=dtype)

    def _input_size(self):
        return self.in_features

    def _set_input_size_from_weights(self):
        self.in_features = self.weight.shape[1]

    def initialize_parameters(self, input):
        if self.has_uninitialized_params():
            with no_grad():
                self.in_features = input.shape[-1]
                self.weight.materialize((self.out_features, self.in_features))
                if self.bias is not None:
                    self.bias.materialize((self.out_features,))
                self.reset_parameters()


class _LazyConvMixin(LazyModuleMixin):
    """Conv layers with in_channels taken from the first input (dim 1, or 0 unbatched)."""

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None, output_padding=0):
        kw = dict(padding_mode=padding_mode)
        if self.cls_to_become.transposed:
            kw = dict(output_padding=output_padding)
        super().__init__(0, 0, kernel_size, stride, padding, dilation=dilation, groups=1,
                         bias=False, **kw)
        self.out_channels, self.groups = out_channels, groups
        self.weight = UninitializedParameter(dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(dtype=dtype)

    def _input_size(self):
        return self.in_channels

    def _set_input_size_from_weights(self):
        w = self.weight.shape
        self.in_channels = w[0] if self.transposed else w[1] * self.groups

    def initialize_parameters(self, input, *args, **kwargs):
        if not self.has_uninitialized_params():
            return
        d = self._dims
        if input.ndim not in (d + 1, d + 2):
            raise RuntimeError(f"Expected {d + 1}D (unbatched) or {d + 2}D (batched) input to "
                               f"{self._get_name()}, but got input of size: {list(input.shape)}")
        self.in_channels = input.shape[1] if input.ndim == d + 2 else input.shape[0]
        if self.in_channels % self.groups:
            raise ValueError("in_channels must be divisible by groups")
        with no_grad():
            shape = ((self.in_channels, self.out_channels // self.groups) if self.transposed
                     else (self.out_channels, self.in_channels // self.groups)) + self.kernel_size
            self.weight.materialize(shape)
            if self.bias is not None:
                self.bias.materialize((self.out_channels,))
            self.reset_parameters()


def _lazy(mixin, base, what):
    """The lazy class of `base`: mixin first, becoming `base` at its first call."""
    return type("Lazy" + base.__name__, (mixin, base), {
        "cls_to_become": base, "__module__": __name__,
        "__doc__": f"{base.__name__} with {what} taken from the first input."})


LazyConv1d = _lazy(_LazyConvMixin, Conv1d, "in_channels")
LazyConv2d = _lazy(_LazyConvMixin, Conv2d, "in_channels")
LazyConv3d = _lazy(_LazyConvMixin, Conv3d, "in_channels")
LazyConvTranspose1d = _lazy(_LazyConvMixin, ConvTranspose1d, "in_channels")
LazyConvTranspose2d = _lazy(_LazyConvMixin, ConvTranspose2d, "in_channels")
LazyConvTranspose3d = _lazy(_LazyConvMixin, ConvTranspose3d, "in_channels")


class _LazyNormMixin(LazyModuleMixin):
    """Batch / instance norm with num_features taken from the first input's channels."""

    def __init__(self, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, device=None,
                 dtype=None):
        super().__init__(0, eps, momentum, False, False)
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = UninitializedParameter(dtype=dtype)
            self.bias = UninitializedParameter(dtype=dtype)
        if track_running_stats:
            self.running_mean = UninitializedBuffer(dtype=dtype)
            self.running_var = UninitializedBuffer(dtype=dtype)
            self.num_batches_tracked = Tensor._make(xp.asarray(0, dtype=xp.int64))

    def _input_size(self):
        return self.num_features

    def _set_input_size_from_weights(self):
        t = self.weight if self.affine else self.running_mean
        self.num_features = t.shape[0]

    def initialize_parameters(self, input):
        if not self.has_uninitialized_params():
            return
        unbatched = issubclass(self.cls_to_become, _InstanceNorm) and \
            input.ndim == self.cls_to_become._input_dims[0]
        self.num_features = input.shape[0 if unbatched else 1]
        with no_grad():
            for t in (*self._parameters.values(), *self._buffers.values()):
                if is_lazy(t):
                    t.materialize((self.num_features,))
            self.reset_parameters()


LazyBatchNorm1d = _lazy(_LazyNormMixin, BatchNorm1d, "num_features")
LazyBatchNorm2d = _lazy(_LazyNormMixin, BatchNorm2d, "num_features")
LazyBatchNorm3d = _lazy(_LazyNormMixin, BatchNorm3d, "num_features")
LazyInstanceNorm1d = _lazy(_LazyNormMixin, InstanceNorm1d, "num_features")
LazyInstanceNorm2d = _lazy(_LazyNormMixin, InstanceNorm2d, "num_features")
LazyInstanceNorm3d = _lazy(_LazyNormMixin, InstanceNorm3d, "num_features")
