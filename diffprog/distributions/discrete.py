"""Bernoulli, Binomial, Categorical, OneHotCategorical and Multinomial: parametrised by
`probs` or `logits` (exactly one); the other is derived lazily.  None is reparameterisable."""
import numpy as np

from ..nn.functional import binary_cross_entropy_with_logits, one_hot as _one_hot
from ..ops.batching import physical
from ..ops.reduction import logsumexp
from ..random import _rng, rand
from ..tensor import Size, Tensor
from . import constraints
from .distribution import (Distribution, broadcast_all, lazy_property, logits_to_probs,
                           probs_to_logits)

__all__ = ["Bernoulli", "Binomial", "Categorical", "OneHotCategorical", "Multinomial"]


def _one_of(probs, logits):
    if (probs is None) == (logits is None):
        raise ValueError("Either `probs` or `logits` must be specified, but not both.")


def _draw(fn, *params, shape, dtype):
    """Integer-valued draws from NumPy's generator, as a tensor of `dtype`."""
    arrays = [p.detach().numpy() for p in params]
    return Tensor._make(fn(_rng(None), *arrays, tuple(shape)).astype(dtype.np))


class Bernoulli(Distribution):
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        _one_of(probs, logits)
        if probs is not None:
            (self.probs,) = broadcast_all(probs)
        else:
            (self.logits,) = broadcast_all(logits)
        super().__init__((self.probs if probs is not None else self.logits).shape, validate_args=validate_args)

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, is_binary=True)

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        mode = (self.probs >= 0.5).to(self.probs.dtype)
        return mode.where(self.probs != 0.5, float("nan"))

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        u = rand(self._extended_shape(sample_shape), dtype=self.probs.dtype)
        return (u < self.probs.detach()).to(self.probs.dtype)

    def log_prob(self, value):
        self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return -binary_cross_entropy_with_logits(logits, value, reduction="none")

    def entropy(self):
        return binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none")


class Binomial(Distribution):
    arg_constraints = {"total_count": constraints.nonnegative_integer,
                       "probs": constraints.unit_interval, "logits": constraints.real}

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        _one_of(probs, logits)
        if probs is not None:
            self.total_count, self.probs = broadcast_all(total_count, probs)
            self.total_count = self.total_count.to(self.probs.dtype)
        else:
            self.total_count, self.logits = broadcast_all(total_count, logits)
            self.total_count = self.total_count.to(self.logits.dtype)
        super().__init__(self.total_count.shape, validate_args=validate_args)

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self.total_count)

    logits = lazy_property(Bernoulli.logits.fn)
    probs = lazy_property(Bernoulli.probs.fn)

    @property
    def mean(self):
        return self.total_count * self.probs

    @property
    def mode(self):
        return ((self.total_count + 1) * self.probs).floor().clamp(max=self.total_count)

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        return _draw(lambda rng, n, p, s: rng.binomial(n.astype(np.int64), p, s), self.total_count,
                     self.probs, shape=self._extended_shape(sample_shape), dtype=self.probs.dtype)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
            if not bool(physical((value >= 0) & (value <= self.total_count)).all()):
                raise ValueError(f"Expected value argument to be within the support "
                                 f"(IntegerInterval(0, total_count)) of the distribution {self!r}")
        n, k, logits = self.total_count, value, self.logits
        # n * log(1 + e^logits) written stably; (relu(l) + l - relu(-l)) / 2 keeps PyTorch's gradient at 0.
        clamped = (logits.clamp(min=0) + logits - logits.clamp(max=0)) / 2
        normalize = n * clamped + n * (-logits.abs()).exp().log1p() - (n + 1).lgamma()
        return k * logits - (k + 1).lgamma() - (n - k + 1).lgamma() - normalize


class Categorical(Distribution):
    """One of K categories (indices, int64) with probabilities along the last dimension."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.independent(constraints.real, 1)}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        _one_of(probs, logits)
        param = probs if probs is not None else logits
        if param.dim() < 1:
            raise ValueError("`probs` or `logits` parameter must be at least one-dimensional.")
        if probs is not None:
            self.probs = probs / probs.sum(-1, keepdim=True)
        else:
            self.logits = logits - logsumexp(logits, -1, keepdim=True)
        self._num_events = param.shape[-1]
        super().__init__(tuple(param.shape[:-1]), validate_args=validate_args)

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits)

    @property
    def param_shape(self):
        return Size(self._batch_shape + (self._num_events,))

    @property
    def mean(self):
        return self.probs[..., 0] * float("nan")

    @property
    def mode(self):
        return self.probs.argmax(-1)

    @property
    def variance(self):
        return self.probs[..., 0] * float("nan")

    def sample(self, sample_shape=()):
        """Inverse CDF: the number of cumulative probabilities below a uniform draw."""
        shape = tuple(self._extended_shape(sample_shape))
        cdf = np.cumsum(self.probs.detach().numpy().astype(np.float64), -1)
        u = _rng(None).random(shape + (1,)) * cdf[..., -1:]
        return Tensor._make(np.minimum((cdf < u).sum(-1), self._num_events - 1).astype(np.int64))

    def log_prob(self, value):
        self._validate_sample(value)
        value = value.long().unsqueeze(-1)
        shape = np.broadcast_shapes(tuple(value.shape), tuple(self.logits.shape[:-1]) + (1,))
        logits = self.logits.expand(shape[:-1] + (self._num_events,))
        return logits.gather(-1, value.expand(shape)).squeeze(-1)

    def entropy(self):
        min_real = float(np.finfo(self.logits.dtype.np).min)
        return -(self.logits.clamp(min=min_real) * self.probs).sum(-1)

    def enumerate_support(self, expand=True):
        values = Tensor._make(np.arange(self._num_events)).reshape((-1,) + (1,) * len(self._batch_shape))
        return values.expand((-1,) + tuple(self._batch_shape)) if expand else values


class OneHotCategorical(Distribution):
    """A Categorical draw as a one-hot vector (event_shape (K,))."""

    arg_constraints = Categorical.arg_constraints
    support = constraints.one_hot
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits, validate_args=validate_args)
        super().__init__(self._categorical.batch_shape, self._categorical.param_shape[-1:],
                         validate_args=validate_args)

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        return _one_hot(self.probs.argmax(-1), self.probs.shape[-1]).to(self.probs.dtype)

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        return _one_hot(self._categorical.sample(sample_shape), self.probs.shape[-1]).to(self.probs.dtype)

    def log_prob(self, value):
        self._validate_sample(value)
        return self._categorical.log_prob(value.argmax(-1))

    def entropy(self):
        return self._categorical.entropy()


class Multinomial(Distribution):
    """Counts of `total_count` Categorical draws (event_shape (K,))."""

    arg_constraints = Categorical.arg_constraints

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        if not isinstance(total_count, int):
            raise NotImplementedError("inhomogeneous total_count is not supported")
        self.total_count = total_count
        self._categorical = Categorical(probs, logits, validate_args=validate_args)
        super().__init__(self._categorical.batch_shape, self._categorical.param_shape[-1:],
                         validate_args=validate_args)

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self):
        return constraints.multinomial(self.total_count)

    probs = OneHotCategorical.probs
    logits = OneHotCategorical.logits

    @property
    def mean(self):
        return self.probs * self.total_count

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        p = np.broadcast_to(self.probs.detach().numpy().astype(np.float64), shape)
        counts = _rng(None).multinomial(self.total_count, p / p.sum(-1, keepdims=True))
        return Tensor._make(counts.astype(self.probs.dtype.np))

    def log_prob(self, value):
        self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        # 0 * -inf is 0 here: a category with no mass may have a zero count.
        logits = logits.where((value != 0) | (logits != float("-inf")), 0.0)
        return (value.sum(-1) + 1).lgamma() - (value + 1).lgamma().sum(-1) + (logits * value).sum(-1)
