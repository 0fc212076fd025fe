"""Function transforms in the style of JAX / torch.func.

`grad(f)` is a new function returning df/dx; transforms compose: `grad(grad(f))`,
`jacfwd(jacrev(f))`, `grad` of a function that calls `jvp` ...

Reverse-mode transforms differentiate w.r.t. fresh aliases of the arguments (so user
tensors get no `.grad`) and record a graph of the derivative itself only when something
outside can differentiate it: inside another transform, or when an argument requires
grad.  Forward-mode transforms open a dual level, and PyTorch allows one at a time, so
`jacfwd`/`jvp` cannot be nested in each other (reverse inside forward is fine).

Arguments and outputs may be pytrees: tensors nested in tuples, lists and dicts.
"""
import contextlib
import functools

from .. import creation
from ..autograd import engine, forward_ad
from ..autograd.functional import basis, stack
from ..autograd.grad_mode import enable_grad, state
from ..ops.batching import peel, rewrap
from ..tensor import Tensor
from .pytree import tree_flatten, tree_map as _tree_map, tree_unflatten

_depth = 0          # how many transforms are running (> 0: a derivative may be differentiated)


@contextlib.contextmanager
def _level():
    global _depth
    _depth += 1
    try:
        with enable_grad():         # transforms ignore an outer no_grad, like torch.func
            yield
    finally:
        _depth -= 1


# --- helpers ---------------------------------------------------------------------------

def _track(x, who):
    """An alias of x that requires grad: connected to x's graph and tangent, if any."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{who}: expected the differentiated arguments to be tensors (or "
                        f"pytrees of tensors), got {type(x).__name__}")
    if not x.is_floating_point():
        raise RuntimeError(f"{who}: only floating point tensors can be differentiated, got {x.dtype}")
    y = x.view_as(x)
    return y if y.requires_grad else y.requires_grad_()


def _select(args, argnums, who):
    """(leaves, spec) of the differentiated arguments: args[argnums], a tuple if argnums is."""
    for a in (argnums if isinstance(argnums, tuple) else (argnums,)):
        if not isinstance(a, int) or not -len(args) <= a < len(args):
            raise RuntimeError(f"{who}: Got argnums={argnums!r} for a function of {len(args)} "
                               f"positional arguments")
    picked = tuple(args[a] for a in argnums) if isinstance(argnums, tuple) else args[argnums]
    return tree_flatten(picked)


def _replace(args, argnums, leaves, spec):
    picked = tree_unflatten(leaves, spec)
    args = list(args)
    if isinstance(argnums, tuple):
        for a, v in zip(argnums, picked):
            args[a] = v
    else:
        args[argnums] = picked
    return args


def _split_aux(out, has_aux, who):
    if not has_aux:
        return out, None
    if not isinstance(out, tuple) or len(out) != 2:
        raise RuntimeError(f"{who}(f, ...)(*args): output of function f should be a tuple: "
                           f"(output, aux) if has_aux is True")
    return out


def _records(originals, nested):
    """Should derivatives be differentiable?  Yes inside a transform or when an argument
    is part of the caller's autograd graph (and grad mode is on outside)."""
    return state.grad_enabled and (nested or any(isinstance(x, Tensor) and x.requires_grad
                                                 for x in originals))


def _reaches_outside(outs, tracked):
    """Does the graph of outs reach a tensor requiring grad other than the tracked inputs (a
    parameter the function closes over, say)?  Then derivatives are differentiable in it,
    as torch.func's are."""
    if not state.grad_enabled:
        return False
    return bool(engine.reachable_leaves([o for o in outs if isinstance(o, Tensor)]) -
                {id(t) for t in tracked})


def _detach_unless(tree, keep):
    return tree if keep else _tree_map(lambda t: t.detach() if isinstance(t, Tensor) else t, tree)


def _zeros_for_none(grads, like):
    return [creation.zeros_like(x) if g is None else g for g, x in zip(grads, like)]


# --- reverse mode ------------------------------------------------------------------------

def grad_and_value(func, argnums=0, has_aux=False):
    """Like `grad`, but the new function returns (gradient, value) (value is (output, aux)
    with has_aux)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        leaves, spec = _select(args, argnums, "grad")
        create = _records(tree_flatten((args, kwargs))[0], _depth > 0)
        levels = state.vmap
        with _level():
            tracked = [_track(peel(x, levels), "grad") for x in leaves]
            out, aux = _split_aux(func(*_replace(args, argnums, [rewrap(t, levels) for t in tracked],
                                                 spec), **kwargs), has_aux, "grad")
            if not isinstance(out, Tensor) or out.numel() != 1:
                what = f"tensor with {out.dim()} dims" if isinstance(out, Tensor) else type(out).__name__
                raise RuntimeError(f"grad(f)(*args): Expected f(*args) to return a scalar Tensor, "
                                   f"got {what}")
            out_p = peel(out, levels)
            create = create or _reaches_outside([out_p], tracked)
            if out_p.requires_grad:
                grads = engine.grad(out_p, tracked, creation.ones_like(out_p), create_graph=create,
                                    allow_unused=True)
            else:
                grads = [None] * len(tracked)
        grads = tree_unflatten([rewrap(g, levels) for g in _zeros_for_none(grads, tracked)], spec)
        value = _detach_unless(out, create)
        return (grads, (value, _detach_unless(aux, create))) if has_aux else (grads, value)
    return wrapper


def grad(func, argnums=0, has_aux=False):
    """A function returning the gradient of scalar `func` w.r.t. argument(s) `argnums`
    (an int, or a tuple giving a tuple of gradients); with has_aux, func returns
    (output, aux) and the new function (gradient, aux)."""
    gv = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        g, value = gv(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return wrapper


def value_and_grad(func, argnums=0, has_aux=False):
    """JAX's order: the new function returns (value, gradient), value being (output, aux)
    with has_aux."""
    gv = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        g, value = gv(*args, **kwargs)
        return value, g
    return wrapper


def vjp(func, *primals, has_aux=False):
    """(func(*primals), vjp_fn[, aux]); vjp_fn(cotangents) returns a tuple with one
    gradient per primal.  vjp_fn may be called several times, also inside vmap (a batch
    of cotangents)."""
    nested = _depth > 0
    leaves, spec = tree_flatten(primals)
    levels = state.vmap
    with _level():
        tracked = [_track(peel(x, levels), "vjp") for x in leaves]
        out, aux = _split_aux(func(*tree_unflatten([rewrap(t, levels) for t in tracked], spec)),
                              has_aux, "vjp")
    outs, out_spec = tree_flatten(out)
    outs_p = [peel(o, levels) for o in outs]
    create = _records(leaves, nested) or _reaches_outside(outs_p, tracked)

    def vjp_fn(cotangents, *, retain_graph=True, create_graph=None):
        cots, cot_spec = tree_flatten(cotangents)
        if cot_spec != out_spec:
            raise RuntimeError("vjp_fn: Expected pytree structure of cotangents to be the same "
                               "as pytree structure of outputs to the function")
        for o, c in zip(outs, cots):
            if tuple(c.shape) != tuple(o.shape):
                raise RuntimeError(f"vjp_fn: Mismatch in shape: cotangent has shape "
                                   f"{tuple(c.shape)} and output has shape {tuple(o.shape)}")
        cg = create_graph if create_graph is not None else (
            create or _records(cots, _depth > 0))
        live = [(o, peel(c, levels)) for o, c in zip(outs_p, cots) if o.requires_grad]
        grads = engine.grad([o for o, _ in live], tracked, [c for _, c in live],
                            retain_graph=retain_graph, create_graph=cg,
                            allow_unused=True) if live else [None] * len(tracked)
        return tuple(tree_unflatten([rewrap(g, levels) for g in _zeros_for_none(grads, tracked)],
                                    spec))

    value = _detach_unless(out, create)
    return (value, vjp_fn, _detach_unless(aux, create)) if has_aux else (value, vjp_fn)


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None):
    """A function returning the Jacobian of func w.r.t. argument(s) argnums, one VJP per
    output element: out.shape + arg.shape per (output leaf, argument leaf)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        leaves, spec = _select(args, argnums, "jacrev")
        create = _records(tree_flatten((args, kwargs))[0], _depth > 0)
        levels = state.vmap
        lead = tuple(lv.size for lv in levels)
        with _level():
            tracked = [_track(peel(x, levels), "jacrev") for x in leaves]
            out, aux = _split_aux(func(*_replace(args, argnums, [rewrap(t, levels) for t in tracked],
                                                 spec), **kwargs), has_aux, "jacrev")
            outs, out_spec = tree_flatten(out)
            outs_p = [peel(o, levels) for o in outs]
            create = create or _reaches_outside(outs_p, tracked)
            jac = []
            for o, o_p in zip(outs, outs_p):
                rows = [[] for _ in tracked]
                for r in range(o.numel() if o_p.requires_grad else 0):
                    grads = engine.grad(o_p, tracked, peel(basis(o, r), levels), retain_graph=True,
                                        create_graph=create, allow_unused=True)
                    for row, g in zip(rows, _zeros_for_none(grads, tracked)):
                        row.append(g)
                jac.append(tree_unflatten(
                    [rewrap(stack(row, lead + tuple(o.shape) + tuple(x.shape), len(lead), o.dtype), levels)
                     for row, x in zip(rows, leaves)], spec))
        jac = _detach_unless(tree_unflatten(jac, out_spec), create)
        return (jac, _detach_unless(aux, create)) if has_aux else jac
    return wrapper


# --- forward mode ------------------------------------------------------------------------

def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """(func(*primals), J tangents): one forward pass with dual tensors."""
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise RuntimeError("jvp(f, primals, tangents): Expected primals and tangents to be tuples")
    p_leaves, p_spec = tree_flatten(tuple(primals))
    t_leaves, t_spec = tree_flatten(tuple(tangents))
    if p_spec != t_spec:
        raise RuntimeError("jvp(f, primals, tangents): Expected primals and tangents to have the "
                           "same python structure")
    levels = state.vmap
    with _dual_level("jvp"), _level():
        duals = [forward_ad.make_dual(peel(p, levels), peel(t, levels))
                 for p, t in zip(p_leaves, t_leaves)]
        out, aux = _split_aux(func(*tree_unflatten([rewrap(d, levels) for d in duals], p_spec)),
                              has_aux, "jvp")
        primal_out, tangent_out = _unpack(out, levels)
    return (primal_out, tangent_out, aux) if has_aux else (primal_out, tangent_out)


def _unpack(out, levels):
    """(primals, tangents) of the outputs (pytrees), zero tangents where there are none."""
    outs, out_spec = tree_flatten(out)
    primals, tangents = [], []
    for o in outs:
        u = forward_ad.unpack_dual(peel(o, levels))
        primals.append(rewrap(u.primal, levels))
        tangents.append(rewrap(creation.zeros_like(u.primal) if u.tangent is None else u.tangent,
                               levels))
    return tree_unflatten(primals, out_spec), tree_unflatten(tangents, out_spec)


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """A function returning the Jacobian of func w.r.t. argument(s) argnums, one JVP per
    argument element (so it pays off for few inputs and many outputs)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        leaves, spec = _select(args, argnums, "jacfwd")
        create = _records(tree_flatten((args, kwargs))[0], _depth > 0)
        for x in leaves:
            if not isinstance(x, Tensor) or not x.is_floating_point():
                raise RuntimeError("jacfwd: expected the differentiated arguments to be floating "
                                   "point tensors")
        levels = state.vmap
        lead = tuple(lv.size for lv in levels)
        columns = [[] for _ in leaves]        # per argument leaf, per element: output tangents
        out = aux = None
        for j, x in enumerate(leaves):
            for k in range(x.numel()):
                with _dual_level("jacfwd"), _level():
                    duals = list(leaves)
                    duals[j] = rewrap(forward_ad.make_dual(peel(x, levels), peel(basis(x, k), levels)),
                                      levels)
                    out, aux = _split_aux(func(*_replace(args, argnums, duals, spec), **kwargs),
                                          has_aux, "jacfwd")
                    out, tangents = _unpack(out, levels)
                    columns[j].append([peel(t, levels) for t in tree_flatten(tangents)[0]])
        if out is None:               # only empty arguments: evaluate once for the shapes
            out, aux = _split_aux(func(*args, **kwargs), has_aux, "jacfwd")
        outs, out_spec = tree_flatten(out)
        jac = tree_unflatten([tree_unflatten(
            [rewrap(stack([c[i] for c in columns[j]], lead + tuple(o.shape) + tuple(x.shape), -1,
                          o.dtype), levels)
             for j, x in enumerate(leaves)], spec) for i, o in enumerate(outs)], out_spec)
        jac = _detach_unless(jac, create)
        return (jac, _detach_unless(aux, create)) if has_aux else jac
    return wrapper


@contextlib.contextmanager
def _dual_level(who):
    if state.fw_level:
        raise RuntimeError(f"{who}: forward-mode transforms (jvp, jacfwd) cannot be nested inside "
                           f"each other: only one forward-AD level can be open at a time. Use "
                           f"jacrev for the inner or the outer derivative instead.")
    with forward_ad.dual_level():
        yield


def hessian(func, argnums=0):
    """Second derivatives: forward-over-reverse, jacfwd(jacrev(func))."""
    return jacfwd(jacrev(func, argnums), argnums)
