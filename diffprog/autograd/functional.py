"""Higher-level derivatives of whole functions, as in `torch.autograd.functional`:
`jacobian`, `hessian`, `vjp`, `jvp`, `hvp`, `vhp`.

`inputs` is a tensor or a tuple of tensors; results mirror that structure (a tuple exactly
where the inputs / outputs were tuples).  Inputs are re-wrapped so the caller's tensors
get no `.grad`; results are detached unless `create_graph=True`.
"""
from .. import creation
from .._array import xp
from ..ops.batching import array_of
from ..ops.shape import stack as stack_op
from ..tensor import Tensor
from . import engine, forward_ad
from .grad_mode import enable_grad, set_grad_enabled, state


# --- structure helpers (shared with diffprog.func) -------------------------------------

def _as_tuple(x, what, fn):
    """(was_tuple, tuple_of_tensors), checking every element is a tensor."""
    is_tuple = isinstance(x, (tuple, list))
    x = tuple(x) if is_tuple else (x,)
    for i, t in enumerate(x):
        if not isinstance(t, Tensor):
            raise TypeError(f"The {what} given to {fn} must be either a Tensor or a tuple of "
                            f"Tensors but the value at index {i} has type {type(t).__name__}.")
    return is_tuple, x


def _untuple(res, is_tuple):
    """Undo `_as_tuple` on a result: one flag, or (outer, inner) flags for nested tuples."""
    if isinstance(is_tuple, tuple):
        outer, inner = is_tuple
        res = tuple(_untuple(r, inner) for r in res)
        return res if outer else res[0]
    return tuple(res) if is_tuple else res[0]


def _prepare(inputs, create_graph):
    """Fresh tensors requiring grad; stay connected to the caller's graph with create_graph."""
    return tuple(t.view_as(t) if create_graph and t.requires_grad else t.detach().requires_grad_()
                 for t in inputs)


def _finish(tensors, create_graph):
    if create_graph:
        return tuple(tensors)
    return tuple(t.detach() if isinstance(t, Tensor) else t for t in tensors)


def _grad(outputs, inputs, grad_outputs=None, create_graph=False):
    """autograd.grad over the outputs that need grad; None for inputs not reached."""
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs or [None] * len(outputs))
             if o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    outs, gs = zip(*pairs)
    if grad_outputs is None:
        gs = None
    return engine.grad(outs, inputs, gs, retain_graph=True, create_graph=create_graph,
                       allow_unused=True)


def _fill_zeros(grads, refs, strict, what):
    out = []
    for i, (g, r) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise RuntimeError(f"The {what} for input {i} is independent of the inputs. "
                                   f"This is not allowed in strict mode.")
            g = creation.zeros_like(r)
        out.append(g)
    return tuple(out)


def _check_v(v, refs, fn, what):
    _, v = _as_tuple(v, "v", fn)
    if len(v) != len(refs):
        raise RuntimeError(f"{fn}: v has {len(v)} tensors but the {what} has {len(refs)}")
    for i, (a, b) in enumerate(zip(v, refs)):
        if a.shape != b.shape:
            raise RuntimeError(f"{fn}: mismatch in shape: v[{i}] has shape {tuple(a.shape)} but the "
                               f"{what} [{i}] has shape {tuple(b.shape)}")
    return v


def _ones_for_scalar(refs, fn, what):
    if len(refs) != 1 or refs[0].numel() != 1:
        raise RuntimeError(f"{fn}: the vector v can only be None if the {what} is a single "
                           f"Tensor with a single element.")
    return (creation.ones_like(refs[0]),)


def basis(t, k):
    """The k-th one-hot tensor shaped like t."""
    e = xp.zeros(t.numel(), dtype=t.dtype.np, like=array_of(t))
    e[k] = 1
    return Tensor._make(e.reshape(tuple(t.shape)))


def stack(tensors, shape, dim=0, dtype=None):
    """Stack same-shape tensors along a new dimension `dim`, then reshape to `shape`.
    A plain array copy when nothing records; else differentiable (and forward-mode) ops."""
    if not tensors:
        return creation.zeros(shape, dtype=dtype)
    if not any(t.requires_grad or t._tangent is not None for t in tensors):
        return Tensor._make(xp.stack([t._data for t in tensors], axis=dim).reshape(shape))

    return stack_op(tensors, dim).reshape(shape)


# --- the transforms --------------------------------------------------------------------

def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): the vector-Jacobian product at `inputs`."""
    with enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _prepare(inputs, create_graph)
        out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", "vjp")
        v = _check_v(v, outputs, "vjp", "output") if v is not None else \
            _ones_for_scalar(outputs, "vjp", "user-provided function's output")
    with set_grad_enabled(create_graph or state.grad_enabled):
        grads = _fill_zeros(_grad(outputs, inputs, v, create_graph), inputs, strict, "output")
    return (_untuple(_finish(outputs, create_graph), out_tuple),
            _untuple(_finish(grads, create_graph), in_tuple))


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): the Jacobian-vector product, by the double-backward trick
    (a VJP is linear in its cotangent u, so differentiating it w.r.t. u gives J v)."""
    with enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _prepare(inputs, create_graph)
        v = _check_v(v, inputs, "jvp", "input") if v is not None else \
            _ones_for_scalar(inputs, "jvp", "input")
        out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", "jvp")
        us = tuple(creation.zeros_like(o, requires_grad=True) for o in outputs)
        grads = _grad(outputs, inputs, us, create_graph=True)
        pairs = [(g, vi) for g, vi in zip(grads, v) if g is not None and g.requires_grad]
        if pairs:
            result = engine.grad([g for g, _ in pairs], us, [vi for _, vi in pairs],
                                 create_graph=create_graph, allow_unused=True)
        else:
            result = (None,) * len(us)
        result = _fill_zeros(result, outputs, strict, "jvp")
    return (_untuple(_finish(outputs, create_graph), out_tuple),
            _untuple(_finish(result, create_graph), out_tuple))


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """d func / d inputs: entry [i][j] has shape outputs[i].shape + inputs[j].shape.

    Reverse mode computes one row (a VJP with a one-hot cotangent) per output element;
    `strategy="forward-mode"` one column (a JVP with a one-hot tangent) per input element.
    `vectorize` is accepted for compatibility; the rows are computed one by one.
    """
    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError('Expected strategy to be either "forward-mode" or "reverse-mode".')
    with enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        if strategy == "forward-mode":
            return _jacobian_forward(func, inputs, in_tuple)
        inputs = _prepare(inputs, create_graph)
        out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function",
                                       "jacobian")
        jac = []
        for i, out in enumerate(outputs):
            rows = [[] for _ in inputs]
            for k in range(out.numel()):
                grads = _grad((out,), inputs, (basis(out, k),), create_graph)
                for j, g in enumerate(grads):
                    if g is None and strict:
                        raise RuntimeError(f"Output {i} of the user-provided function is independent "
                                           f"of input {j}. This is not allowed in strict mode.")
                    rows[j].append(g if g is not None else creation.zeros_like(inputs[j]))
            jac.append(_finish([stack(r, tuple(out.shape) + tuple(x.shape), dtype=out.dtype)
                                for r, x in zip(rows, inputs)], create_graph))
    return _untuple(jac, (out_tuple, in_tuple))


def _jacobian_forward(func, inputs, in_tuple):
    """Jacobian by forward mode: one dual evaluation per input element."""
    cols, out_tuple, outputs = [[] for _ in inputs], None, None
    for j, x in enumerate(inputs):
        for k in range(x.numel()):
            with forward_ad.dual_level():
                duals = [forward_ad.make_dual(t.detach(), basis(t, k) if i == j else
                                              creation.zeros_like(t))
                         for i, t in enumerate(inputs)]
                out_tuple, outputs = _as_tuple(func(*duals), "outputs of the user-provided "
                                               "function", "jacobian")
                tangents = [forward_ad.unpack_dual(o).tangent for o in outputs]
                cols[j].append([creation.zeros_like(o) if t is None else t.detach()
                                for o, t in zip(outputs, tangents)])
    if outputs is None:            # every input is empty: evaluate once for the output shapes
        out_tuple, outputs = _as_tuple(func(*inputs), "outputs", "jacobian")
    jac = []
    for i, out in enumerate(outputs):
        row = []
        for j, x in enumerate(inputs):
            row.append(stack([c[i] for c in cols[j]], tuple(out.shape) + tuple(x.shape), -1,
                             out.dtype))
        jac.append(tuple(row))
    return _untuple(jac, (out_tuple, in_tuple))


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """Second derivatives of a scalar function: entry [i][j] has shape
    inputs[i].shape + inputs[j].shape (a single tensor for a single input)."""
    in_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")

    def scalar(*xs):
        out = func(*xs)
        is_tuple, out = _as_tuple(out, "outputs of the user-provided function", "hessian")
        if len(out) != 1:
            raise RuntimeError("The function given to hessian should return a single Tensor")
        if out[0].numel() != 1:
            raise RuntimeError("The Tensor returned by the function given to hessian should "
                               "contain a single element")
        return out[0].reshape(())

    def grad_fn(*xs):
        if outer_jacobian_strategy == "forward-mode":     # keep the dual inputs' tangents
            xs = tuple(x.requires_grad_() for x in xs)
        return jacobian(scalar, xs, create_graph=True, strict=strict)

    res = jacobian(grad_fn, inputs, create_graph=create_graph, strict=strict,
                   strategy=outer_jacobian_strategy)
    return _untuple(res, (in_tuple, in_tuple))


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H) for a scalar function."""
    with enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "vhp")
        inputs = _prepare(inputs, create_graph)
        out = _scalar_output(func(*inputs), "vhp")
        v = _check_v(v, inputs, "vhp", "input") if v is not None else \
            _ones_for_scalar(inputs, "vhp", "input")
        jac = _grad((out,), inputs, create_graph=True)
        live = [(g, vi) for g, vi in zip(jac, v) if g is not None]
        res = _grad([g for g, _ in live], inputs, [vi for _, vi in live], create_graph) \
            if live else (None,) * len(inputs)
        res = _fill_zeros(res, inputs, strict, "vhp")
    return _finish((out,), create_graph)[0], _untuple(_finish(res, create_graph), in_tuple)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v) for a scalar function (equals vhp for symmetric H; computed
    with the double-backward trick, like PyTorch)."""
    with enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "hvp")
        inputs = _prepare(inputs, create_graph)
        out = _scalar_output(func(*inputs), "hvp")
        v = _check_v(v, inputs, "hvp", "input") if v is not None else \
            _ones_for_scalar(inputs, "hvp", "input")
        jac = _fill_zeros(_grad((out,), inputs, create_graph=True), inputs, False, "hvp")
        us = tuple(creation.zeros_like(x, requires_grad=True) for x in inputs)
        double = _grad(jac, inputs, us, create_graph=True)
        live = [(d, vi) for d, vi in zip(double, v) if d is not None and d.requires_grad]
        res = engine.grad([d for d, _ in live], us, [vi for _, vi in live],
                          create_graph=create_graph, allow_unused=True) \
            if live else (None,) * len(inputs)
        res = _fill_zeros(res, inputs, strict, "hvp")
    return _finish((out,), create_graph)[0], _untuple(_finish(res, create_graph), in_tuple)


def _scalar_output(out, fn):
    _, out = _as_tuple(out, "outputs of the user-provided function", fn)
    if len(out) != 1 or out[0].numel() != 1:
        raise RuntimeError(f"The function given to {fn} should return a single Tensor with a "
                           f"single element")
    return out[0]
