"""Creating tensors: from data, filled, ranges, and identity."""
import math
import operator

from . import dtypes as _dt
from ._array import xp
from .ops.batching import levels_of, physical, rewrap
from .tensor import Tensor, _to_array
from ._array import device as _device
from ._array.device import check_device, move

__all__ = ["tensor", "as_tensor", "asarray", "from_numpy", "zeros", "ones", "empty", "full",
           "zeros_like", "ones_like", "empty_like", "full_like", "arange", "linspace", "logspace",
           "eye", "scalar_tensor"]


def _finish(data, dtype, device, requires_grad, where, pin_memory=False):
    """The factories' tensor of `data`: on `device` (or the default device), in pinned
    memory with `pin_memory=True`."""
    check_device(device, where)
    device = device or _device.default_device
    if pin_memory:
        data = _pinned(data, device, where)
    t = Tensor._make(data if device is None else move(data, device))
    if requires_grad:
        t.requires_grad_()
    return t


def _pinned(data, device, where):
    if _device.library("cuda") is None:
        raise RuntimeError("pin_memory=True requires a CUDA or other accelerator backend; no pinned memory "
                           "allocator is available on this system.")
    if device is not None and _device.device(device).type != "cpu":
        raise RuntimeError(f"{where}: only dense CPU tensors can be pinned (pin_memory=True), got "
                           f"device='{device}'")
    return _device.pin(data)


def shape_arg(size, who):
    """The shape given as `f(2, 3)`, `f((2, 3))` or `f(Size)`, with PyTorch's error for a
    negative size (NumPy's names no op)."""
    dims = tuple(map(operator.index, size[0] if len(size) == 1 and not isinstance(size[0], int) else size))
    for n in dims:
        if n < 0:
            raise RuntimeError(f"{who}: Trying to create tensor with negative dimension {n}: {list(dims)}")
    return dims


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor holding a copy of `data` (nested lists, scalars, arrays, tensors)."""
    dtype = _dt.to_dtype(dtype) if dtype is not None else None
    a = _to_array(data, dtype)
    src = data._data if isinstance(data, Tensor) else data
    if a is src or isinstance(src, xp.ndarray) and xp.may_share_memory(a, src):
        a = a.copy()
    return _finish(a, dtype, device, requires_grad, "tensor", pin_memory)


def as_tensor(data, dtype=None, device=None):
    """Like `tensor`, but shares memory with `data` when it can (NumPy arrays, tensors)."""
    if isinstance(data, Tensor) and (dtype is None or _dt.to_dtype(dtype) is data.dtype):
        return data
    dtype = _dt.to_dtype(dtype) if dtype is not None else None
    return _finish(_to_array(data, dtype), dtype, device, False, "as_tensor")


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=False):
    """`as_tensor` with `copy`: True always copies, False refuses to."""
    if copy:
        return tensor(obj, dtype=dtype, device=device, requires_grad=requires_grad)
    t = as_tensor(obj, dtype=dtype, device=device)
    if copy is False and not isinstance(obj, Tensor) and not xp.may_share_memory(t._data, obj):
        raise ValueError("asarray: can't avoid a copy (copy=False) for this input")
    return t.requires_grad_() if requires_grad else t


def from_numpy(ndarray):
    """A tensor sharing memory with a NumPy array."""
    if not isinstance(ndarray, xp.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    _dt.from_numpy_dtype(ndarray.dtype)
    return Tensor._make(ndarray)


def _filled(fill, size, dtype, device, requires_grad, where, pin_memory):
    dtype = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    return _finish(fill(shape_arg(size, where), dtype=dtype.np), dtype, device, requires_grad, where, pin_memory)


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None, pin_memory=False):
    return _filled(xp.zeros, size, dtype, device, requires_grad, "zeros", pin_memory)


def ones(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None, pin_memory=False):
    return _filled(xp.ones, size, dtype, device, requires_grad, "ones", pin_memory)


def empty(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None,
          memory_format=None, pin_memory=False):
    return _filled(xp.empty, size, dtype, device, requires_grad, "empty", pin_memory)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False, out=None, layout=None,
         pin_memory=False):
    if dtype is None:
        dtype = _dt.result_type(fill_value)
    dtype = _dt.to_dtype(dtype)
    data = xp.full(shape_arg((size,), "full"), fill_value, dtype=dtype.np)
    return _finish(data, dtype, device, requires_grad, "full", pin_memory)


def _like(fn, input, dtype, device, requires_grad, pin_memory, *args):
    """fn(input's shape, *args); inside vmap, batched like input (so that writing batched
    values into it in place works, as in torch.func)."""
    dtype = input.dtype if dtype is None else dtype
    device = input.device if device is None else device
    levels = levels_of(input)
    shape = tuple(physical(input).shape) if levels else input.shape
    return rewrap(fn(shape, *args, dtype=dtype, device=device, requires_grad=requires_grad,
                     pin_memory=pin_memory), levels)


def zeros_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None, layout=None,
               pin_memory=False):
    return _like(zeros, input, dtype, device, requires_grad, pin_memory)


def ones_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None, layout=None,
              pin_memory=False):
    return _like(ones, input, dtype, device, requires_grad, pin_memory)


def empty_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None, layout=None,
               pin_memory=False):
    return _like(empty, input, dtype, device, requires_grad, pin_memory)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False, memory_format=None,
              layout=None, pin_memory=False):
    return _like(full, input, dtype, device, requires_grad, pin_memory, fill_value)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False, out=None, layout=None,
           pin_memory=False):
    """Values in [start, end) spaced by step; int64 unless an argument is a float."""
    if end is None:
        start, end = 0, start
    start, end, step = (x.item() if isinstance(x, Tensor) else x for x in (start, end, step))
    dtype = _dt.to_dtype(dtype) if dtype is not None else _dt.result_type(start, end, step)
    if not dtype.is_floating_point:
        start, end, step = int(start), int(end), int(step)      # PyTorch truncates first
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(f"arange: upper bound and larger bound inconsistent with step sign "
                           f"(start={start}, end={end}, step={step})")
    if dtype.is_floating_point:
        # PyTorch's length and values: computed in double, then cast.
        n = math.ceil((end - start) / step)
        data = (start + xp.arange(n, dtype=xp.float64) * step).astype(dtype.np)
    else:
        data = xp.arange(start, end, step, dtype=dtype.np)
    return _finish(data, dtype, device, requires_grad, "arange", pin_memory)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False, out=None, layout=None,
             pin_memory=False):
    """`steps` evenly spaced values from start to end, computed like PyTorch: from the start
    for the first half, from the end for the second (so both ends are exact)."""
    dtype = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    start, end, steps = (x.item() if isinstance(x, Tensor) else x for x in (start, end, steps))
    if steps < 0:
        raise RuntimeError(f"linspace: number of steps must be non-negative, got {steps}")
    ct = {xp.float16: xp.float32, xp.float32: xp.float32}.get(dtype.np.type, xp.float64)
    start, end = ct(dtype.np.type(start)), ct(dtype.np.type(end))   # rounded to dtype first
    i = xp.arange(steps, dtype=ct)
    step = (end - start) / ct(max(steps - 1, 1))
    data = xp.where(i < max(steps // 2, 1), start + step * i, end - step * (steps - 1 - i))
    return _finish(data.astype(dtype.np), dtype, device, requires_grad, "linspace", pin_memory)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False, out=None,
             layout=None, pin_memory=False):
    dtype = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    data = xp.logspace(float(start), float(end), int(steps), base=base).astype(dtype.np)
    return _finish(data, dtype, device, requires_grad, "logspace", pin_memory)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False, out=None, layout=None, pin_memory=False):
    dtype = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    return _finish(xp.eye(n, m, dtype=dtype.np), dtype, device, requires_grad, "eye", pin_memory)


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
    dtype = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    return _finish(xp.asarray(s, dtype=dtype.np), dtype, device, requires_grad, "scalar_tensor", pin_memory)
