"""The machinery the elementwise ops share; the ops are in five families: arithmetic.py,
selection.py, transcendental.py, activations.py and comparison.py.

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
from ..autograd.grad_mode import state
from .._array import xp
from .._array.device import library_of
from ..tensor import Tensor
from .batching import array_of, broadcasting
from .complex import conj_if_complex as _c
from .inplace import apply_inplace
from .op import Op


# --- helpers -------------------------------------------------------------------------

def _zeros(t):
    """The zero gradient of piecewise-constant functions (not connected to the graph; of
    one element's shape inside vmap, where it is the same for all)."""
    return Tensor._make(xp.zeros(tuple(t.shape), dtype=t.dtype.np, like=array_of(t)))


_scipy_special = None


def _special(op, x=None):
    """SciPy's special functions (for x's device), imported on first use (NumPy has no erf,
    lgamma, ...)."""
    global _scipy_special
    if x is not None and type(x) is not xp.ndarray and library_of(x).special is not None:
        return library_of(x).special()
    if _scipy_special is None:
        try:
            import scipy.special
        except ImportError:
            raise RuntimeError(f"{op}: needs SciPy for its special functions "
                               "(pip install scipy, or pip install diffprog[special])") from None
        _scipy_special = scipy.special
    return _scipy_special


def _scipy(op, fn, x, *args):
    """A SciPy special function of x, in x's dtype."""
    return getattr(_special(op, x), fn)(*args, x).astype(x.dtype, copy=False)


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
        out._data = xp.empty(result._data.shape, dtype=out._data.dtype, like=result._data)
    xp.copyto(out._data, result._data, casting="unsafe")
    out._vc[0] += 1
    return out


# --- the bases of one-input functions ---------------------------------------------------

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


# --- public functions and Tensor methods -------------------------------------------------

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


def _r(fn):
    """Reflected operator: `2 - x` calls `sub(2, x)`."""
    return lambda self, other: fn(other, self)


def _inplace(cls):
    return lambda self, *args, **kwargs: apply_inplace(cls, self, *args, **kwargs)
