"""numba, the optional dependency of the fast kernels (`pip install diffprog[fast]`).

It is imported once, on first use, so that diffprog imports without it and pays numba's
import time only when a kernel is wanted.  The modules of kernels (`ops/erf_numba.py`,
`ops/rows_numba.py`, `ops/dropout_numba.py`, `ops/rnn_numba.py`, `ops/conv_numba.py`,
`ops/relu_numba.py`, `optim/update_numba.py`)
import numba at their top and are themselves imported only after `numba()` has returned
it (`usable` says when their callers may ask); every caller keeps a NumPy path for when
they may not.
`diffprog.compile`'s fusion (`func/fuse.py`) asks here too.
"""
from .._array import xp

_NUMBA = []


def numba():
    """The numba module, or None where it is not installed."""
    if not _NUMBA:
        try:
            import numba
            _NUMBA.append(numba)
        except ImportError:
            _NUMBA.append(None)
    return _NUMBA[0]


def usable(arrays, dtypes=(xp.float32, xp.float64), contiguous=True):
    """Whether numba kernels may take these arrays (None entries skipped): numba installed,
    and all NumPy arrays (device arrays keep their library's path) of one dtype among
    `dtypes`, C-contiguous unless `contiguous` is False."""
    arrays = [a for a in arrays if a is not None]
    return all(type(a) is xp.ndarray and a.dtype == arrays[0].dtype and a.dtype in dtypes and (
        a.flags.c_contiguous or not contiguous) for a in arrays) and numba() is not None


def erf_kernels(*arrays, contiguous=False):
    """`ops/erf_numba.py` (float32 erf, GELU, GELU', BCE with logits) for these arrays, or None."""
    if not usable(arrays, (xp.float32,), contiguous):
        return None
    from . import erf_numba
    return erf_numba


def row_kernels(*arrays):
    """`ops/rows_numba.py` (layer norm and attention softmax by rows) for these arrays, or None."""
    if not usable(arrays):
        return None
    from . import rows_numba
    return rows_numba


def rnn_kernels(*arrays):
    """`ops/rnn_numba.py` (the LSTM layer's per-step gate arithmetic) for these arrays, or
    None; each may be float32 or float64 (numba compiles the mix)."""
    if not all(usable([a], contiguous=False) for a in arrays):
        return None
    from . import rnn_numba
    return rnn_numba


def conv_kernels(*arrays):
    """`ops/conv_numba.py` (2-d col2im) for these arrays, or None."""
    if not usable(arrays, contiguous=False):
        return None
    from . import conv_numba
    return conv_numba


RELU_MIN_SIZE = 4096    # below, NumPy's call costs less than the kernel's dispatch


def relu_kernels(*arrays):
    """`ops/relu_numba.py` (ReLU and its VJP) for these arrays of one shape, or None; the
    caller checks RELU_MIN_SIZE first (a hot path: tiny arrays skip this call)."""
    if not usable(arrays) or any(a.shape != arrays[0].shape for a in arrays):
        return None
    from . import relu_numba
    return relu_numba
