"""Activation checkpointing (`torch.utils.checkpoint`): trade compute for memory.

`checkpoint(fn, *args)` returns fn(*args) as one node of the graph. The intermediate
results of fn are freed after the forward pass and recomputed during backward (with the
random state of the first run, so dropout draws the same masks). To know which tensors fn
reads, the forward runs once with the graph recorded: its leaves (module parameters, any
other tensor that requires grad) become the node's operands, then that graph is dropped.
So gradients reach parameters with `backward()` and `autograd.grad` alike, and, because
the recomputation is differentiated with `create_graph` when asked, to any order.
`use_reentrant` selects PyTorch's older behaviour only where it differs: without an input
that requires grad, the outputs don't either.
"""
import warnings

from ..autograd import grad as _grad
from ..autograd.function import Function
from ..autograd.grad_mode import enable_grad, is_grad_enabled, no_grad
from ..random import get_rng_state, set_rng_state
from ..tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential", "detach_variable"]

_REENTRANT_WARNING = (
    "torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. Starting in "
    "PyTorch 2.9, calling checkpoint without use_reentrant will raise an exception. "
    "use_reentrant=False is recommended, but if you need to preserve the current default behavior, "
    "you can pass use_reentrant=True. Refer to docs for more details on the differences between "
    "the two variants.")


def detach_variable(inputs):
    """Detached copies of the tensors in a tuple, each requiring grad as its original."""
    if not isinstance(inputs, tuple):
        raise RuntimeError(f"Only tuple of tensors is supported. Got Unsupported input type: "
                           f"{type(inputs).__name__}")
    return tuple(x.detach().requires_grad_(x.requires_grad) if isinstance(x, Tensor) else x
                 for x in inputs)


def _leaves(outputs, skip):
    """The leaf tensors that require grad and that `outputs` were computed from (skipping
    the ids in `skip`); an iterative walk over the recorded nodes."""
    found, seen = [], set()
    stack = [t.grad_fn for t in outputs if t.grad_fn is not None]
    stack += [t for t in outputs if t.grad_fn is None and t.requires_grad]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, Tensor):
            if id(node) not in skip:
                found.append(node)
            continue
        for edge in node.edges or ():
            if edge is not None:
                stack.append(edge[0])
    return found


def _tensors(out):
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for t in out if isinstance(t, Tensor)]
    raise TypeError(f"checkpoint: the function must return a tensor or a tuple/list of tensors, "
                    f"got {type(out).__name__}")


class _Checkpoint(Function):
    """One node for the whole checkpointed call: operands are the inputs and the leaves."""

    @staticmethod
    def forward(ctx, run, *tensors):
        ctx.run = run
        return tuple(Tensor._make(t._data) for t in run.outputs)

    @staticmethod
    def backward(ctx, *grads):
        run = ctx.run
        higher = is_grad_enabled()           # create_graph: the gradient must stay a function
        inputs = tuple(run.args) if higher else detach_variable(tuple(run.args))   # of the inputs
        current = get_rng_state()
        if run.rng is not None:
            set_rng_state(run.rng)
        try:
            with enable_grad():
                outputs = _tensors(run.function(*inputs, **run.kwargs))
        finally:
            set_rng_state(current)
        pairs = [(o, g) for o, g in zip(outputs, grads) if o.requires_grad and g is not None]
        wanted = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad] + run.leaves
        found = _grad([o for o, _ in pairs], wanted, [g for _, g in pairs], allow_unused=True,
                      create_graph=higher) if pairs else [None] * len(wanted)
        found = list(found)
        per_input = [found.pop(0) if isinstance(a, Tensor) and a.requires_grad else None
                     for a in run.args if isinstance(a, Tensor)]
        return (None, *per_input, *found)


class _Run:
    """What the node needs to run the function again."""

    def __init__(self, function, args, kwargs, rng, outputs, leaves):
        self.function, self.args, self.kwargs = function, args, kwargs
        self.rng, self.outputs, self.leaves = rng, outputs, leaves


def checkpoint(function, *args, use_reentrant=None, context_fn=None, determinism_check="default",
               debug=False, preserve_rng_state=True, **kwargs):
    """function(*args, **kwargs) without keeping its intermediate results for backward."""
    if use_reentrant is None:
        warnings.warn(_REENTRANT_WARNING, stacklevel=2)
        use_reentrant = True
    if not is_grad_enabled():
        return function(*args, **kwargs)
    if use_reentrant and not any(isinstance(a, Tensor) and a.requires_grad for a in args):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None",
                      stacklevel=2)
        with no_grad():
            return function(*args, **kwargs)
    rng = get_rng_state() if preserve_rng_state else None
    inputs = detach_variable(tuple(args))
    with enable_grad():
        out = function(*inputs, **kwargs)
    outputs = _tensors(out)
    leaves = _leaves(outputs, {id(t) for t in inputs if isinstance(t, Tensor)})
    run = _Run(function, args, kwargs, rng, outputs, leaves)
    fresh = iter(_Checkpoint.apply(run, *[a for a in args if isinstance(a, Tensor)], *leaves))
    run.outputs = None                   # the recorded graph goes with the first outputs
    if isinstance(out, Tensor):
        return next(fresh)
    return type(out)(next(fresh) if isinstance(o, Tensor) else o for o in out)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run a Sequential (or list of modules) in `segments` chunks, all but the last one
    checkpointed."""
    if use_reentrant is None:
        warnings.warn(_REENTRANT_WARNING, stacklevel=2)
        use_reentrant = True

    def run(start, end):
        def forward(x):
            for j in range(start, end + 1):
                x = functions[j](x)
            return x
        return forward

    from ..nn import Sequential
    if isinstance(functions, Sequential):
        functions = list(functions.children())
    size = len(functions) // segments
    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(run(start, end), input, use_reentrant=use_reentrant, **kwargs)
    return run(end + 1, len(functions) - 1)(input)
