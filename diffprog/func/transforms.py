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
from ..tensor import Tensor

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


# --- pytrees ---------------------------------------------------------------------------

def tree_flatten(tree):
    """(leaves, spec): the non-container leaves in order, and how to rebuild the tree."""
    if isinstance(tree, (tuple, list)):
        leaves, specs = [], []
        for x in tree:
            sub, spec = tree_flatten(x)
            leaves += sub
            specs.append(spec)
        return leaves, (type(tree), specs)
    if isinstance(tree, dict):
        leaves, specs = [], []
        for x in tree.values():
            sub, spec = tree_flatten(x)
            leaves += sub
            specs.append(spec)
        return leaves, (dict, (list(tree), specs))
    return [tree], None


def tree_unflatten(leaves, spec):
    it = iter(leaves)

    def build(spec):
        if spec is None:
            return next(it)
        kind, specs = spec
        if kind is dict:
            keys, specs = specs
            return dict(zip(keys, (build(s) for s in specs)))
        return kind(build(s) for s in specs)
    return build(spec)


def _tree_map(fn, tree):
    leaves, spec = tree_flatten(tree)
    return tree_unflatten([fn(x) for x in leaves], spec)


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
        with _level():
            tracked = [_track(x, "grad") for x in leaves]
            out, aux = _split_aux(func(*_replace(args, argnums, tracked, spec), **kwargs),
                                  has_aux, "grad")
            if not isinstance(out, Tensor) or out.numel() != 1:
                what = f"tensor with {out.dim()} dims" if isinstance(out, Tensor) else type(out).__name__
                raise RuntimeError(f"grad(f)(*args): Expected f(*args) to return a scalar Tensor, "
                                   f"got {what}")
            if out.requires_grad:
                grads = engine.grad(out, tracked, create_graph=create, allow_unused=True)
            else:
                grads = [None] * len(tracked)
        grads = tree_unflatten(_zeros_for_none(grads, leaves), spec)
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
    gradient per primal.  vjp_fn may be called several times."""
    nested = _depth > 0
    leaves, spec = tree_flatten(primals)
    with _level():
        tracked = [_track(x, "vjp") for x in leaves]
        out, aux = _split_aux(func(*tree_unflatten(tracked, spec)), has_aux, "vjp")
    outs, out_spec = tree_flatten(out)
    create = _records(leaves, nested)

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
        live = [(o, c) for o, c in zip(outs, cots) if o.requires_grad]
        grads = engine.grad([o for o, _ in live], tracked, [c for _, c in live],
                            retain_graph=retain_graph, create_graph=cg,
                            allow_unused=True) if live else [None] * len(tracked)
        return tuple(tree_unflatten(_zeros_for_none(grads, leaves), spec))

    value = _detach_unless(out, create)
    return (value, vjp_fn, _detach_unless(aux, create)) if has_aux else (value, vjp_fn)


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None):
    """A function returning the Jacobian of func w.r.t. argument(s) argnums, one VJP per
    output element: out.shape + arg.shape per (output leaf, argument leaf)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        leaves, spec = _select(args, argnums, "jacrev")
        create = _records(tree_flatten((args, kwargs))[0], _depth > 0)
        with _level():
            tracked = [_track(x, "jacrev") for x in leaves]
            out, aux = _split_aux(func(*_replace(args, argnums, tracked, spec), **kwargs),
                                  has_aux, "jacrev")
            outs, out_spec = tree_flatten(out)
            jac = []
            for o in outs:
                rows = [[] for _ in tracked]
                for r in range(o.numel() if o.requires_grad else 0):
                    grads = engine.grad(o, tracked, basis(o, r), retain_graph=True,
                                        create_graph=create, allow_unused=True)
                    for row, g in zip(rows, _zeros_for_none(grads, leaves)):
                        row.append(g)
                jac.append(tree_unflatten([stack(row, tuple(o.shape) + tuple(x.shape), 0, o.dtype)
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
    with _dual_level("jvp"), _level():
        duals = [forward_ad.make_dual(p, t) for p, t in zip(p_leaves, t_leaves)]
        out, aux = _split_aux(func(*tree_unflatten(duals, p_spec)), has_aux, "jvp")
        outs, out_spec = tree_flatten(out)
        unpacked = [forward_ad.unpack_dual(o) for o in outs]
        primal_out = tree_unflatten([u.primal for u in unpacked], out_spec)
        tangent_out = tree_unflatten([creation.zeros_like(o) if u.tangent is None else u.tangent
                                      for o, u in zip(outs, unpacked)], out_spec)
    return (primal_out, tangent_out, aux) if has_aux else (primal_out, tangent_out)


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
        columns = [[] for _ in leaves]        # per argument leaf, per element: output tangents
        out = aux = out_spec = None
        for j, x in enumerate(leaves):
            for k in range(x.numel()):
                with _dual_level("jacfwd"), _level():
                    duals = list(leaves)
                    duals[j] = forward_ad.make_dual(x, basis(x, k))
                    out, aux = _split_aux(func(*_replace(args, argnums, duals, spec), **kwargs),
                                          has_aux, "jacfwd")
                    outs, out_spec = tree_flatten(out)
                    columns[j].append([creation.zeros_like(o) if t is None else t for o, t in
                                       ((o, forward_ad.unpack_dual(o).tangent) for o in outs)])
                    out = tree_unflatten([forward_ad.unpack_dual(o).primal for o in outs], out_spec)
        if out_spec is None:          # only empty arguments: evaluate once for the shapes
            out, aux = _split_aux(func(*args, **kwargs), has_aux, "jacfwd")
        outs, out_spec = tree_flatten(out)
        jac = tree_unflatten([tree_unflatten(
            [stack([c[i] for c in columns[j]], tuple(o.shape) + tuple(x.shape), -1, o.dtype)
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
