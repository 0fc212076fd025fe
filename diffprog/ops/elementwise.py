"""Elementwise operations: arithmetic, math functions, comparisons, activations.

Each op lists its forward (arrays), VJP and JVP (tensors).  Broadcasting is handled by
NumPy in forward and by the engine in backward (it sums gradients back to input shapes).
For complex operands a VJP passes back g * conj(f'(z)) (`_c`), PyTorch's convention.

Most one-input functions only differ in f and f': they subclass `_Unary` and give
`forward` and `deriv()`, f'(x) as a tensor built with differentiable ops from `ctx.x`
and/or `ctx.output` (so higher derivatives work), or `_Quotient` with `denom()` where
f'(x) = 1 / denom().  Rules read only the operands they need (`ctx.input(i)`).
Derivatives at kinks follow PyTorch (relu'(0) = 0, |x|'(0) = 0, clamp passes the
gradient on the closed interval, maximum splits ties evenly, ...).  Piecewise-constant
functions (floor, sign, comparisons, ...) have zero gradient.

erf, erfc, erfinv, lgamma, digamma, polygamma and the exact GELU need SciPy.
"""
import math

from .. import dtypes as _dt
from ..autograd.grad_mode import state
from .._array import xp
from ..tensor import Tensor
from .batching import broadcasting
from .complex import complex_sign, conj_if_complex as _c
from .inplace import apply_inplace
from .op import Op, quiet

_LN2, _LN10 = math.log(2.0), math.log(10.0)
_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


# --- helpers -------------------------------------------------------------------------

def _zeros(t):
    """The zero gradient of piecewise-constant functions (not connected to the graph; of
    one element's shape inside vmap, where it is the same for all)."""
    return Tensor._make(xp.zeros(tuple(t.shape), dtype=t.dtype.np))


_scipy_special = None


def _special(op):
    """SciPy's special functions, imported on first use (NumPy has no erf, lgamma, ...)."""
    global _scipy_special
    if _scipy_special is None:
        try:
            import scipy.special
        except ImportError:
            raise RuntimeError(f"{op}: needs SciPy for its special functions "
                               "(pip install scipy, or pip install diffprog[special])") from None
        _scipy_special = scipy.special
    return _scipy_special


def _check_divisor(x, y):
    """Integer division by zero is an error in PyTorch (NumPy would return 0)."""
    if xp.result_type(x, y).kind in "biu" and not xp.all(y):
        raise RuntimeError("ZeroDivisionError")


def _run(cls, inplace, *args, **options):
    """`cls.apply`, or its in-place form for the `inplace=True` of nn.functional."""
    return apply_inplace(cls, *args, **options) if inplace else cls.apply(*args, **options)


def _into(out, result):
    """Write `result` into the `out=` tensor (resized to the result's shape, as PyTorch)."""
    if state.tracer is not None:
        state.tracer.fail("an out= argument (written outside ops)")
    if state.grad_enabled and (result._requires_grad or out._requires_grad):
        raise RuntimeError("out=... arguments don't support automatic differentiation, but one "
                           "of the arguments requires grad.")
    if not xp.can_cast(result._data.dtype, out._data.dtype, "same_kind"):
        raise RuntimeError(f"result type {result.dtype.name} can't be cast to the desired output "
                           f"type {out.dtype.name}")
    if out._data.shape != result._data.shape:
        out._data = xp.empty(result._data.shape, dtype=out._data.dtype)
    xp.copyto(out._data, result._data, casting="unsafe")
    out._vc[0] += 1
    return out


# --- arithmetic ----------------------------------------------------------------------

class Add(Op):
    batch = broadcasting
    promote = "common"

    def forward(ctx, x, y, alpha=1):
        ctx.alpha = alpha
        return x + y if alpha == 1 else x + alpha * y

    def vjp(ctx, g):
        return g, (g if ctx.alpha == 1 else g * ctx.alpha)

    def jvp(ctx, dx, dy):
        return dx + dy * ctx.alpha


class Sub(Op):
    batch = broadcasting
    promote = "common"

    def forward(ctx, x, y, alpha=1):
        ctx.alpha = alpha
        return x - y if alpha == 1 else x - alpha * y

    def vjp(ctx, g):
        return g, -g if ctx.alpha == 1 else g * -ctx.alpha

    def jvp(ctx, dx, dy):
        return dx - dy * ctx.alpha


class Mul(Op):
    batch = broadcasting
    promote = "common"

    def forward(ctx, x, y):
        return x * y

    def vjp(ctx, g):
        need_x, need_y = ctx.needs_input_grad
        return (g * _c(ctx.input(1)) if need_x else None), (g * _c(ctx.input(0)) if need_y else None)

    def jvp(ctx, dx, dy):
        x, y = ctx.args
        return dx * y + x * dy


class Div(Op):
    batch = broadcasting
    promote = "float"

    @quiet
    def forward(ctx, x, y):
        return x / y

    def vjp(ctx, g):
        y = ctx.input(1)
        need_x, need_y = ctx.needs_input_grad
        return (g / _c(y) if need_x else None), (-g * _c(ctx.output / y) if need_y else None)

    def jvp(ctx, dx, dy):
        return (dx - ctx.output * dy) / ctx.args[1]


class DivMode(Op):
    """Division rounded toward zero ('trunc') or down ('floor'); zero gradient, as PyTorch."""

    batch = broadcasting
    op_name = "div"
    promote = "common"

    @quiet
    def forward(ctx, x, y, mode):
        _check_divisor(x, y)
        if mode == "floor":
            return xp.floor_divide(x, y)
        if mode != "trunc":
            raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                               f"but found '{mode}'")
        if xp.result_type(x, y).kind == "f":
            return xp.trunc(x / y)
        return (x - xp.fmod(x, y)) // y            # exact for integers

    def vjp(ctx, g):
        return _zeros(g), _zeros(g)

    def jvp(ctx, dx, dy):
        return _zeros(ctx.output)


class FloorDivide(DivMode):
    """x // y: PyTorch defines no derivative for it (use div(..., rounding_mode='floor'))."""

    op_name = "floor_divide"
    vjp = Op.vjp
    jvp = Op.jvp

    @quiet
    def forward(ctx, x, y):
        return DivMode.forward(ctx, x, y, "floor")


class Remainder(Op):
    """x - floor(x / y) * y: the result has the sign of y (Python's %)."""

    batch = broadcasting
    promote = "common"

    @quiet
    def forward(ctx, x, y):
        _check_divisor(x, y)
        return xp.remainder(x, y)

    def vjp(ctx, g):
        if not ctx.needs_input_grad[1]:
            return g, None
        return g, -g * div(ctx.input(0), ctx.input(1), rounding_mode="floor")

    def jvp(ctx, dx, dy):
        x, y = ctx.args
        return dx - dy * div(x, y, rounding_mode="floor")


class Fmod(Op):
    """x - trunc(x / y) * y: the result has the sign of x (C's fmod)."""

    batch = broadcasting
    promote = "common"

    @quiet
    def forward(ctx, x, y):
        _check_divisor(x, y)
        return xp.fmod(x, y)

    def vjp(ctx, g):
        if not ctx.needs_input_grad[1]:
            return g, None
        return g, -g * div(ctx.input(0), ctx.input(1), rounding_mode="trunc")

    def jvp(ctx, dx, dy):
        x, y = ctx.args
        return dx - dy * div(x, y, rounding_mode="trunc")


class Pow(Op):
    """x ** y for tensors and Python numbers on either side."""

    batch = broadcasting
    promote = "common"

    @quiet
    def forward(ctx, x, y):
        try:
            return xp.power(x, y)
        except ValueError:
            raise RuntimeError("pow: Integers to negative integer powers are not allowed.") from None

    def d_base(ctx, x, y, g):
        """d(x**y)/dx = y x**(y-1), taken as 0 where y == 0 (PyTorch's convention)."""
        if not isinstance(y, Tensor):
            return _zeros(g) if y == 0 else y * x ** (y - 1)
        return where(y == 0, 0.0, y * x ** (y - 1))

    def d_exponent(ctx, x, y):
        """d(x**y)/dy = x**y log x, taken as 0 where x == 0 and y >= 0."""
        out = ctx.output
        if not isinstance(x, Tensor):
            x = Tensor._make(xp.asarray(x, dtype=out._data.dtype))
        return where((x == 0) & (y >= 0), 0.0, out * x.log())

    def vjp(ctx, g):
        x, y = ctx.inputs
        need_x, need_y = ctx.needs_input_grad
        return (g * _c(ctx.d_base(x, y, g)) if need_x else None,
                g * _c(ctx.d_exponent(x, y)) if need_y else None)

    def jvp(ctx, dx, dy):
        x, y = ctx.args
        out = 0
        if isinstance(dx, Tensor):
            out = dx * ctx.d_base(x, y, dx)
        if isinstance(dy, Tensor):
            out = out + dy * ctx.d_exponent(x, y)
        return out


class Neg(Op):
    batch = broadcasting

    def forward(ctx, x):
        return -x

    def vjp(ctx, g):
        return -g

    def jvp(ctx, dx):
        return -dx


# --- one-input functions -------------------------------------------------------------

class _Unary(Op):
    """y = f(x); a subclass gives `forward` and `deriv()` = f'(x) (a tensor, or a bool mask),
    from `ctx.x` and/or `ctx.output`."""

    batch = broadcasting
    promote = "float"

    @property
    def x(ctx):
        return ctx.input(0)

    def vjp(ctx, g):
        return g * _c(ctx.deriv())

    def jvp(ctx, dx):
        return dx * ctx.deriv()


class _Quotient(_Unary):
    """y = f(x) with f'(x) = 1 / denom(): one division instead of a reciprocal and a product."""

    def vjp(ctx, g):
        return g / _c(ctx.denom())

    def jvp(ctx, dx):
        return dx / ctx.denom()


class _Step(Op):
    """Piecewise-constant functions (floor, ceil, trunc): integers pass through unchanged."""

    batch = broadcasting

    def forward(ctx, x):
        return ctx.fn(x) if x.dtype.kind in "fc" else x.copy()

    def vjp(ctx, g):
        return _zeros(g)

    def jvp(ctx, dx):
        return _zeros(dx)


class Floor(_Step):
    fn = xp.floor


class Ceil(_Step):
    fn = xp.ceil


class Trunc(_Step):
    fn = xp.trunc


class Round(_Step):
    """Round half to even, at `decimals` places."""

    def forward(ctx, x, decimals=0):
        return xp.round(x, decimals) if x.dtype.kind in "fc" else x.copy()


class Sign(_Step):
    def forward(ctx, x):
        return xp.nan_to_num(xp.sign(x)) if x.dtype.kind == "f" else xp.sign(x)   # sign(nan) = 0


class Abs(_Unary):
    promote = None

    def forward(ctx, x):
        return xp.abs(x)

    def deriv(ctx):
        return ctx.x.sign()                       # 0 at 0

    def vjp(ctx, g):
        return g * complex_sign(ctx.x) if ctx.x.is_complex() else g * ctx.deriv()

    def jvp(ctx, dx):
        return (dx * _c(complex_sign(ctx.x))).real if ctx.x.is_complex() else dx * ctx.deriv()


class Frac(_Unary):
    promote = None

    def forward(ctx, x):
        return x - xp.trunc(x)

    def vjp(ctx, g):
        return g

    def jvp(ctx, dx):
        return dx


class Exp(_Unary):
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


class Sqrt(_Quotient):
    @quiet
    def forward(ctx, x):
        return xp.sqrt(x)

    def denom(ctx):
        return ctx.output * 2


class Rsqrt(_Unary):
    @quiet
    def forward(ctx, x):
        return xp.reciprocal(xp.sqrt(x))

    def deriv(ctx):
        return ctx.output.pow(3) * -0.5


class Reciprocal(_Unary):
    @quiet
    def forward(ctx, x):
        return xp.reciprocal(x)

    def deriv(ctx):
        y = ctx.output
        return -(y * y)


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


class Sigmoid(_Unary):
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


def _scipy(op, fn, x, *args):
    """A SciPy special function of x, in x's dtype."""
    return getattr(_special(op), fn)(*args, x).astype(x.dtype, copy=False)


class Erf(_Unary):
    def forward(ctx, x):
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


class NanToNum(_Unary):
    promote = None

    def forward(ctx, x, nan=0.0, posinf=None, neginf=None):
        return xp.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)

    def deriv(ctx):
        return ctx.x.isfinite()


# --- two-input functions -------------------------------------------------------------

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


class Hypot(Op):
    batch = broadcasting
    promote = "float"

    def forward(ctx, x, y):
        return xp.hypot(x, y)

    def vjp(ctx, g):
        x, y = ctx.inputs
        need_x, need_y = ctx.needs_input_grad
        r = ctx.output
        return (g * x / r if need_x else None), (g * y / r if need_y else None)

    def jvp(ctx, dx, dy):
        x, y = ctx.args
        return (dx * x + dy * y) / ctx.output


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
        if not isinstance(weight, xp.ndarray):
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


# --- comparisons, logical and bitwise ops (no derivative) ------------------------------

class _Predicate(Op):
    """An elementwise NumPy function with a bool (or integer) result: nothing to differentiate."""

    batch = broadcasting
    promote = "common"

    def forward(ctx, *xs):
        return ctx.fn(*xs)

    def jvp(ctx, *tangents):
        return None


class Eq(_Predicate):
    fn = xp.equal


class Ne(_Predicate):
    fn = xp.not_equal


class Lt(_Predicate):
    fn = xp.less


class Le(_Predicate):
    fn = xp.less_equal


class Gt(_Predicate):
    fn = xp.greater


class Ge(_Predicate):
    fn = xp.greater_equal


class LogicalAnd(_Predicate):
    promote = None
    fn = xp.logical_and


class LogicalOr(LogicalAnd):
    fn = xp.logical_or


class LogicalXor(LogicalAnd):
    fn = xp.logical_xor


class LogicalNot(LogicalAnd):
    fn = xp.logical_not


class Isnan(LogicalAnd):
    fn = xp.isnan


class Isinf(LogicalAnd):
    fn = xp.isinf


class Isfinite(LogicalAnd):
    fn = xp.isfinite


class _Bitwise(_Predicate):
    """Bitwise ops are defined on bool and integer tensors only."""

    def forward(ctx, *xs):
        try:
            return ctx.fn(*xs)
        except TypeError:
            raise RuntimeError(f"{ctx.name()}: not implemented for floating-point tensors") from None


class BitwiseAnd(_Bitwise):
    op_name = "bitwise_and"
    fn = xp.bitwise_and


class BitwiseOr(_Bitwise):
    op_name = "bitwise_or"
    fn = xp.bitwise_or


class BitwiseXor(_Bitwise):
    op_name = "bitwise_xor"
    fn = xp.bitwise_xor


class BitwiseNot(_Bitwise):
    op_name = "bitwise_not"
    fn = xp.invert


class BitwiseLeftShift(_Bitwise):
    op_name = "bitwise_left_shift"
    fn = xp.left_shift


class BitwiseRightShift(_Bitwise):
    op_name = "bitwise_right_shift"
    fn = xp.right_shift


# --- activations ---------------------------------------------------------------------

class Relu(_Unary):
    promote = None

    def forward(ctx, x):
        return xp.maximum(x, 0)

    def deriv(ctx):
        return ctx.output > 0                 # 0 at 0


class LeakyRelu(Op):
    batch = broadcasting
    op_name = "leaky_relu"

    def forward(ctx, x, negative_slope=0.01):
        ctx.slope = negative_slope
        return xp.where(x > 0, x, x * negative_slope)

    def positive(ctx):
        # from the output when it tells (negative_slope >= 0): then in-place use is fine
        return (ctx.output if ctx.slope >= 0 else ctx.input(0)) > 0

    def vjp(ctx, g):
        return where(ctx.positive(), g, g * ctx.slope)

    def jvp(ctx, dx):
        return where(ctx.positive(), dx, dx * ctx.slope)


class Elu(_Unary):
    """scale * x for x > 0, else scale * alpha * (exp(input_scale * x) - 1): elu, selu, celu."""

    def forward(ctx, x, alpha=1.0, scale=1.0, input_scale=1.0):
        ctx.alpha, ctx.scale, ctx.input_scale = alpha, scale, input_scale
        neg = xp.expm1(xp.minimum(x, 0) * input_scale) * (alpha * scale)
        return xp.where(x > 0, x if scale == 1 else x * scale, neg)

    def deriv(ctx):
        # from the output (no overflow, and in-place use is fine): f' = input_scale *
        # (y + scale * alpha) where y <= 0
        y = ctx.output
        return where(y > 0, ctx.scale, (y + ctx.scale * ctx.alpha) * ctx.input_scale)


class Gelu(_Unary):
    """x * Phi(x) (Phi: the standard normal CDF), or its tanh approximation."""

    _K = math.sqrt(2 / math.pi)

    def forward(ctx, x, approximate="none"):
        ctx.approximate = approximate
        if approximate == "tanh":
            k = ctx._K
            y = xp.tanh(x * (k + k * 0.044715 * (x * x)))
            y += 1
            y *= x
            y *= 0.5
            return y
        y = _scipy("gelu", "ndtr", x)
        y *= x
        return y

    def deriv(ctx):
        x = ctx.x
        if ctx.approximate == "tanh":
            k = ctx._K
            x2 = x * x
            t = (x * (k + k * 0.044715 * x2)).tanh()
            return (t + 1) * 0.5 + x * 0.5 * (1 - t * t) * (k + 3 * k * 0.044715 * x2)
        phi = (x * x * -0.5).exp() * (1 / math.sqrt(2 * math.pi))
        return ((x * (1 / math.sqrt(2))).erf() + 1) * 0.5 + x * phi


class Silu(_Unary):
    """x * sigmoid(x)."""

    def forward(ctx, x):
        y = xp.empty_like(x)                  # x / (1 + exp(-x)), in one buffer
        with xp.errstate(over="ignore"):
            xp.exp(xp.negative(x, out=y), out=y)
        y += 1
        return xp.divide(x, y, out=y)

    def deriv(ctx):
        x = ctx.x
        s = x.sigmoid()
        return s * (1 + x * (1 - s))


def _softplus(x):
    """log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)), stable, in one buffer (NumPy's
    logaddexp(0, x) is an order of magnitude slower in float32)."""
    y = xp.empty_like(x)
    xp.negative(xp.abs(x, out=y), out=y)
    xp.log1p(xp.exp(y, out=y), out=y)
    y += xp.maximum(x, 0)
    return y


class Softplus(_Unary):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold."""

    def forward(ctx, x, beta=1.0, threshold=20.0):
        ctx.beta, ctx.threshold = beta, threshold
        bx = x * beta if beta != 1 else x
        soft = _softplus(bx)
        if beta != 1:
            soft /= beta
        return xp.where(bx > threshold, x, soft)

    def deriv(ctx):
        x = ctx.x
        bx = x * ctx.beta if ctx.beta != 1 else x
        return where(bx > ctx.threshold, 1.0, bx.sigmoid())


class Logsigmoid(_Unary):
    """log(sigmoid(x)) = -softplus(-x), computed stably."""

    op_name = "log_sigmoid"

    def forward(ctx, x):
        y = _softplus(-x)
        return xp.negative(y, out=y)

    def deriv(ctx):
        return (-ctx.x).sigmoid()


class Mish(_Unary):
    """x * tanh(softplus(x))."""

    def forward(ctx, x):
        y = xp.tanh(_softplus(x))
        y *= x
        return y

    def deriv(ctx):
        x = ctx.x
        t = softplus(x).tanh()
        return t + x * x.sigmoid() * (1 - t * t)


class Softsign(_Quotient):
    """x / (1 + |x|)."""

    def forward(ctx, x):
        return x / (1 + xp.abs(x))

    def denom(ctx):
        x = ctx.x
        d = x.abs() + 1
        return d * d


class Tanhshrink(_Unary):
    """x - tanh(x)."""

    def forward(ctx, x):
        return x - xp.tanh(x)

    def deriv(ctx):
        x = ctx.x
        t = x.tanh()
        return t * t


class Threshold(_Unary):
    """x where x > threshold, else value."""

    def forward(ctx, x, threshold, value):
        ctx.threshold = threshold
        return xp.where(x > threshold, x, value)

    def deriv(ctx):
        return ctx.x > ctx.threshold


class Hardtanh(_Unary):
    """x clamped to [min_val, max_val]; the gradient is 0 at the corners (PyTorch)."""

    promote = None

    def forward(ctx, x, min_val=-1.0, max_val=1.0):
        ctx.lo, ctx.hi = min_val, max_val
        return xp.clip(x, min_val, max_val)

    def deriv(ctx):
        y = ctx.output                        # the same mask as from x; in-place friendly
        return (y > ctx.lo) & (y < ctx.hi)


class Hardsigmoid(_Unary):
    """clamp(x + 3, 0, 6) / 6."""

    def forward(ctx, x):
        return xp.clip(x + 3, 0, 6) / 6

    def vjp(ctx, g):
        x = ctx.x
        return g * ((x > -3) & (x < 3)) / 6

    def jvp(ctx, dx):
        x = ctx.x
        return dx * ((x > -3) & (x < 3)) / 6


class Hardswish(_Unary):
    """x * clamp(x + 3, 0, 6) / 6."""

    def forward(ctx, x):
        return x * xp.clip(x + 3, 0, 6) / 6

    def deriv(ctx):
        x = ctx.x
        # PyTorch: 0 for x <= -3, 1 for x >= 3, (2x + 3) / 6 in between
        return where(x <= -3, 0.0, where(x < 3, x / 3 + 0.5, 1.0))


# --- public functions ------------------------------------------------------------------

def _unary(cls, name):
    """The public function `name(input, *, out=None)` of a one-input op."""
    def fn(input, *, out=None):
        r = cls.apply(input)
        return r if out is None else _into(out, r)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = cls.__doc__
    return fn


def _binary(cls, name):
    """The public function `name(input, other, *, out=None)` of a two-input op."""
    def fn(input, other, *, out=None):
        r = cls.apply(input, other)
        return r if out is None else _into(out, r)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = cls.__doc__
    return fn


def add(input, other, *, alpha=1, out=None):
    r = Add.apply(input, other, alpha=alpha) if alpha != 1 else Add.apply(input, other)
    return r if out is None else _into(out, r)


def sub(input, other, *, alpha=1, out=None):
    r = Sub.apply(input, other, alpha=alpha) if alpha != 1 else Sub.apply(input, other)
    return r if out is None else _into(out, r)


mul = _binary(Mul, "mul")


def div(input, other, *, rounding_mode=None, out=None):
    r = Div.apply(input, other) if rounding_mode is None else \
        DivMode.apply(input, other, mode=rounding_mode)
    return r if out is None else _into(out, r)


true_divide = _binary(Div, "true_divide")
floor_divide = _binary(FloorDivide, "floor_divide")
remainder = _binary(Remainder, "remainder")
fmod = _binary(Fmod, "fmod")


def pow(input, exponent, *, out=None):  # noqa: A001
    r = Pow.apply(input, exponent)
    return r if out is None else _into(out, r)


def float_power(input, exponent, *, out=None):
    """pow in float64."""
    as_double = lambda v: v.double() if isinstance(v, Tensor) else float(v)  # noqa: E731
    return pow(as_double(input), as_double(exponent), out=out)


def square(input, *, out=None):
    return pow(input, 2, out=out)


def positive(input):
    if input.dtype is _dt.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


neg = _unary(Neg, "neg")
abs = _unary(Abs, "abs")  # noqa: A001
sign = _unary(Sign, "sign")
frac = _unary(Frac, "frac")
floor = _unary(Floor, "floor")
ceil = _unary(Ceil, "ceil")
trunc = _unary(Trunc, "trunc")
exp = _unary(Exp, "exp")
exp2 = _unary(Exp2, "exp2")
expm1 = _unary(Expm1, "expm1")
log = _unary(Log, "log")
log2 = _unary(Log2, "log2")
log10 = _unary(Log10, "log10")
log1p = _unary(Log1p, "log1p")
sqrt = _unary(Sqrt, "sqrt")
rsqrt = _unary(Rsqrt, "rsqrt")
reciprocal = _unary(Reciprocal, "reciprocal")
sin = _unary(Sin, "sin")
cos = _unary(Cos, "cos")
tan = _unary(Tan, "tan")
asin = _unary(Asin, "asin")
acos = _unary(Acos, "acos")
atan = _unary(Atan, "atan")
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
atan2 = _binary(Atan2, "atan2")
hypot = _binary(Hypot, "hypot")
maximum = _binary(Maximum, "maximum")
minimum = _binary(Minimum, "minimum")
fmax = _binary(Fmax, "fmax")
fmin = _binary(Fmin, "fmin")


def round(input, *, decimals=0, out=None):  # noqa: A001
    r = Round.apply(input, decimals=decimals) if decimals else Round.apply(input)
    return r if out is None else _into(out, r)


def logit(input, eps=None, *, out=None):
    r = Logit.apply(input, eps=eps)
    return r if out is None else _into(out, r)


def polygamma(n, input, *, out=None):
    r = Polygamma.apply(input, n=n)
    return r if out is None else _into(out, r)


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


eq = _binary(Eq, "eq")
ne = _binary(Ne, "ne")
lt = _binary(Lt, "lt")
le = _binary(Le, "le")
gt = _binary(Gt, "gt")
ge = _binary(Ge, "ge")
isnan = _unary(Isnan, "isnan")
isinf = _unary(Isinf, "isinf")
isfinite = _unary(Isfinite, "isfinite")
logical_and = _binary(LogicalAnd, "logical_and")
logical_or = _binary(LogicalOr, "logical_or")
logical_xor = _binary(LogicalXor, "logical_xor")
logical_not = _unary(LogicalNot, "logical_not")
bitwise_and = _binary(BitwiseAnd, "bitwise_and")
bitwise_or = _binary(BitwiseOr, "bitwise_or")
bitwise_xor = _binary(BitwiseXor, "bitwise_xor")
bitwise_not = _unary(BitwiseNot, "bitwise_not")
bitwise_left_shift = _binary(BitwiseLeftShift, "bitwise_left_shift")
bitwise_right_shift = _binary(BitwiseRightShift, "bitwise_right_shift")

subtract, multiply, divide, negative, absolute, fix = sub, mul, div, neg, abs, trunc
arcsin, arccos, arctan, arctan2, arcsinh, arccosh, arctanh = asin, acos, atan, atan2, asinh, acosh, atanh
clip, not_equal, greater, greater_equal, less, less_equal = clamp, ne, gt, ge, lt, le


# activations (torch and torch.nn.functional signatures; `inplace` as in the latter)

def relu(input, inplace=False):
    return _run(Relu, inplace, input)


def relu6(input, inplace=False):
    return _run(Hardtanh, inplace, input, min_val=0.0, max_val=6.0)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    return _run(LeakyRelu, inplace, input, negative_slope=negative_slope)


def elu(input, alpha=1.0, inplace=False):
    return _run(Elu, inplace, input, alpha=alpha)


def selu(input, inplace=False):
    return _run(Elu, inplace, input, alpha=_SELU_ALPHA, scale=_SELU_SCALE)


def celu(input, alpha=1.0, inplace=False):
    return _run(Elu, inplace, input, alpha=alpha, input_scale=1.0 / alpha)


def gelu(input, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"gelu: approximate argument must be either none or tanh, got {approximate!r}")
    return Gelu.apply(input, approximate=approximate) if approximate != "none" else Gelu.apply(input)


def silu(input, inplace=False):
    return _run(Silu, inplace, input)


def softplus(input, beta=1.0, threshold=20.0):
    return Softplus.apply(input, beta=beta, threshold=threshold)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    return _run(Hardtanh, inplace, input, min_val=min_val, max_val=max_val)


def hardsigmoid(input, inplace=False):
    return _run(Hardsigmoid, inplace, input)


def hardswish(input, inplace=False):
    return _run(Hardswish, inplace, input)


def mish(input, inplace=False):
    return _run(Mish, inplace, input)


def softsign(input):
    return Softsign.apply(input)


def tanhshrink(input):
    return Tanhshrink.apply(input)


def logsigmoid(input):
    return Logsigmoid.apply(input)


def threshold(input, threshold, value, inplace=False):
    return _run(Threshold, inplace, input, threshold=threshold, value=value)


# --- Tensor methods ----------------------------------------------------------------------

def _r(fn):
    """Reflected operator: `2 - x` calls `sub(2, x)`."""
    return lambda self, other: fn(other, self)


def _inplace(cls):
    return lambda self, *args, **kwargs: apply_inplace(cls, self, *args, **kwargs)


def _div_(self, other, *, rounding_mode=None):
    if rounding_mode is None:
        return apply_inplace(Div, self, other)
    return apply_inplace(DivMode, self, other, mode=rounding_mode)


def _clamp_(self, min=None, max=None):  # noqa: A002
    if min is None and max is None:
        raise RuntimeError("clamp_: At least one of 'min' or 'max' must not be None")
    return apply_inplace(Clamp, self, min, max)


def _eq_op(fn):
    """`==` / `!=`: compare with tensors and numbers; anything else is simply unequal."""
    def op(self, other):
        if isinstance(other, (Tensor, int, float, complex, xp.generic)):
            return fn(self, other)
        return NotImplemented
    return op


METHODS = {
    # arithmetic
    "add": add, "sub": sub, "subtract": sub, "mul": mul, "multiply": mul, "div": div,
    "divide": div, "true_divide": true_divide, "floor_divide": floor_divide,
    "remainder": remainder, "fmod": fmod, "pow": pow, "float_power": float_power,
    "square": square, "neg": neg, "negative": neg, "positive": positive, "abs": abs,
    "absolute": abs, "sign": sign, "frac": frac, "floor": floor, "ceil": ceil,
    "trunc": trunc, "fix": trunc, "round": round,
    # math functions
    "exp": exp, "exp2": exp2, "expm1": expm1, "log": log, "log2": log2, "log10": log10,
    "log1p": log1p, "sqrt": sqrt, "rsqrt": rsqrt, "reciprocal": reciprocal,
    "sin": sin, "cos": cos, "tan": tan, "asin": asin, "acos": acos, "atan": atan,
    "arcsin": asin, "arccos": acos, "arctan": atan, "atan2": atan2, "arctan2": atan2,
    "sinh": sinh, "cosh": cosh, "tanh": tanh, "asinh": asinh, "acosh": acosh, "atanh": atanh,
    "arcsinh": asinh, "arccosh": acosh, "arctanh": atanh, "sigmoid": sigmoid, "logit": logit,
    "erf": erf, "erfc": erfc, "erfinv": erfinv, "lgamma": lgamma, "digamma": digamma,
    "polygamma": lambda self, n: polygamma(n, self), "hypot": hypot,
    "nan_to_num": nan_to_num, "clamp": clamp, "clip": clamp, "clamp_min": clamp_min,
    "clamp_max": clamp_max, "maximum": maximum, "minimum": minimum, "fmax": fmax, "fmin": fmin,
    "where": lambda self, condition, other: where(condition, self, other), "lerp": lerp,
    "relu": relu,
    # comparisons, logical, bitwise
    "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge, "not_equal": ne,
    "greater": gt, "greater_equal": ge, "less": lt, "less_equal": le,
    "isnan": isnan, "isinf": isinf, "isfinite": isfinite,
    "logical_and": logical_and, "logical_or": logical_or, "logical_xor": logical_xor,
    "logical_not": logical_not, "bitwise_and": bitwise_and, "bitwise_or": bitwise_or,
    "bitwise_xor": bitwise_xor, "bitwise_not": bitwise_not,
    "bitwise_left_shift": bitwise_left_shift, "bitwise_right_shift": bitwise_right_shift,
    # operators
    "__add__": add, "__radd__": _r(add), "__sub__": sub, "__rsub__": _r(sub),
    "__mul__": mul, "__rmul__": _r(mul), "__truediv__": div, "__rtruediv__": _r(div),
    "__floordiv__": floor_divide, "__rfloordiv__": _r(floor_divide),
    "__mod__": remainder, "__rmod__": _r(remainder), "__pow__": pow, "__rpow__": _r(pow),
    "__neg__": neg, "__pos__": positive, "__abs__": abs, "__invert__": bitwise_not,
    "__and__": bitwise_and, "__rand__": _r(bitwise_and), "__or__": bitwise_or,
    "__ror__": _r(bitwise_or), "__xor__": bitwise_xor, "__rxor__": _r(bitwise_xor),
    "__lshift__": bitwise_left_shift, "__rlshift__": _r(bitwise_left_shift),
    "__rshift__": bitwise_right_shift, "__rrshift__": _r(bitwise_right_shift),
    "__eq__": _eq_op(eq), "__ne__": _eq_op(ne), "__lt__": lt, "__le__": le, "__gt__": gt,
    "__ge__": ge,
    # in place
    "add_": _inplace(Add), "sub_": _inplace(Sub), "subtract_": _inplace(Sub),
    "mul_": _inplace(Mul), "multiply_": _inplace(Mul), "div_": _div_, "divide_": _div_,
    "true_divide_": _inplace(Div), "floor_divide_": _inplace(FloorDivide),
    "remainder_": _inplace(Remainder), "fmod_": _inplace(Fmod), "pow_": _inplace(Pow),
    "square_": lambda self: apply_inplace(Pow, self, 2),
    "neg_": _inplace(Neg), "negative_": _inplace(Neg), "abs_": _inplace(Abs),
    "absolute_": _inplace(Abs), "sign_": _inplace(Sign), "frac_": _inplace(Frac),
    "floor_": _inplace(Floor), "ceil_": _inplace(Ceil), "trunc_": _inplace(Trunc),
    "fix_": _inplace(Trunc), "round_": _inplace(Round),
    "exp_": _inplace(Exp), "exp2_": _inplace(Exp2), "expm1_": _inplace(Expm1),
    "log_": _inplace(Log), "log2_": _inplace(Log2), "log10_": _inplace(Log10),
    "log1p_": _inplace(Log1p), "sqrt_": _inplace(Sqrt), "rsqrt_": _inplace(Rsqrt),
    "reciprocal_": _inplace(Reciprocal), "sin_": _inplace(Sin), "cos_": _inplace(Cos),
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
    "hypot_": _inplace(Hypot), "lerp_": _inplace(Lerp),
    "nan_to_num_": lambda self, nan=0.0, posinf=None, neginf=None: apply_inplace(
        NanToNum, self, nan=nan, posinf=posinf, neginf=neginf),
    "clamp_": _clamp_, "clip_": _clamp_,
    "clamp_min_": lambda self, min: apply_inplace(Clamp, self, min, None),  # noqa: A006
    "clamp_max_": lambda self, max: apply_inplace(Clamp, self, None, max),  # noqa: A006
    "relu_": _inplace(Relu),
    "eq_": _inplace(Eq), "ne_": _inplace(Ne), "lt_": _inplace(Lt), "le_": _inplace(Le),
    "gt_": _inplace(Gt), "ge_": _inplace(Ge), "not_equal_": _inplace(Ne),
    "greater_": _inplace(Gt), "greater_equal_": _inplace(Ge), "less_": _inplace(Lt),
    "less_equal_": _inplace(Le),
    "logical_and_": _inplace(LogicalAnd), "logical_or_": _inplace(LogicalOr),
    "logical_xor_": _inplace(LogicalXor), "logical_not_": _inplace(LogicalNot),
    "bitwise_and_": _inplace(BitwiseAnd), "bitwise_or_": _inplace(BitwiseOr),
    "bitwise_xor_": _inplace(BitwiseXor), "bitwise_not_": _inplace(BitwiseNot),
    "bitwise_left_shift_": _inplace(BitwiseLeftShift),
    "bitwise_right_shift_": _inplace(BitwiseRightShift),
    "__iadd__": _inplace(Add), "__isub__": _inplace(Sub), "__imul__": _inplace(Mul),
    "__itruediv__": _inplace(Div), "__ifloordiv__": _inplace(FloorDivide),
    "__imod__": _inplace(Remainder), "__ipow__": _inplace(Pow),
    "__iand__": _inplace(BitwiseAnd), "__ior__": _inplace(BitwiseOr),
    "__ixor__": _inplace(BitwiseXor), "__ilshift__": _inplace(BitwiseLeftShift),
    "__irshift__": _inplace(BitwiseRightShift),
}

__all__ = [
    "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "floor_divide",
    "remainder", "fmod", "pow", "float_power", "square", "neg", "negative", "positive", "abs",
    "absolute", "sign", "frac", "floor", "ceil", "trunc", "fix", "round",
    "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "reciprocal",
    "sin", "cos", "tan", "asin", "acos", "atan", "arcsin", "arccos", "arctan", "atan2", "arctan2",
    "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "arcsinh", "arccosh", "arctanh",
    "sigmoid", "logit", "erf", "erfc", "erfinv", "lgamma", "digamma", "polygamma", "hypot",
    "nan_to_num", "clamp", "clip", "clamp_min", "clamp_max", "maximum", "minimum", "fmax", "fmin",
    "where", "lerp",
    "eq", "ne", "lt", "le", "gt", "ge", "not_equal", "greater", "greater_equal", "less",
    "less_equal", "isnan", "isinf", "isfinite", "logical_and", "logical_or", "logical_xor",
    "logical_not", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not",
    "bitwise_left_shift", "bitwise_right_shift",
    "relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "softplus", "hardtanh",
    "hardsigmoid", "hardswish", "mish", "softsign", "tanhshrink", "logsigmoid", "threshold",
]

