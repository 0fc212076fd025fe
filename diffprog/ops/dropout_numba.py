"""Dropout masks in one pass (numba): `random.dropout_mask` uses this where numba is installed
(`pip install diffprog[fast]`, see `fast.py`) and NumPy's bit generator otherwise.

Element i is kept where the high 32 bits of splitmix64(seed + i * golden ratio) are at least
the threshold p 2^32: a counter-based stream (Steele, Lea and Flood 2014), its seed one
64-bit draw of the default generator, so that `manual_seed` makes masks reproducible.
Each element is an independent hash of its index, which vectorises; drawing from PCG64
element by element (NumPy's `random_raw`) costs four times as long.  The masks differ from
those of the NumPy path for the same seed.
"""
import numba
import numpy as np

_GOLDEN, _M1, _M2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S27, _S30, _S31, _S32 = np.uint64(27), np.uint64(30), np.uint64(31), np.uint64(32)


@numba.njit(cache=True, error_model="numpy")
def dropout_mask(out, seed, threshold, scale):
    """out (flat) = scale where element i is kept, 0 where dropped; seed: uint64,
    threshold: uint32."""
    for i in range(out.shape[0]):
        z = seed + np.uint64(i) * _GOLDEN
        z = (z ^ (z >> _S30)) * _M1
        z = (z ^ (z >> _S27)) * _M2
        z = z ^ (z >> _S31)
        out[i] = scale if np.uint32(z >> _S32) >= threshold else 0
