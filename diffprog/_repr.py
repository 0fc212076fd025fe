"""PyTorch-style printing: `tensor([1., 2.], requires_grad=True)`."""
from . import dtypes as _dt
from .backend import xp

_DEFAULT_SHOWN = ("bool", "int64")


def _formatter(a):
    if a.dtype.kind == "b":
        return {"bool": lambda v: "True" if v else "False"}
    if a.dtype.kind in "iu":
        return {"int": str}
    if a.dtype.kind == "c":
        return None
    finite = a[xp.isfinite(a)] if a.size else a
    if finite.size and xp.all(finite == xp.round(finite)) and xp.abs(finite).max() < 1e8:
        width = max(len(f"{v:.0f}") for v in (finite.min(), finite.max()))
        return {"float_kind": lambda v: f"{v:.0f}.".rjust(width + 1) if xp.isfinite(v) else str(v)}
    big = xp.abs(finite).max() if finite.size else 0
    small = xp.abs(finite[finite != 0]).min() if xp.any(finite != 0) else 1
    if big >= 1e8 or small < 1e-4:
        return {"float_kind": lambda v: f"{v:.4e}"}
    width = max(len(f"{v:.4f}") for v in (finite.min(), finite.max()))
    return {"float_kind": lambda v: f"{v:.4f}".rjust(width)}


def tensor_repr(t, prefix="tensor("):
    a = t._data
    if a.size == 0 and a.ndim == 1:
        body = "[]"
    else:
        body = xp.array2string(a, separator=", ", prefix=prefix, formatter=_formatter(a),
                               threshold=1000, edgeitems=3, max_line_width=80)
    extras = []
    if a.size == 0 and a.ndim != 1:
        extras.append(f"size={tuple(a.shape)}")
    dtype = _dt._FROM_NP[a.dtype]
    if dtype.name not in _DEFAULT_SHOWN and dtype is not _dt.get_default_dtype():
        extras.append(f"dtype=diffprog.{dtype.name}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{type(t.grad_fn).__name__}Backward0>")
    elif t._requires_grad:
        extras.append("requires_grad=True")
    return prefix + body + "".join(", " + e for e in extras) + ")"
