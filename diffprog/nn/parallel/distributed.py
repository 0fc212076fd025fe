"""`DistributedDataParallel`: a replica of the model on each rank, its gradients averaged
over the ranks during backward.

At wrap, rank 0's parameters and buffers are broadcast to every rank (after checking
that every rank has the same parameter shapes). The parameters are grouped into buckets
of about `bucket_cap_mb` MiB (the first one 1 MiB), in reverse order of
`module.parameters()`, as their gradients tend to come last layer first. During
backward, the engine calls a post-accumulate-grad hook on each parameter as soon as its
gradient is final; when every gradient of a bucket is in, the bucket is copied into one
flat array and summed over the ranks by a non-blocking MPI allreduce, while the engine
goes on with the earlier layers (each hook also lets MPI progress). Buckets start in the
same order on every rank, as MPI matches collectives by order. The last gradient waits
for all buckets and writes the averages into `.grad`.
"""
import contextlib
import functools
import weakref

import numpy as np

from ...autograd.engine import reachable_leaves
from ...autograd.grad_mode import is_grad_enabled
from ...distributed.collectives import broadcast
from ...distributed.process_group import mpi, resolve
from ...func.pytree import tree_flatten
from ...tensor import Tensor
from ..modules.module import Module

__all__ = ["DistributedDataParallel"]

_FIRST_BUCKET_BYTES = 1024 * 1024


class _Bucket:
    """Parameters whose gradients are summed in one allreduce, through `flat`."""

    def __init__(self, params):
        self.params = params
        self.flat = np.empty(sum(p._data.size for p in params), params[0]._data.dtype)
        self.slices, start = [], 0
        for p in params:
            self.slices.append(slice(start, start + p._data.size))
            start += p._data.size
        self.pending = len(params)
        self.request = None

    def pack(self):
        for p, s in zip(self.params, self.slices):
            if p._grad is None:                     # unused in this iteration (on this rank)
                self.flat[s] = 0
            else:
                self.flat[s] = p._grad._data.reshape(-1)

    def unpack(self, scale, used):
        np.multiply(self.flat, scale, out=self.flat)
        for p, s in zip(self.params, self.slices):
            if p._grad is not None or used(p):
                p._grad = Tensor._make(self.flat[s].reshape(p._data.shape).copy())


def _buckets(params, cap_bytes):
    """Buckets of same-dtype parameters, filled in reverse parameter order."""
    done, filling, limit = [], {}, min(_FIRST_BUCKET_BYTES, cap_bytes)
    for p in reversed(params):
        current = filling.setdefault(p._data.dtype, [])
        if current and sum(q._data.nbytes for q in current) + p._data.nbytes > limit:
            done.append(_Bucket(current))
            current = filling[p._data.dtype] = []
            limit = cap_bytes
        current.append(p)
    return done + [_Bucket(c) for c in filling.values() if c]


def _reachable_leaves(output):
    """ids of the leaves that the autograd graph of `output`'s tensors reaches."""
    tensors = [t for t in tree_flatten(output)[0] if isinstance(t, Tensor)]
    direct = {id(t) for t in tensors if t.grad_fn is None and t._requires_grad}
    return direct | reachable_leaves(tensors)


def _grad_ready(wrapper, p):
    """The parameters' hook; `wrapper` is a weak reference, so that the hooks do not keep
    a discarded DistributedDataParallel alive."""
    ddp = wrapper()
    if ddp is not None:
        ddp._grad_ready(p)


class DistributedDataParallel(Module):
    """Wraps `module` (as `self.module`: state_dict keys start with 'module.') for
    data-parallel training: call it as the module; after `loss.backward()` every rank's
    `.grad` holds the average over the ranks of their gradients.

    Args:
        module: the model, the same on every rank (rank 0's values are broadcast).
        device_ids, output_device: None (diffprog runs on the CPU).
        broadcast_buffers: copy rank 0's buffers (batch-norm statistics) to every rank at
            the start of each forward that will be followed by a synchronised backward.
        process_group: the ranks to average over (default: all).
        bucket_cap_mb: the size of a gradient bucket (default 25 MiB).
        find_unused_parameters: walk the graph of each forward's output to find the
            parameters it does not use, and count them as ready (their gradient stays None
            if no rank used them). Without it, every parameter must receive a gradient.

    PyTorch's other arguments (dim, check_reduction, gradient_as_bucket_view, static_graph,
    delay_all_reduce_named_params, param_to_hook_all_reduce) are accepted and change
    nothing; mixed_precision and device_mesh are refused.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 process_group=None, bucket_cap_mb=None, find_unused_parameters=False,
                 check_reduction=False, gradient_as_bucket_view=False, static_graph=False,
                 delay_all_reduce_named_params=None, param_to_hook_all_reduce=None,
                 mixed_precision=None, device_mesh=None):
        super().__init__()
        if device_ids not in (None, []) or output_device is not None:
            raise ValueError("DistributedDataParallel: device_ids and output_device must be None: "
                             "diffprog runs on the CPU, one model replica per process")
        if mixed_precision is not None or device_mesh is not None:
            raise ValueError("DistributedDataParallel: mixed_precision and device_mesh are not "
                             "supported (diffprog computes in the parameters' dtype, over one "
                             "process group)")
        self.module = module
        self.process_group = resolve(process_group, "DistributedDataParallel")
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * 1024 * 1024)
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have "
                               "any parameter that requires a gradient.")
        self._check_shapes(named)
        self._params = [p for _, p in named]
        self._module_buffers = list(module.buffers())
        self._sync(self._params + self._module_buffers)
        self._bucket_list = _buckets(self._params, self.bucket_bytes_cap)
        self._bucket_of = {id(p): b for b in self._bucket_list for p in b.params}
        self._armed = self._started = False
        self._ready, self._next, self._used = set(), 0, set()
        for p in self._params:
            p.register_post_accumulate_grad_hook(functools.partial(_grad_ready, weakref.ref(self)))

    def _check_shapes(self, named):
        """Every rank must wrap the same parameter shapes and dtypes."""
        mine = [(n, tuple(p.shape), str(p.dtype)) for n, p in named]
        for rank, theirs in zip(self.process_group.ranks, self.process_group.comm.allgather(mine)):
            if theirs != mine:
                i = next((i for i, (a, b) in enumerate(zip(mine, theirs)) if a != b),
                         min(len(mine), len(theirs)))
                here, there = (x[i] if i < len(x) else "no parameter" for x in (mine, theirs))
                raise RuntimeError(f"DistributedDataParallel: rank {rank}'s parameters differ from "
                                   f"this rank's (parameter {i}: {there} there, {here} here); every "
                                   "rank must wrap the same model")

    def _sync(self, tensors):
        """Broadcast `tensors` from the group's first rank."""
        src = self.process_group.ranks[0]
        works = [broadcast(t, src, self.process_group, async_op=True) for t in tensors]
        for w in works:
            w.wait()

    # --- forward ------------------------------------------------------------------------

    def forward(self, *inputs, **kwargs):
        sync = is_grad_enabled() and self.require_backward_grad_sync
        if sync and self._started:
            raise RuntimeError(
                "Expected to have finished reduction in the prior iteration before starting a new "
                "one. This error indicates that your module has parameters that were not used in "
                "producing loss. You can enable unused parameter detection by passing the keyword "
                "argument `find_unused_parameters=True` to `diffprog.nn.parallel."
                "DistributedDataParallel`, and by making sure all `forward` function outputs "
                "participate in calculating loss.")
        self.require_forward_param_sync = sync
        if sync and self.broadcast_buffers and self._module_buffers:
            self._sync(self._module_buffers)
        output = self.module(*inputs, **kwargs)
        if sync:
            self._arm(output)
        return output

    @contextlib.contextmanager
    def no_sync(self):
        """Backward passes of forwards run inside only accumulate gradients locally; the
        first synchronised backward after them averages the accumulated gradients."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    # --- backward -------------------------------------------------------------------------

    def _arm(self, output):
        """Get the buckets ready for the backward pass of this forward's output."""
        for b in self._bucket_list:
            b.pending, b.request = len(b.params), None
        self._ready, self._next, self._used = set(), 0, set()
        self._armed, self._started = True, False
        if self.find_unused_parameters:
            reached = _reachable_leaves(output)
            for p in self._params:
                if id(p) not in reached:
                    self._mark(p)

    def _grad_ready(self, p):
        if not self._armed:
            return
        self._started = True
        self._used.add(id(p))
        self._mark(p)

    def _mark(self, p):
        if id(p) in self._ready:
            raise RuntimeError("Expected to mark a variable ready only once: a parameter received "
                               "a gradient twice in one iteration (two backward passes through one "
                               "forward: use no_sync() for all but the last)")
        self._ready.add(id(p))
        bucket = self._bucket_of[id(p)]
        bucket.pending -= 1
        if bucket.pending == 0:
            self._launch_ready()
        elif self._next:
            self._progress()

    def _launch_ready(self):
        """Start the allreduce of each complete bucket, in bucket order."""
        MPI = mpi()
        buckets = self._bucket_list
        while self._next < len(buckets) and buckets[self._next].pending == 0:
            b = buckets[self._next]
            b.pack()
            b.request = self.process_group.comm.Iallreduce(MPI.IN_PLACE, b.flat, MPI.SUM)
            self._next += 1
        if self._next == len(buckets):
            self._finish(MPI)
        else:
            self._progress()

    def _progress(self):
        """Let MPI move the allreduces in flight along (MPI progresses inside its calls)."""
        mpi().Request.Testall([b.request for b in self._bucket_list[:self._next]])

    def _finish(self, MPI):
        used = None
        if self.find_unused_parameters:     # a gradient stays None where no rank used it
            flags = np.array([id(p) in self._used for p in self._params], np.uint8)
            self.process_group.comm.Allreduce(MPI.IN_PLACE, flags, MPI.MAX)
            used = {id(p) for p, f in zip(self._params, flags) if f}
        MPI.Request.Waitall([b.request for b in self._bucket_list])
        scale = 1.0 / self.process_group.size()
        for b in self._bucket_list:
            b.unpack(scale, lambda p: used is None or id(p) in used)
            b.request = None
        self._armed = self._started = False
