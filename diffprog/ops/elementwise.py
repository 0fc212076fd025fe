"""Elementwise operations: arithmetic, transcendental functions, comparisons, activations.

Each op lists its forward (arrays), VJP and JVP (tensors).  Broadcasting is handled by
NumPy in forward and by the engine in backward (it sums gradients back to input shapes).
"""
from ..backend import xp
from .op import Op, apply_inplace


# --- arithmetic ----------------------------------------------------------------------

class Add(Op):
    promote = "common"

    def forward(ctx, x, y, alpha=1):
        ctx.alpha = alpha
        return x + y if alpha == 1 else x + alpha * y

    def vjp(ctx, g):
        return g, (g if ctx.alpha == 1 else g * ctx.alpha)

    def jvp(ctx, dx, dy):
        return dx + dy * ctx.alpha


class Sub(Op):
    promote = "common"

    def forward(ctx, x, y, alpha=1):
        ctx.alpha = alpha
        return x - y if alpha == 1 else x - alpha * y

    def vjp(ctx, g):
        return g, -g if ctx.alpha == 1 else g * -ctx.alpha

    def jvp(ctx, dx, dy):
        return dx - dy * ctx.alpha


class Mul(Op):
    promote = "common"

    def forward(ctx, x, y):
        return x * y

    def vjp(ctx, g):
        x, y = ctx.inputs
        need_x, need_y = ctx.needs_input_grad
        return (g * y if need_x else None), (g * x if need_y else None)

    def jvp(ctx, dx, dy):
        x, y = ctx.args
        return dx * y + x * dy


class Div(Op):
    promote = "float"

    def forward(ctx, x, y):
        return x / y

    def vjp(ctx, g):
        x, y = ctx.inputs
        need_x, need_y = ctx.needs_input_grad
        return (g / y if need_x else None), (-g * x / (y * y) if need_y else None)

    def jvp(ctx, dx, dy):
        x, y = ctx.args
        return (dx - ctx.output * dy) / y


class Neg(Op):
    def forward(ctx, x):
        return -x

    def vjp(ctx, g):
        return -g

    def jvp(ctx, dx):
        return -dx


class Exp(Op):
    promote = "float"

    def forward(ctx, x):
        return xp.exp(x)

    def vjp(ctx, g):
        return g * ctx.output

    def jvp(ctx, dx):
        return dx * ctx.output


class Log(Op):
    promote = "float"

    def forward(ctx, x):
        return xp.log(x)

    def vjp(ctx, g):
        return g / ctx.inputs[0]

    def jvp(ctx, dx):
        return dx / ctx.args[0]


class Sin(Op):
    promote = "float"

    def forward(ctx, x):
        return xp.sin(x)

    def vjp(ctx, g):
        return g * ctx.inputs[0].cos()

    def jvp(ctx, dx):
        return dx * ctx.args[0].cos()


class Cos(Op):
    promote = "float"

    def forward(ctx, x):
        return xp.cos(x)

    def vjp(ctx, g):
        return -g * ctx.inputs[0].sin()

    def jvp(ctx, dx):
        return -dx * ctx.args[0].sin()


class Tanh(Op):
    promote = "float"

    def forward(ctx, x):
        return xp.tanh(x)

    def vjp(ctx, g):
        y = ctx.output
        return g * (1 - y * y)

    def jvp(ctx, dx):
        y = ctx.output
        return dx * (1 - y * y)


class Relu(Op):
    def forward(ctx, x):
        return xp.maximum(x, 0)

    def vjp(ctx, g):
        return g * (ctx.output > 0)

    def jvp(ctx, dx):
        return dx * (ctx.output > 0)


class Gt(Op):
    promote = "common"

    def forward(ctx, x, y):
        return x > y


# --- public functions ------------------------------------------------------------------

def add(input, other, *, alpha=1, out=None):
    return Add.apply(input, other, alpha=alpha) if alpha != 1 else Add.apply(input, other)


def sub(input, other, *, alpha=1, out=None):
    return Sub.apply(input, other, alpha=alpha) if alpha != 1 else Sub.apply(input, other)


def mul(input, other, *, out=None):
    return Mul.apply(input, other)


def div(input, other, *, rounding_mode=None, out=None):
    return Div.apply(input, other)


def neg(input):
    return Neg.apply(input)


def exp(input):
    return Exp.apply(input)


def log(input):
    return Log.apply(input)


def sin(input):
    return Sin.apply(input)


def cos(input):
    return Cos.apply(input)


def tanh(input):
    return Tanh.apply(input)


def relu(input):
    return Relu.apply(input)


def gt(input, other):
    return Gt.apply(input, other)


# --- Tensor methods ----------------------------------------------------------------------

def _r(fn):
    """Reflected operator: `2 - x` calls `sub(2, x)`."""
    return lambda self, other: fn(other, self)


def _inplace(cls):
    return lambda self, *args, **kwargs: apply_inplace(cls, self, *args, **kwargs)


METHODS = {
    "add": add, "sub": sub, "mul": mul, "div": div, "neg": neg, "exp": exp, "log": log,
    "sin": sin, "cos": cos, "tanh": tanh, "relu": relu, "gt": gt,
    "__add__": add, "__radd__": _r(add), "__sub__": sub, "__rsub__": _r(sub),
    "__mul__": mul, "__rmul__": _r(mul), "__truediv__": div,
    "__rtruediv__": _r(div), "__neg__": neg, "__gt__": gt,
    "add_": _inplace(Add), "sub_": _inplace(Sub), "mul_": _inplace(Mul), "div_": _inplace(Div),
    "__iadd__": _inplace(Add), "__isub__": _inplace(Sub), "__imul__": _inplace(Mul),
    "__itruediv__": _inplace(Div), "exp_": _inplace(Exp), "tanh_": _inplace(Tanh),
    "relu_": _inplace(Relu),
}

__all__ = ["add", "sub", "mul", "div", "neg", "exp", "log", "sin", "cos", "tanh", "relu", "gt"]
