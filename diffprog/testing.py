"""`diffprog.testing` (`torch.testing`): `assert_close`, with PyTorch's default tolerances
and failure messages, and the deprecated `assert_allclose`."""
import collections.abc
import math
import warnings

import numpy as np

from .tensor import Tensor

__all__ = ["assert_close", "assert_allclose"]

# (rtol, atol) by dtype name, as torch.testing; exact for integers and bool.
_TOLERANCES = {"float16": (1e-3, 1e-5), "float32": (1.3e-6, 1e-5), "float64": (1e-7, 1e-7),
               "complex64": (1.3e-6, 1e-5), "complex128": (1e-7, 1e-7)}


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None,
                 equal_nan=False, check_device=True, check_dtype=True, check_layout=True,
                 check_stride=False, msg=None):
    """Raise AssertionError unless `actual` and `expected` (tensors, numbers, or sequences /
    mappings of them) are close: |actual - expected| <= atol + rtol * |expected|."""
    if (rtol is None) != (atol is None):
        raise ValueError(f"Both 'rtol' and 'atol' must be either specified or omitted, but got no "
                         f"{'rtol' if rtol is None else 'atol'}.")
    _compare(actual, expected, [], dict(rtol=rtol, atol=atol, equal_nan=equal_nan,
                                        check_dtype=check_dtype, msg=msg))


def assert_allclose(actual, expected, rtol=None, atol=None, equal_nan=True, msg=""):
    warnings.warn("`torch.testing.assert_allclose()` is deprecated since 1.12 and will be removed "
                  "in a future release. Please use `torch.testing.assert_close()` instead.",
                  FutureWarning, stacklevel=2)
    from .creation import as_tensor
    actual = actual if isinstance(actual, Tensor) else as_tensor(actual)
    expected = as_tensor(expected, dtype=actual.dtype) if not isinstance(expected, Tensor) else expected
    if rtol is None and atol is None:
        rtol, atol = _default_tolerances(actual, expected)
        rtol = max(rtol, 1e-4) if actual.dtype.name != "float64" else rtol
    _compare(actual, expected, [], dict(rtol=rtol, atol=atol, equal_nan=equal_nan,
                                        check_dtype=False, msg=msg or None))


def _compare(actual, expected, path, opts):
    if isinstance(actual, Tensor) and isinstance(expected, Tensor):
        return _compare_tensors(actual, expected, path, opts)
    numbers = (int, float, complex, np.number, bool)
    if isinstance(actual, numbers) and isinstance(expected, numbers):
        return _compare_scalars(actual, expected, path, opts)
    if isinstance(actual, collections.abc.Mapping) and isinstance(expected, collections.abc.Mapping):
        if set(actual) != set(expected):
            _fail(f"The keys of the mappings do not match: {sorted(map(repr, actual))} != "
                  f"{sorted(map(repr, expected))}", path, opts)
        for k in expected:
            _compare(actual[k], expected[k], path + [repr(k)], opts)
        return
    seq = (list, tuple)
    if isinstance(actual, seq) and isinstance(expected, seq):
        if len(actual) != len(expected):
            _fail(f"The length of the sequences mismatch: {len(actual)} != {len(expected)}", path, opts)
        for i, (a, e) in enumerate(zip(actual, expected)):
            _compare(a, e, path + [str(i)], opts)
        return
    raise TypeError(f"No comparison pair was able to handle inputs of type {type(actual)} and "
                    f"{type(expected)}.")


def _default_tolerances(*tensors):
    pairs = [_TOLERANCES.get(t.dtype.name, (0.0, 0.0)) for t in tensors]
    return max(p[0] for p in pairs), max(p[1] for p in pairs)


def _compare_tensors(actual, expected, path, opts):
    if actual.shape != expected.shape:
        _fail(f"The values for attribute 'shape' do not match: {actual.shape} != {expected.shape}.",
              path, opts)
    if opts["check_dtype"] and actual.dtype != expected.dtype:
        _fail(f"The values for attribute 'dtype' do not match: {actual.dtype} != {expected.dtype}.",
              path, opts)
    rtol, atol = opts["rtol"], opts["atol"]
    if rtol is None:
        rtol, atol = _default_tolerances(actual, expected)
    a, e = actual.detach().numpy(), expected.detach().numpy()
    exact = a.dtype.kind in "biu" and e.dtype.kind in "biu"
    if exact:
        a, e = a.astype(np.int64), e.astype(np.int64)
    else:
        kind = np.complex128 if "c" in (a.dtype.kind, e.dtype.kind) else np.float64
        a, e = a.astype(kind), e.astype(kind)
    with np.errstate(invalid="ignore", over="ignore"):
        ok = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=opts["equal_nan"]) if not exact else a == e
    if ok.all():
        return
    with np.errstate(divide="ignore", invalid="ignore"):
        abs_diff = np.abs(a - e).astype(np.float64)
        rel_diff = abs_diff / np.abs(e)
    abs_diff[ok], rel_diff[ok] = 0, 0
    if exact:
        abs_diff = abs_diff.astype(np.int64)
    i_abs = np.unravel_index(np.nanargmax(abs_diff) if np.isfinite(abs_diff).any() else 0, a.shape)
    i_rel = np.unravel_index(np.nanargmax(rel_diff) if not np.isnan(rel_diff).all() else 0, a.shape)
    n_bad, n = int((~ok).sum()), ok.size
    tol_a = "" if exact else f" (up to {atol} allowed)"
    tol_r = "" if exact else f" (up to {rtol} allowed)"
    _fail(f"Tensor-likes are not {'equal' if exact else 'close'}!\n\n"
          f"Mismatched elements: {n_bad} / {n} ({100 * n_bad / n:.1f}%)\n"
          f"Greatest absolute difference: {abs_diff[i_abs].item()} at index {tuple(map(int, i_abs))}{tol_a}\n"
          f"Greatest relative difference: {rel_diff[i_rel].item()} at index {tuple(map(int, i_rel))}{tol_r}",
          path, opts)


def _compare_scalars(actual, expected, path, opts):
    rtol, atol = opts["rtol"], opts["atol"]
    exact = all(isinstance(v, (int, bool, np.integer)) for v in (actual, expected))
    if rtol is None:
        rtol, atol = (0.0, 0.0) if exact else _TOLERANCES["float64"]
    if actual == expected or (opts["equal_nan"] and _isnan(actual) and _isnan(expected)):
        return
    diff = abs(actual - expected)
    if not exact and diff <= atol + rtol * abs(expected):
        return
    rel = diff / abs(expected) if expected else math.inf
    _fail(f"Scalars are not {'equal' if exact else 'close'}!\n\nExpected {expected} but got "
          f"{actual}.\nAbsolute difference: {diff}" + ("" if exact else f" (up to {atol} allowed)")
          + f"\nRelative difference: {rel}" + ("" if exact else f" (up to {rtol} allowed)"),
          path, opts)


def _isnan(v):
    return isinstance(v, (float, complex, np.floating, np.complexfloating)) and v != v


def _fail(message, path, opts):
    if opts["msg"] is not None:
        message = opts["msg"](message) if callable(opts["msg"]) else opts["msg"]
    elif path:
        message += f"\n\nThe failure occurred for item {''.join(f'[{p}]' for p in path)}"
    raise AssertionError(message)
