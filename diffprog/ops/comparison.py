"""Comparisons, logical and bitwise ops, isnan/isinf/isfinite: bool or integer results,
nothing to differentiate.  The conventions of all elementwise ops: `elementwise.py`.
"""
from .._array import xp
from ..tensor import Tensor
from .batching import broadcasting
from .elementwise import _binary, _inplace, _r, _unary
from .op import Op


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


# --- public functions ------------------------------------------------------------------

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


not_equal, greater, greater_equal, less, less_equal = ne, gt, ge, lt, le


# --- Tensor methods ----------------------------------------------------------------------

def _eq_op(fn):
    """`==` / `!=`: compare with tensors and numbers; anything else is simply unequal."""
    def op(self, other):
        if isinstance(other, (Tensor, int, float, complex, xp.generic)):
            return fn(self, other)
        return NotImplemented
    return op


METHODS = {
    "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge, "not_equal": ne,
    "greater": gt, "greater_equal": ge, "less": lt, "less_equal": le,
    "isnan": isnan, "isinf": isinf, "isfinite": isfinite,
    "logical_and": logical_and, "logical_or": logical_or, "logical_xor": logical_xor,
    "logical_not": logical_not, "bitwise_and": bitwise_and, "bitwise_or": bitwise_or,
    "bitwise_xor": bitwise_xor, "bitwise_not": bitwise_not,
    "bitwise_left_shift": bitwise_left_shift, "bitwise_right_shift": bitwise_right_shift,
    # operators
    "__invert__": bitwise_not,
    "__and__": bitwise_and, "__rand__": _r(bitwise_and), "__or__": bitwise_or,
    "__ror__": _r(bitwise_or), "__xor__": bitwise_xor, "__rxor__": _r(bitwise_xor),
    "__lshift__": bitwise_left_shift, "__rlshift__": _r(bitwise_left_shift),
    "__rshift__": bitwise_right_shift, "__rrshift__": _r(bitwise_right_shift),
    "__eq__": _eq_op(eq), "__ne__": _eq_op(ne), "__lt__": lt, "__le__": le, "__gt__": gt,
    "__ge__": ge,
    # in place
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
    "__iand__": _inplace(BitwiseAnd), "__ior__": _inplace(BitwiseOr),
    "__ixor__": _inplace(BitwiseXor), "__ilshift__": _inplace(BitwiseLeftShift),
    "__irshift__": _inplace(BitwiseRightShift),
}

__all__ = [
    "eq", "ne", "lt", "le", "gt", "ge", "not_equal", "greater", "greater_equal", "less",
    "less_equal", "isnan", "isinf", "isfinite", "logical_and", "logical_or", "logical_xor",
    "logical_not", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not",
    "bitwise_left_shift", "bitwise_right_shift",
]
