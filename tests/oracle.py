"""One helper to prove an op against PyTorch (tinygrad's habit).

`check(dp_fn, torch_fn, *args)` runs the same inputs through diffprog and PyTorch and
compares, for every floating input:
  - the forward values (and integer outputs exactly),
  - the VJP for a random cotangent,
  - the double VJP (derivative of <VJP, v> w.r.t. the inputs), when second order exists,
  - the JVP for random tangents (diffprog forward mode vs torch.func.jvp),
and, in float64, diffprog's VJP against central finite differences.

Arguments: NumPy arrays become tensors (float arrays require grad); anything else
(ints, tuples, index arrays wrapped by `const(...)`) is passed through as is.
"""
import numpy as np
import pytest

import diffprog as dp
from diffprog.autograd import forward_ad as fwAD

torch = pytest.importorskip("torch")

CALLS = {"check": 0, "fd": 0}      # how many comparisons ran (printed at the end of a run)

TOL = {np.float64: dict(rtol=1e-10, atol=1e-10), np.float32: dict(rtol=1e-5, atol=1e-5)}


class const:
    """Wrap an array that must reach both frameworks as a tensor but needs no gradient."""

    def __init__(self, value):
        self.value = value


def rand(*shape, dtype=np.float64, low=-1.0, high=1.0, seed=None):
    rng = np.random.default_rng(seed if seed is not None else sum(shape) + len(shape))
    return rng.uniform(low, high, size=shape).astype(dtype)


def _convert(args, lib):
    out, diff = [], []
    for a in args:
        if isinstance(a, const):
            v = a.value
            out.append(dp.tensor(v) if lib is dp else torch.tensor(v))
        elif isinstance(a, np.ndarray):
            t = dp.tensor(a) if lib is dp else torch.tensor(a)
            if a.dtype.kind == "f":
                t.requires_grad_(True)
                diff.append(t)
            out.append(t)
        elif isinstance(a, (list, tuple)) and a and all(isinstance(x, np.ndarray) for x in a):
            sub, d = _convert(a, lib)
            out.append(type(a)(sub))
            diff.extend(d)
        else:
            out.append(a)
    return out, diff


def _outputs(res):
    if isinstance(res, (tuple, list)):
        return [r for r in res if hasattr(r, "shape")]
    return [res]


def _np(t):
    if t is None:
        return None
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def _close(a, b, tol, what):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs torch {b.shape}"
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":
        np.testing.assert_allclose(a, b, equal_nan=True, err_msg=what, **tol)
    else:
        np.testing.assert_array_equal(a, b, err_msg=what)


def check(dp_fn, torch_fn, *args, grad=True, jvp=True, gradgrad=True, fd=True, tol=None, seed=0):
    """Compare forward, VJP, double VJP, JVP and finite differences; see module doc."""
    CALLS["check"] += 1
    dtype = next((a.dtype.type for a in args if isinstance(a, np.ndarray) and a.dtype.kind == "f"),
                 np.float64)
    tol = tol or TOL.get(dtype, dict(rtol=1e-3, atol=1e-3))
    rng = np.random.default_rng(seed)

    d_args, d_in = _convert(args, dp)
    t_args, t_in = _convert(args, torch)
    d_out, t_out = _outputs(dp_fn(*d_args)), _outputs(torch_fn(*t_args))
    assert len(d_out) == len(t_out), f"{len(d_out)} outputs vs torch {len(t_out)}"
    for i, (d, t) in enumerate(zip(d_out, t_out)):
        _close(_np(d), _np(t), tol, f"forward output {i}")
        if hasattr(d, "dtype") and hasattr(t, "dtype"):
            assert d.dtype.name == str(t.dtype).replace("torch.", ""), f"dtype {d.dtype} vs {t.dtype}"

    pairs = [(d, t) for d, t in zip(d_out, t_out)
             if t.dtype.is_floating_point and t.requires_grad]
    if not grad or not d_in or not pairs:
        return
    cots = [rng.standard_normal(t.shape).astype(dtype) for _, t in pairs]
    d_g = dp.autograd.grad([d for d, _ in pairs], d_in, [dp.tensor(c) for c in cots],
                           create_graph=True, allow_unused=True)
    t_g = torch.autograd.grad([t for _, t in pairs], t_in, [torch.tensor(c) for c in cots],
                              create_graph=True, allow_unused=True)
    for i, (a, b) in enumerate(zip(d_g, t_g)):
        if b is None:
            assert a is None or not np.any(_np(a)), f"vjp input {i}: torch has no gradient"
            continue
        assert a is not None, f"vjp input {i}: diffprog has no gradient"
        _close(_np(a), _np(b), tol, f"vjp input {i}")

    if gradgrad:
        live = [(i, a, b) for i, (a, b) in enumerate(zip(d_g, t_g))
                if b is not None and b.requires_grad and a is not None]
        if live:
            vs = [rng.standard_normal(tuple(b.shape)).astype(dtype) for _, _, b in live]
            d_s = sum(((a * dp.tensor(v)).sum() for (_, a, _), v in zip(live, vs)), dp.tensor(0.0, dtype=d_in[0].dtype))
            t_s = sum(((b * torch.tensor(v)).sum() for (_, _, b), v in zip(live, vs)))
            if d_s.requires_grad and t_s.requires_grad:
                d_gg = dp.autograd.grad(d_s, d_in, allow_unused=True)
                t_gg = torch.autograd.grad(t_s, t_in, allow_unused=True)
                for i, (a, b) in enumerate(zip(d_gg, t_gg)):
                    if b is None:
                        assert a is None or not np.any(_np(a)), f"double vjp input {i}: torch has none"
                        continue
                    assert a is not None, f"double vjp input {i}: diffprog has none"
                    _close(_np(a), _np(b), tol, f"double vjp input {i}")

    if jvp:
        tangents = [rng.standard_normal(tuple(t.shape)).astype(dtype) for t in t_in]
        _check_jvp(dp_fn, torch_fn, args, tangents, tol)

    if fd and dtype == np.float64:
        _check_fd(dp_fn, args, d_in, d_g, [c for c in cots], pairs)


def _check_jvp(dp_fn, torch_fn, args, tangents, tol):
    with fwAD.dual_level():
        d_args, d_in = _convert(args, dp)
        duals = {id(t): fwAD.make_dual(t.detach(), dp.tensor(v)) for t, v in zip(d_in, tangents)}
        d_args = [_swap(a, duals) for a in d_args]
        d_out = _outputs(dp_fn(*d_args))
        d_tan = [fwAD.unpack_dual(o).tangent if hasattr(o, "dtype") and o.is_floating_point() else None
                 for o in d_out]
    import torch.autograd.forward_ad as tfw
    with tfw.dual_level():
        t_args, t_in = _convert(args, torch)
        duals = {id(t): tfw.make_dual(t.detach(), torch.tensor(v)) for t, v in zip(t_in, tangents)}
        t_args = [_swap(a, duals) for a in t_args]
        t_out = _outputs(torch_fn(*t_args))
        t_tan = [tfw.unpack_dual(o).tangent if o.dtype.is_floating_point else None for o in t_out]
    for i, (a, b) in enumerate(zip(d_tan, t_tan)):
        if b is None:
            assert a is None or not np.any(_np(a)), f"jvp output {i}: torch has no tangent"
            continue
        assert a is not None, f"jvp output {i}: diffprog has no tangent"
        _close(_np(a), _np(b), tol, f"jvp output {i}")


def _swap(a, duals):
    if isinstance(a, (list, tuple)):
        return type(a)(_swap(x, duals) for x in a)
    return duals.get(id(a), a)


def _check_fd(dp_fn, args, d_in, d_g, cots, pairs, eps=1e-6):
    """Central differences of <f(x), cot> against the VJP, one input element at a time."""
    n_checked = 0
    for k, (t, g) in enumerate(zip(d_in, d_g)):
        x = t.detach().numpy()
        g = np.zeros_like(x) if g is None else _np(g)
        flat = x.reshape(-1)
        for j in range(min(flat.size, 12)):
            old = flat[j]
            vals = []
            for step in (eps, -eps):
                flat[j] = old + step
                with dp.no_grad():
                    d_args, _ = _convert(_replace(args, k, x), dp)
                    outs = _outputs(dp_fn(*d_args))
                fouts = [o for o in outs if hasattr(o, "dtype") and o.is_floating_point()]
                vals.append(sum(float((_np(o) * c).sum()) for o, c in zip(fouts, cots)))
            flat[j] = old
            num = (vals[0] - vals[1]) / (2 * eps)
            CALLS["fd"] += 1
            np.testing.assert_allclose(g.reshape(-1)[j], num, rtol=1e-5, atol=1e-6,
                                       err_msg=f"finite differences, input {k} element {j}")
            n_checked += 1


def _replace(args, k, value):
    """args with the k-th float array (in flattening order) replaced by value."""
    out, seen = [], 0
    for a in args:
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            out.append(value if seen == k else a)
            seen += 1
        elif isinstance(a, (list, tuple)) and a and all(isinstance(x, np.ndarray) for x in a):
            sub = []
            for x in a:
                sub.append(value if (x.dtype.kind == "f" and seen == k) else x)
                seen += x.dtype.kind == "f"
            out.append(type(a)(sub))
        else:
            out.append(a)
    return out
