"""What CuPy 14.2.0 lacks of NumPy 2.4.6's API, and the SciPy special functions
it has (cupyx.scipy.special), for the stand-in `fake_gpu.py`.  Written by `tools/cupy_api.py`;
do not edit."""

# functions (and ndarray attributes) CuPy does not have
LACKS = {
    "numpy": set("""
        asmatrix block bmat busday_count busday_offset datetime_as_string datetime_data
        einsum_path frompyfunc fromregex geomspace get_include getbufsize geterr geterrcall
        histogram_bin_edges info insert is_busday isnat matvec nanpercentile nanquantile
        nested_iters polyder polydiv polyint setbufsize seterr seterrcall show_runtime
        spacing test unstack vecdot vecmat
    """.split()),
    "numpy.linalg": set("""
        diagonal matrix_norm multi_dot outer svdvals tensordot test trace vecdot vector_norm
    """.split()),
    "numpy.fft": set("""
        test
    """.split()),
    "ndarray": set("""
        ctypes getfield resize setfield setflags to_device
    """.split()),
}

# NumPy's keyword arguments that CuPy's function of the same name does not take
ARGUMENTS = {
    "numpy.all": {"where"},
    "numpy.amax": {"initial", "where"},
    "numpy.amin": {"initial", "where"},
    "numpy.any": {"where"},
    "numpy.arange": {"device", "start_or_stop"},
    "numpy.argpartition": {"kind", "order"},
    "numpy.argsort": {"order", "stable"},
    "numpy.array": {"ndmax", "object"},
    "numpy.array_str": {"a"},
    "numpy.asanyarray": {"device"},
    "numpy.asarray": {"device"},
    "numpy.astype": {"device"},
    "numpy.broadcast_arrays": {"subok"},
    "numpy.broadcast_to": {"subok"},
    "numpy.concat": {"arrays"},
    "numpy.concatenate": {"arrays"},
    "numpy.copy": {"subok"},
    "numpy.corrcoef": {"x"},
    "numpy.count_nonzero": {"keepdims"},
    "numpy.cov": {"m"},
    "numpy.delete": {"obj"},
    "numpy.ediff1d": {"ary"},
    "numpy.empty": {"device"},
    "numpy.empty_like": {"device"},
    "numpy.extract": {"arr"},
    "numpy.eye": {"device"},
    "numpy.fft.fft": {"out"},
    "numpy.fft.fft2": {"out"},
    "numpy.fft.fftfreq": {"device"},
    "numpy.fft.fftn": {"out"},
    "numpy.fft.hfft": {"out"},
    "numpy.fft.ifft": {"out"},
    "numpy.fft.ifft2": {"out"},
    "numpy.fft.ifftn": {"out"},
    "numpy.fft.ihfft": {"out"},
    "numpy.fft.irfft": {"out"},
    "numpy.fft.irfft2": {"out"},
    "numpy.fft.irfftn": {"out"},
    "numpy.fft.rfft": {"out"},
    "numpy.fft.rfft2": {"out"},
    "numpy.fft.rfftfreq": {"device"},
    "numpy.fft.rfftn": {"out"},
    "numpy.flip": {"m"},
    "numpy.fliplr": {"m"},
    "numpy.flipud": {"m"},
    "numpy.from_dlpack": {"x"},
    "numpy.full": {"device"},
    "numpy.full_like": {"device"},
    "numpy.histogram": {"a"},
    "numpy.indices": {"sparse"},
    "numpy.intersect1d": {"ar1", "ar2"},
    "numpy.isin": {"kind"},
    "numpy.lexsort": {"axis"},
    "numpy.linalg.cholesky": {"upper"},
    "numpy.linalg.matmul": {"x1", "x2"},
    "numpy.linalg.matrix_power": {"a"},
    "numpy.linalg.matrix_rank": {"A", "hermitian", "rtol"},
    "numpy.linalg.matrix_transpose": {"x"},
    "numpy.linalg.pinv": {"hermitian", "rtol"},
    "numpy.linalg.svd": {"hermitian"},
    "numpy.linspace": {"device"},
    "numpy.load": {"encoding", "fix_imports", "max_header_size"},
    "numpy.max": {"initial", "where"},
    "numpy.mean": {"where"},
    "numpy.min": {"initial", "where"},
    "numpy.nanmax": {"initial", "where"},
    "numpy.nanmean": {"where"},
    "numpy.nanmin": {"initial", "where"},
    "numpy.nanprod": {"initial", "where"},
    "numpy.nanstd": {"correction", "mean", "where"},
    "numpy.nansum": {"initial", "where"},
    "numpy.nanvar": {"correction", "mean", "where"},
    "numpy.ones": {"device"},
    "numpy.ones_like": {"device"},
    "numpy.partition": {"kind", "order"},
    "numpy.percentile": {"weights"},
    "numpy.prod": {"initial", "where"},
    "numpy.quantile": {"weights"},
    "numpy.reshape": {"shape"},
    "numpy.rot90": {"m"},
    "numpy.show_config": {"mode"},
    "numpy.sort": {"order", "stable"},
    "numpy.stack": {"arrays"},
    "numpy.std": {"correction", "mean", "where"},
    "numpy.sum": {"initial", "where"},
    "numpy.take": {"mode"},
    "numpy.take_along_axis": {"arr"},
    "numpy.trim_zeros": {"axis"},
    "numpy.union1d": {"ar1", "ar2"},
    "numpy.unique": {"sorted"},
    "numpy.unpackbits": {"count"},
    "numpy.unravel_index": {"shape"},
    "numpy.var": {"correction", "mean", "where"},
    "numpy.zeros": {"device"},
    "numpy.zeros_like": {"device"},
}

# the parameters of cupy.ndarray's methods
METHODS = {
    "all": {"axis", "keepdims", "out"},
    "any": {"axis", "keepdims", "out"},
    "argmax": {"axis", "dtype", "keepdims", "out"},
    "argmin": {"axis", "dtype", "keepdims", "out"},
    "argpartition": {"axis", "kth"},
    "argsort": {"axis", "kind"},
    "astype": {"casting", "copy", "dtype", "order", "subok"},
    "byteswap": {"inplace"},
    "choose": {"choices", "mode", "out"},
    "clip": {"max", "min", "out"},
    "compress": {"axis", "condition", "out"},
    "conj": set(),
    "conjugate": set(),
    "copy": {"order"},
    "cumprod": {"axis", "dtype", "out"},
    "cumsum": {"axis", "dtype", "out"},
    "diagonal": {"axis1", "axis2", "offset"},
    "dot": {"b", "out"},
    "dump": {"file"},
    "dumps": set(),
    "fill": {"value"},
    "flatten": {"order"},
    "get": {"blocking", "order", "out", "stream"},
    "item": set(),
    "max": {"axis", "keepdims", "out"},
    "mdspan": {"", "allow_unsafe", "index_type"},
    "mean": {"axis", "dtype", "keepdims", "out"},
    "min": {"axis", "keepdims", "out"},
    "nonzero": set(),
    "partition": {"axis", "kth"},
    "prod": {"axis", "dtype", "keepdims", "out"},
    "ptp": {"axis", "keepdims", "out"},
    "put": {"indices", "mode", "values"},
    "ravel": {"order"},
    "reduced_view": {"dtype"},
    "repeat": {"axis", "repeats"},
    "reshape": {"copy", "order", "shape"},
    "round": {"decimals", "out"},
    "scatter_add": {"slices", "value"},
    "scatter_max": {"slices", "value"},
    "scatter_min": {"slices", "value"},
    "searchsorted": {"side", "sorter", "v"},
    "set": {"arr", "stream"},
    "sort": {"axis", "kind"},
    "squeeze": {"axis"},
    "std": {"axis", "ddof", "dtype", "keepdims", "out"},
    "sum": {"axis", "dtype", "keepdims", "out"},
    "swapaxes": {"axis1", "axis2"},
    "take": {"axis", "indices", "out"},
    "toDlpack": set(),
    "tobytes": {"order"},
    "tofile": {"fid", "format", "sep"},
    "tolist": set(),
    "trace": {"axis1", "axis2", "dtype", "offset", "out"},
    "transpose": {"axes"},
    "var": {"axis", "ddof", "dtype", "keepdims", "out"},
    "view": {"dtype", "self", "type"},
}

# the keywords of CuPy's ufunc methods (__call__ and outer: out, dtype, casting, as its
# documentation and cupy/_core/_kernel.pyx say)
UFUNC = {
    "__call__": {"casting", "dtype", "out"},
    "outer": {"casting", "dtype", "out"},
    "reduce": {"array", "axis", "dtype", "keepdims", "out"},
    "accumulate": {"array", "axis", "dtype", "out"},
    "reduceat": {"array", "axis", "dtype", "indices", "out"},
    "at": {"a", "b", "indices"},
}

# the ufuncs whose reduce, accumulate, reduceat and at CuPy implements (the others
# raise NotImplementedError)
UFUNC_METHODS = {
    "reduce": {"add", "multiply"},
    "accumulate": {"add", "multiply"},
    "reduceat": {"add"},
    "at": {"add", "bitwise_and", "bitwise_or", "bitwise_xor", "maximum", "minimum", "subtract"},
}

SPECIAL = set("""
    bdtr bdtrc bdtri beta betainc betaincinv betaln binom boxcox boxcox1p btdtr btdtri cbrt
    chdtr chdtrc chdtri cosdg cosm1 cotdg digamma ellipeinc ellipj ellipk ellipkinc ellipkm1
    entr erf erfc erfcinv erfcx erfinv exp1 exp10 exp2 expi expit expm1 expn exprel fdtr
    fdtrc fdtri gamma gammainc gammaincc gammainccinv gammaincinv gammaln gammasgn gdtr
    gdtrc huber i0 i0e i1 i1e inv_boxcox inv_boxcox1p j0 j1 k0 k0e k1 k1e kl_div lambertw
    log1p log_expit log_ndtr log_softmax loggamma logit logsumexp lpmv multigammaln nbdtr
    nbdtrc nbdtri ndtr ndtri pdtr pdtrc pdtri poch polygamma pseudo_huber psi radian
    rel_entr rgamma round shichi sici sinc sindg softmax sph_harm sph_harm_y spherical_yn
    tandg wright_bessel xlog1py xlogy y0 y1 yn zeta zetac
""".split())
