"""vmap: a function of one example becomes a function of a batch, without a Python loop.

    per_sample_grads = vmap(grad(loss), in_dims=(None, 0, 0))(params, x, y)

The batched function wraps each mapped argument in a `BatchedTensor` (ops/batching.py)
whose physical value carries the batch in dim 0, and calls the function once; every op
on it runs its batching rule, i.e. once for the whole batch.  The outputs are unwrapped
with the batch moved to `out_dims`.  An op without a rule is run once per element (a loop,
with a warning naming the op), so any program works, fast where the rules are.

Composition with the other transforms works through the physical tensors: inside vmap,
grad/vjp/jvp/jacrev/jacfwd differentiate with respect to the physical values of their
inputs, batched at every running level (`peel`), so one backward pass gives every
element's gradient; `vjp_fn` made outside vmap and called inside it (a batch of
cotangents) runs its backward pass on batched tensors, through the same rules.
"""
import functools
import warnings

from .. import creation
from ..autograd import engine
from ..autograd.grad_mode import state
from ..ops import batching
from ..ops.batching import BatchedTensor, Level
from ..ops.shape import stack
from ..tensor import Tensor
from .pytree import broadcast_prefix, tree_flatten, tree_unflatten

_RANDOMNESS = ("error", "different", "same")


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """Map `func` over a dim of its inputs (torch.func.vmap / jax.vmap).

    in_dims: for each positional argument, the dim to map over (an int), None for an
    argument shared by all elements, or a pytree prefix of the argument with those; one int
    or None applies to all.  out_dims: likewise for the outputs.  randomness: what random
    operations inside do: 'error' (raise), 'different' (independent per element) or
    'same' (one draw shared by all).  chunk_size: map this many elements at a time (less
    memory, same result).  Keyword arguments are passed unmapped.
    """
    if randomness not in _RANDOMNESS:
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or 'same'. "
                           f"Got {randomness}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size <= 0):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        name = _name(func)
        leaves, spec = tree_flatten(args)
        dims = _in_dims(name, in_dims, args, leaves)
        n = _batch_size(name, in_dims, leaves, dims)
        if chunk_size is None or chunk_size >= n:
            return _run(func, name, n, leaves, spec, dims, kwargs, out_dims, randomness)
        parts = []
        for start in range(0, n, chunk_size):
            size = min(chunk_size, n - start)
            chunk = [x if d is None else x.narrow(d, start, size) for x, d in zip(leaves, dims)]
            parts.append(_run(func, name, size, chunk, spec, dims, kwargs, out_dims, randomness))
        return _concat(parts, out_dims)
    return wrapper


def _run(func, name, n, leaves, spec, dims, kwargs, out_dims, randomness):
    level = Level(n, randomness)
    outer = state.vmap
    state.vmap = outer + (level,)
    try:
        batched = [x if d is None else BatchedTensor.wrap(x.movedim(d, 0), level)
                   for x, d in zip(leaves, dims)]
        out = func(*tree_unflatten(batched, spec), **kwargs)
    finally:
        state.vmap = outer
    return _unwrap(name, out, out_dims, level)


def _name(func):
    return getattr(func, "__name__", type(func).__name__)


def _in_dims(name, in_dims, args, leaves):
    if not isinstance(in_dims, (int, tuple, list)) and in_dims is not None:
        raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): expected `in_dims` to be int "
                         f"or a (potentially nested) tuple matching the structure of inputs, got: "
                         f"{type(in_dims)}.")
    if isinstance(in_dims, (tuple, list)) and len(in_dims) != len(args):
        raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): in_dims is not compatible "
                         f"with the structure of `inputs`. in_dims has {len(in_dims)} entries but "
                         f"the function got {len(args)} positional arguments.")
    try:
        dims = broadcast_prefix(in_dims if isinstance(in_dims, (tuple, list)) else
                                (in_dims,) * len(args), args)
    except ValueError:
        raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): in_dims is not compatible "
                         "with the structure of `inputs`.") from None
    for x, d in zip(leaves, dims):
        if d is None:
            continue
        if not isinstance(d, int):
            raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): in_dims must be None "
                             f"or ints, got {d!r}")
        if not isinstance(x, Tensor):
            raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={d} for an "
                             f"input but the input is of type {type(x)}. We cannot vmap over "
                             "non-Tensor arguments, please use None as the respective in_dim")
        if not -x.ndim <= d < max(x.ndim, 1) or x.ndim == 0:
            raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={d} for some "
                             f"input, but that input is a Tensor of dimensionality {x.ndim} so expected "
                             f"in_dim to satisfy -{x.ndim} <= in_dim < {x.ndim}.")
    return [None if d is None else d % x.ndim for x, d in zip(leaves, dims)]


def _batch_size(name, in_dims, leaves, dims):
    sizes = [x.shape[d] for x, d in zip(leaves, dims) if d is not None]
    if not sizes:
        raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dims={in_dims} but "
                         "no Tensor input is mapped: at least one Tensor must be vmapped over "
                         "(give it an int in_dim).")
    if len(set(sizes)) > 1:
        raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Expected all tensors to "
                         f"have the same size in the mapped dimension, got sizes {sizes} for the "
                         "mapped dimension")
    return sizes[0]


def _unwrap(name, out, out_dims, level):
    leaves, spec = tree_flatten(out)
    try:
        dims = broadcast_prefix(out_dims, out)
    except ValueError:
        raise ValueError(f"vmap({name}, ...): out_dims={out_dims} is not compatible with the structure "
                         "of the outputs") from None
    result = []
    for x, d in zip(leaves, dims):
        batched = type(x) is BatchedTensor and x._level is level
        if d is None:
            if batched:
                raise ValueError(f"vmap({name}, ...): `{name}` returned a tensor that differs across the "
                                 "batch for an output whose out_dim is None")
            result.append(x)
            continue
        if not isinstance(x, Tensor):
            raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, got type {type(x)} "
                             "(use out_dims=None for outputs that are not tensors)")
        value = x._value if batched else x.expand((level.size,) + tuple(x.shape))
        if not -value.ndim <= d < value.ndim:
            raise ValueError(f"vmap({name}, ...): out_dim={d} is out of range for an output with "
                             f"{value.ndim} dims (batch included)")
        result.append(value.movedim(0, d % value.ndim))
    return tree_unflatten(result, spec)


def _concat(parts, out_dims):
    from ..ops.shape import cat
    flat = [tree_flatten(p)[0] for p in parts]
    spec = tree_flatten(parts[0])[1]
    dims = broadcast_prefix(out_dims, parts[0])
    joined = [leaves[0] if d is None else cat(list(leaves), d)
              for d, leaves in zip(dims, zip(*flat))]
    return tree_unflatten(joined, spec)


# --- ops and functions without a rule: once per element -----------------------------------

_warned = set()


def _loop(name, n, call):
    """Stack call(i) over the batch elements i, after a warning (once per op or function)."""
    if name not in _warned:
        _warned.add(name)
        warnings.warn(f"vmap: there is no batching rule for {name}; it runs once per batch element "
                      "(correct, but slower than a rule)", stacklevel=5)
    if n == 0:
        raise RuntimeError(f"vmap: {name} has no batching rule and the batch is empty")
    outs = [call(i) for i in range(n)]
    if isinstance(outs[0], tuple):
        return tuple(stack(list(o)) for o in zip(*outs))
    return stack(outs)


def _op_fallback(cls, n, args, batched, kwargs, run=None):
    run = run or cls.apply
    return _loop(cls.name(), n, lambda i: run(*[a[i] if b else a for a, b in zip(args, batched)],
                                              **kwargs))


def _function_fallback(fn, n, bound, batched):
    values = dict(bound.arguments)

    def call(i):
        for k in batched:
            bound.arguments[k] = values[k][i]
        return fn(*bound.args, **bound.kwargs)
    return _loop(fn.__name__, n, call)


def _vjp_per_element(node, grads):
    """node.vjp on batched gradients; where the rule reads arrays itself (a hand-written
    backward), once per element of the innermost batch, the results stacked."""
    try:
        return node.vjp(*grads)
    except batching.BatchingError:
        level = batching.innermost(grads)
        if level is None:
            raise
    phys, batched = batching.unwrap(grads, level)
    per = [node.vjp(*[g[i] if b else g for g, b in zip(phys, batched)]) for i in range(level.size)]
    per = [p if isinstance(p, tuple) else (p,) for p in per]
    out = []
    for k, column in enumerate(zip(*per)):
        if all(c is None for c in column):
            out.append(None)
            continue
        like = next(c for c in column if c is not None)
        column = [creation.zeros_like(like) if c is None else c for c in column]
        out.append(BatchedTensor.wrap(stack(column), level))
    return tuple(out)


batching.fallback = _op_fallback
batching.function_fallback = _function_fallback
engine.vjp_batched = _vjp_per_element
