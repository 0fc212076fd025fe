"""One helper to prove an op against PyTorch (tinygrad's habit).

`check(dp_fn, torch_fn, *args)` runs the same inputs through diffprog and PyTorch and
compares, for every floating input:
  - the forward values (and integer outputs exactly),
  - the VJP for a random cotangent, by a plain backward (where `raw` rules run on arrays)
    and by a differentiable one (create_graph),
  - the double VJP (derivative of <VJP, v> w.r.t. the inputs), when second order exists,
  - the JVP for random tangents (diffprog forward mode vs torch.func.jvp),
and, in float64, diffprog's VJP against central finite differences; and `func.vmap` of the
op (its batching rule), of its VJP and of its JVP, over a batch of inputs, against running
diffprog once per element and against `torch.func.vmap` (see `_check_vmap`).

Arguments: NumPy arrays become tensors (float arrays require grad); anything else
(ints, tuples, index arrays wrapped by `const(...)`) is passed through as is.
"""
import os

import numpy as np
import pytest

import diffprog as dp
from diffprog.autograd import forward_ad as fwAD

torch = pytest.importorskip("torch")

# DIFFPROG_TEST_DEVICE=cuda runs every check with diffprog's tensors on that device (on
# DIFFPROG_FAKE_GPU's CPU stand-in where there is no GPU): the proof of the device seam.
DEVICE = dp.device(os.environ.get("DIFFPROG_TEST_DEVICE", "cpu"))


def _tensor(value, **kwargs):
    return dp.tensor(value, device=DEVICE, **kwargs)


CALLS = {"check": 0, "fd": 0, "vmap": 0}      # how many comparisons ran (printed at the end of a run)

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
            out.append(_tensor(v) if lib is dp else torch.tensor(v))
        elif isinstance(a, np.ndarray):
            t = _tensor(a) if lib is dp else torch.tensor(a)
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
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


def _close(a, b, tol, what):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs torch {b.shape}"
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":
        np.testing.assert_allclose(a, b, equal_nan=True, err_msg=what, **tol)
    else:
        np.testing.assert_array_equal(a, b, err_msg=what)


def check(dp_fn, torch_fn, *args, grad=True, jvp=True, gradgrad=True, fd=True, vmap=True,
          tol=None, seed=0):
    """Compare forward, VJP, double VJP, JVP, finite differences and vmap; see module doc.
    vmap=False for ops that vmap cannot batch (data-dependent shapes, randomness)."""
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
        assert getattr(d, "device", DEVICE) == DEVICE, f"forward output {i} on {d.device}, not {DEVICE}"
        if hasattr(d, "dtype") and hasattr(t, "dtype"):
            assert d.dtype.name == str(t.dtype).replace("torch.", ""), f"dtype {d.dtype} vs {t.dtype}"

    pairs = [(d, t) for d, t in zip(d_out, t_out)
             if t.dtype.is_floating_point and t.requires_grad]
    if vmap:
        diff = grad and bool(d_in) and bool(pairs)
        _check_vmap(dp_fn, torch_fn, args, tol, diff, diff and jvp, np.random.default_rng(seed + 1))
    if not grad or not d_in or not pairs:
        return
    cots = [rng.standard_normal(t.shape).astype(dtype) for _, t in pairs]
    # the plain backward (no create_graph: raw vjps on arrays), then the differentiable one
    d_plain = dp.autograd.grad([d for d, _ in pairs], d_in, [_tensor(c) for c in cots],
                               retain_graph=True, allow_unused=True)
    d_g = dp.autograd.grad([d for d, _ in pairs], d_in, [_tensor(c) for c in cots],
                           create_graph=True, allow_unused=True)
    t_g = torch.autograd.grad([t for _, t in pairs], t_in, [torch.tensor(c) for c in cots],
                              create_graph=True, allow_unused=True)
    for i, (a, b) in enumerate(zip(d_g, t_g)):
        if b is None:
            assert a is None or not np.any(_np(a)), f"vjp input {i}: torch has no gradient"
            continue
        assert a is not None, f"vjp input {i}: diffprog has no gradient"
        _close(_np(a), _np(b), tol, f"vjp input {i}")
        _close(_np(d_plain[i]), _np(b), tol, f"vjp input {i} (plain backward)")

    if gradgrad:
        live = [(i, a, b) for i, (a, b) in enumerate(zip(d_g, t_g))
                if b is not None and b.requires_grad and a is not None]
        if live:
            vs = [rng.standard_normal(tuple(b.shape)).astype(dtype) for _, _, b in live]
            d_s = sum(((a * _tensor(v)).sum() for (_, a, _), v in zip(live, vs)), _tensor(0.0, dtype=d_in[0].dtype))
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
        duals = {id(t): fwAD.make_dual(t.detach(), _tensor(v)) for t, v in zip(d_in, tangents)}
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
        x = _np(t).copy()
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


# --- vmap ----------------------------------------------------------------------------------

_SCALES = (1.0, 0.9, 1.1)          # the batch: each float input, and two rescaled copies


def _batched(a, i):
    """Element i of the batch made from array a (integer arrays repeat unchanged)."""
    return np.asarray(a * _SCALES[i]) if a.dtype.kind == "f" else a


def _element(args, i):
    """The arguments of batch element i (arrays and lists of arrays replaced)."""
    out = []
    for a in args:
        if isinstance(a, np.ndarray):
            out.append(_batched(a, i))
        elif isinstance(a, (list, tuple)) and a and all(isinstance(x, np.ndarray) for x in a):
            out.append(type(a)(_batched(x, i) for x in a))
        else:
            out.append(a)
    return out


def _stacked(args, mapped):
    """The batched arguments (batch dim 0) and in_dims, mapping the arguments in `mapped`."""
    out, dims = [], []
    for k, a in enumerate(args):
        if k not in mapped:
            out.append(a)
            dims.append(None)
        elif isinstance(a, const):
            out.append(const(np.stack([a.value] * len(_SCALES))))
            dims.append(0)
        elif isinstance(a, np.ndarray):
            out.append(np.stack([_batched(a, i) for i in range(len(_SCALES))]))
            dims.append(0)
        else:
            out.append(type(a)(np.stack([_batched(x, i) for i in range(len(_SCALES))]) for x in a))
            dims.append(0)
    return out, tuple(dims)


def _tensors_of(args, lib):
    return [t for t in _convert(args, lib)[0]]


def _ref(fn, args, mapped, lib=None):
    """fn run once per batch element (the mapped arguments varying), outputs stacked."""
    outs = []
    for i in range(len(_SCALES)):
        el = [e if k in mapped else a for k, (a, e) in enumerate(zip(args, _element(args, i)))]
        outs.append([_np(o) for o in fn(el)])
    return [np.stack(o) for o in zip(*outs)]


def _check_vmap(dp_fn, torch_fn, args, tol, grad, jvp, rng):
    """vmap of the op, of its VJP (per-element gradients) and of its JVP, against a loop
    over the batch and against torch.func.vmap where torch can batch the op.  Mapped
    arguments: all tensors; only the float ones; and only the first (others shared)."""
    import warnings
    from diffprog import func as dfunc
    floats = [k for k, a in enumerate(args) if (isinstance(a, np.ndarray) and a.dtype.kind == "f") or
              (isinstance(a, (list, tuple)) and a and all(isinstance(x, np.ndarray) for x in a))]
    # (a boolean mask that differs across the batch makes a data-dependent shape: not mapped)
    tensors = floats + [k for k, a in enumerate(args) if isinstance(a, const)
                        and np.asarray(a.value).dtype != bool]
    variants = {tuple(sorted(tensors)), tuple(floats), tuple(floats[:1])}
    for mapped in sorted(v for v in variants if v):
        CALLS["vmap"] += 1
        b_args, dims = _stacked(args, mapped)
        d_args = _convert(b_args, dp)[0]

        def d_outs(*a):
            return tuple(o for o in _outputs(dp_fn(*a)) if isinstance(o, dp.Tensor))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")            # ops without a rule say so once
            got = [_np(o) for o in dfunc.vmap(d_outs, in_dims=dims)(*d_args)]
        want = _ref(lambda el: d_outs(*_convert(el, dp)[0]), args, mapped)
        what = f"vmap (mapped args {list(mapped)})"
        assert len(got) == len(want), f"{what}: {len(got)} outputs vs {len(want)} per element"
        for i, (a, b) in enumerate(zip(got, want)):
            _close(a, b, tol, f"{what} output {i}")
        _against_torch_vmap(torch_fn, args, mapped, b_args, dims, got, tol, what)
        if grad:
            _check_vmap_vjp(dp_fn, args, mapped, b_args, dims, tol, rng, what)
        if jvp:
            _check_vmap_jvp(dp_fn, args, mapped, b_args, dims, tol, rng, what)


def _against_torch_vmap(torch_fn, args, mapped, b_args, dims, got, tol, what):
    """Ours against torch.func.vmap, where torch can batch the op and its vmap agrees with
    running torch once per element (it does not always: index_select with a 0-d index)."""
    import torch.func
    import warnings
    t_args = _convert(b_args, torch)[0]

    def t_outs(*a):
        return tuple(o for o in _outputs(torch_fn(*a)) if isinstance(o, torch.Tensor))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")            # torch's own fallback loops say so
            want = [_np(o) for o in torch.func.vmap(t_outs, in_dims=dims)(*t_args)]
    except Exception:          # an op torch cannot batch (a data-dependent op, say): the loop decides
        return
    loop = _ref(lambda el: t_outs(*_convert(el, torch)[0]), args, mapped)
    if len(want) != len(loop) or any(a.shape != b.shape or not np.allclose(a, b, equal_nan=True, **tol)
                                     for a, b in zip(want, loop)):
        return
    for i, (a, b) in enumerate(zip(got, want)):
        _close(a, b, tol, f"{what} output {i} vs torch.func.vmap")


def _float_positions(d_args):
    """Which arguments are differentiated (float arrays, not `const`s)."""
    return [k for k, a in enumerate(d_args) if isinstance(a, dp.Tensor) and a.requires_grad]


def _cotangents(dp_fn, args, rng):
    outs = [o for o in _outputs(dp_fn(*_convert(args, dp)[0])) if isinstance(o, dp.Tensor)]
    return [rng.standard_normal(tuple(o.shape)) if o.is_floating_point() else None for o in outs]


def _inner(dp_fn, cots):
    """<f(args), cots> as a function of the float tensor arguments: its gradient is the VJP."""
    def loss(*a):
        outs = [o for o in _outputs(dp_fn(*a)) if isinstance(o, dp.Tensor)]
        total = 0.0
        for o, c in zip(outs, cots):
            if c is not None and o.requires_grad:
                total = total + (o * _tensor(c, dtype=o.dtype)).sum()
        return total
    return loss


def _check_vmap_vjp(dp_fn, args, mapped, b_args, dims, tol, rng, what):
    """Per-element gradients, vmap(grad(<f, cot>)), equal one gradient per element; and a
    VJP made once, mapped over a batch of cotangents (vjp_fn run on batched gradients)."""
    from diffprog import func as dfunc
    cots = _cotangents(dp_fn, args, rng)
    d_args = _convert(b_args, dp)[0]
    pos = _float_positions(_convert(args, dp)[0])
    if not pos or all(c is None for c in cots):
        return
    loss = _inner(dp_fn, cots)

    def grads(*a):
        g = dfunc.grad(lambda *d: loss(*[d[pos.index(k)] if k in pos else x for k, x in enumerate(a)]),
                       argnums=tuple(range(len(pos))))(*[a[k] for k in pos])
        return tuple(g)
    got = [_np(g) for g in dfunc.vmap(grads, in_dims=dims)(*[t.detach() if isinstance(t, dp.Tensor)
                                                            else t for t in d_args])]
    want = _ref(lambda el: grads(*[t.detach() if isinstance(t, dp.Tensor) else t
                                   for t in _convert(el, dp)[0]]), args, mapped)
    for i, (a, b) in enumerate(zip(got, want)):
        _close(a, b, tol, f"{what}: vmap of grad, input {pos[i]}")

    # vjp_fn of the unbatched op, mapped over a batch of cotangents
    base = [t.detach() if isinstance(t, dp.Tensor) else t for t in _convert(args, dp)[0]]
    out, fn = dfunc.vjp(lambda *d: tuple(o for o in _outputs(dp_fn(
        *[d[pos.index(k)] if k in pos else x for k, x in enumerate(base)])) if isinstance(o, dp.Tensor)),
        *[base[k] for k in pos])
    live = [k for k, o in enumerate(out) if o.is_floating_point()]
    if not live:
        return
    batch = [np.stack([rng.standard_normal(tuple(o.shape)) for _ in _SCALES]) if k in live
             else None for k, o in enumerate(out)]

    def pull(*cs):
        full = [c if c is not None else dp.zeros_like(o) for c, o in zip(cs, out)]
        return fn(tuple(full))
    c_in = [_tensor(b, dtype=out[k].dtype) if b is not None else None for k, b in enumerate(batch)]
    got = [_np(g) for g in dfunc.vmap(pull, in_dims=tuple(0 if c is not None else None for c in c_in))(*c_in)]
    for i, g in enumerate(got):
        for j in range(len(_SCALES)):
            want = _np(pull(*[_tensor(b[j], dtype=out[k].dtype) if b is not None else None
                              for k, b in enumerate(batch)])[i])
            _close(g[j], want, tol, f"{what}: vjp_fn mapped over cotangents, input {pos[i]}, element {j}")


def _check_vmap_jvp(dp_fn, args, mapped, b_args, dims, tol, rng, what):
    """vmap(jvp(f)): the tangent of every element's output equals one jvp per element."""
    from diffprog import func as dfunc
    base = _convert(args, dp)[0]
    pos = _float_positions(base)
    if not pos:
        return
    tangents = [rng.standard_normal(tuple(base[k].shape)) for k in pos]

    def tan(*a):
        def f(*d):
            return tuple(o for o in _outputs(dp_fn(*[d[pos.index(k)] if k in pos else x
                                                     for k, x in enumerate(a)]))
                         if isinstance(o, dp.Tensor) and o.is_floating_point())
        prim = tuple(a[k] for k in pos)
        return dfunc.jvp(f, prim, tuple(_tensor(t, dtype=p.dtype) for t, p in zip(tangents, prim)))[1]
    d_args = [t.detach() if isinstance(t, dp.Tensor) else t for t in _convert(b_args, dp)[0]]
    got = [_np(g) for g in dfunc.vmap(tan, in_dims=dims)(*d_args)]
    want = _ref(lambda el: tan(*[t.detach() if isinstance(t, dp.Tensor) else t
                                 for t in _convert(el, dp)[0]]), args, mapped)
    for i, (a, b) in enumerate(zip(got, want)):
        _close(a, b, tol, f"{what}: vmap of jvp, output {i}")
