"""MultivariateNormal, parametrised by exactly one of covariance_matrix, precision_matrix or
scale_tril (a lower Cholesky factor L with covariance L L^T); everything goes through L."""
import numpy as np

from ..linalg import cholesky, inv, solve_triangular
from ..random import randn
from . import constraints
from .distribution import LOG_2PI, Distribution, lazy_property

__all__ = ["MultivariateNormal"]


def _batch_mahalanobis(L, x):
    """x^T (L L^T)^-1 x for each batch entry: |L^-1 x|^2."""
    shape = np.broadcast_shapes(tuple(L.shape[:-2]), tuple(x.shape[:-1]))
    n = x.shape[-1]
    z = solve_triangular(L.expand(shape + (n, n)), x.expand(shape + (n,)).unsqueeze(-1), upper=False)
    return (z.squeeze(-1) ** 2).sum(-1)


class MultivariateNormal(Distribution):
    arg_constraints = {"loc": constraints.real_vector, "covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite,
                       "scale_tril": constraints.lower_cholesky}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args=None):
        given = [m for m in (covariance_matrix, precision_matrix, scale_tril) if m is not None]
        if len(given) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or scale_tril may be specified.")
        if loc.dim() < 1:
            raise ValueError("loc must be at least one-dimensional.")
        matrix = given[0]
        if matrix.dim() < 2:
            raise ValueError("scale_tril, covariance_matrix or precision_matrix must be at least "
                             "two-dimensional, with optional leading batch dimensions")
        batch_shape = np.broadcast_shapes(tuple(matrix.shape[:-2]), tuple(loc.shape[:-1]))
        n = loc.shape[-1]
        if scale_tril is not None:
            self.scale_tril = scale_tril.expand(batch_shape + (n, n))
        elif covariance_matrix is not None:
            self.covariance_matrix = covariance_matrix.expand(batch_shape + (n, n))
        else:
            self.precision_matrix = precision_matrix.expand(batch_shape + (n, n))
        self.loc = loc.expand(batch_shape + (n,))
        super().__init__(batch_shape, (n,), validate_args=validate_args)
        # The factor computed once (after validation, so a bad matrix fails with a clear message).
        if scale_tril is not None:
            L = scale_tril
        elif covariance_matrix is not None:
            L = cholesky(covariance_matrix)
        else:
            L = cholesky(inv(precision_matrix))
        self._L = L.expand(batch_shape + (n, n))

    @lazy_property
    def scale_tril(self):
        return self._L

    @lazy_property
    def covariance_matrix(self):
        return self._L @ self._L.mT

    @lazy_property
    def precision_matrix(self):
        return inv(self.covariance_matrix)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return (self._L ** 2).sum(-1)

    def rsample(self, sample_shape=()):
        """loc + L eps with eps ~ N(0, I)."""
        eps = randn(self._extended_shape(sample_shape), dtype=self.loc.dtype)
        return self.loc + (self._L @ eps.unsqueeze(-1)).squeeze(-1)

    def _half_log_det(self):
        return self._L.diagonal(dim1=-2, dim2=-1).log().sum(-1)

    def log_prob(self, value):
        self._validate_sample(value)
        m = _batch_mahalanobis(self._L, value - self.loc)
        return -0.5 * (self._event_shape[0] * LOG_2PI + m) - self._half_log_det()

    def entropy(self):
        return 0.5 * self._event_shape[0] * (1.0 + LOG_2PI) + self._half_log_det()
