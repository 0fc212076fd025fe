"""dtypes and PyTorch's type-promotion rules.

A `DType` wraps a NumPy dtype.  Promotion follows PyTorch, not NumPy: categories are
ordered bool < integer < floating; a participant only raises the result's category when
it is of a higher category, and Python scalars and 0-d tensors never widen the dtype of
dimensioned tensors within the same category (`int32_tensor + 5 -> int32`,
`int_tensor * 2.5 -> float32`, `float16_tensor + float64_0d -> float16`).
"""
import numpy as np


class DType:
    """One of the dtype singletons below; immutable, since every tensor shares them."""

    __slots__ = ("name", "np", "is_floating_point", "is_complex", "is_signed", "itemsize", "_cat")

    def __init__(self, name, np_dtype, cat):
        npd = np.dtype(np_dtype)
        fields = dict(name=name, np=npd, _cat=cat,     # _cat: 0 bool, 1 integer, 2 floating, 3 complex
                      is_floating_point=cat == 2, is_complex=cat == 3,
                      is_signed=cat >= 2 or npd.kind == "i", itemsize=npd.itemsize)
        for slot, value in fields.items():
            object.__setattr__(self, slot, value)

    def __setattr__(self, name, value):
        raise AttributeError(f"dtype {self!r} is immutable")

    def __delattr__(self, name):
        raise AttributeError(f"dtype {self!r} is immutable")

    def __repr__(self):
        return f"diffprog.{self.name}"

    def __reduce__(self):
        return (_by_name, (self.name,))

    def to_real(self):
        return {complex64: float32, complex128: float64}.get(self, self)


bool_ = DType("bool", np.bool_, 0)
uint8 = DType("uint8", np.uint8, 1)
int8 = DType("int8", np.int8, 1)
int16 = DType("int16", np.int16, 1)
int32 = DType("int32", np.int32, 1)
int64 = DType("int64", np.int64, 1)
float16 = DType("float16", np.float16, 2)
float32 = DType("float32", np.float32, 2)
float64 = DType("float64", np.float64, 2)
complex64 = DType("complex64", np.complex64, 3)
complex128 = DType("complex128", np.complex128, 3)

ALL = (bool_, uint8, int8, int16, int32, int64, float16, float32, float64, complex64, complex128)
_FROM_NP = {d.np: d for d in ALL}
_NAMES = {d.name: d for d in ALL}
_NAMES.update(bool=bool_, half=float16, float=float32, double=float64, long=int64, int=int32,
              short=int16, byte=uint8, cfloat=complex64, cdouble=complex128)


def _by_name(name):
    return _NAMES[name]


class _Defaults:
    float = float32


_defaults = _Defaults()


def get_default_dtype():
    return _defaults.float


def set_default_dtype(d):
    d = to_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"set_default_dtype: only floating-point dtypes are allowed, got {d}")
    _defaults.float = d
    _SCALAR_CACHE.clear()


def to_dtype(d):
    """Accept a DType, a NumPy dtype or type, a Python type or a name; return a DType."""
    if isinstance(d, DType):
        return d
    if d is float:
        return _defaults.float
    if d is int:
        return int64
    if d is bool:
        return bool_
    if d is complex:
        return complex64 if _defaults.float is float32 else complex128
    if isinstance(d, str):
        name = d.replace("torch.", "").replace("diffprog.", "")
        if name in _NAMES:
            return _NAMES[name]
    try:
        return _FROM_NP[np.dtype(d)]
    except (TypeError, KeyError):
        raise TypeError(f"unsupported dtype: {d!r}") from None


def from_numpy_dtype(npd):
    try:
        return _FROM_NP[npd]
    except KeyError:
        raise TypeError(f"can't convert NumPy array of dtype {npd}; supported: "
                        + ", ".join(d.name for d in ALL)) from None


# --- promotion ---------------------------------------------------------------------

def promote_types(a, b):
    """The smallest DType that holds both (PyTorch's `promote_types`)."""
    if a is b:
        return a
    if a._cat != b._cat and min(a._cat, b._cat) < 2:
        return a if a._cat > b._cat else b      # int32 + float16 -> float16 (NumPy: float64)
    if {a, b} == {uint8, int8}:
        return int16
    return _FROM_NP[np.promote_types(a.np, b.np)]


def _scalar_dtype(cat):
    return (bool_, int64, _defaults.float, complex64 if _defaults.float is float32 else complex128)[cat]


_SCALAR_CACHE = {}


def result_type(*args):
    """PyTorch's result type for tensors (`.dtype`, `.ndim`) and Python scalars."""
    dims = zero = None        # highest dtype among dimensioned tensors / among 0-d tensors
    scal = -1                 # highest scalar category
    for a in args:
        d = getattr(a, "dtype", None)
        if isinstance(d, DType):
            if a.ndim:
                dims = d if dims is None else promote_types(dims, d)
            else:
                zero = d if zero is None else promote_types(zero, d)
        elif isinstance(a, bool):
            scal = max(scal, 0)
        elif isinstance(a, int):
            scal = max(scal, 1)
        elif isinstance(a, float):
            scal = max(scal, 2)
        elif isinstance(a, complex):
            scal = max(scal, 3)
    out = dims
    for cand in (zero, _scalar_dtype(scal) if scal >= 0 else None):
        if cand is None:
            continue
        if out is None:
            out = cand
        elif cand._cat > out._cat:
            out = cand
    return out
