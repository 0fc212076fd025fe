"""Transforms: invertible maps y = f(x) with log|det df/dx| (`torch.distributions.transforms`).

A `TransformedDistribution` pushes a base distribution through transforms: its samples are
f(base samples) and, by the change of variables, log p(y) = log p_base(f⁻¹(y)) - log|det J_f|.
`domain` and `codomain` are constraints; their `event_dim` says how many rightmost
dimensions one application of the map couples (0 for elementwise maps).
"""
import math

import numpy as np

from ..creation import arange
from ..nn.functional import logsigmoid, softplus
from ..ops.shape import cat
from . import constraints
from .distribution import sum_rightmost

__all__ = ["Transform", "ComposeTransform", "ExpTransform", "AffineTransform", "SigmoidTransform",
           "TanhTransform", "PowerTransform", "SoftplusTransform", "AbsTransform", "SoftmaxTransform",
           "StickBreakingTransform", "IndependentTransform", "identity_transform"]


class Transform:
    """A map with `__call__` (forward), `inv` (the inverse transform) and
    `log_abs_det_jacobian(x, y)`. `sign` is +1/-1 for monotone elementwise maps."""

    domain = constraints.real
    codomain = constraints.real
    bijective = True
    sign = 1

    @property
    def event_dim(self):
        return self.codomain.event_dim

    @property
    def inv(self):
        return _InverseTransform(self)

    def __call__(self, x):
        return self._call(x)

    def _inverse(self, y):
        raise NotImplementedError(f"{type(self).__name__} is not invertible")

    def log_abs_det_jacobian(self, x, y):
        raise NotImplementedError(f"{type(self).__name__} has no log|det J|")

    def forward_shape(self, shape):
        return shape

    def inverse_shape(self, shape):
        return shape

    def __repr__(self):
        return type(self).__name__ + "()"


class _InverseTransform(Transform):
    def __init__(self, transform):
        self._inv = transform

    domain = property(lambda self: self._inv.codomain)
    codomain = property(lambda self: self._inv.domain)
    bijective = property(lambda self: self._inv.bijective)
    sign = property(lambda self: self._inv.sign)
    inv = property(lambda self: self._inv)

    def _call(self, x):
        return self._inv._inverse(x)

    def _inverse(self, y):
        return self._inv(y)

    def log_abs_det_jacobian(self, x, y):
        return -self._inv.log_abs_det_jacobian(y, x)

    def forward_shape(self, shape):
        return self._inv.inverse_shape(shape)

    def inverse_shape(self, shape):
        return self._inv.forward_shape(shape)

    def __repr__(self):
        return f"{self._inv!r}.inv"


class ComposeTransform(Transform):
    """parts[-1] ∘ ... ∘ parts[0]: applies the parts in order."""

    def __init__(self, parts):
        self.parts = list(parts)

    @property
    def domain(self):
        """The first part's domain, widened to the most dimensions any part couples."""
        if not self.parts:
            return constraints.real
        event_dim = self.parts[-1].codomain.event_dim
        for part in reversed(self.parts):
            event_dim = max(event_dim + part.domain.event_dim - part.codomain.event_dim, part.domain.event_dim)
        return _with_event_dim(self.parts[0].domain, event_dim - self.parts[0].domain.event_dim)

    @property
    def codomain(self):
        if not self.parts:
            return constraints.real
        event_dim = self.parts[0].domain.event_dim
        for part in self.parts:
            event_dim = max(event_dim + part.codomain.event_dim - part.domain.event_dim, part.codomain.event_dim)
        return _with_event_dim(self.parts[-1].codomain, event_dim - self.parts[-1].codomain.event_dim)

    @property
    def bijective(self):
        return all(p.bijective for p in self.parts)

    @property
    def sign(self):
        return math.prod(p.sign for p in self.parts)

    def _call(self, x):
        for part in self.parts:
            x = part(x)
        return x

    def _inverse(self, y):
        for part in reversed(self.parts):
            y = part.inv(y)
        return y

    def log_abs_det_jacobian(self, x, y):
        if not self.parts:
            return x.new_zeros(tuple(x.shape))
        total, event_dim = 0.0, self.domain.event_dim
        for i, part in enumerate(self.parts):
            y_part = y if i == len(self.parts) - 1 else part(x)
            total = total + sum_rightmost(part.log_abs_det_jacobian(x, y_part),
                                          event_dim - part.domain.event_dim)
            event_dim += part.codomain.event_dim - part.domain.event_dim
            x = y_part
        return total

    def forward_shape(self, shape):
        for part in self.parts:
            shape = part.forward_shape(shape)
        return shape

    def inverse_shape(self, shape):
        for part in reversed(self.parts):
            shape = part.inverse_shape(shape)
        return shape

    def __repr__(self):
        return "ComposeTransform(\n    " + ",\n    ".join(map(repr, self.parts)) + "\n)"


def _with_event_dim(constraint, extra):
    return constraints.independent(constraint, extra) if extra else constraint


identity_transform = ComposeTransform([])


class IndependentTransform(Transform):
    """`base` with `reinterpreted_batch_ndims` more rightmost dimensions in each event (its
    log|det J| is summed over them)."""

    def __init__(self, base_transform, reinterpreted_batch_ndims):
        self.base_transform, self.reinterpreted_batch_ndims = base_transform, reinterpreted_batch_ndims

    domain = property(lambda self: constraints.independent(self.base_transform.domain, self.reinterpreted_batch_ndims))
    codomain = property(lambda self: constraints.independent(self.base_transform.codomain,
                                                             self.reinterpreted_batch_ndims))
    bijective = property(lambda self: self.base_transform.bijective)
    sign = property(lambda self: self.base_transform.sign)

    def _call(self, x):
        return self.base_transform(x)

    def _inverse(self, y):
        return self.base_transform.inv(y)

    def log_abs_det_jacobian(self, x, y):
        return sum_rightmost(self.base_transform.log_abs_det_jacobian(x, y), self.reinterpreted_batch_ndims)

    def forward_shape(self, shape):
        return self.base_transform.forward_shape(shape)

    def inverse_shape(self, shape):
        return self.base_transform.inverse_shape(shape)


# --- elementwise maps: forward, inverse and log|dy/dx| side by side -----------------------

class ExpTransform(Transform):
    codomain = constraints.positive

    def _call(self, x):
        return x.exp()

    def _inverse(self, y):
        return y.log()

    def log_abs_det_jacobian(self, x, y):
        return x


class AffineTransform(Transform):
    """y = loc + scale * x; `event_dim` > 0 sums log|scale| over that many dimensions."""

    def __init__(self, loc, scale, event_dim=0):
        self.loc, self.scale, self._event_dim = loc, scale, event_dim

    @property
    def domain(self):
        return _with_event_dim(constraints.real, self._event_dim)

    codomain = domain

    @property
    def sign(self):
        if isinstance(self.scale, (int, float)):
            return 1 if self.scale > 0 else -1
        return self.scale.sign()

    def _call(self, x):
        return self.loc + self.scale * x

    def _inverse(self, y):
        return (y - self.loc) / self.scale

    def log_abs_det_jacobian(self, x, y):
        if isinstance(self.scale, (int, float)):
            result = x.new_full(tuple(x.shape), math.log(abs(self.scale)))
        else:
            result = self.scale.abs().log().expand(_broadcast(x.shape, self.scale))
        return sum_rightmost(result, self._event_dim)

    def forward_shape(self, shape):
        return _broadcast(shape, self.loc, self.scale)

    inverse_shape = forward_shape


def _broadcast(shape, *params):
    return tuple(np.broadcast_shapes(tuple(shape), *(tuple(getattr(p, "shape", ())) for p in params)))


class SigmoidTransform(Transform):
    codomain = constraints.unit_interval

    def _call(self, x):
        return x.sigmoid()

    def _inverse(self, y):
        eps = _eps(y)
        y = y.clamp(min=eps, max=1 - eps)
        return y.log() - (-y).log1p()

    def log_abs_det_jacobian(self, x, y):
        return -softplus(-x) - softplus(x)


class TanhTransform(Transform):
    codomain = constraints.interval(-1.0, 1.0)

    def _call(self, x):
        return x.tanh()

    def _inverse(self, y):
        return y.atanh()

    def log_abs_det_jacobian(self, x, y):
        # log(1 - tanh(x)^2), written stably
        return 2.0 * (math.log(2.0) - x - softplus(-2.0 * x))


class SoftplusTransform(Transform):
    codomain = constraints.positive

    def _call(self, x):
        return softplus(x)

    def _inverse(self, y):
        return (-y).expm1().neg().log() + y

    def log_abs_det_jacobian(self, x, y):
        return -softplus(-x)


class PowerTransform(Transform):
    """y = x ** exponent on positive x."""

    domain = constraints.positive
    codomain = constraints.positive

    def __init__(self, exponent):
        self.exponent = exponent

    @property
    def sign(self):
        return self.exponent.sign() if hasattr(self.exponent, "sign") else (1 if self.exponent > 0 else -1)

    def _call(self, x):
        return x ** self.exponent

    def _inverse(self, y):
        return y ** (1 / self.exponent)

    def log_abs_det_jacobian(self, x, y):
        e = self.exponent
        log_abs_e = e.abs().log() if hasattr(e, "abs") else math.log(abs(e))
        return log_abs_e + (y / x).log()

    def forward_shape(self, shape):
        return _broadcast(shape, self.exponent)

    inverse_shape = forward_shape


class AbsTransform(Transform):
    codomain = constraints.positive
    bijective = False

    def _call(self, x):
        return x.abs()

    def _inverse(self, y):
        return y


def _eps(t):
    return float(np.finfo(t.dtype.np).eps)


# --- maps onto the simplex ---------------------------------------------------------------

class SoftmaxTransform(Transform):
    """x -> softmax(x) along the last dimension: not injective, so no log|det J|."""

    domain = constraints.real_vector
    codomain = constraints.simplex
    bijective = False

    def _call(self, x):
        return x.softmax(-1)

    def _inverse(self, y):
        return y.log()


class StickBreakingTransform(Transform):
    """R^(K-1) -> the K-simplex, bijectively: each coordinate takes a sigmoid share of the
    stick that is left (offset so that x = 0 maps to the uniform vector)."""

    domain = constraints.real_vector
    codomain = constraints.simplex

    def _call(self, x):
        offset = _offsets(x)
        z = (x - offset.log()).sigmoid()
        left = (1 - z).cumprod(-1)
        return _pad_last(z, 1.0) * _pad_first(left, 1.0)

    def _inverse(self, y):
        y_crop = y[..., :-1]
        offset = _offsets(y_crop)
        sf = 1 - y_crop.cumsum(-1)
        sf = sf.clamp(min=float(np.finfo(y.dtype.np).tiny))     # the stick left after each share
        return y_crop.log() - sf.log() + offset.log()

    def log_abs_det_jacobian(self, x, y):
        offset = _offsets(x)
        x = x - offset.log()
        return (-x + logsigmoid(x) + y[..., :-1].log()).sum(-1)

    def forward_shape(self, shape):
        return tuple(shape[:-1]) + (shape[-1] + 1,)

    def inverse_shape(self, shape):
        return tuple(shape[:-1]) + (shape[-1] - 1,)


def _offsets(x):
    """n, n-1, ..., 1 for the n entries of x's last dimension."""
    return arange(x.shape[-1], 0, -1, dtype=x.dtype, device=x.device)


def _pad_last(x, value):
    return cat([x, x.new_full(tuple(x.shape[:-1]) + (1,), value)], -1)


def _pad_first(x, value):
    return cat([x.new_full(tuple(x.shape[:-1]) + (1,), value), x], -1)
