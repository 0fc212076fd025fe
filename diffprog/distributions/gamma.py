"""Gamma, Dirichlet and Beta, with reparameterised samples by implicit differentiation.

A Gamma(alpha, 1) draw x is not a smooth function of alpha and simple noise, but
F(x; alpha) = u (its CDF at x is a uniform variate) holds for fixed u, so (the implicit
reparameterisation gradient of Figurnov et al., 2018):

    dx/dalpha = -(dF/dalpha) / (dF/dx),   dF/dx = x^(alpha-1) e^-x / Gamma(alpha).

dF/dalpha of the regularised incomplete gamma function has no cheap closed form; we take
a central finite difference of SciPy's `gammainc` in alpha (relative step ~1e-5 of alpha,
accurate to ~1e-9 in float64).  Dirichlet and Beta draws are normalised Gamma draws, so
their gradients follow by the chain rule.
"""
import numpy as np

from .._array import xp
from ..ops.op import Op
from ..ops.shape import stack
from ..ops.special import xlogy
from ..random import _rng
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution, broadcast_all

__all__ = ["Gamma", "Dirichlet", "Beta"]


def _dsample_dalpha(x, alpha):
    """dx/dalpha for x ~ Gamma(alpha, 1) by implicit differentiation of the CDF (float64)."""
    from scipy import special
    x, alpha = x.astype(np.float64), alpha.astype(np.float64)
    h = 1e-5 * np.maximum(alpha, 1e-3)
    dF_dalpha = (special.gammainc(alpha + h, x) - special.gammainc(alpha - h, x)) / (2 * h)
    log_pdf = (alpha - 1) * np.log(x) - x - special.gammaln(alpha)
    return -dF_dalpha / np.exp(log_pdf)


class StandardGamma(Op):
    """A Gamma(alpha, 1) draw of alpha's broadcast `shape`; gradient by implicit reparameterisation."""

    def forward(ctx, alpha, shape):
        a = xp.broadcast_to(alpha, shape)
        x = _rng(None).standard_gamma(a).astype(alpha.dtype, copy=False)
        x = xp.maximum(x, xp.finfo(x.dtype).tiny)    # as PyTorch: never exactly 0
        ctx.dx = Tensor._make(_dsample_dalpha(x, a).astype(alpha.dtype, copy=False))
        return x

    def vjp(ctx, g):
        return (g * ctx.dx,)

    def jvp(ctx, dalpha):
        return dalpha * ctx.dx


def _standard_gamma(alpha, shape):
    return StandardGamma.apply(alpha, shape=tuple(shape))


class Gamma(Distribution):
    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, concentration, rate, validate_args=None):
        self.concentration, self.rate = broadcast_all(concentration, rate)
        super().__init__(self.concentration.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def mode(self):
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self):
        return self.concentration / self.rate ** 2

    def rsample(self, sample_shape=()):
        return _standard_gamma(self.concentration, self._extended_shape(sample_shape)) / self.rate

    def log_prob(self, value):
        self._validate_sample(value)
        c, r = self.concentration, self.rate
        return xlogy(c, r) + xlogy(c - 1, value) - r * value - c.lgamma()

    def entropy(self):
        c = self.concentration
        return c - self.rate.log() + c.lgamma() + (1 - c) * c.digamma()


class Dirichlet(Distribution):
    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration, validate_args=None):
        if concentration.dim() < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        shape = tuple(concentration.shape)
        super().__init__(shape[:-1], shape[-1:], validate_args=validate_args)

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self):
        """(alpha - 1)+ normalised; a vertex (the largest alpha) when all alpha < 1."""
        cm1 = (self.concentration - 1).clamp(min=0)
        total = cm1.sum(-1, keepdim=True)
        mode = cm1 / total.where(total > 0, 1.0)
        k = self.concentration.shape[-1]
        vertex = self.concentration.argmax(-1).unsqueeze(-1) == _arange(k)
        all_small = (self.concentration < 1).all(-1, keepdim=True)
        return vertex.to(mode.dtype).where(all_small, mode)

    @property
    def variance(self):
        c = self.concentration
        c0 = c.sum(-1, keepdim=True)
        return c * (c0 - c) / (c0 ** 2 * (c0 + 1))

    def rsample(self, sample_shape=()):
        g = _standard_gamma(self.concentration, self._extended_shape(sample_shape))
        eps = float(np.finfo(g.dtype.np).tiny)
        return (g / g.sum(-1, keepdim=True)).clamp(min=eps, max=1 - eps)

    def log_prob(self, value):
        self._validate_sample(value)
        c = self.concentration
        return xlogy(c - 1, value).sum(-1) + c.sum(-1).lgamma() - c.lgamma().sum(-1)

    def entropy(self):
        c = self.concentration
        k, a0 = c.shape[-1], c.sum(-1)
        return c.lgamma().sum(-1) - a0.lgamma() - (k - a0) * a0.digamma() - ((c - 1) * c.digamma()).sum(-1)


def _arange(k):
    return Tensor._make(np.arange(k))


class Beta(Distribution):
    """Beta(concentration1, concentration0): the first coordinate of a 2-d Dirichlet."""

    arg_constraints = {"concentration1": constraints.positive, "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None):
        self.concentration1, self.concentration0 = broadcast_all(concentration1, concentration0)
        self._dirichlet = Dirichlet(stack([self.concentration1, self.concentration0], -1),
                                    validate_args=validate_args)
        super().__init__(self._dirichlet.batch_shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self):
        return self._dirichlet.mode[..., 0]

    @property
    def variance(self):
        total = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (total ** 2 * (total + 1))

    def rsample(self, sample_shape=()):
        return self._dirichlet.rsample(sample_shape)[..., 0]

    def log_prob(self, value):
        self._validate_sample(value)
        return self._dirichlet.log_prob(stack([value, 1.0 - value], -1))

    def entropy(self):
        return self._dirichlet.entropy()
