"""Activation functions, relu to hardswish, with the signatures of torch and
torch.nn.functional (`inplace` as in the latter).  The conventions of all elementwise
ops: `elementwise.py`; the exact GELU needs SciPy, except in float32 where numba is
installed (`erf_numba.py`).
"""
import math

from ..autograd.grad_mode import state
from .._array import xp
from .selection import where
from .batching import broadcasting
from .elementwise import _Quotient, _Unary, _inplace, _scipy
from .fast import RELU_MIN_SIZE, erf_kernels, relu_kernels
from .inplace import apply_inplace
from .op import Op

_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _run(cls, inplace, *args, **options):
    """`cls.apply`, or its in-place form for the `inplace=True` of nn.functional."""
    return apply_inplace(cls, *args, **options) if inplace else cls.apply(*args, **options)


# --- the ops -------------------------------------------------------------------------

class Relu(_Unary):
    raw = True
    promote = None

    def forward(ctx, x):
        fast = relu_kernels(x) if x.size >= RELU_MIN_SIZE else None
        if fast is None:
            return xp.maximum(x, 0)
        y = xp.empty_like(x)
        fast.relu(x.reshape(-1), y.reshape(-1))
        return y

    def vjp(ctx, g):
        y = ctx.output
        fast = relu_kernels(y, g) if ctx._raw and y.size >= RELU_MIN_SIZE else None
        if fast is None:
            return _Unary.vjp(ctx, g)
        gx = xp.empty_like(g)
        fast.relu_grad(y.reshape(-1), g.reshape(-1), gx.reshape(-1))
        return gx

    def deriv(ctx):
        return ctx.output > 0                 # 0 at 0


class LeakyRelu(Op):
    batch = broadcasting
    op_name = "leaky_relu"

    # For 0 <= slope <= 1 the forward is max(x, slope * x) and f' is max(x > 0, slope): one
    # pass each, where NumPy's `where` takes ~15x longer on a mask of random signs.

    def forward(ctx, x, negative_slope=0.01):
        ctx.slope = negative_slope
        if 0 <= negative_slope <= 1:
            return xp.maximum(x, x * negative_slope)
        return xp.where(x > 0, x, x * negative_slope)

    def positive(ctx):
        # from the output when it tells (negative_slope >= 0): then in-place use is fine
        return (ctx.output if ctx.slope >= 0 else ctx.input(0)) > 0

    def vjp(ctx, g):
        if 0 <= ctx.slope <= 1:
            return g * ctx.positive().to(g.dtype).clamp(min=ctx.slope)
        return where(ctx.positive(), g, g * ctx.slope)

    def jvp(ctx, dx):
        if 0 <= ctx.slope <= 1:
            return dx * ctx.positive().to(dx.dtype).clamp(min=ctx.slope)
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
        fast = erf_kernels(x)
        if fast is not None:
            return fast.gelu(x, out=xp.empty_like(x))
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
        if not state.grad_enabled:      # a plain backward: no second erf
            return _GeluDeriv.apply(x, ctx.output)
        phi = (x * x * -0.5).exp() * (1 / math.sqrt(2 * math.pi))
        return ((x * (1 / math.sqrt(2))).erf() + 1) * 0.5 + x * phi


class _GeluDeriv(Op):
    """GELU'(x) = Phi(x) + x phi(x) from x and y = GELU(x), reading Phi(x) back as y / x
    (0.5 at 0): the plain backward's derivative, one exp and no erf (not differentiable)."""

    batch = broadcasting

    def forward(ctx, x, y):
        fast = erf_kernels(x, y)
        if fast is not None:
            return fast.gelu_deriv(x, y, out=xp.empty_like(x))
        zero = x == 0
        d = xp.where(zero, 0.5, y / (x + zero))     # Phi(x) = y / x (never 0 / 0)
        d += x * xp.exp(x * x * -0.5) * (1 / math.sqrt(2 * math.pi))
        return d


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


METHODS = {"relu": relu, "relu_": _inplace(Relu)}

__all__ = [
    "relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "softplus", "hardtanh",
    "hardsigmoid", "hardswish", "mish", "softsign", "tanhshrink", "logsigmoid", "threshold",
]
