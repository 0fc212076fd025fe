"""`Distribution`: the base class of `diffprog.distributions` (mirrors `torch.distributions`).

A distribution has a `batch_shape` (independent, differently parametrised copies) and an
`event_shape` (the shape of one draw).  `sample` draws under `no_grad`; `rsample` draws
by reparameterisation, so gradients flow from the sample to the parameters.  With
`validate_args` (on by default, as in PyTorch) bad parameters and out-of-support values
raise `ValueError`.
"""
import math

import numpy as np

from .. import dtypes as _dt
from ..autograd.grad_mode import no_grad
from ..creation import tensor as _tensor
from ..ops.batching import physical
from ..tensor import Size, Tensor
from . import constraints

__all__ = ["Distribution"]


class lazy_property:
    """Computed on first access and cached on the instance (so `probs`/`logits` that were
    not given are derived only when used, and are not validated)."""

    def __init__(self, fn):
        self.fn = fn
        self.__doc__ = fn.__doc__

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        value = self.fn(instance)
        instance.__dict__[self.fn.__name__] = value
        return value


def broadcast_all(*values):
    """Parameters as tensors of one broadcast shape; Python numbers take the tensors' dtype
    (or the default float dtype) and device."""
    tensors = [v for v in values if isinstance(v, Tensor)]
    dtype = tensors[0].dtype if tensors else _dt.get_default_dtype()
    device = tensors[0].device if tensors else None
    values = [v if isinstance(v, Tensor) else _tensor(float(v), dtype=dtype, device=device) for v in values]
    shape = tuple(np.broadcast_shapes(*(tuple(v.shape) for v in values)))
    return [v if tuple(v.shape) == shape else v.expand(shape) for v in values]


def sum_rightmost(value, dim):
    """Sum out the `dim` rightmost dimensions."""
    return value.sum(tuple(range(-dim, 0))) if dim > 0 else value


def clamp_probs(probs):
    eps = float(np.finfo(probs.dtype.np).eps)
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs, is_binary=False):
    p = clamp_probs(probs)
    return p.log() - (-p).log1p() if is_binary else p.log()


def logits_to_probs(logits, is_binary=False):
    return logits.sigmoid() if is_binary else logits.softmax(-1)


LOG_2PI = math.log(2 * math.pi)


class Distribution:
    has_rsample = False
    has_enumerate_support = False
    arg_constraints = {}
    support = None
    _validate_args = True

    @staticmethod
    def set_default_validate_args(value):
        """Turn argument validation on or off for distributions created from now on."""
        Distribution._validate_args = bool(value)

    def __init__(self, batch_shape=Size(), event_shape=Size(), validate_args=None):
        self._batch_shape, self._event_shape = Size(batch_shape), Size(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if not self._validate_args:
            return
        for param, constraint in self.arg_constraints.items():
            if constraints.is_dependent(constraint):
                continue
            if param not in self.__dict__ and isinstance(getattr(type(self), param, None), lazy_property):
                continue            # derived from another parameter: not given, not checked
            value = getattr(self, param)
            if not bool(physical(constraint.check(value)).all()):
                raise ValueError(f"Expected parameter {param} ({type(value).__name__} of shape "
                                 f"{tuple(value.shape)}) of distribution {self!r} to satisfy the "
                                 f"constraint {constraint!r}, but found invalid values:\n{value}")

    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def event_shape(self):
        return self._event_shape

    def expand(self, batch_shape, _instance=None):
        """The same distribution with its batch broadcast to `batch_shape` (views, no copies):
        every tensor attribute whose leading dimensions are the batch is expanded, and inner
        distributions (Beta's Dirichlet, Independent's base, ...) recursively."""
        old, new_batch = tuple(self._batch_shape), tuple(batch_shape)
        new = object.__new__(type(self))
        for name, value in self.__dict__.items():
            if isinstance(value, Tensor) and tuple(value.shape[:len(old)]) == old:
                value = value.expand(new_batch + tuple(value.shape[len(old):]))
            elif isinstance(value, Distribution):
                value = value.expand(new_batch + tuple(value.batch_shape[len(old):]))
            new.__dict__[name] = value
        new._batch_shape = Size(new_batch)
        return new

    # --- sampling ------------------------------------------------------------------------

    def _extended_shape(self, sample_shape=Size()):
        return Size(tuple(sample_shape) + tuple(self._batch_shape) + tuple(self._event_shape))

    def sample(self, sample_shape=Size()):
        """A draw of shape sample_shape + batch_shape + event_shape, without gradient."""
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=Size()):
        raise NotImplementedError(
            f"{type(self).__name__} does not support rsample; use diffprog.relax (Gumbel-softmax) "
            f"or a score-function estimator")

    def sample_n(self, n):
        return self.sample(Size((n,)))

    # --- densities and moments -----------------------------------------------------------

    def log_prob(self, value):
        raise NotImplementedError

    def cdf(self, value):
        raise NotImplementedError

    def icdf(self, value):
        raise NotImplementedError

    def entropy(self):
        raise NotImplementedError

    def perplexity(self):
        return self.entropy().exp()

    @property
    def mean(self):
        raise NotImplementedError(f"{type(self).__name__} does not implement mean")

    @property
    def mode(self):
        raise NotImplementedError(f"{type(self).__name__} does not implement mode")

    @property
    def variance(self):
        raise NotImplementedError(f"{type(self).__name__} does not implement variance")

    @property
    def stddev(self):
        return self.variance.sqrt()

    def _validate_sample(self, value):
        """Raise ValueError for a value outside the support (when validating)."""
        if not isinstance(value, Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        support = self.support
        if constraints.is_dependent(support) or not self._validate_args:
            return
        if not bool(physical(support.check(value)).all()):
            raise ValueError(f"Expected value argument ({type(value).__name__} of shape "
                             f"{tuple(value.shape)}) to be within the support ({support!r}) of the "
                             f"distribution {self!r}, but found invalid values:\n{value}")

    def __repr__(self):
        names = [k for k in self.arg_constraints if k in self.__dict__]
        args = ", ".join(f"{k}: {self.__dict__[k] if self.__dict__[k].numel() == 1 else Size(self.__dict__[k].shape)}"
                         for k in names)
        return f"{type(self).__name__}({args})"
