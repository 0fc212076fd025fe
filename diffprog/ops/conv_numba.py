"""col2im for 2-d stride-1 convolutions (numba): the scatter of a transposed convolution's
columns.

The columns come from per-sample GEMMs, (groups, n, C/g * kh * kw, oh * ow).  Each is
added into place in the zero-padded output (n, C, H, W), sample by sample and channel by
channel, so the output plane being written stays in cache.  NumPy needs one strided slice
add per kernel offset over the whole batch, or a GEMM over zero margins that makes every
offset a shift (`conv._col2im_shifts`).  On LeNet's second layer's input gradient this
kernel and its GEMMs take about half the time of the shifts.  `conv._conv_transpose_scatter`
loads this module where numba is installed (`pip install diffprog[fast]`), for NumPy
float arrays.
"""
import numba


@numba.njit(cache=True)
def col2im(cols, out, kh, kw, oh, ow):
    """out[s, g * C/g + c, p + i, q + j] += cols[g, s, (c * kh + i) * kw + j, p * ow + q] over
    every index (stride 1, dilation 1: with either a variable, LLVM stops vectorising the
    row adds and the kernel is slower than NumPy's)."""
    groups, n, rows = cols.shape[:3]
    cg = rows // (kh * kw)
    for s in range(n):
        for g in range(groups):
            for c in range(cg):
                for i in range(kh):
                    for j in range(kw):
                        r = (c * kh + i) * kw + j
                        for p in range(oh):
                            for q in range(ow):
                                out[s, g * cg + c, p + i, q + j] += cols[g, s, r, p * ow + q]
