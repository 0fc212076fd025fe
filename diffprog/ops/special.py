"""Special functions of `torch.special` that `transcendental.py` does not already have, on
SciPy (`pip install diffprog[special]`).

Differentiable, with the derivatives PyTorch uses: the modified Bessel functions of
order 0 and 1 (plain and exponentially scaled: i0' = i1, ...), the normal distribution
function and its inverse and log, erfcx, entr, sinc, xlogy / xlog1py (on NumPy alone: the
losses and distributions use xlogy), and the regularised incomplete gamma functions in
their second argument.  As in PyTorch, `zeta` and gammainc's
first argument have no derivative (backward raises), and the Bessel functions of the first
and second kind, the Airy function, the `modified_bessel_*` functions and the orthogonal
polynomials return results outside the graph.
"""
import math

from .._array import as_array, xp
from .._array.device import device_of, library_of, move
from ..tensor import Tensor
from .batching import broadcasting, elementwise_function, physical
from .composite import _inplace
from .selection import where
from .elementwise import _scipy, _special, _Unary
from .op import Op, quiet
from .transcendental import lgamma

_SQRT_2PI = math.sqrt(2 * math.pi)


def _num(x, like):
    if isinstance(x, Tensor):
        return x
    from ..creation import tensor
    return tensor(x, dtype=like.dtype if like.is_floating_point() else None)


# --- one-argument functions ------------------------------------------------------------------

class I0(_Unary):
    def forward(ctx, x):
        return _scipy("i0", "i0", x)

    def deriv(ctx):
        return I1.apply(ctx.x)


class I1(_Unary):
    def forward(ctx, x):
        return _scipy("i1", "i1", x)

    def deriv(ctx):                                   # i0(x) - i1(x) / x, 1/2 at 0
        x = ctx.x
        safe = x.masked_fill(x == 0, 1.0)
        return where(x == 0, 0.5, I0.apply(x) - ctx.output / safe)


class I0e(_Unary):
    """exp(-|x|) i0(x)."""

    def forward(ctx, x):
        return _scipy("i0e", "i0e", x)

    def deriv(ctx):
        x = ctx.x
        return I1e.apply(x) - x.sign() * ctx.output


class I1e(_Unary):
    """exp(-|x|) i1(x)."""

    def forward(ctx, x):
        return _scipy("i1e", "i1e", x)

    def deriv(ctx):
        x = ctx.x
        safe = x.masked_fill(x == 0, 1.0)
        return where(x == 0, 0.5, I0e.apply(x) - ctx.output * (x.sign() + safe.reciprocal()))


class Ndtr(_Unary):
    """The standard normal distribution function."""

    def forward(ctx, x):
        return _scipy("ndtr", "ndtr", x)

    def deriv(ctx):
        x = ctx.x
        return (x * x * -0.5).exp() / _SQRT_2PI


class Ndtri(_Unary):
    """The inverse of ndtr."""

    def forward(ctx, p):
        return _scipy("ndtri", "ndtri", p)

    def deriv(ctx):
        y = ctx.output
        return (y * y * 0.5).exp() * _SQRT_2PI


class LogNdtr(_Unary):
    def forward(ctx, x):
        return _scipy("log_ndtr", "log_ndtr", x)

    def deriv(ctx):
        x = ctx.x
        return (x * x * -0.5 - ctx.output).exp() / _SQRT_2PI


class Erfcx(_Unary):
    """exp(x^2) erfc(x), without overflow."""

    def forward(ctx, x):
        return _scipy("erfcx", "erfcx", x)

    def deriv(ctx):
        return ctx.x * ctx.output * 2 - 2 / math.sqrt(math.pi)


class Entr(_Unary):
    """-x log x (0 at 0, -inf for x < 0)."""

    def forward(ctx, x):
        return _scipy("entr", "entr", x)

    def deriv(ctx):
        return -(ctx.x.log() + 1)


class Sinc(_Unary):
    """sin(pi x) / (pi x), 1 at 0."""

    def forward(ctx, x):
        return xp.sinc(x)

    def deriv(ctx):                                   # (cos(pi x) - sinc(x)) / x, 0 at 0
        x = ctx.x
        safe = x.masked_fill(x == 0, 1.0)
        return where(x == 0, 0.0, ((x * math.pi).cos() - Sinc.apply(x)) / safe)


# --- two-argument functions ------------------------------------------------------------------

class XLogY(Op):
    """x log y, and 0 where x is 0 (unless y is NaN): the entropy terms of losses and
    distributions.  PyTorch's derivatives: d/dx = log y, but 0 where x = 0 and y <= 0 (no
    0 * inf); d/dy = x / y.  `XLog1pY` is the same with log(1 + y)."""

    op_name = "xlogy"
    batch = broadcasting
    promote = "float"
    log = staticmethod(xp.log)

    @quiet
    def forward(ctx, x, y):
        out = x * ctx.log(y)
        return xp.where((x == 0) & ~xp.isnan(y), 0, out).astype(out.dtype, copy=False)

    def _argument(ctx, y):
        """What the log is taken of."""
        return y

    def _dx(ctx, g, x, y):
        return type(ctx).apply(g, y).masked_fill((x == 0) & (ctx._argument(y) <= 0), 0)

    def vjp(ctx, g):
        x, y = ctx.inputs
        need_x, need_y = ctx.needs_input_grad
        return (ctx._dx(g, x, y) if need_x else None), (g * x / ctx._argument(y) if need_y else None)

    def jvp(ctx, dx, dy):
        x, y = ctx.args
        out = where(dy == 0, 0.0, dy * x / ctx._argument(y))      # y constant: no 0 * (0 / 0)
        return out + ctx._dx(dx, x, y) if isinstance(x, Tensor) else out


class XLog1pY(XLogY):
    """x log(1 + y), 0 where x == 0 (unless y is NaN)."""

    op_name = "xlog1py"
    log = staticmethod(xp.log1p)

    def _argument(ctx, y):
        return y + 1


class GammaInc(Op):
    """The regularised lower (upper: 1 minus it) incomplete gamma function P(a, x); its
    derivative in x is x^(a-1) e^-x / Gamma(a), in a not implemented (as PyTorch)."""

    promote = "float"
    batch = broadcasting

    def forward(ctx, a, x, upper):
        ctx.upper = upper
        return _scipy("gammainc", "gammaincc" if upper else "gammainc", x, a)

    def _dx(ctx, a, x):
        d = ((a - 1) * x.log() - x - lgamma(a)).exp()
        return -d if ctx.upper else d

    def vjp(ctx, g):
        a, x = ctx.inputs
        if ctx.needs_input_grad[0]:
            raise RuntimeError(f"the derivative for '{'igammac' if ctx.upper else 'igamma'}: input' "
                               "is not implemented.")
        return None, g * ctx._dx(_num(a, x), x)

    def jvp(ctx, da, dx):
        a, x = ctx.args
        if isinstance(a, Tensor) and a._tangent is not None:
            raise RuntimeError("the forward-mode derivative of gammainc in its first argument is "
                               "not implemented.")
        return dx * ctx._dx(_num(a, x), x)


class Zeta(Op):
    """The Hurwitz zeta function sum_k (k + q)^-x (no derivative, as PyTorch)."""

    promote = "float"
    batch = broadcasting

    def forward(ctx, x, q):
        return _scipy("zeta", "zeta", q, x)

    def vjp(ctx, g):
        raise RuntimeError("the derivative for 'zeta' is not implemented.")


# --- functions outside the graph -----------------------------------------------------------------

def _outside(name, scipy_name, index=None):
    """A SciPy function applied to the values only: its result never requires grad."""
    def f(input):
        x = input._data if input.is_floating_point() else input._data.astype(xp.float32)
        fn = getattr(_special(name, x), scipy_name, None)
        on_host = fn is None    # not in the device's library (CuPy has no airy): on the host
        out = getattr(_special(name), scipy_name)(library_of(x).to_host(x)) if on_host else fn(x)
        out = out[index] if index is not None else out
        out = move(out, device_of(x)) if on_host else out
        return Tensor._make(as_array(out).astype(x.dtype, copy=False))
    f.__name__ = name
    f.__doc__ = f"SciPy's {scipy_name}, outside the graph (PyTorch gives it no derivative)."
    return elementwise_function(f)


def _spherical_j0(x):
    return xp.where(x == 0, 1.0, xp.sin(x) / xp.where(x == 0, 1.0, x))


def _polynomial(name, p1, step, shift=False):
    """An orthogonal polynomial family by its three-term recurrence; n a tensor or number
    (n < 0 gives 0), results outside the graph as in PyTorch."""
    def f(input, n):
        x = _num(input, _num(n, input))._data
        x = x if x.dtype.kind == "f" else x.astype(xp.float32)
        if shift:
            x = 2 * x - 1
        nn = xp.asarray(n._data if isinstance(n, Tensor) else n, like=x)
        x, nn = xp.broadcast_arrays(x, nn)
        out = xp.where(nn < 0, 0.0, 1.0).astype(x.dtype)
        prev, cur = xp.ones_like(x), p1(x)
        out = xp.where(nn == 1, cur, out)
        top = int(nn.max()) if nn.size else 0
        for k in range(1, top):
            prev, cur = cur, step(k, x, cur, prev)
            out = xp.where(nn == k + 1, cur, out)
        return Tensor._make(out.astype(x.dtype, copy=False))
    f.__name__ = name
    f.__doc__ = f"The {name.replace('_', ' ')} of degree n at x."
    return elementwise_function(f)


def _cheb(k, x, cur, prev):
    return 2 * x * cur - prev


chebyshev_polynomial_t = _polynomial("chebyshev_polynomial_t", lambda x: x, _cheb)
chebyshev_polynomial_u = _polynomial("chebyshev_polynomial_u", lambda x: 2 * x, _cheb)
chebyshev_polynomial_v = _polynomial("chebyshev_polynomial_v", lambda x: 2 * x - 1, _cheb)
chebyshev_polynomial_w = _polynomial("chebyshev_polynomial_w", lambda x: 2 * x + 1, _cheb)
shifted_chebyshev_polynomial_t = _polynomial("shifted_chebyshev_polynomial_t", lambda x: x,
                                             _cheb, shift=True)
shifted_chebyshev_polynomial_u = _polynomial("shifted_chebyshev_polynomial_u",
                                             lambda x: 2 * x, _cheb, shift=True)
shifted_chebyshev_polynomial_v = _polynomial("shifted_chebyshev_polynomial_v",
                                             lambda x: 2 * x - 1, _cheb, shift=True)
shifted_chebyshev_polynomial_w = _polynomial("shifted_chebyshev_polynomial_w",
                                             lambda x: 2 * x + 1, _cheb, shift=True)
hermite_polynomial_h = _polynomial("hermite_polynomial_h", lambda x: 2 * x,
                                   lambda k, x, cur, prev: 2 * x * cur - 2 * k * prev)
hermite_polynomial_he = _polynomial("hermite_polynomial_he", lambda x: x,
                                    lambda k, x, cur, prev: x * cur - k * prev)
laguerre_polynomial_l = _polynomial("laguerre_polynomial_l", lambda x: 1 - x,
                                    lambda k, x, cur, prev: ((2 * k + 1 - x) * cur - k * prev) / (k + 1))
legendre_polynomial_p = _polynomial("legendre_polynomial_p", lambda x: x,
                                    lambda k, x, cur, prev: ((2 * k + 1) * x * cur - k * prev) / (k + 1))

bessel_j0 = _outside("bessel_j0", "j0")
bessel_j1 = _outside("bessel_j1", "j1")
bessel_y0 = _outside("bessel_y0", "y0")
bessel_y1 = _outside("bessel_y1", "y1")
modified_bessel_i0 = _outside("modified_bessel_i0", "i0")
modified_bessel_i1 = _outside("modified_bessel_i1", "i1")
modified_bessel_k0 = _outside("modified_bessel_k0", "k0")
modified_bessel_k1 = _outside("modified_bessel_k1", "k1")
scaled_modified_bessel_k0 = _outside("scaled_modified_bessel_k0", "k0e")
scaled_modified_bessel_k1 = _outside("scaled_modified_bessel_k1", "k1e")
airy_ai = _outside("airy_ai", "airy", index=0)


@elementwise_function
def spherical_bessel_j0(input):
    """sin(x) / x, outside the graph (PyTorch gives it no derivative)."""
    x = input._data if input.is_floating_point() else input._data.astype(xp.float32)
    return Tensor._make(_spherical_j0(x).astype(x.dtype))


# --- the differentiable functions by name -------------------------------------------------------------

def i0(input):
    """The modified Bessel function of the first kind, order 0."""
    return I0.apply(input)


def i1(input):
    return I1.apply(input)


def i0e(input):
    return I0e.apply(input)


def i1e(input):
    return I1e.apply(input)


def ndtr(input):
    return Ndtr.apply(input)


def ndtri(input):
    return Ndtri.apply(input)


def log_ndtr(input):
    return LogNdtr.apply(input)


def erfcx(input):
    return Erfcx.apply(input)


def entr(input):
    return Entr.apply(input)


def sinc(input):
    return Sinc.apply(input)


def xlogy(input, other):
    """input * log(other), 0 where input is 0."""
    return XLogY.apply(input, other)


def xlog1py(input, other):
    return XLog1pY.apply(input, other)


def gammainc(input, other):
    """The regularised lower incomplete gamma function P(input, other)."""
    return GammaInc.apply(input, other, upper=False)


def gammaincc(input, other):
    """The regularised upper incomplete gamma function Q(input, other) = 1 - P."""
    return GammaInc.apply(input, other, upper=True)


def zeta(input, other):
    """The Hurwitz zeta function zeta(input, other)."""
    return Zeta.apply(input, other)


def multigammaln(input, p):
    """The log of the multivariate gamma function of dimension p."""
    if physical(input <= (p - 1) / 2).any():
        raise RuntimeError(f"All elements must be greater than (p-1)/2 = {(p - 1) / 2}")
    out = p * (p - 1) / 4 * math.log(math.pi)
    for i in range(p):
        out = lgamma(input - i / 2) + out
    return out


METHODS = {"i0": i0, "i0_": _inplace(i0), "sinc": sinc, "sinc_": _inplace(sinc),
           "xlogy": xlogy, "xlogy_": _inplace(xlogy), "mvlgamma": multigammaln,
           "mvlgamma_": _inplace(multigammaln), "igamma": gammainc, "igamma_": _inplace(gammainc),
           "igammac": gammaincc, "igammac_": _inplace(gammaincc)}

# torch's top-level names; the rest are reached through diffprog.special
mvlgamma, igamma, igammac = multigammaln, gammainc, gammaincc
__all__ = ["i0", "sinc", "xlogy", "mvlgamma", "igamma", "igammac"]
