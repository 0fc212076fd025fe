"""A CPU stand-in for a GPU array library, to prove the device seam without a GPU.

`FakeGPUArray` holds a NumPy array but behaves as CuPy's arrays do towards NumPy: NumPy
functions and ufuncs given one dispatch to it (NEP 13/18; creation with `like=` too,
NEP 35) and return device arrays, reductions return 0-d arrays rather than scalars, and
anything that would silently mix device and host memory raises TypeError: a host array
as an operand, `numpy.asarray(device_array)`.  Running the op suite with tensors on it
(`DIFFPROG_FAKE_GPU=1`, `device="cuda"`) finds every place where an op leaves its
inputs' device.  It also refuses the NumPy and SciPy functions that CuPy lacks
(`cupy_api.py`).  `device.fake_gpu_library()` makes it a library for 'cuda'.  Pinned
host arrays (`empty_pinned`, as cupyx's) are NumPy arrays over a `PinnedBuffer`.
"""
import math

import numpy
from numpy.lib.mixins import NDArrayOperatorsMixin

from .cupy_api import ARGUMENTS, LACKS, METHODS, SPECIAL, UFUNC, UFUNC_METHODS


def _refuse(module, name, kwargs):
    """TypeError where CuPy has no function `module.name`, or where it does not take one
    of the keyword arguments given."""
    if name in LACKS.get(module, ()):
        raise TypeError(f"{module}.{name}: CuPy has no such function (a device array)")
    _keywords(f"{module}.{name}", kwargs, lacks=ARGUMENTS.get(f"{module}.{name}", ()))


def _keywords(what, kwargs, takes=None, lacks=()):
    bad = [k for k in kwargs if k in lacks or takes is not None and k not in takes]
    if bad:
        raise TypeError(f"{what}: CuPy's takes no argument {', '.join(map(repr, bad))} (a device array)")


def _settable(name):
    """A view attribute (real, imag) that can also be assigned; other attributes are read
    through `__getattr__`."""
    return property(lambda self: FakeGPUArray(getattr(self._a, name)),
                    lambda self, value: setattr(self._a, name, _host(value, name)))


class FakeGPUArray(NDArrayOperatorsMixin):
    __slots__ = ("_a",)
    __array_priority__ = 100

    def __init__(self, host):
        self._a = host

    # what NumPy's functions do with it
    def __array__(self, dtype=None, copy=None):
        raise TypeError("Implicit conversion to a NumPy array is not allowed (a device array); "
                        "use .get() to copy it to the host")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if getattr(numpy, ufunc.__name__, None) is not ufunc:
            return NotImplemented           # CuPy runs NumPy's own ufuncs, not numba's or SciPy's
        _refuse("numpy", ufunc.__name__, ())
        if method in ("__call__", "outer") and any(type(v) in (list, tuple) for v in inputs):
            raise TypeError(f"numpy.{ufunc.__name__}: CuPy's ufuncs take no list or tuple operand")
        _keywords(f"numpy.{ufunc.__name__}.{method}", kwargs, UFUNC[method])
        if method in UFUNC_METHODS and ufunc.__name__ not in UFUNC_METHODS[method]:
            raise NotImplementedError(f"`cupy_{ufunc.__name__}.{method}` is not supported yet (CuPy)")
        kwargs = _hosts(kwargs, ufunc.__name__)         # out=
        result = getattr(ufunc, method)(*_hosts(inputs, ufunc.__name__), **kwargs)
        return _device(result)

    def __array_function__(self, func, types, args, kwargs):
        _refuse(func.__module__, func.__name__, kwargs)
        if func in _COPIES_FROM_HOST:       # asarray(host, like=device_array): a copy to the device
            return _device(numpy.array(_hosts(args[0], "asarray") if _on_device(args[0]) else args[0],
                                       *args[1:], **kwargs))
        if func is numpy.repeat:
            _check_repeats(args[1] if len(args) > 1 else kwargs.get("repeats"))
        return _device(func(*_hosts(args, func.__name__), **_hosts(kwargs, func.__name__)))

    def get(self):
        return self._a.copy()

    # the ndarray interface, on the device
    def __getattr__(self, name):
        if name.startswith("__") or name in LACKS["ndarray"]:     # __array_interface__ & co
            raise AttributeError(name)                              # would hand out host memory
        value = getattr(self._a, name)
        if not callable(value):
            return _device(value)

        def method(*args, **kwargs):
            _keywords(f"ndarray.{name}", kwargs, METHODS.get(name))
            if name == "repeat":
                _check_repeats(args[0] if args else kwargs.get("repeats"))
            return _device(value(*_hosts(args, name), **_hosts(kwargs, name)))
        return method

    real, imag = _settable("real"), _settable("imag")       # `out.real = re` writes the host array

    def __getitem__(self, key):
        return _device(self._a[_hosts(key, "__getitem__")])

    def __setitem__(self, key, value):
        self._a[_hosts(key, "__setitem__")] = _host(value, "__setitem__")

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (_device(x) for x in self._a)

    def __bool__(self):
        return bool(self._a)

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __complex__(self):
        return complex(self._a)

    def __index__(self):
        return self._a.__index__()

    def __repr__(self):
        return f"FakeGPUArray({self._a!r})"

    def __copy__(self):
        return FakeGPUArray(self._a.copy())

    def __deepcopy__(self, memo):
        return FakeGPUArray(self._a.copy())

    def __reduce__(self):
        return FakeGPUArray, (self._a,)

    __hash__ = None


_COPIES_FROM_HOST = (numpy.asarray, numpy.array, numpy.asanyarray, numpy.ascontiguousarray)


def _check_repeats(repeats):
    """CuPy's repeat takes an int, list or tuple of counts, never a device array."""
    if type(repeats) is FakeGPUArray:
        raise ValueError("cupy.ndarray cannot be specified as `repeats` argument.")


def _on_device(x):
    return type(x) is FakeGPUArray or type(x) in (list, tuple) and any(map(_on_device, x))


def _host(x, op):
    if type(x) is FakeGPUArray:
        return x._a
    if isinstance(x, numpy.ndarray):
        raise TypeError(f"{op}: a host (NumPy) array {x.shape} {x.dtype} mixed with device arrays")
    return x


def _hosts(x, op):
    if type(x) is tuple:
        return tuple(_hosts(v, op) for v in x)
    if type(x) is list:
        return [_hosts(v, op) for v in x]
    if type(x) is dict:
        return {k: _hosts(v, op) for k, v in x.items()}
    return _host(x, op)


def _device(x):
    if isinstance(x, (numpy.ndarray, numpy.generic)):
        return FakeGPUArray(numpy.asarray(x))
    if isinstance(x, tuple):            # numpy.linalg's results are named tuples
        values = [_device(v) for v in x]
        return type(x)(*values) if hasattr(x, "_fields") else tuple(values)
    if type(x) is list:
        return [_device(v) for v in x]
    return x


class _Namespace:
    """A module's functions (numpy's, scipy.special's), making arrays on the device as the
    `cupy` module does."""

    def __init__(self, module, has=None):
        self._module, self._has = module, has

    def __getattr__(self, name):
        if name in LACKS.get(self._module.__name__, ()) or self._has is not None and name not in self._has:
            raise AttributeError(f"CuPy has no {self._module.__name__}.{name}")
        f = getattr(self._module, name)
        if not callable(f) or isinstance(f, type):
            return f
        return lambda *args, **kwargs: _device(f(*_hosts(args, name), **_hosts(kwargs, name)))


class _StrideTricks:
    @staticmethod
    def as_strided(a, shape=None, strides=None):         # (CuPy's has no `writeable`)
        return FakeGPUArray(numpy.lib.stride_tricks.as_strided(_host(a, "as_strided"), shape, strides))


def namespace():
    xp = _Namespace(numpy)
    xp.lib = type("lib", (), {"stride_tricks": _StrideTricks})
    return xp


def special():
    import scipy.special
    return _Namespace(scipy.special, SPECIAL)


def to_host(a):
    return a.get()


def from_host(a, index=None, non_blocking=False):
    return FakeGPUArray(numpy.array(a))


class PinnedBuffer(bytearray):
    """Host memory the stand-in counts as page-locked, as CuPy's `PinnedMemoryPointer`
    (behind `cupyx.empty_pinned`'s arrays): ordinary memory, recognisable by its type."""


def empty_pinned(shape, dtype):
    dtype = numpy.dtype(dtype)
    return numpy.ndarray(shape, dtype, buffer=PinnedBuffer(max(math.prod(shape) * dtype.itemsize, 1)))
