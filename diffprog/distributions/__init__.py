"""`diffprog.distributions`: probability distributions mirroring `torch.distributions`."""
from . import constraints
from .discrete import Bernoulli, Binomial, Categorical, Multinomial, OneHotCategorical
from .distribution import Distribution
from .gamma import Beta, Dirichlet, Gamma
from .independent import Independent
from .mixture import MixtureSameFamily
from .relaxed import ExpRelaxedCategorical, LogitRelaxedBernoulli, RelaxedBernoulli, RelaxedOneHotCategorical
from . import transforms
from .transformed import TransformedDistribution
from .transforms import *  # noqa: F401,F403
from .kl import kl_divergence, register_kl
from .multivariate_normal import MultivariateNormal
from .normal import Laplace, LogNormal, Normal
from .simple import Exponential, Poisson, Uniform

__all__ = ["constraints", "Distribution", "Bernoulli", "Beta", "Binomial", "Categorical", "Dirichlet",
           "Exponential", "Gamma", "Independent", "Laplace", "LogNormal", "Multinomial",
           "MultivariateNormal", "Normal", "OneHotCategorical", "Poisson", "Uniform",
           "kl_divergence", "register_kl", "MixtureSameFamily", "TransformedDistribution", "transforms",
           "LogitRelaxedBernoulli", "RelaxedBernoulli", "ExpRelaxedCategorical", "RelaxedOneHotCategorical"
           ] + transforms.__all__
