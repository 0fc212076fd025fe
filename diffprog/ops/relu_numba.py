"""ReLU and its VJP as numba loops, for C-contiguous float32/float64 NumPy arrays.

NumPy's `maximum(x, 0)` does not vectorise its loop against a scalar (about 0.4 ns an
element here, 3x the same call against an array of zeros), and the VJP `g * (y > 0)` makes
a mask and multiplies by it with a cast.  These are one vectorised pass each, with the
NumPy path's values bit for bit: NaN stays NaN, -0.0 becomes 0, and the gradient is
`g * 0` where y <= 0 (NaN for an infinite g, as there).  They are plain loops rather than
ufuncs, so that comparing a NaN raises no floating-point warning (NumPy checks the flags
after a ufunc; `maximum` itself does not warn).  `Relu` (activations.py) loads this module
where numba is installed (`pip install diffprog[fast]`, see `fast.py`).
"""
import numba
import numpy as np


@numba.njit(cache=True)
def relu(x):
    y = np.empty_like(x)
    flat, out = x.reshape(-1), y.reshape(-1)
    for i in range(flat.shape[0]):
        v = flat[i]
        out[i] = v if v > 0 or v != v else 0
    return y


@numba.njit(cache=True)
def relu_grad(y, g):
    """The VJP from the output y = relu(x)."""
    gx = np.empty_like(g)
    ys, gs, out = y.reshape(-1), g.reshape(-1), gx.reshape(-1)
    for i in range(out.shape[0]):
        out[i] = gs[i] if ys[i] > 0 else gs[i] * 0
    return gx
