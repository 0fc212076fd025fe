"""Complex numbers: parts, conjugate, angle, polar form, and the real view of a complex
tensor (`view_as_real` / `view_as_complex`).

Gradients follow PyTorch's convention: for a real loss L of z = x + iy the gradient is
dL/dx + i dL/dy, so a holomorphic f passes back g * conj(f'(z)) (`conj_if_complex`, used
by the elementwise and matrix ops), and a real input receiving a complex gradient keeps
its real part (the engine does that).  `real`, `imag` and `view_as_real` return copies,
not views of the complex storage as in PyTorch: writing into them does not change the
complex tensor.
"""
import builtins
import math

from .._array import xp
from .._array.device import is_array
from ..tensor import Tensor
from .batching import broadcasting, leading, loop
from .op import Op

_COMPLEX_OF = {"float32": xp.complex64, "float64": xp.complex128, "float16": xp.complex64}


def conj_if_complex(t):
    """conj(t) for a complex tensor, t itself otherwise (a real tensor, a mask, a number)."""
    if type(t) is xp.ndarray:                               # (a raw vjp's arrays)
        return t.conjugate() if t.dtype.kind == "c" else t
    if isinstance(t, Tensor):
        return Conj.apply(t) if t._data.dtype.kind == "c" else t
    if isinstance(t, builtins.complex) or is_array(t) and t.dtype.kind == "c":
        return t.conjugate()
    return t


def complex_sign(z):
    """z / |z|, 0 at 0: the sign of a complex tensor (|z| is not holomorphic: its gradient
    is g * complex_sign(z), with no conjugate)."""
    r = z.abs()
    return z / r.masked_fill(r == 0, 1.0) * (r != 0)


def _complex_input(x, op):
    if not x.is_complex():
        raise RuntimeError(f"{op}: expected a complex tensor, got {x.dtype.name} of shape "
                           f"{tuple(x.shape)}")


class Conj(Op):
    batch = broadcasting

    def forward(ctx, z):
        return xp.conj(z)

    def vjp(ctx, g):
        return Conj.apply(g)

    def jvp(ctx, dz):
        return Conj.apply(dz)


class Real(Op):
    batch = broadcasting

    def forward(ctx, z):
        return z.real.copy()

    def vjp(ctx, g):
        return Complex.apply(g, g * 0)

    def jvp(ctx, dz):
        return Real.apply(dz)


class Imag(Op):
    batch = broadcasting

    def forward(ctx, z):
        return z.imag.copy()

    def vjp(ctx, g):
        return Complex.apply(g * 0, g)

    def jvp(ctx, dz):
        return Imag.apply(dz)


class Complex(Op):
    """real + i imag from two real tensors."""

    promote = "common"
    batch = broadcasting

    def forward(ctx, re, im):
        if re.dtype.kind != "f" or im.dtype.kind != "f":
            raise TypeError(f"expected both inputs to be floating point, got {re.dtype} and {im.dtype}")
        out = xp.empty(xp.broadcast_shapes(re.shape, im.shape), dtype=_COMPLEX_OF[re.dtype.name], like=re)
        out.real, out.imag = re, im
        return out

    def vjp(ctx, g):
        return Real.apply(g), Imag.apply(g)

    def jvp(ctx, dre, dim):
        return Complex.apply(dre, dim)


class ViewAsReal(Op):
    """(...) complex -> (..., 2) real: the real and imaginary parts side by side."""

    op_name = "view_as_real"
    batch = leading

    def forward(ctx, z):
        return xp.stack([z.real, z.imag], axis=-1)

    def vjp(ctx, g):
        return ViewAsComplex.apply(g)

    def jvp(ctx, dz):
        return ViewAsReal.apply(dz)


class ViewAsComplex(Op):
    """(..., 2) real -> (...) complex."""

    op_name = "view_as_complex"

    @classmethod
    def batch(cls, n, args, batched, kwargs):
        (x,) = args
        return loop(cls, n, args, batched, kwargs) if x.ndim == 1 else cls.apply(x)   # (0-d: its error)

    def forward(ctx, x):
        if x.ndim == 0 or x.shape[-1] != 2:
            raise RuntimeError(f"Tensor must have a last dimension of size 2, got shape {x.shape}")
        return Complex.forward(ctx, x[..., 0], x[..., 1])

    def vjp(ctx, g):
        return ViewAsReal.apply(g)

    def jvp(ctx, dx):
        return ViewAsComplex.apply(dx)


class Angle(Op):
    """arg(z) for complex z; 0 or pi for real x (zero gradient)."""

    promote = "float"
    batch = broadcasting

    def forward(ctx, z):
        if z.dtype.kind == "c":
            return xp.angle(z)
        return xp.where(xp.isnan(z), z, xp.where(z < 0, math.pi, 0.0)).astype(z.dtype)

    def _d(ctx):
        z = ctx.input(0)
        if not z.is_complex():
            return None
        return z / (z.abs() ** 2)

    def vjp(ctx, g):
        d = ctx._d()
        if d is None:
            return g * 0
        return Complex.apply(g * 0, g) * d          # g * i z / |z|^2

    def jvp(ctx, dz):
        d = ctx._d()
        if d is None:
            return dz * 0
        return Imag.apply(dz * Conj.apply(ctx.input(0))) / (ctx.input(0).abs() ** 2)


def real(input):
    """The real part (a real tensor is its own real part)."""
    return Real.apply(input) if input.is_complex() else input


def imag(input):
    _complex_input(input, "imag")
    return Imag.apply(input)


def conj(input):
    return Conj.apply(input) if input.is_complex() else input


def conj_physical(input):
    return Conj.apply(input) if input.is_complex() else input.clone()


def resolve_conj(input):
    return input


def resolve_neg(input):
    return input


def angle(input):
    return Angle.apply(input)


def complex(real, imag):
    """real + i imag (both float32 or both float64)."""
    if real.dtype != imag.dtype:
        raise RuntimeError(f"Expected object of scalar type {real.dtype.name} but got scalar type "
                           f"{imag.dtype.name} for second argument")
    return Complex.apply(real, imag)


def polar(abs, angle):
    """abs * (cos(angle) + i sin(angle))."""
    return Complex.apply(abs * angle.cos(), abs * angle.sin())


def view_as_real(input):
    _complex_input(input, "view_as_real")
    return ViewAsReal.apply(input)


def view_as_complex(input):
    if not input.is_floating_point():
        raise RuntimeError(f"view_as_complex is only supported for floating point tensors, got "
                           f"{input.dtype.name}")
    return ViewAsComplex.apply(input)


def _adjoint(self):
    return conj(self.transpose(-2, -1))


def _real_prop(self):
    return real(self)


def _imag_prop(self):
    return imag(self)


METHODS = {
    "real": property(_real_prop), "imag": property(_imag_prop), "conj": conj,
    "conj_physical": conj_physical, "resolve_conj": resolve_conj,
    "resolve_neg": resolve_neg, "angle": angle, "adjoint": _adjoint,
    "mH": property(_adjoint), "H": property(lambda self: conj(self.t())),
}

__all__ = ["real", "imag", "conj", "conj_physical", "resolve_conj", "resolve_neg", "angle",
           "complex", "polar", "view_as_real", "view_as_complex"]
