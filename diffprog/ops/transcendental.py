"""Exponentials and logarithms, trigonometric and hyperbolic functions, sigmoid and logit,
and the special functions erf, erfc, erfinv, lgamma, digamma and polygamma (on SciPy;
float32 erf on numba where it is installed, `erf_numba.py`).  The conventions of all
elementwise ops: `elementwise.py`.
"""
import math

from .._array import xp
from .selection import where
from .batching import broadcasting
from .elementwise import _Quotient, _Unary, _binary, _inplace, _into, _scipy, _unary
from .fast import erf_kernels
from .inplace import apply_inplace
from .op import Op, quiet

_LN2, _LN10 = math.log(2.0), math.log(10.0)


# --- exponentials and logarithms -------------------------------------------------------

class Exp(_Unary):
    raw = True

    @quiet
    def forward(ctx, x):
        return xp.exp(x)

    def deriv(ctx):
        return ctx.output


class Exp2(_Unary):
    @quiet
    def forward(ctx, x):
        return xp.exp2(x)

    def deriv(ctx):
        return ctx.output * _LN2


class Expm1(_Unary):
    @quiet
    def forward(ctx, x):
        return xp.expm1(x)

    def deriv(ctx):
        return ctx.output + 1


class Log(_Quotient):
    @quiet
    def forward(ctx, x):
        return xp.log(x)

    def denom(ctx):
        return ctx.x


class Log2(_Quotient):
    @quiet
    def forward(ctx, x):
        return xp.log2(x)

    def denom(ctx):
        return ctx.x * _LN2


class Log10(_Quotient):
    @quiet
    def forward(ctx, x):
        return xp.log10(x)

    def denom(ctx):
        return ctx.x * _LN10


class Log1p(_Quotient):
    @quiet
    def forward(ctx, x):
        return xp.log1p(x)

    def denom(ctx):
        return ctx.x + 1


# --- trigonometric and hyperbolic functions ----------------------------------------------

class Sin(_Unary):
    def forward(ctx, x):
        return xp.sin(x)

    def deriv(ctx):
        return ctx.x.cos()


class Cos(_Unary):
    def forward(ctx, x):
        return xp.cos(x)

    def deriv(ctx):
        return -ctx.x.sin()


class Tan(_Unary):
    def forward(ctx, x):
        return xp.tan(x)

    def deriv(ctx):
        y = ctx.output
        return y * y + 1


class Asin(_Quotient):
    @quiet
    def forward(ctx, x):
        return xp.arcsin(x)

    def denom(ctx):
        x = ctx.x
        return (1 - x * x).sqrt()


class Acos(_Quotient):
    @quiet
    def forward(ctx, x):
        return xp.arccos(x)

    def denom(ctx):
        x = ctx.x
        return -(1 - x * x).sqrt()


class Atan(_Quotient):
    def forward(ctx, x):
        return xp.arctan(x)

    def denom(ctx):
        x = ctx.x
        return x * x + 1


class Atan2(Op):
    """atan2(y, x): the angle of the point (x, y)."""

    batch = broadcasting
    promote = "float"

    def forward(ctx, y, x):
        return xp.arctan2(y, x)

    def vjp(ctx, g):
        y, x = ctx.inputs
        need_y, need_x = ctx.needs_input_grad
        r2 = x * x + y * y
        return (g * x / r2 if need_y else None), (g * -y / r2 if need_x else None)

    def jvp(ctx, dy, dx):
        y, x = ctx.args
        return (dy * x - dx * y) / (x * x + y * y)


class Sinh(_Unary):
    @quiet
    def forward(ctx, x):
        return xp.sinh(x)

    def deriv(ctx):
        return ctx.x.cosh()


class Cosh(_Unary):
    @quiet
    def forward(ctx, x):
        return xp.cosh(x)

    def deriv(ctx):
        return ctx.x.sinh()


class Tanh(_Unary):
    raw = True

    def forward(ctx, x):
        return xp.tanh(x)

    def deriv(ctx):
        y = ctx.output
        return 1 - y * y


class Asinh(_Quotient):
    def forward(ctx, x):
        return xp.arcsinh(x)

    def denom(ctx):
        x = ctx.x
        return (x * x + 1).sqrt()


class Acosh(_Quotient):
    @quiet
    def forward(ctx, x):
        return xp.arccosh(x)

    def denom(ctx):
        x = ctx.x
        return (x * x - 1).sqrt()


class Atanh(_Quotient):
    @quiet
    def forward(ctx, x):
        return xp.arctanh(x)

    def denom(ctx):
        x = ctx.x
        return 1 - x * x


# --- sigmoid, logit and the special functions ------------------------------------------

class Sigmoid(_Unary):
    raw = True

    @quiet                                    # exp(-x) may overflow to inf, giving exactly 0
    def forward(ctx, x):
        y = xp.empty_like(x)                  # 1 / (1 + exp(-x)), in one buffer
        xp.exp(xp.negative(x, out=y), out=y)
        y += 1
        return xp.reciprocal(y, out=y)

    def deriv(ctx):
        y = ctx.output
        return y * (1 - y)


class Logit(_Unary):
    """log(x / (1 - x)), with x first clamped to [eps, 1 - eps] when eps is given."""

    @quiet
    def forward(ctx, x, eps=None):
        ctx.eps = eps
        if eps is not None:
            x = xp.clip(x, eps, 1 - eps)
        return xp.log(x / (1 - x))

    def deriv(ctx):
        x = ctx.x
        d = (x * (1 - x)).reciprocal()
        eps = ctx.eps
        return d if eps is None else where((x < eps) | (x > 1 - eps), 0.0, d)


class Erf(_Unary):
    def forward(ctx, x):
        fast = erf_kernels(x)
        if fast is not None:
            return fast.erf(x, out=xp.empty_like(x))
        return _scipy("erf", "erf", x)

    def deriv(ctx):
        x = ctx.x
        return (-(x * x)).exp() * (2 / math.sqrt(math.pi))


class Erfc(_Unary):
    def forward(ctx, x):
        return _scipy("erfc", "erfc", x)

    def deriv(ctx):
        x = ctx.x
        return (-(x * x)).exp() * (-2 / math.sqrt(math.pi))


class Erfinv(_Unary):
    def forward(ctx, x):
        return _scipy("erfinv", "erfinv", x)

    def deriv(ctx):
        y = ctx.output
        return (y * y).exp() * (math.sqrt(math.pi) / 2)


class Lgamma(_Unary):
    def forward(ctx, x):
        return _scipy("lgamma", "gammaln", x)

    def deriv(ctx):
        return ctx.x.digamma()


class Digamma(_Unary):
    def forward(ctx, x):
        return _scipy("digamma", "psi", x)

    def deriv(ctx):
        return polygamma(1, ctx.x)


class Polygamma(_Unary):
    """The n-th derivative of digamma."""

    def forward(ctx, x, n):
        ctx.n = n
        return _scipy("polygamma", "polygamma", x, n)

    def deriv(ctx):
        return polygamma(ctx.n + 1, ctx.x)


# --- public functions ------------------------------------------------------------------

exp = _unary(Exp, "exp")
exp2 = _unary(Exp2, "exp2")
expm1 = _unary(Expm1, "expm1")
log = _unary(Log, "log")
log2 = _unary(Log2, "log2")
log10 = _unary(Log10, "log10")
log1p = _unary(Log1p, "log1p")
sin = _unary(Sin, "sin")
cos = _unary(Cos, "cos")
tan = _unary(Tan, "tan")
asin = _unary(Asin, "asin")
acos = _unary(Acos, "acos")
atan = _unary(Atan, "atan")
atan2 = _binary(Atan2, "atan2")
sinh = _unary(Sinh, "sinh")
cosh = _unary(Cosh, "cosh")
tanh = _unary(Tanh, "tanh")
asinh = _unary(Asinh, "asinh")
acosh = _unary(Acosh, "acosh")
atanh = _unary(Atanh, "atanh")
sigmoid = _unary(Sigmoid, "sigmoid")
erf = _unary(Erf, "erf")
erfc = _unary(Erfc, "erfc")
erfinv = _unary(Erfinv, "erfinv")
lgamma = _unary(Lgamma, "lgamma")
digamma = _unary(Digamma, "digamma")


def logit(input, eps=None, *, out=None):
    r = Logit.apply(input, eps=eps)
    return r if out is None else _into(out, r)


def polygamma(n, input, *, out=None):
    r = Polygamma.apply(input, n=n)
    return r if out is None else _into(out, r)


arcsin, arccos, arctan, arctan2, arcsinh, arccosh, arctanh = asin, acos, atan, atan2, asinh, acosh, atanh


# --- Tensor methods ----------------------------------------------------------------------

METHODS = {
    "exp": exp, "exp2": exp2, "expm1": expm1, "log": log, "log2": log2, "log10": log10,
    "log1p": log1p,
    "sin": sin, "cos": cos, "tan": tan, "asin": asin, "acos": acos, "atan": atan,
    "arcsin": asin, "arccos": acos, "arctan": atan, "atan2": atan2, "arctan2": atan2,
    "sinh": sinh, "cosh": cosh, "tanh": tanh, "asinh": asinh, "acosh": acosh, "atanh": atanh,
    "arcsinh": asinh, "arccosh": acosh, "arctanh": atanh, "sigmoid": sigmoid, "logit": logit,
    "erf": erf, "erfc": erfc, "erfinv": erfinv, "lgamma": lgamma, "digamma": digamma,
    "polygamma": lambda self, n: polygamma(n, self),
    # in place
    "exp_": _inplace(Exp), "exp2_": _inplace(Exp2), "expm1_": _inplace(Expm1),
    "log_": _inplace(Log), "log2_": _inplace(Log2), "log10_": _inplace(Log10),
    "log1p_": _inplace(Log1p), "sin_": _inplace(Sin), "cos_": _inplace(Cos),
    "tan_": _inplace(Tan), "asin_": _inplace(Asin), "acos_": _inplace(Acos),
    "atan_": _inplace(Atan), "arcsin_": _inplace(Asin), "arccos_": _inplace(Acos),
    "arctan_": _inplace(Atan), "atan2_": _inplace(Atan2), "arctan2_": _inplace(Atan2),
    "sinh_": _inplace(Sinh), "cosh_": _inplace(Cosh), "tanh_": _inplace(Tanh),
    "asinh_": _inplace(Asinh), "acosh_": _inplace(Acosh), "atanh_": _inplace(Atanh),
    "arcsinh_": _inplace(Asinh), "arccosh_": _inplace(Acosh), "arctanh_": _inplace(Atanh),
    "sigmoid_": _inplace(Sigmoid), "logit_": lambda self, eps=None: apply_inplace(Logit, self, eps=eps),
    "erf_": _inplace(Erf), "erfc_": _inplace(Erfc), "erfinv_": _inplace(Erfinv),
    "lgamma_": _inplace(Lgamma), "digamma_": _inplace(Digamma),
    "polygamma_": lambda self, n: apply_inplace(Polygamma, self, n=n),
}

__all__ = [
    "exp", "exp2", "expm1", "log", "log2", "log10", "log1p",
    "sin", "cos", "tan", "asin", "acos", "atan", "arcsin", "arccos", "arctan", "atan2", "arctan2",
    "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "arcsinh", "arccosh", "arctanh",
    "sigmoid", "logit", "erf", "erfc", "erfinv", "lgamma", "digamma", "polygamma",
]
