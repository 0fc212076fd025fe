"""ReLU and its VJP as numba loops, for C-contiguous float32/float64 NumPy arrays.

NumPy's `maximum(x, 0)` does not vectorise its loop against a scalar (about 0.4 ns an
element here, 3x the same call against an array of zeros), and the VJP `g * (y > 0)` makes
a mask and multiplies by it with a cast.  These are one vectorised pass each, with the
NumPy path's values bit for bit: NaN stays NaN, -0.0 becomes 0, and the gradient is
`g * 0` where y <= 0 (NaN for an infinite g, as there).  They are plain loops rather than
ufuncs, so that comparing a NaN raises no floating-point warning (NumPy checks the flags
after a ufunc; `maximum` itself does not warn), and they write into arrays the caller
allocated with NumPy.  `Relu` (activations.py) loads this module where numba is installed
(`pip install diffprog[fast]`), for arrays of `fast.RELU_MIN_SIZE` elements or more.
"""
import numba


@numba.njit(cache=True)
def relu(x, out):
    """out = relu(x), flat arrays."""
    for i in range(x.shape[0]):
        v = x[i]
        out[i] = v if v > 0 or v != v else 0


@numba.njit(cache=True)
def relu_grad(y, g, out):
    """out = the VJP of g from the output y = relu(x), flat arrays."""
    for i in range(out.shape[0]):
        out[i] = g[i] if y[i] > 0 else g[i] * 0
