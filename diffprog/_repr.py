"""PyTorch-style printing: `tensor([1., 2.], requires_grad=True)`, character for character.

The rules are PyTorch's: one number format per tensor, chosen from its nonzero finite
values (integral floats print as `1.`, a spread over 1000x or values >= 1e8 or < 1e-4
switch to `1.0000e+08`), every element right-aligned to the widest, lines wrapped at 80
columns, and only the first and last 3 entries of each dimension of tensors with more
than 1000 elements shown.
"""
import math

from . import dtypes as _dt
from ._array import xp
from ._array import device as _device
from ._array.device import library_of

LINEWIDTH, THRESHOLD, EDGEITEMS, PRECISION = 80, 1000, 3, 4


class _Format:
    """The number format and column width for one (real) array."""

    def __init__(self, a):
        self.floating = a.dtype.kind == "f"
        self.int_mode, self.sci_mode, self.width = True, False, 1
        vals = a.ravel()
        if self.floating:
            vals = vals[xp.isfinite(vals) & (vals != 0)].astype(xp.float64)
            if vals.size == 0:
                return
            mags = xp.abs(vals)
            lo, hi = float(mags.min()), float(mags.max())
            self.int_mode = bool(xp.all(vals == xp.ceil(vals)))
            self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4
        # The longest string belongs to the smallest or the largest value, except in
        # scientific notation (exponents differ in length).
        shown = vals.tolist() if self.sci_mode else (vals.min(), vals.max())
        self.width = max(len(self.format_value(v)) for v in shown)

    def format_value(self, v):
        if not self.floating:
            return str(v)
        v = float(v)
        if self.sci_mode:
            return f"{v:.{PRECISION}e}"
        if self.int_mode:
            return f"{v:.0f}" + ("" if math.isinf(v) or math.isnan(v) else ".")
        return f"{v:.{PRECISION}f}"

    def __call__(self, v):
        return self.format_value(v).rjust(self.width)


def _edges(a):
    """Only the first and last EDGEITEMS along every dimension (what a summary shows)."""
    for d in range(a.ndim):
        if a.shape[d] > 2 * EDGEITEMS:
            idx = list(range(EDGEITEMS)) + list(range(a.shape[d] - EDGEITEMS, a.shape[d]))
            a = xp.take(a, idx, axis=d)
    return a


def _element(v, fmt, fmt_imag):
    if fmt_imag is None:
        return fmt(v)
    imag = (fmt_imag(v.imag) + "j").lstrip()
    return fmt(v.real) + (imag if imag[0] in "+-" else "+" + imag)


def _body(a, indent, summarize, fmt, fmt_imag):
    if a.ndim == 0:
        return _element(a.item(), fmt, fmt_imag)
    n = a.shape[0]
    rows = list(range(n))
    if summarize and n > 2 * EDGEITEMS:
        rows = rows[:EDGEITEMS] + [None] + rows[n - EDGEITEMS:]
    if a.ndim == 1:
        width = fmt.width + 2 + (fmt_imag.width + 1 if fmt_imag else 0)
        per_line = max(1, (LINEWIDTH - indent) // width)
        items = [" ..." if i is None else _element(a[i].item(), fmt, fmt_imag) for i in rows]
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    parts = ["..." if i is None else _body(a[i], indent + 1, summarize, fmt, fmt_imag) for i in rows]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def _tensor_str(a, indent):
    summarize = a.size > THRESHOLD
    if a.dtype == xp.float16:
        a = a.astype(xp.float32)
    shown = _edges(a) if summarize else a
    if a.dtype.kind == "c":
        return _body(a, indent, summarize, _Format(shown.real), _Format(shown.imag))
    return _body(a, indent, summarize, _Format(shown), None)


def _add_suffixes(text, suffixes, indent):
    """Append `, suffix` items, starting a new line where one would pass LINEWIDTH."""
    out = [text]
    line_len = len(text) - text.rfind("\n") + 1
    for s in suffixes:
        if line_len + len(s) + 2 > LINEWIDTH:
            out.append(",\n" + " " * indent + s)
            line_len = indent + len(s)
        else:
            out.append(", " + s)
            line_len += len(s) + 2
    return "".join(out) + ")"


def tensor_repr(t, prefix="tensor("):
    a = library_of(t._data).to_host(t._data)       # one copy, not one per element shown
    indent = len(prefix)
    dtype = _dt._FROM_NP[a.dtype]
    default = _dt.get_default_dtype()
    suffixes = []
    if t.device.type != _device.get_default_device().type:       # (PyTorch's rule)
        suffixes.append(f"device='{t.device}'")
    if a.size == 0:
        if a.ndim != 1:
            suffixes.append(f"size={tuple(a.shape)}")
        if dtype is not default:
            suffixes.append(f"dtype=diffprog.{dtype.name}")
        body = "[]"
    else:
        if dtype not in (default, _dt.to_dtype(complex), _dt.int64, _dt.bool_):
            suffixes.append(f"dtype=diffprog.{dtype.name}")
        body = _tensor_str(a, indent)
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{type(t.grad_fn).__name__}Backward0>")
    elif t._requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent)
