"""Where a tensor lives: `device` as PyTorch names it ('cpu', 'cuda', 'cuda:1'), the array
library behind each device type, and moving arrays between them.

A tensor's device is read off its array: a NumPy array is on the CPU; an array of a GPU
library (CuPy) is on 'cuda'.  The ops are written with NumPy's functions, which hand a
CuPy array to CuPy's own implementation (NEP 13 and 18 dispatch); arrays the ops create
from nothing take `like=` an input (NEP 35), so they land on that input's device.
"""
import numpy


class device:
    """Where a tensor lives: 'cpu' (NumPy) or 'cuda' (CuPy, when installed)."""

    __slots__ = ("type", "index")

    def __init__(self, type="cpu", index=None):
        if isinstance(type, device):
            type, index = type.type, type.index
        elif isinstance(type, int):                 # torch.device(0) is cuda:0
            type, index = "cuda", type
        if ":" in type:
            type, index = type.split(":")
            index = int(index)
        if type not in ("cpu", "cuda", "mps"):
            raise RuntimeError(f"device: expected one of cpu, cuda, mps, got {type!r}")
        self.type, self.index = type, index

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and self.type == other.type and \
            (self.index or 0) == (other.index or 0)

    def __hash__(self):
        return hash((self.type, self.index or 0))

    def __repr__(self):
        idx = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{idx})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"


CPU = device("cpu")


class Library:
    """The array library of one device type: its namespace for making arrays, its array
    type, the copies to and from host (NumPy) memory (`from_host(a, index, non_blocking)`),
    and, for an accelerator, page-locked host arrays: `empty_pinned(shape, dtype)` makes
    one, whose memory is a `pinned_type` object."""

    def __init__(self, name, xp, array_type, to_host, from_host, index_of=lambda a: None,
                 special=None, ufunc_methods=None, empty_pinned=None, pinned_type=None):
        self.name, self.xp, self.array_type = name, xp, array_type
        self.to_host, self.from_host, self.index_of = to_host, from_host, index_of
        self.special = special      # its scipy.special (erf, gammaln, ...), imported on demand
        # method -> the ufuncs whose reduce/accumulate/reduceat/at it has (None: all)
        self.ufunc_methods = ufunc_methods
        self.empty_pinned, self.pinned_type = empty_pinned, pinned_type

    def has(self, ufunc, method):
        return self.ufunc_methods is None or ufunc.__name__ in self.ufunc_methods[method]

    def is_pinned(self, a):
        """Whether the host array `a` (or the array it is a view of) is in its pinned memory."""
        while isinstance(a, numpy.ndarray):
            a = a.base
        return self.pinned_type is not None and isinstance(a, self.pinned_type)


def _cupy():
    """CuPy as the 'cuda' library, or None where it is missing or sees no GPU."""
    try:
        import cupy
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None
    except Exception:       # no CuPy, no driver, no device: all mean "no GPU"
        return None

    def from_host(a, index, non_blocking=False):
        with cupy.cuda.Device(index or 0):
            if not non_blocking:
                return cupy.asarray(a)
            out = cupy.empty(a.shape, a.dtype)      # queued on the current stream: asynchronous
            out.set(numpy.ascontiguousarray(a), stream=cupy.cuda.get_current_stream())  # from pinned memory
            return out

    def special():
        import cupyx.scipy.special
        return cupyx.scipy.special

    def empty_pinned(shape, dtype):
        import cupyx
        return cupyx.empty_pinned(shape, dtype)

    from .cupy_api import UFUNC_METHODS
    return Library("cuda", cupy, cupy.ndarray, cupy.asnumpy, from_host, lambda a: a.device.id, special,
                   UFUNC_METHODS, empty_pinned, cupy.cuda.PinnedMemoryPointer)


_CPU = Library("cpu", numpy, numpy.ndarray, lambda a: a, lambda a, index, non_blocking=False: a)
_LIBRARIES = {"cpu": _CPU}
_BY_TYPE = {numpy.ndarray: _CPU}
_looked_for_cuda = False


def use_library(device_type, library):
    """Put `library` behind `device_type` (None takes it away): how the CuPy backend plugs
    in, and how tests run the ops on a CPU stand-in for a GPU (`_array.fake_gpu`)."""
    global _looked_for_cuda
    old = _LIBRARIES.pop(device_type, None)
    if old is not None:
        _BY_TYPE.pop(old.array_type, None)
    if library is not None:
        _LIBRARIES[device_type] = library
        _BY_TYPE[library.array_type] = library
    _looked_for_cuda = _looked_for_cuda or device_type == "cuda"
    return old


def fake_gpu_library():
    """The CPU stand-in for a GPU library (`fake_gpu.py`), as the library of 'cuda'."""
    from . import fake_gpu as f
    return Library("cuda", f.namespace(), f.FakeGPUArray, f.to_host, f.from_host, lambda a: 0, f.special,
                   f.UFUNC_METHODS, f.empty_pinned, f.PinnedBuffer)


def library(device_type):
    """The library behind a device type, or None where this machine has none."""
    global _looked_for_cuda
    if device_type == "cuda" and not _looked_for_cuda:
        _looked_for_cuda = True
        import os
        if os.environ.get("DIFFPROG_FAKE_GPU") == "1":
            use_library("cuda", fake_gpu_library())
        else:
            found = _cupy()
            if found is not None:
                use_library("cuda", found)
    return _LIBRARIES.get(device_type)


def library_of(array):
    """The library an array belongs to (NumPy for anything that is not a device array)."""
    return _BY_TYPE.get(type(array), _CPU)


def device_of(array):
    if type(array) is numpy.ndarray:
        return CPU
    lib = library_of(array)
    return device(lib.name, lib.index_of(array)) if lib is not _CPU else CPU


def is_array(a):
    """Whether `a` is an array of NumPy or of a registered device library."""
    return isinstance(a, numpy.ndarray) or type(a) in _BY_TYPE


def is_device_array(a):
    """Whether `a` is an array of a registered library other than NumPy."""
    return type(a) in _BY_TYPE and type(a) is not numpy.ndarray


def as_array(x, dtype=None):
    """x as an array (of `dtype`): NumPy's scalars (what its reductions return) become 0-d
    arrays; arrays of any registered library stay on their device."""
    if type(x) not in _BY_TYPE:
        x = numpy.asarray(x)
    return x if dtype is None or x.dtype == dtype else x.astype(dtype)


def move(array, target, non_blocking=False):
    """`array` on device `target` (itself when it is already there).  `non_blocking`: a
    copy from host to device is queued on the device's stream (asynchronous when the host
    array is pinned); copies to the host always complete before this returns."""
    target = device(target)
    here = library_of(array)
    if here.name == target.type and (target.index is None or here.index_of(array) in (None, target.index)):
        return array
    dest = library(target.type) if target.type != "cpu" else _CPU
    if dest is None:
        check_device(target, "to")
    return dest.from_host(here.to_host(array), target.index, non_blocking)


def scalars_to_device(arrays):
    """Move the host 0-d arrays in the list `arrays` to the device of a device array there:
    PyTorch lets a 0-d CPU tensor be an operand of an op on another device (`x.cuda() *
    torch.tensor(2.)`).  `Op.apply` calls it only when a forward failed, so the CPU path
    pays nothing.  False where nothing moved."""
    there = next((a for a in arrays if is_device_array(a)), None)
    host = [i for i, a in enumerate(arrays) if type(a) is numpy.ndarray and a.ndim == 0]
    if there is None or not host:
        return False
    for i in host:
        arrays[i] = move(arrays[i], device_of(there))
    return True


def pin(array):
    """A host array in page-locked memory (itself when it is), which the accelerator
    copies from asynchronously; PyTorch's error where there is no accelerator."""
    lib = library("cuda")
    if lib is None or lib.empty_pinned is None:
        raise RuntimeError("Cannot access accelerator device when none is available.")
    if lib.is_pinned(array):
        return array
    out = lib.empty_pinned(array.shape, array.dtype)
    out[...] = array
    return out


def is_pinned(array):
    """Whether a host array is in page-locked memory (of an accelerator library that is
    in use: no pinned array exists before one is)."""
    lib = _LIBRARIES.get("cuda")
    return type(array) is numpy.ndarray and lib is not None and lib.is_pinned(array)


default_device = None      # where factory functions put tensors when told nowhere (None: the CPU)


def set_default_device(d):
    """torch.set_default_device: factory functions (zeros, tensor, randn, ...) called
    without `device=` make their tensors there."""
    global default_device
    check_device(d, "set_default_device")
    default_device = None if d is None or device(d).type == "cpu" else device(d)


def get_default_device():
    return default_device or CPU


def key_for(array, key):
    """An index tuple for `array`: its index arrays moved to array's device."""
    if type(array) is numpy.ndarray and not any(is_device_array(k) for k in key):
        return key
    here = device_of(array)
    return tuple(move(k, here) if is_array(k) else k for k in key)


def check_device(d, where="to"):
    """Accept only devices this machine can compute on; explain the others."""
    if d is None:
        return
    d = device(d) if not isinstance(d, device) else d
    if d.type != "cpu" and library(d.type) is None:
        raise RuntimeError(
            f"{where}: device '{d}' is not available: diffprog runs on the CPU (NumPy) here; "
            "the CUDA backend needs an NVIDIA GPU and CuPy (pip install 'diffprog[cuda]'). "
            "Use diffprog.cuda.is_available() to choose the device.")
