"""What CuPy 14.2.0 lacks of NumPy 2.4.6's functions, and the SciPy special
functions it has (cupyx.scipy.special), for the stand-in `fake_gpu.py`.  Written by
`tools/cupy_api.py`; do not edit."""

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
}

SPECIAL = set("""
    bdtr bdtrc bdtri beta betainc betaincinv betaln binom boxcox boxcox1p btdtr btdtri
    cbrt chdtr chdtrc chdtri cosdg cosm1 cotdg digamma ellipeinc ellipj ellipk ellipkinc
    ellipkm1 entr erf erfc erfcinv erfcx erfinv exp1 exp10 exp2 expi expit expm1 expn
    exprel fdtr fdtrc fdtri gamma gammainc gammaincc gammainccinv gammaincinv gammaln
    gammasgn gdtr gdtrc huber i0 i0e i1 i1e inv_boxcox inv_boxcox1p j0 j1 k0 k0e k1 k1e
    kl_div lambertw log1p log_expit log_ndtr log_softmax loggamma logit logsumexp lpmv
    multigammaln nbdtr nbdtrc nbdtri ndtr ndtri pdtr pdtrc pdtri poch polygamma
    pseudo_huber psi radian rel_entr rgamma round shichi sici sinc sindg softmax
    sph_harm sph_harm_y spherical_yn tandg wright_bessel xlog1py xlogy y0 y1 yn zeta
    zetac
""".split())
