"""MixtureSameFamily: a Categorical choice among K components of one family."""
from ..ops.reduction import logsumexp
from ..ops.softmax import log_softmax
from . import constraints
from .discrete import Categorical
from .distribution import Distribution

__all__ = ["MixtureSameFamily"]


class MixtureSameFamily(Distribution):
    """p(x) = Σ_k π_k p_k(x). The component distribution's rightmost batch dimension indexes
    the K components; e.g. a 1-D Gaussian mixture is
    MixtureSameFamily(Categorical(logits=w), Normal(mu, sigma)) with w, mu, sigma of shape (K,).
    Not reparameterisable (a discrete choice is made)."""

    arg_constraints = {}
    has_rsample = False

    def __init__(self, mixture_distribution, component_distribution, validate_args=None):
        if not isinstance(mixture_distribution, Categorical):
            raise ValueError("MixtureSameFamily: mixture_distribution must be a Categorical, got "
                             f"{type(mixture_distribution).__name__}")
        if not isinstance(component_distribution, Distribution):
            raise ValueError("MixtureSameFamily: component_distribution must be a Distribution")
        mix_batch, comp_batch = tuple(mixture_distribution.batch_shape), tuple(component_distribution.batch_shape)
        k = mixture_distribution._num_events
        if not comp_batch or comp_batch[-1] != k:
            raise ValueError(f"MixtureSameFamily: the mixture has {k} components but the component "
                             f"distribution's batch shape is {comp_batch} (its last dimension must be {k})")
        for m, c in zip(reversed(mix_batch), reversed(comp_batch[:-1])):
            if m != 1 and c != 1 and m != c:
                raise ValueError(f"MixtureSameFamily: mixture batch shape {mix_batch} does not broadcast "
                                 f"with component batch shape {comp_batch[:-1]}")
        self._mixture_distribution, self._component_distribution = mixture_distribution, component_distribution
        self._num_components = k
        self._event_ndims = len(component_distribution.event_shape)
        super().__init__(comp_batch[:-1], component_distribution.event_shape, validate_args=validate_args)

    mixture_distribution = property(lambda self: self._mixture_distribution)
    component_distribution = property(lambda self: self._component_distribution)

    @constraints.dependent_property
    def support(self):
        return self._component_distribution.support

    def _pad_mixture(self, t):
        """Mixture weights shaped to broadcast against component values: (..., K) + event ones."""
        return t.reshape(tuple(t.shape) + (1,) * self._event_ndims)

    @property
    def mean(self):
        probs = self._pad_mixture(self._mixture_distribution.probs)
        return (probs * self._component_distribution.mean).sum(-1 - self._event_ndims)

    @property
    def variance(self):
        """Law of total variance: E[Var(X | k)] + Var(E[X | k])."""
        probs = self._pad_mixture(self._mixture_distribution.probs)
        dim = -1 - self._event_ndims
        comp_mean = self._component_distribution.mean
        mean_cond_var = (probs * self._component_distribution.variance).sum(dim)
        var_cond_mean = (probs * (comp_mean - self.mean.unsqueeze(dim)) ** 2).sum(dim)
        return mean_cond_var + var_cond_mean

    def _pad(self, x):
        return x.unsqueeze(-1 - self._event_ndims)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        log_prob_x = self._component_distribution.log_prob(self._pad(value))     # (..., K)
        log_mix = log_softmax(self._mixture_distribution.logits, -1)
        return logsumexp(log_prob_x + log_mix, -1)

    def cdf(self, value):
        cdf_x = self._component_distribution.cdf(self._pad(value))
        return (cdf_x * self._mixture_distribution.probs).sum(-1)

    def sample(self, sample_shape=()):
        """Draw a component index, then a draw of every component, and keep the chosen one."""
        sample_shape = tuple(sample_shape)
        idx = self._mixture_distribution.sample(sample_shape)                 # S + B
        comp = self._component_distribution.sample(sample_shape)              # S + B + (K,) + E
        idx = idx.reshape(tuple(idx.shape) + (1,) * (1 + self._event_ndims))
        event = len(comp.shape) - self._event_ndims
        shape = tuple(comp.shape[:event - 1]) + (1,) + tuple(comp.shape[event:])
        return comp.gather(-1 - self._event_ndims, idx.expand(shape)).squeeze(-1 - self._event_ndims)

    def __repr__(self):
        return (f"MixtureSameFamily(\n  {self._mixture_distribution!r},\n  "
                f"{self._component_distribution!r})")
