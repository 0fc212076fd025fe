"""`diffprog.special`: PyTorch's `torch.special` names.

Most are defined once elsewhere (erf, digamma, softmax, ... in `ops/`); the functions that
only `torch.special` has live in `diffprog/ops/special.py`.
"""
from .ops.arithmetic import round  # noqa: F401
from .ops.transcendental import (digamma, erf, erfc, erfinv, exp2, expm1, log1p, logit,  # noqa: F401
                                 polygamma)
from .ops.transcendental import digamma as psi  # noqa: F401
from .ops.transcendental import lgamma as gammaln  # noqa: F401
from .ops.transcendental import sigmoid as expit  # noqa: F401
from .ops.reduction import logsumexp  # noqa: F401
from .ops.softmax import log_softmax, softmax  # noqa: F401
from .ops.special import (airy_ai, bessel_j0, bessel_j1, bessel_y0, bessel_y1,  # noqa: F401
                          chebyshev_polynomial_t, chebyshev_polynomial_u, chebyshev_polynomial_v,
                          chebyshev_polynomial_w, entr, erfcx, gammainc, gammaincc,
                          hermite_polynomial_h, hermite_polynomial_he, i0, i0e, i1, i1e,
                          laguerre_polynomial_l, legendre_polynomial_p, log_ndtr,
                          modified_bessel_i0, modified_bessel_i1, modified_bessel_k0,
                          modified_bessel_k1, multigammaln, ndtr, ndtri,
                          scaled_modified_bessel_k0, scaled_modified_bessel_k1,
                          shifted_chebyshev_polynomial_t, shifted_chebyshev_polynomial_u,
                          shifted_chebyshev_polynomial_v, shifted_chebyshev_polynomial_w, sinc,
                          spherical_bessel_j0, xlog1py, xlogy, zeta)

__all__ = ["airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "chebyshev_polynomial_t",
           "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w", "digamma",
           "entr", "erf", "erfc", "erfcx", "erfinv", "exp2", "expit", "expm1", "gammainc",
           "gammaincc", "gammaln", "hermite_polynomial_h", "hermite_polynomial_he", "i0", "i0e",
           "i1", "i1e", "laguerre_polynomial_l", "legendre_polynomial_p", "log1p", "log_ndtr",
           "log_softmax", "logit", "logsumexp", "modified_bessel_i0", "modified_bessel_i1",
           "modified_bessel_k0", "modified_bessel_k1", "multigammaln", "ndtr", "ndtri", "polygamma",
           "psi", "round", "scaled_modified_bessel_k0", "scaled_modified_bessel_k1",
           "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u",
           "shifted_chebyshev_polynomial_v", "shifted_chebyshev_polynomial_w", "sinc", "softmax",
           "spherical_bessel_j0", "xlog1py", "xlogy", "zeta"]
