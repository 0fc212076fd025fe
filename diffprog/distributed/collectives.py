"""Collectives and point-to-point messages, with torch.distributed's signatures.

A tensor collective is one non-blocking MPI call on the tensor's own host array (in place,
as in PyTorch; a non-contiguous tensor goes through a contiguous copy). With
`async_op=True` it returns a `Work` to `wait()` on, else it waits and returns None. `src`
and `dst` are global ranks, `group_src` and `group_dst` ranks within `group` (give one of
the two), as in PyTorch. Objects travel pickled (as in PyTorch), between the processes of
one job only.
"""
import itertools
import math
import warnings

import numpy as np

from ..tensor import Tensor
from .process_group import ReduceOp, get_group_rank, mpi, resolve

__all__ = ["Work", "P2POp", "all_reduce", "broadcast", "reduce", "all_gather", "all_gather_single",
           "all_gather_into_tensor", "reduce_scatter", "reduce_scatter_single",
           "reduce_scatter_tensor", "all_to_all", "all_to_all_single", "gather", "scatter",
           "barrier", "send", "recv", "isend", "irecv", "batch_isend_irecv",
           "broadcast_object_list", "all_gather_object", "gather_object", "scatter_object_list"]


class Work:
    """A collective in flight. `wait()` blocks until this rank's part is done and its
    tensors hold the result; `is_completed()` asks without blocking."""

    def __init__(self, requests, finish=None):
        self._requests, self._finish, self._done = requests, finish, False

    def wait(self, timeout=None):
        if not self._done:
            mpi().Request.Waitall(self._requests)
            self._complete()
        return True

    def is_completed(self):
        if not self._done and mpi().Request.Testall(self._requests):
            self._complete()
        return self._done

    def _complete(self):
        self._done = True
        if self._finish is not None:
            self._finish()


def _issue(requests, finish, async_op):
    work = Work(requests, finish)
    if async_op:
        return work
    work.wait()
    return None


# --- buffers ----------------------------------------------------------------------------

def _check_tensor(tensor, op, name):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(tensor).__name__}")
    return tensor._data


def _send_buffer(tensor, op, name="tensor"):
    """The array whose contents this rank sends."""
    return np.ascontiguousarray(_check_tensor(tensor, op, name))


class _Output:
    """The array MPI writes `tensor`'s result into: the tensor's own, or a contiguous copy
    that `done()` writes back; `done()` also bumps the tensor's version, as in-place ops do."""

    def __init__(self, tensor, op, name="tensor"):
        data = _check_tensor(tensor, op, name)
        if not data.flags.writeable:
            raise ValueError(f"{op}: {name} (shape {tuple(data.shape)}, {tensor.dtype}) is read-only "
                             "and cannot receive the result")
        self.tensor = tensor
        self.array = data if data.flags.c_contiguous else np.ascontiguousarray(data)

    def done(self):
        if self.array is not self.tensor._data:
            self.tensor._data[...] = self.array
        self.tensor._vc[0] += 1


def _tensor_list(tensors, size, op, name, like=None):
    """The arrays of a list of `size` tensors (one per rank), each of `like`'s shape and
    dtype when `like` is given."""
    if not isinstance(tensors, (list, tuple)) or len(tensors) != size:
        raise ValueError(f"{op}: {name} must be a list of {size} tensors (one per rank), got "
                         f"{len(tensors) if isinstance(tensors, (list, tuple)) else type(tensors).__name__}")
    arrays = [_check_tensor(t, op, f"{name}[{i}]") for i, t in enumerate(tensors)]
    for i, data in enumerate(arrays):
        if like is not None and (data.shape != like.shape or data.dtype != like.dtype):
            raise ValueError(f"{op}: {name}[{i}] has shape {tuple(data.shape)} and dtype "
                             f"{tensors[i].dtype}; every tensor must have the shape "
                             f"{tuple(like.shape)} and dtype {_dtype_name(like)}")
    return arrays


def _outputs(tensors, like, size, op, name):
    """The output list of a gather: `size` tensors of `like`'s shape and dtype."""
    _tensor_list(tensors, size, op, name, like)
    return [_Output(t, op, f"{name}[{i}]") for i, t in enumerate(tensors)]


def _dtype_name(array):
    return Tensor._make(array).dtype


def _copy_into(outputs, stacked):
    """Write the pieces of `stacked` (one per rank, on dim 0) into the output tensors."""
    def finish():
        for out, piece in zip(outputs, stacked):
            out.array[...] = piece
            out.done()
    return finish


def _root(pg, rank, group_rank, op, name):
    """The group rank of a peer given as global rank `rank` (src, dst) or as `group_rank`
    (group_src, group_dst): one of the two."""
    if group_rank is not None:
        if rank is not None:
            raise ValueError(f"{op}: give {name} or group_{name}, not both")
        if not isinstance(group_rank, int) or not 0 <= group_rank < pg.size():
            raise ValueError(f"{op}: group_{name}={group_rank!r} is not a rank of {pg} "
                             f"(group ranks are 0..{pg.size() - 1})")
        return group_rank
    if rank is None:
        raise ValueError(f"{op}: give {name} (a global rank) or group_{name} (a rank in the group)")
    if not isinstance(rank, int) or rank not in pg.ranks:
        raise ValueError(f"{op}: {name}={rank!r} is not a rank of {pg}")
    return get_group_rank(pg, rank)


def _root_or_first(pg, rank, group_rank, op, name):
    """`_root`, where giving neither means global rank 0 (gather, scatter, the objects')."""
    return _root(pg, 0 if rank is None and group_rank is None else rank, group_rank, op, name)


def _not_self(pg, root, kind):
    if root == pg.rank():
        raise ValueError(f"Invalid {kind} rank: {kind} rank should not be the same as the rank "
                         "of the current process.")


# --- reductions -------------------------------------------------------------------------

_MPI_OPS = {ReduceOp.SUM: "SUM", ReduceOp.AVG: "SUM", ReduceOp.PRODUCT: "PROD",
            ReduceOp.MIN: "MIN", ReduceOp.MAX: "MAX", ReduceOp.BAND: "BAND", ReduceOp.BOR: "BOR",
            ReduceOp.BXOR: "BXOR"}
# On booleans MPI has only logical operations: a sum is an or, a product an and (PyTorch's).
_BOOL_OPS = {ReduceOp.SUM: "LOR", ReduceOp.PRODUCT: "LAND", ReduceOp.MIN: "LAND",
             ReduceOp.MAX: "LOR", ReduceOp.BAND: "LAND", ReduceOp.BOR: "LOR", ReduceOp.BXOR: "LXOR"}


def _mpi_op(op, array, name):
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{name}: op must be a ReduceOp (ReduceOp.SUM, ...), got {op!r}")
    kind = array.dtype.kind
    if op is ReduceOp.AVG and kind not in "fc":
        raise ValueError(f"{name}: ReduceOp.AVG needs a floating point or complex tensor, got "
                         f"{_dtype_name(array)}")
    if op in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR) and kind not in "iub":
        raise ValueError(f"{name}: {op} needs an integer or bool tensor, got {_dtype_name(array)}")
    if op in (ReduceOp.MIN, ReduceOp.MAX) and kind == "c":
        raise ValueError(f"{name}: {op} is not defined for complex tensors")
    return getattr(mpi(), (_BOOL_OPS if kind == "b" else _MPI_OPS)[op])


def _reduced(out, op, size):
    def finish():
        if op is ReduceOp.AVG:
            np.true_divide(out.array, size, out=out.array)
        out.done()
    return finish


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine `tensor` over the ranks with `op`; every rank gets the result, in place."""
    pg = resolve(group, "all_reduce")
    out = _Output(tensor, "all_reduce")
    req = pg.comm.Iallreduce(mpi().IN_PLACE, out.array, _mpi_op(op, out.array, "all_reduce"))
    return _issue([req], _reduced(out, op, pg.size()), async_op)


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    """Combine `tensor` over the ranks with `op` into rank `dst`'s tensor (the others'
    are left as they were)."""
    pg = resolve(group, "reduce")
    root = _root(pg, dst, group_dst, "reduce", "dst")
    if pg.rank() == root:
        out = _Output(tensor, "reduce")
        req = pg.comm.Ireduce(mpi().IN_PLACE, out.array, _mpi_op(op, out.array, "reduce"), root)
        return _issue([req], _reduced(out, op, pg.size()), async_op)
    data = _send_buffer(tensor, "reduce")
    return _issue([pg.comm.Ireduce(data, None, _mpi_op(op, data, "reduce"), root)], None, async_op)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """Rank i's `output` = input_list[i] combined over the ranks with `op`."""
    pg = resolve(group, "reduce_scatter")
    out = _Output(output, "reduce_scatter", "output")
    stacked = np.stack(_tensor_list(input_list, pg.size(), "reduce_scatter", "input_list", out.array))
    req = pg.comm.Ireduce_scatter_block(stacked, out.array, _mpi_op(op, stacked, "reduce_scatter"))
    return _issue([req], _reduced(out, op, pg.size()), async_op)


def reduce_scatter_single(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """Rank i's `output` = the i-th of world_size equal pieces of `input` (the outputs
    concatenated on dim 0, or stacked), combined over the ranks with `op`."""
    pg = resolve(group, "reduce_scatter_single")
    out = _Output(output, "reduce_scatter_single", "output")
    data = _send_buffer(input, "reduce_scatter_single", "input")
    _check_world_times(out.array, data, pg.size(), "reduce_scatter_single", "input", "output")
    req = pg.comm.Ireduce_scatter_block(data, out.array, _mpi_op(op, data, "reduce_scatter_single"))
    return _issue([req], _reduced(out, op, pg.size()), async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """The older name of `reduce_scatter_single` (deprecated in PyTorch 2.13, as here)."""
    warnings.warn("`diffprog.distributed.reduce_scatter_tensor` is deprecated. Please use "
                  "`diffprog.distributed.reduce_scatter_single` instead.", FutureWarning, stacklevel=2)
    return reduce_scatter_single(output, input, op, group, async_op)


def _check_world_times(small, big, size, op, big_name, small_name):
    """`big` must hold `size` times `small`'s elements, of the same dtype."""
    if big.size != size * small.size or big.dtype != small.dtype:
        raise ValueError(f"{op}: {big_name} (shape {tuple(big.shape)}, {_dtype_name(big)}) must "
                         f"hold {size} times {small_name} (shape {tuple(small.shape)}, "
                         f"{_dtype_name(small)}), of the same dtype")


# --- moving data --------------------------------------------------------------------------

def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    """Copy rank `src`'s tensor into every rank's `tensor`."""
    pg = resolve(group, "broadcast")
    root = _root(pg, src, group_src, "broadcast", "src")
    out = _Output(tensor, "broadcast")
    return _issue([pg.comm.Ibcast(out.array, root)], out.done, async_op)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """tensor_list[i] = rank i's `tensor`, on every rank."""
    pg = resolve(group, "all_gather")
    data = _send_buffer(tensor, "all_gather")
    outputs = _outputs(tensor_list, data, pg.size(), "all_gather", "tensor_list")
    stacked = np.empty((pg.size(),) + data.shape, data.dtype)
    return _issue([pg.comm.Iallgather(data, stacked)], _copy_into(outputs, stacked), async_op)


def all_gather_single(output_tensor, input_tensor, group=None, async_op=False):
    """The ranks' `input_tensor`s concatenated on dim 0 (or stacked: output of shape
    (world_size, *input.shape)) into `output_tensor`, on every rank."""
    pg = resolve(group, "all_gather_single")
    data = _send_buffer(input_tensor, "all_gather_single", "input_tensor")
    out = _Output(output_tensor, "all_gather_single", "output_tensor")
    _check_world_times(data, out.array, pg.size(), "all_gather_single", "output_tensor",
                       "input_tensor")
    return _issue([pg.comm.Iallgather(data, out.array)], out.done, async_op)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """The older name of `all_gather_single` (deprecated in PyTorch 2.13, as here)."""
    warnings.warn("`diffprog.distributed.all_gather_into_tensor` is deprecated. Please use "
                  "`diffprog.distributed.all_gather_single` instead.", FutureWarning, stacklevel=2)
    return all_gather_single(output_tensor, input_tensor, group, async_op)


def _as_bytes(array):
    """A flat byte view of a contiguous array: data that is only moved travels as bytes,
    whatever its dtype (MPI has no float16 or bfloat16)."""
    return array.reshape(-1).view(np.uint8)


def _alltoallv(pg, send, send_counts, recv, recv_counts, finish, async_op):
    """MPI_Ialltoallv of byte buffers, `*_counts[j]` bytes to / from group rank j."""
    def spec(buffer, counts):
        return [buffer, (counts, [0, *itertools.accumulate(counts[:-1])])]
    req = pg.comm.Ialltoallv(spec(send, send_counts), spec(recv, recv_counts))
    return _issue([req], finish, async_op)


def all_to_all(output_tensor_list, input_tensor_list, group=None, async_op=False):
    """output_tensor_list[j] of rank i = input_tensor_list[i] of rank j: each rank sends
    one tensor to each rank (their sizes may differ; one dtype for all)."""
    pg = resolve(group, "all_to_all")
    inputs = _tensor_list(input_tensor_list, pg.size(), "all_to_all", "input_tensor_list")
    _tensor_list(output_tensor_list, pg.size(), "all_to_all", "output_tensor_list")
    dtypes = {str(t.dtype) for t in [*input_tensor_list, *output_tensor_list]}
    if len(dtypes) > 1:
        raise ValueError(f"all_to_all: every input and output tensor must have one dtype, got "
                         f"{sorted(dtypes)}")
    outputs = [_Output(t, "all_to_all", f"output_tensor_list[{j}]")
               for j, t in enumerate(output_tensor_list)]
    send = np.concatenate([_as_bytes(np.ascontiguousarray(a)) for a in inputs])
    recv = np.empty(sum(o.array.nbytes for o in outputs), np.uint8)
    recv_counts = [o.array.nbytes for o in outputs]

    def finish():
        start = 0
        for o, n in zip(outputs, recv_counts):
            _as_bytes(o.array)[...] = recv[start:start + n]
            o.done()
            start += n
    return _alltoallv(pg, send, [a.nbytes for a in inputs], recv, recv_counts, finish, async_op)


def _splits(sizes, array, size, op, name):
    """The dim-0 split of `array` into `size` pieces (equal when `sizes` is None), in rows."""
    if array.ndim == 0:
        raise ValueError(f"{op}: {name} must have at least one dimension")
    rows = array.shape[0]
    if sizes is None or len(sizes) == 0:
        if rows % size:
            raise ValueError(f"{op}: {name} of shape {tuple(array.shape)}: its dim 0 ({rows}) must "
                             f"divide by the world size {size}, or give {name}_split_sizes")
        return [rows // size] * size
    sizes = [int(n) for n in sizes]
    if len(sizes) != size or sum(sizes) != rows or min(sizes) < 0:
        raise ValueError(f"{op}: {name}_split_sizes {sizes} must be {size} sizes (one per rank) "
                         f"adding up to dim 0 of {name} (shape {tuple(array.shape)})")
    return sizes


def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None, group=None,
                      async_op=False):
    """Rank i's `input` is split on dim 0 (input_split_sizes[j] rows to rank j, equal
    pieces by default); rank i's `output` is what the ranks sent it, in rank order
    (output_split_sizes[j] rows from rank j)."""
    pg, op = resolve(group, "all_to_all_single"), "all_to_all_single"
    data = _send_buffer(input, op, "input")
    out = _Output(output, op, "output")
    if data.dtype != out.array.dtype or data.shape[1:] != out.array.shape[1:]:
        raise ValueError(f"{op}: output (shape {tuple(out.array.shape)}, {output.dtype}) and input "
                         f"(shape {tuple(data.shape)}, {input.dtype}) must have the same dtype and "
                         "the same shape after dim 0")
    row = math.prod(data.shape[1:]) * data.itemsize          # bytes in one slice of dim 0
    send = [n * row for n in _splits(input_split_sizes, data, pg.size(), op, "input")]
    recv = [n * row for n in _splits(output_split_sizes, out.array, pg.size(), op, "output")]
    return _alltoallv(pg, _as_bytes(data), send, _as_bytes(out.array), recv, out.done, async_op)


def gather(tensor, gather_list=None, dst=None, group=None, async_op=False, group_dst=None):
    """gather_list[i] = rank i's `tensor`, on rank `dst` (default 0; the others pass no list)."""
    pg = resolve(group, "gather")
    root = _root_or_first(pg, dst, group_dst, "gather", "dst")
    data = _send_buffer(tensor, "gather")
    if pg.rank() != root:
        if gather_list:
            raise ValueError("gather: Argument ``gather_list`` must NOT be specified on "
                             "non-destination ranks.")
        return _issue([pg.comm.Igather(data, None, root)], None, async_op)
    outputs = _outputs(gather_list, data, pg.size(), "gather", "gather_list")
    stacked = np.empty((pg.size(),) + data.shape, data.dtype)
    return _issue([pg.comm.Igather(data, stacked, root)], _copy_into(outputs, stacked), async_op)


def scatter(tensor, scatter_list=None, src=None, group=None, async_op=False, group_src=None):
    """Every rank i's `tensor` = scatter_list[i] of rank `src` (default 0; the others pass
    no list)."""
    pg = resolve(group, "scatter")
    root = _root_or_first(pg, src, group_src, "scatter", "src")
    out = _Output(tensor, "scatter")
    if pg.rank() != root:
        if scatter_list:
            raise ValueError("scatter: Argument ``scatter_list`` must NOT be specified on "
                             "non-source ranks.")
        return _issue([pg.comm.Iscatter(None, out.array, root)], out.done, async_op)
    _outputs(scatter_list, out.array, pg.size(), "scatter", "scatter_list")
    stacked = np.stack([t._data for t in scatter_list])
    return _issue([pg.comm.Iscatter(stacked, out.array, root)], out.done, async_op)


def barrier(group=None, async_op=False, device_ids=None):
    """Wait until every rank of the group has reached the barrier."""
    pg = resolve(group, "barrier")
    return _issue([pg.comm.Ibarrier()], None, async_op)


# --- point to point ---------------------------------------------------------------------

def isend(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Send `tensor` to rank `dst` without waiting; returns a Work."""
    pg = resolve(group, "isend")
    data = _send_buffer(tensor, "isend")
    return Work([pg.comm.Isend(data, _root(pg, dst, group_dst, "isend", "dst"), tag)])


def send(tensor, dst=None, group=None, tag=0, group_dst=None):
    pg = resolve(group, "send")
    root = _root(pg, dst, group_dst, "send", "dst")
    _not_self(pg, root, "destination")
    isend(tensor, group=pg, tag=tag, group_dst=root).wait()


def _source(pg, src, group_src, op):
    if src is None and group_src is None:
        return mpi().ANY_SOURCE
    return _root(pg, src, group_src, op, "src")


def irecv(tensor, src=None, group=None, tag=0, group_src=None):
    """Receive into `tensor` from rank `src` (any rank when None) without waiting."""
    pg = resolve(group, "irecv")
    out = _Output(tensor, "irecv")
    return Work([pg.comm.Irecv(out.array, _source(pg, src, group_src, "irecv"), tag)], out.done)


def recv(tensor, src=None, group=None, tag=0, group_src=None):
    """Receive into `tensor` from rank `src` (any rank when None); returns the sender's
    global rank."""
    pg = resolve(group, "recv")
    out = _Output(tensor, "recv")
    source = _source(pg, src, group_src, "recv")
    if source != mpi().ANY_SOURCE:
        _not_self(pg, source, "source")
    status = mpi().Status()
    pg.comm.Recv(out.array, source, tag, status)
    out.done()
    return pg.ranks[status.Get_source()]


class P2POp:
    """One send or receive of `batch_isend_irecv`: `op` is `isend` or `irecv`, `peer`
    the other end's global rank (or `group_peer` its rank in `group`)."""

    def __init__(self, op, tensor, peer=None, group=None, tag=0, group_peer=None):
        if op not in (isend, irecv):
            raise ValueError("Invalid ``op``. Expected ``op`` to be of type "
                             "``diffprog.distributed.isend`` or ``diffprog.distributed.irecv``.")
        _check_tensor(tensor, "P2POp", "tensor")
        self.op, self.tensor, self.tag = op, tensor, tag
        self.group = resolve(group, "P2POp")
        self.group_peer = _root(self.group, peer, group_peer, "P2POp", "peer")
        self.peer = self.group.ranks[self.group_peer]

    def __repr__(self):
        me = self.group.rank()
        src, dst = (me, self.group_peer) if self.op is isend else (self.group_peer, me)
        return (f"P2POp({self.op.__name__} group_src={src}, group_dst={dst}, "
                f"{tuple(self.tensor.shape)}, {self.tensor.dtype})")


def batch_isend_irecv(p2p_op_list):
    """Start every send and receive of the list (P2POps, of one group) at once; returns
    their Works. The order between ranks does not matter: none waits for another."""
    if not isinstance(p2p_op_list, list) or not p2p_op_list or not all(
            isinstance(p, P2POp) for p in p2p_op_list):
        raise ValueError("Invalid ``p2p_op_list``. Each op is expected to to be of type "
                         "``diffprog.distributed.P2POp``.")
    if any(p.group is not p2p_op_list[0].group for p in p2p_op_list):
        raise ValueError("All ops need to use the same group.")
    return [p.op(p.tensor, group=p.group, tag=p.tag,
                 **{"group_dst" if p.op is isend else "group_src": p.group_peer})
            for p in p2p_op_list]


# --- picklable objects --------------------------------------------------------------------

def broadcast_object_list(object_list, src=None, group=None, device=None, group_src=None):
    """Replace the contents of every rank's `object_list` by rank `src`'s."""
    pg = resolve(group, "broadcast_object_list")
    root = _root_or_first(pg, src, group_src, "broadcast_object_list", "src")
    object_list[:] = pg.comm.bcast(list(object_list) if pg.rank() == root else None, root)


def _object_slots(object_list, size, op):
    if not isinstance(object_list, list) or len(object_list) != size:
        raise ValueError(f"{op}: the output list must be a list of {size} items (one per rank)")


def all_gather_object(object_list, obj, group=None):
    """object_list[i] = rank i's `obj`, on every rank."""
    pg = resolve(group, "all_gather_object")
    _object_slots(object_list, pg.size(), "all_gather_object")
    object_list[:] = pg.comm.allgather(obj)


def gather_object(obj, object_gather_list=None, dst=None, group=None, group_dst=None):
    """object_gather_list[i] = rank i's `obj`, on rank `dst`."""
    pg = resolve(group, "gather_object")
    root = _root_or_first(pg, dst, group_dst, "gather_object", "dst")
    if pg.rank() == root:
        _object_slots(object_gather_list, pg.size(), "gather_object")
    gathered = pg.comm.gather(obj, root)
    if pg.rank() == root:
        object_gather_list[:] = gathered


def scatter_object_list(scatter_object_output_list, scatter_object_input_list=None, src=None,
                        group=None, group_src=None):
    """scatter_object_output_list[0] = scatter_object_input_list[i] of rank `src`, on each rank i."""
    pg = resolve(group, "scatter_object_list")
    root = _root_or_first(pg, src, group_src, "scatter_object_list", "src")
    if pg.rank() == root:
        _object_slots(scatter_object_input_list, pg.size(), "scatter_object_list")
    if not isinstance(scatter_object_output_list, list) or not scatter_object_output_list:
        raise ValueError("scatter_object_list: scatter_object_output_list must be a list of at "
                         "least one item")
    scatter_object_output_list[0] = pg.comm.scatter(
        list(scatter_object_input_list) if pg.rank() == root else None, root)
