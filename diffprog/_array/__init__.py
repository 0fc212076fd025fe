"""The array library behind tensors.

Everything above this layer does tensor math through `xp`, never by importing NumPy for it.
`xp` is NumPy; its functions dispatch arrays of a GPU library (CuPy) to that library, and
`device.py` says which library each device type uses (see its docstring).
"""
import os
import sys

import numpy as xp


def _tune_malloc():
    """Keep large NumPy temporaries in the heap (Linux glibc only).

    glibc serves blocks above M_MMAP_THRESHOLD (dynamically 128 KiB..32 MiB) with fresh
    mmap()s and gives the top of the heap back above M_TRIM_THRESHOLD, so the big
    temporaries of every training step (im2col columns, activations, gradients) are
    unmapped when freed and page-faulted in again, zero-filled, on the next step; on a
    LeNet training step that was about a third of the time.  Fixed thresholds keep that
    memory mapped for reuse (the peak is unchanged; freed memory is returned to the OS only
    above 256 MiB of free heap top).  Set DIFFPROG_MALLOPT=0 to leave malloc alone.
    Never fails: on other platforms or C libraries it does nothing."""
    if not sys.platform.startswith("linux") or os.environ.get("DIFFPROG_MALLOPT") == "0":
        return
    try:
        import ctypes
        libc = ctypes.CDLL(None)
        if not hasattr(libc, "gnu_get_libc_version"):        # musl etc.: no such tuning
            return
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, 32 << 20)
        libc.mallopt(m_trim_threshold, 256 << 20)
    except (OSError, AttributeError):
        pass


_tune_malloc()



def broadcast_view(x, shape):
    """A read-only broadcast view of x (NumPy's broadcast_to, 4x cheaper for the common
    contiguous case, which matters in backward passes full of small expands)."""
    if type(x) is not xp.ndarray or len(shape) < x.ndim or not x.size or not x.flags.c_contiguous:
        return xp.broadcast_to(x, shape)
    lead = len(shape) - x.ndim
    strides = [0] * len(shape)          # (a 0-d x, the gradient of a full reduction: all zero)
    for i, size, want, stride in zip(range(lead, len(shape)), x.shape, shape[lead:], x.strides):
        if size == want:
            strides[i] = stride
        elif size != 1:
            raise ValueError(f"cannot broadcast shape {x.shape} to {tuple(shape)}")
    out = xp.ndarray(shape, x.dtype, x, 0, strides)
    out.flags.writeable = False
    return out


def sum_to(x, shape):
    """Sum x over the dimensions that broadcasting to x's shape added or stretched, so that
    it has `shape` (the inverse of broadcast_view; the engine's unbroadcast of gradients)."""
    lead = x.ndim - len(shape)
    if lead < 0:
        raise RuntimeError(f"size {list(shape)} is not expandable to size {list(x.shape)}")
    axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape)
                                      if s == 1 and x.shape[i + lead] != 1)
    return (x.sum(axis=axes, keepdims=True) if axes else x).reshape(shape)


from .device import as_array, library_of  # noqa: E402


def as_strided(a, shape, strides, writeable=False):
    """A strided view of `a` (strides in bytes), by the library `a` belongs to (CuPy's are
    always writeable: it takes no `writeable`)."""
    if type(a) is xp.ndarray:
        return xp.lib.stride_tricks.as_strided(a, shape, strides, writeable=writeable)
    return library_of(a).xp.lib.stride_tricks.as_strided(a, shape, strides)


# NumPy's ones, full and eye are Python functions that pass `device=None` on to the
# library of `like=`, and CuPy's take no `device`: these make the array there directly.

def ones(shape, dtype=None, *, like):
    """xp.ones(shape, dtype) on the device of the array `like`."""
    return library_of(like).xp.ones(shape, dtype)


def full(shape, fill_value, dtype=None, *, like):
    """xp.full(shape, fill_value, dtype) on the device of the array `like`."""
    return library_of(like).xp.full(shape, fill_value, dtype)


def eye(n, m=None, dtype=float, *, like):
    """xp.eye(n, m, dtype=dtype) on the device of the array `like`."""
    return library_of(like).xp.eye(n, m, dtype=dtype)


def ufunc_method(ufunc, method, a, *args, **kwargs):
    """ufunc.method(a, *args) ('reduce', 'accumulate', 'reduceat', 'at') on a's device, by
    way of the host where its library lacks it (CuPy has few: `cupy_api.UFUNC_METHODS`)."""
    lib = library_of(a)
    if lib.has(ufunc, method):
        return getattr(ufunc, method)(a, *args, **kwargs)

    def host(v):
        if type(v) in (tuple, list):            # (an index of several arrays)
            return type(v)(map(host, v))
        return lib.to_host(v) if type(v) is lib.array_type else v
    copy = lib.to_host(a)
    out = getattr(ufunc, method)(copy, *map(host, args), **kwargs)
    if method == "at":          # in place, into the host copy: then back into `a`
        a[...] = lib.from_host(copy, lib.index_of(a))
        return None
    return lib.from_host(out, lib.index_of(a))


__all__ = ["xp", "as_array", "as_strided", "broadcast_view", "ones", "full", "eye", "sum_to", "ufunc_method"]
