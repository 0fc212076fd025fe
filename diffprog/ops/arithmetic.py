"""Arithmetic: + - * / and their integer forms, powers and roots, negation, abs, sign and
rounding.  The conventions of all elementwise ops: `elementwise.py`.
"""
from .. import dtypes as _dt
from .._array import xp
from ..tensor import Tensor
from .batching import broadcasting
from .complex import complex_sign, conj_if_complex as _c
from .elementwise import _Quotient, _Unary, _binary, _inplace, _into, _r, _unary, _zeros
from .inplace import apply_inplace
from .op import Op, quiet
from .selection import where


def _check_divisor(x, y):
    """Integer division by zero is an error in PyTorch (NumPy would return 0)."""
    if xp.result_type(x, y).kind in "biu" and not xp.all(y):
        raise RuntimeError("ZeroDivisionError")


# --- + - * / -------------------------------------------------------------------------

class Add(Op):
    raw = True
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
    raw = True
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
    raw = True
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


# --- powers and roots ----------------------------------------------------------------

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
            x = Tensor._make(xp.asarray(x, dtype=out._data.dtype, like=out._data))
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


# --- negation, abs, sign, rounding -----------------------------------------------------

class Neg(Op):
    raw = True
    batch = broadcasting

    def forward(ctx, x):
        return -x

    def vjp(ctx, g):
        return -g

    def jvp(ctx, dx):
        return -dx


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


# --- public functions ------------------------------------------------------------------

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
sqrt = _unary(Sqrt, "sqrt")
rsqrt = _unary(Rsqrt, "rsqrt")
reciprocal = _unary(Reciprocal, "reciprocal")
hypot = _binary(Hypot, "hypot")


def round(input, *, decimals=0, out=None):  # noqa: A001
    r = Round.apply(input, decimals=decimals) if decimals else Round.apply(input)
    return r if out is None else _into(out, r)


subtract, multiply, divide, negative, absolute, fix = sub, mul, div, neg, abs, trunc


# --- Tensor methods ----------------------------------------------------------------------

def _div_(self, other, *, rounding_mode=None):
    if rounding_mode is None:
        return apply_inplace(Div, self, other)
    return apply_inplace(DivMode, self, other, mode=rounding_mode)


METHODS = {
    "add": add, "sub": sub, "subtract": sub, "mul": mul, "multiply": mul, "div": div,
    "divide": div, "true_divide": true_divide, "floor_divide": floor_divide,
    "remainder": remainder, "fmod": fmod, "pow": pow, "float_power": float_power,
    "square": square, "sqrt": sqrt, "rsqrt": rsqrt, "reciprocal": reciprocal, "hypot": hypot,
    "neg": neg, "negative": neg, "positive": positive, "abs": abs,
    "absolute": abs, "sign": sign, "frac": frac, "floor": floor, "ceil": ceil,
    "trunc": trunc, "fix": trunc, "round": round,
    # operators
    "__add__": add, "__radd__": _r(add), "__sub__": sub, "__rsub__": _r(sub),
    "__mul__": mul, "__rmul__": _r(mul), "__truediv__": div, "__rtruediv__": _r(div),
    "__floordiv__": floor_divide, "__rfloordiv__": _r(floor_divide),
    "__mod__": remainder, "__rmod__": _r(remainder), "__pow__": pow, "__rpow__": _r(pow),
    "__neg__": neg, "__pos__": positive, "__abs__": abs,
    # in place
    "add_": _inplace(Add), "sub_": _inplace(Sub), "subtract_": _inplace(Sub),
    "mul_": _inplace(Mul), "multiply_": _inplace(Mul), "div_": _div_, "divide_": _div_,
    "true_divide_": _inplace(Div), "floor_divide_": _inplace(FloorDivide),
    "remainder_": _inplace(Remainder), "fmod_": _inplace(Fmod), "pow_": _inplace(Pow),
    "square_": lambda self: apply_inplace(Pow, self, 2),
    "sqrt_": _inplace(Sqrt), "rsqrt_": _inplace(Rsqrt), "reciprocal_": _inplace(Reciprocal),
    "hypot_": _inplace(Hypot),
    "neg_": _inplace(Neg), "negative_": _inplace(Neg), "abs_": _inplace(Abs),
    "absolute_": _inplace(Abs), "sign_": _inplace(Sign), "frac_": _inplace(Frac),
    "floor_": _inplace(Floor), "ceil_": _inplace(Ceil), "trunc_": _inplace(Trunc),
    "fix_": _inplace(Trunc), "round_": _inplace(Round),
    "__iadd__": _inplace(Add), "__isub__": _inplace(Sub), "__imul__": _inplace(Mul),
    "__itruediv__": _inplace(Div), "__ifloordiv__": _inplace(FloorDivide),
    "__imod__": _inplace(Remainder), "__ipow__": _inplace(Pow),
}

__all__ = [
    "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "floor_divide",
    "remainder", "fmod", "pow", "float_power", "square", "sqrt", "rsqrt", "reciprocal", "hypot",
    "neg", "negative", "positive", "abs", "absolute", "sign", "frac", "floor", "ceil", "trunc",
    "fix", "round",
]
