"""Ops that pick or replace values: maximum/minimum (ties split the gradient evenly),
fmax/fmin (NaN-ignoring), clamp, nan_to_num, where, lerp.  The conventions of all
elementwise ops: `elementwise.py`.
"""
from .. import dtypes as _dt
from .._array import xp
from .._array.device import is_array
from ..tensor import Tensor
from .batching import broadcasting
from .elementwise import _Unary, _binary, _inplace, _into
from .inplace import apply_inplace
from .op import Op


class Maximum(Op):
    """Elementwise max, NaN-propagating; on ties each input gets half the gradient."""

    batch = broadcasting
    promote = "common"
    fn = xp.maximum

    def wins(ctx, a, b):
        return a > b

    def forward(ctx, x, y):
        return ctx.fn(x, y)

    def vjp(ctx, g):
        x, y = ctx.inputs
        need_x, need_y = ctx.needs_input_grad
        half = where(x == y, g / 2, g)
        return (where(ctx.wins(y, x), 0.0, half) if need_x else None,
                where(ctx.wins(x, y), 0.0, half) if need_y else None)

    def jvp(ctx, dx, dy):
        x, y = ctx.args
        return where(x == y, (dx + dy) / 2, where(ctx.wins(x, y), dx, dy))


class Minimum(Maximum):
    fn = xp.minimum

    def wins(ctx, a, b):
        return a < b


class Fmax(Op):
    """Elementwise max ignoring NaN; ties give the whole gradient to the first input."""

    batch = broadcasting
    promote = "common"
    fn = xp.fmax

    def takes_x(ctx, x, y):
        return (x >= y) | y.isnan() if isinstance(y, Tensor) else x >= y

    def forward(ctx, x, y):
        return ctx.fn(x, y)

    def vjp(ctx, g):
        x, y = ctx.inputs
        need_x, need_y = ctx.needs_input_grad
        m = ctx.takes_x(x, y)
        return (where(m, g, 0.0) if need_x else None), (where(m, 0.0, g) if need_y else None)

    def jvp(ctx, dx, dy):
        x, y = ctx.args
        return where(ctx.takes_x(x, y), dx, dy)


class Fmin(Fmax):
    fn = xp.fmin

    def takes_x(ctx, x, y):
        return (x <= y) | y.isnan() if isinstance(y, Tensor) else x <= y


class Clamp(Op):
    """min(max(x, lo), hi); lo or hi may be None, a number or a tensor.

    The gradient goes to x where lo <= x <= hi, to lo where x < lo (and lo < hi), to hi
    where x > hi (or hi < lo), as in PyTorch."""

    batch = broadcasting
    promote = "common"

    def forward(ctx, x, lo, hi):
        if lo is None:
            return xp.minimum(x, hi)
        if hi is None:
            return xp.maximum(x, lo)
        return xp.clip(x, lo, hi)

    @staticmethod
    def inside(x, lo, hi):
        if lo is None:
            return x <= hi
        if hi is None:
            return x >= lo
        return (x >= lo) & (x <= hi)

    @staticmethod
    def below(x, lo, hi):
        return x < lo if hi is None else (x < lo) & (lo < hi)

    @staticmethod
    def above(x, lo, hi):
        return x > hi if lo is None else (x > hi) | (hi < lo)

    def vjp(ctx, g):
        x, lo, hi = ctx.inputs
        need_x, need_lo, need_hi = ctx.needs_input_grad
        return (where(ctx.inside(x, lo, hi), g, 0.0) if need_x else None,
                where(ctx.below(x, lo, hi), g, 0.0) if need_lo else None,
                where(ctx.above(x, lo, hi), g, 0.0) if need_hi else None)

    def jvp(ctx, dx, dlo, dhi):
        x, lo, hi = ctx.args
        out = where(ctx.inside(x, lo, hi), dx, 0.0)
        if isinstance(dlo, Tensor):
            out = out + where(ctx.below(x, lo, hi), dlo, 0.0)
        if isinstance(dhi, Tensor):
            out = out + where(ctx.above(x, lo, hi), dhi, 0.0)
        return out


class NanToNum(_Unary):
    promote = None

    def forward(ctx, x, nan=0.0, posinf=None, neginf=None):
        return xp.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)

    def deriv(ctx):
        return ctx.x.isfinite()


class Where(Op):
    """where(cond, x, y): x where cond is True, else y (result dtype given by `where`)."""

    batch = broadcasting

    def forward(ctx, cond, x, y, dtype):
        if getattr(cond, "dtype", None) != xp.bool_:
            raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor "
                               f"with dtype {_dt.from_numpy_dtype(xp.asarray(cond).dtype).name}")
        out = xp.where(cond, x, y)
        return out if out.dtype == dtype.np else out.astype(dtype.np)

    def vjp(ctx, g):
        cond = ctx.input(0)
        _, need_x, need_y = ctx.needs_input_grad
        return None, (where(cond, g, 0.0) if need_x else None), (where(cond, 0.0, g) if need_y else None)

    def jvp(ctx, dcond, dx, dy):
        return where(ctx.args[0], dx, dy)


class Lerp(Op):
    """start + weight * (end - start), in PyTorch's two-sided form for accuracy."""

    batch = broadcasting
    promote = "common"

    def forward(ctx, start, end, weight):
        diff = end - start
        if not is_array(weight):
            return start + weight * diff if -0.5 < weight < 0.5 else end - diff * (1 - weight)
        return xp.where(xp.abs(weight) < 0.5, start + weight * diff, end - diff * (1 - weight))

    def vjp(ctx, g):
        need_s, need_e, need_w = ctx.needs_input_grad
        w = ctx.input(2) if need_s or need_e else None
        return (g * (1 - w) if need_s else None, g * w if need_e else None,
                g * (ctx.input(1) - ctx.input(0)) if need_w else None)

    def jvp(ctx, ds, de, dw):
        start, end, w = ctx.args
        return ds * (1 - w) + de * w + dw * (end - start)


# --- public functions ------------------------------------------------------------------

maximum = _binary(Maximum, "maximum")
minimum = _binary(Minimum, "minimum")
fmax = _binary(Fmax, "fmax")
fmin = _binary(Fmin, "fmin")


def nan_to_num(input, nan=0.0, posinf=None, neginf=None, *, out=None):
    r = NanToNum.apply(input, nan=nan, posinf=posinf, neginf=neginf)
    return r if out is None else _into(out, r)


def clamp(input, min=None, max=None, *, out=None):  # noqa: A002
    if min is None and max is None:
        raise RuntimeError("clamp: At least one of 'min' or 'max' must not be None")
    r = Clamp.apply(input, min, max)
    return r if out is None else _into(out, r)


def clamp_min(input, min):  # noqa: A002
    return Clamp.apply(input, min, None)


def clamp_max(input, max):  # noqa: A002
    return Clamp.apply(input, None, max)


def where(condition, input=None, other=None, *, out=None):
    """where(condition, input, other); where(condition) is nonzero(condition, as_tuple=True)."""
    if input is None and other is None:
        return condition.nonzero(as_tuple=True)
    r = Where.apply(condition, input, other, dtype=_dt.result_type(input, other))
    return r if out is None else _into(out, r)


def lerp(input, end, weight, *, out=None):
    r = Lerp.apply(input, end, weight)
    return r if out is None else _into(out, r)


clip = clamp


# --- Tensor methods ----------------------------------------------------------------------

def _clamp_(self, min=None, max=None):  # noqa: A002
    if min is None and max is None:
        raise RuntimeError("clamp_: At least one of 'min' or 'max' must not be None")
    return apply_inplace(Clamp, self, min, max)


METHODS = {
    "nan_to_num": nan_to_num, "clamp": clamp, "clip": clamp, "clamp_min": clamp_min,
    "clamp_max": clamp_max, "maximum": maximum, "minimum": minimum, "fmax": fmax, "fmin": fmin,
    "where": lambda self, condition, other: where(condition, self, other), "lerp": lerp,
    # in place
    "nan_to_num_": lambda self, nan=0.0, posinf=None, neginf=None: apply_inplace(
        NanToNum, self, nan=nan, posinf=posinf, neginf=neginf),
    "clamp_": _clamp_, "clip_": _clamp_,
    "clamp_min_": lambda self, min: apply_inplace(Clamp, self, min, None),  # noqa: A006
    "clamp_max_": lambda self, max: apply_inplace(Clamp, self, None, max),  # noqa: A006
    "lerp_": _inplace(Lerp),
}

__all__ = ["nan_to_num", "clamp", "clip", "clamp_min", "clamp_max", "maximum", "minimum", "fmax", "fmin",
           "where", "lerp"]
