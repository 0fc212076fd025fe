"""Reverse mode: walk the graph from the outputs back to the leaves.

The walk is iterative (no recursion limit on deep graphs) and runs the newest node first:
a node is made after every node whose outputs it consumes, so all nodes that feed it a
gradient have run before it (PyTorch's sequence numbers: `_seq` counts down, a heap pops
the newest).  Each `vjp` runs once, on the sum of the gradients flowing into the node;
unless `retain_graph`, the node then drops what it saved.

The engine knows tensors and nodes only by the attributes it reads, so it sits below both:
- a tensor has `_data` (its array), `_requires_grad`, `grad_fn` and `_out_nr` (the node that
  made it and which of its outputs it is), `_grad`, `_hooks`, `_post_hooks`, `_plain` (False
  for batched and other subclasses, which the fast paths leave alone) and `_new_plain(array)`;
- a node (`ops/op.py`'s Op) has `args`, `edges` (per input: (node, output number), (leaf,
  None) or None), `_seq`, `n_out`, `_out` (its output arrays), `vjp(*grads)`, `release()`, `name()`,
  `_freed`, `_hooks`, `_retained` and `_trace`.
"""
from heapq import heappop, heappush
from weakref import WeakSet

from .._array import ones, sum_to, xp
from .._array.device import as_array, device_of, is_array, move
from .grad_mode import state
_ndarray = xp.ndarray

# Set by diffprog.func.vmap: runs a node's vjp on batched gradients (a backward pass inside
# vmap, over a graph made outside it), once per batch element where the vjp needs to.
vjp_batched = None

# Leaves with post-accumulate-grad hooks: the walk counts edges into them while there are any.
post_hooked = WeakSet()


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate gradients of `tensors` into the `.grad` of the leaves (or of `inputs`)."""
    tensors = _as_list(tensors)
    roots = _root_grads(tensors, grad_tensors, "backward")
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        inputs = _as_list(inputs)
        grads = _run(roots, retain_graph, create_graph, inputs)
        for t, g in zip(inputs, grads):
            if g is not None:
                _accumulate(t, g if create_graph else g._data, create_graph, set())
        return
    _run(roots, retain_graph, create_graph, None)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Return d(outputs)/d(inputs) without touching any `.grad`."""
    outputs = _as_list(outputs)
    inputs = _as_list(inputs)
    for t in inputs:
        if not t._requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    roots = _root_grads(outputs, grad_outputs, "grad")
    if retain_graph is None:
        retain_graph = create_graph
    grads = _run(roots, retain_graph, create_graph, inputs)
    for i, g in enumerate(grads):
        if g is None:
            if materialize_grads:
                grads[i] = inputs[i]._new_plain(xp.zeros_like(inputs[i]._data))
            elif not allow_unused:
                raise RuntimeError("One of the differentiated Tensors appears to not have been used "
                                   "in the graph. Set allow_unused=True if this is the desired behavior.")
    return tuple(grads)


def _root_grads(tensors, grad_tensors, who):
    grad_tensors = [None] * len(tensors) if grad_tensors is None else _as_list(grad_tensors)
    if len(grad_tensors) != len(tensors):
        raise RuntimeError(f"{who}: got {len(grad_tensors)} gradients for {len(tensors)} tensors")
    roots = []
    for t, g in zip(tensors, grad_tensors):
        if not t._requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
        if g is None:
            if t._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            a = t._data         # (a 0-d one without NumPy's Python-level ones())
            g = t._new_plain(xp.array(1, a.dtype, like=a) if not a.ndim else ones(a.shape, a.dtype, like=a))
        elif not _is_tensor(g):
            g = t._new_plain(xp.asarray(g, dtype=t._data.dtype, like=t._data))
        elif g.shape != t.shape:
            raise RuntimeError(f"{who}: mismatch in shape: grad_output has a shape of {tuple(g.shape)} "
                               f"and output has a shape of {tuple(t.shape)}")
        roots.append((t, g))
    return roots


def _reachable(root_nodes, pending):
    """The set of nodes reachable from the roots; counts the edges into hooked leaves."""
    seen, stack = set(), list(root_nodes)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        for e in node.edges:
            if e is not None:
                if e[1] is not None:
                    stack.append(e[0])
                elif e[0]._post_hooks:
                    pending[id(e[0])] = pending.get(id(e[0]), 0) + 1
    return seen


def _run(roots, retain_graph, create_graph, inputs):
    plain = all(g._plain for _, g in roots)
    # Plain mode (no create_graph, no vmap, compile, forward AD or anomaly detection): the
    # gradients are arrays throughout, summed in place into sums the engine made itself, and
    # a node whose op is `raw` runs its vjp on arrays, without making tensors or ops.
    raw = plain and not create_graph and not state.active
    buffers = {}              # node -> list of summed gradients, one per output
    queue = []                # (node._seq, node) for the nodes in buffers: a heap, newest first
    owned = {} if raw else None   # id -> sum it may add into in place
    leaves = {}               # id(leaf) -> [leaf, summed gradient]
    for t, g in roots:
        _add(buffers, queue, leaves, (t.grad_fn, t._out_nr) if t.grad_fn is not None else (t, None),
             g._data if raw else g, owned)
    taken = {id(g._data) for _, g in roots} if inputs is None else None   # never alias a caller's gradient

    # With `inputs`, capture the gradient of each and skip nodes that cannot reach one.
    wanted, pending = None, {}    # pending: id(leaf) -> edges yet to run into it (hooked leaves)
    if inputs is not None or post_hooked:
        reachable = _reachable([t.grad_fn for t, _ in roots if t.grad_fn is not None], pending)
    if inputs is not None:
        pending = None        # autograd.grad and backward(inputs=) accumulate at the end
        wanted = {}
        for i, t in enumerate(inputs):
            key = (id(t.grad_fn), t._out_nr) if t.grad_fn is not None else (id(t), None)
            wanted.setdefault(key, []).append(i)
        useful = _useful_nodes(reachable, wanted)
        captured = [None] * len(inputs)

    batched = not plain and vjp_batched is not None
    wrap = roots[0][0]._new_plain if raw else None     # arrays -> tensors, where needed
    anomaly = not raw and state.anomaly
    prev = state.grad_enabled
    state.grad_enabled = create_graph
    try:
        while queue:
            node = heappop(queue)[1]
            grads = buffers.pop(node)
            if wanted is not None and node not in useful:
                continue
            if node._freed:
                raise freed_error()
            if owned:                # handed on now: a vjp may pass them through unchanged
                for g in grads:
                    owned.pop(id(g), None)
            if node._hooks or node._retained:
                grads = _node_hooks(node, _tensors(grads, wrap) if raw else grads, raw)
            if wanted is not None:
                for k, g in enumerate(grads):
                    for i in wanted.get((id(node), k), ()):
                        captured[i] = wrap(g) if raw and g is not None else g
            if node.n_out > 1 and any(g is None for g in grads) and getattr(node, "materialize_grads", True):
                make = (lambda a: a) if raw else next(g for g in grads if g is not None)._new_plain
                grads = [g if g is not None else make(xp.zeros_like(o)) for g, o in zip(grads, node._out)]
            if batched:
                in_grads = vjp_batched(node, grads)
            elif raw and node.raw:
                node._raw = True     # ctx.input and ctx.output give arrays
                try:
                    in_grads = node.vjp(*grads)
                finally:
                    node._raw = False
            else:
                in_grads = node.vjp(*(_tensors(grads, wrap) if raw else grads))
            if type(in_grads) is not tuple:
                in_grads = tuple(in_grads) if isinstance(in_grads, list) else (in_grads,)
            if anomaly:
                _check_anomaly(node, in_grads)
            for e, g, a in zip(node.edges, in_grads, node.args):
                if e is None or g is None:
                    continue
                if not raw:
                    g = _fit(g, a, node)
                elif type(g) is not _ndarray or g.shape != a._data.shape or g.dtype != a._data.dtype:
                    g = _fit_array(g, a._data, node)
                _add(buffers, queue, leaves, e, g, owned)
            if pending:
                _settle_leaves(node, pending, leaves, create_graph, taken, wrap)
            if not retain_graph:
                node.release()
    finally:
        state.grad_enabled = prev

    if inputs is not None:
        for key, (leaf, g) in leaves.items():
            g = _leaf_hooks(leaf, wrap(g) if raw else g)
            for i in wanted.get((key, None), ()):
                captured[i] = g
        return captured
    for leaf, g in leaves.values():
        _finish_leaf(leaf, g, create_graph, taken, wrap)
    return None


def _tensors(grads, wrap):
    return [g if g is None else wrap(g) for g in grads]


def _settle_leaves(node, pending, leaves, create_graph, taken, wrap):
    """Accumulate the hooked leaves that `node` was the last to feed, while the walk goes on."""
    for e in node.edges:
        if e is not None and e[1] is None and id(e[0]) in pending:
            pending[id(e[0])] -= 1
            if not pending[id(e[0])] and id(e[0]) in leaves:
                _finish_leaf(*leaves.pop(id(e[0])), create_graph, taken, wrap)


def _finish_leaf(leaf, g, create_graph, taken, wrap):
    """Hooks, then accumulation into .grad; g is an array in plain mode (wrap is set)."""
    if leaf._hooks:
        g = _leaf_hooks(leaf, wrap(g))._data if wrap else _leaf_hooks(leaf, g)
    _accumulate(leaf, g if wrap or create_graph else g._data, create_graph, taken)


def _useful_nodes(nodes, wanted):
    """Those of nodes from which some wanted tensor is reachable."""
    wanted_nodes = {k[0] for k in wanted if k[1] is not None}
    wanted_leaves = {k[0] for k in wanted if k[1] is None}
    useful = set()
    for node in sorted(nodes, key=lambda node: node._seq, reverse=True):      # producers first
        if id(node) in wanted_nodes or any(
                e is not None and ((e[1] is None and id(e[0]) in wanted_leaves) or e[0] in useful)
                for e in node.edges):
            useful.add(node)
    return useful


def _add(buffers, queue, leaves, edge, g, owned):
    """Sum g into the gradient buffer of the edge's target (a node output or a leaf); a node
    that gets its first gradient joins the queue."""
    target, nr = edge
    if nr is None:                                   # a leaf
        entry = leaves.get(id(target))
        if entry is None:
            leaves[id(target)] = [target, g]
        else:
            entry[1] = _sum(entry[1], g, owned)
        return
    slots = buffers.get(target)
    if slots is None:
        heappush(queue, (target._seq, target))
        slots = buffers[target] = [None] * target.n_out
    slots[nr] = g if slots[nr] is None else _sum(slots[nr], g, owned)


def _sum(a, b, owned):
    """a + b; in plain mode (owned is a dict, a and b are arrays) in place into sums the engine
    made itself, so a weight used at every step of a sequence costs one buffer, not one a step."""
    if owned is None:
        return a + b
    if owned.get(id(a)) is a:
        a += b
        return a
    s = as_array(a + b)              # (NumPy makes 0-d sums scalars)
    owned[id(s)] = s
    return s


def _fit(g, a, node):
    """Reduce a gradient over broadcast dimensions, cast it to the input's dtype, move it to its device."""
    if not _is_tensor(g):
        raise TypeError(f"{node.name()}: vjp returned {type(g).__name__}, expected a Tensor")
    if g.device != a.device:
        g = g.to(a.device)
    if g.shape != a.shape:
        try:
            g = g.sum_to_size(a.shape)
        except RuntimeError:
            raise RuntimeError(f"{node.name()}: vjp returned a gradient of shape {tuple(g.shape)} "
                               f"for an input of shape {tuple(a.shape)}") from None
    if g.dtype is not a.dtype and (a.is_floating_point() or a.is_complex()):
        if g.is_complex() and a.is_floating_point():
            g = g.real                  # a real input keeps the real part (PyTorch's rule)
        g = g.to(a.dtype)
    return g


def _fit_array(g, a, node):
    """`_fit` in plain mode, on arrays; a vjp that is not raw gives tensors."""
    if not is_array(g):
        if not (_is_tensor(g) or isinstance(g, xp.generic)):       # (NumPy's 0-d results)
            raise TypeError(f"{node.name()}: vjp returned {type(g).__name__}, expected a Tensor")
        g = g._data if _is_tensor(g) else as_array(g)
    g = g if type(g) is type(a) else move(g, device_of(a))     # (a 0-d CPU operand of a device op)
    if g.shape != a.shape:
        try:
            g = sum_to(g, a.shape)
        except (RuntimeError, ValueError):
            raise RuntimeError(f"{node.name()}: vjp returned a gradient of shape {tuple(g.shape)} "
                               f"for an input of shape {tuple(a.shape)}") from None
    if g.dtype != a.dtype and a.dtype.kind in "fc":
        return (g.real if g.dtype.kind == "c" and a.dtype.kind == "f" else g).astype(a.dtype)
    return g


def _node_hooks(node, grads, raw):
    if node._hooks:
        for k, hooks in node._hooks.items():
            for h in hooks:
                out = h(grads[k])
                if out is not None:
                    grads[k] = out
    if node._retained:
        for k, ref in node._retained.items():
            t = ref()
            if t is not None and grads[k] is not None and t.grad_fn is node:
                g = grads[k] if state.grad_enabled else grads[k].detach()
                t._grad = g if t._grad is None else t._grad + g
    return [g if g is None else g._data for g in grads] if raw else grads


def _leaf_hooks(leaf, g):
    for h in leaf._hooks or ():
        out = h(g)
        if out is not None:
            g = out
    return g


def _accumulate(leaf, g, create_graph, taken):
    """Add g (an array unless create_graph) into leaf.grad: in place where it can, as PyTorch
    (the same .grad tensor, one version on); a new .grad's array is the leaf's own, never an
    alias.  Then call the leaf's post-accumulate-grad hooks."""
    old = leaf._grad
    if create_graph:
        g = g if old is None else old + g
    elif old is not None and type(d := old._data) is type(g) and d.shape == g.shape and \
            d.dtype == g.dtype and d.flags.writeable:
        d += g
        old._vc[0] += 1
        g = old
    else:
        if old is not None:
            g = old._data + g
        elif id(g) in taken or not (g.flags.owndata and g.flags.writeable):
            g = g.copy()
        taken.add(id(g))
        g = leaf._new_plain(g)
    leaf._grad = g
    for hook in leaf._post_hooks or ():
        hook(leaf)


def _check_anomaly(node, grads):
    for i, g in enumerate(grads):
        if g is not None and g._plain and not xp.all(xp.isfinite(g._data)):
            where = getattr(node, "_trace", "") or "(enable detect_anomaly before the forward pass)"
            raise RuntimeError(
                f"Function '{type(node).__name__}Backward0' returned nan values in its {i}th output.\n"
                f"The forward call that created it ({node.name()}) was made at:\n{where}")


def reachable_leaves(tensors):
    """ids of the leaves whose gradients a backward pass from `tensors` would reach."""
    nodes = _reachable([t.grad_fn for t in tensors if t.grad_fn is not None], {})
    return {id(e[0]) for node in nodes for e in node.edges if e is not None and e[1] is None}


def _is_tensor(x):
    return hasattr(x, "_new_plain")


def _as_list(x):
    """A tensor or a sequence of them, as a list."""
    return x if type(x) is list else [x] if _is_tensor(x) else list(x)


def freed_error():
    return RuntimeError(
        "Trying to backward through the graph a second time (or directly access saved tensors "
        "after they have already been freed). Saved intermediate values of the graph are freed "
        "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
        "backward through the graph a second time or if you need to access saved tensors after "
        "calling backward.")
