"""numba, the optional dependency of the fast kernels (`pip install diffprog[fast]`).

It is imported once, on first use, so that diffprog imports without it and pays numba's
import time only when a kernel is wanted.  The modules of kernels (`ops/erf_numba.py`,
`ops/rows_numba.py`, `ops/dropout_numba.py`, `optim/update_numba.py`) import numba at their
top and are themselves imported only after `numba()` has returned it; every caller keeps a
NumPy path for when it returns None.
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


def erf_kernels(*arrays):
    """`ops/erf_numba.py` (float32 erf, GELU, GELU') for these arrays, or None without
    numba or unless all are float32 NumPy arrays (device arrays keep their library's path)."""
    if not all(type(a) is xp.ndarray and a.dtype == xp.float32 for a in arrays) or numba() is None:
        return None
    from . import erf_numba
    return erf_numba


def row_kernels(*arrays):
    """`ops/rows_numba.py` (layer norm and attention softmax by rows) for these arrays (None
    entries are skipped), or None without numba or unless all are C-contiguous NumPy arrays
    of one dtype, float32 or float64."""
    arrays = [a for a in arrays if a is not None]
    dtype = arrays[0].dtype
    if not all(type(a) is xp.ndarray and a.dtype == dtype and a.flags.c_contiguous for a in arrays) or (
            dtype != xp.float32 and dtype != xp.float64) or numba() is None:
        return None
    from . import rows_numba
    return rows_numba


def rnn_kernels(*arrays):
    """`ops/rnn_numba.py` (the LSTM layer's per-step gate arithmetic) for these arrays, or
    None without numba or unless all are float32 or float64 NumPy arrays."""
    if (not all(type(a) is xp.ndarray and a.dtype in (xp.float32, xp.float64) for a in arrays)
            or numba() is None):
        return None
    from . import rnn_numba
    return rnn_numba
