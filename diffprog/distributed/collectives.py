"""Collectives and point-to-point messages, with torch.distributed's signatures.

A tensor collective is one non-blocking MPI call on the tensor's own host array (in place,
as in PyTorch; a non-contiguous tensor goes through a contiguous copy). With
`async_op=True` it returns a `Work` to `wait()` on, else it waits and returns None. `src`
and `dst` are global ranks, as in PyTorch. Objects travel pickled (as in PyTorch), between
the processes of one job only.
"""
import numpy as np

from ..tensor import Tensor
from .process_group import ReduceOp, get_group_rank, mpi, resolve

__all__ = ["Work", "all_reduce", "broadcast", "reduce", "all_gather", "all_gather_into_tensor",
           "gather", "scatter", "barrier", "send", "recv", "isend", "irecv",
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


def _outputs(tensors, like, size, op, name):
    """Checks the output list of a gather: `size` tensors of `like`'s shape and dtype."""
    if not isinstance(tensors, (list, tuple)) or len(tensors) != size:
        raise ValueError(f"{op}: {name} must be a list of {size} tensors (one per rank), got "
                         f"{len(tensors) if isinstance(tensors, (list, tuple)) else type(tensors).__name__}")
    for i, t in enumerate(tensors):
        data = _check_tensor(t, op, f"{name}[{i}]")
        if data.shape != like.shape or data.dtype != like.dtype:
            raise ValueError(f"{op}: {name}[{i}] has shape {tuple(data.shape)} and dtype {t.dtype}; "
                             f"every tensor must have the input's shape {tuple(like.shape)} and "
                             f"dtype {_dtype_name(like)}")
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


def _root(pg, rank, op, name):
    """The group rank of global rank `rank` (src / dst)."""
    if not isinstance(rank, int) or rank not in pg.ranks:
        raise ValueError(f"{op}: {name}={rank!r} is not a rank of {pg}")
    return get_group_rank(pg, rank)


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


def reduce(tensor, dst, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine `tensor` over the ranks with `op` into rank `dst`'s tensor (the others'
    are left as they were)."""
    pg = resolve(group, "reduce")
    root = _root(pg, dst, "reduce", "dst")
    if pg.rank() == root:
        out = _Output(tensor, "reduce")
        req = pg.comm.Ireduce(mpi().IN_PLACE, out.array, _mpi_op(op, out.array, "reduce"), root)
        return _issue([req], _reduced(out, op, pg.size()), async_op)
    data = _send_buffer(tensor, "reduce")
    return _issue([pg.comm.Ireduce(data, None, _mpi_op(op, data, "reduce"), root)], None, async_op)


# --- moving data --------------------------------------------------------------------------

def broadcast(tensor, src, group=None, async_op=False):
    """Copy rank `src`'s tensor into every rank's `tensor`."""
    pg = resolve(group, "broadcast")
    root = _root(pg, src, "broadcast", "src")
    out = _Output(tensor, "broadcast")
    return _issue([pg.comm.Ibcast(out.array, root)], out.done, async_op)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """tensor_list[i] = rank i's `tensor`, on every rank."""
    pg = resolve(group, "all_gather")
    data = _send_buffer(tensor, "all_gather")
    outputs = _outputs(tensor_list, data, pg.size(), "all_gather", "tensor_list")
    stacked = np.empty((pg.size(),) + data.shape, data.dtype)
    return _issue([pg.comm.Iallgather(data, stacked)], _copy_into(outputs, stacked), async_op)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """The ranks' `input_tensor`s concatenated on dim 0 (or stacked: output of shape
    (world_size, *input.shape)) into `output_tensor`, on every rank."""
    pg = resolve(group, "all_gather_into_tensor")
    data = _send_buffer(input_tensor, "all_gather_into_tensor", "input_tensor")
    out = _Output(output_tensor, "all_gather_into_tensor", "output_tensor")
    if out.array.size != pg.size() * data.size or out.array.dtype != data.dtype:
        raise ValueError(f"all_gather_into_tensor: output_tensor (shape {tuple(out.array.shape)}, "
                         f"{output_tensor.dtype}) must hold {pg.size()} times input_tensor (shape "
                         f"{tuple(data.shape)}, {input_tensor.dtype}), of the same dtype")
    return _issue([pg.comm.Iallgather(data, out.array)], out.done, async_op)


def gather(tensor, gather_list=None, dst=0, group=None, async_op=False):
    """gather_list[i] = rank i's `tensor`, on rank `dst` (the others pass no list)."""
    pg = resolve(group, "gather")
    root = _root(pg, dst, "gather", "dst")
    data = _send_buffer(tensor, "gather")
    if pg.rank() != root:
        if gather_list:
            raise ValueError("gather: Argument ``gather_list`` must NOT be specified on "
                             "non-destination ranks.")
        return _issue([pg.comm.Igather(data, None, root)], None, async_op)
    outputs = _outputs(gather_list, data, pg.size(), "gather", "gather_list")
    stacked = np.empty((pg.size(),) + data.shape, data.dtype)
    return _issue([pg.comm.Igather(data, stacked, root)], _copy_into(outputs, stacked), async_op)


def scatter(tensor, scatter_list=None, src=0, group=None, async_op=False):
    """Every rank i's `tensor` = scatter_list[i] of rank `src` (the others pass no list)."""
    pg = resolve(group, "scatter")
    root = _root(pg, src, "scatter", "src")
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

def isend(tensor, dst, group=None, tag=0):
    """Send `tensor` to rank `dst` without waiting; returns a Work."""
    pg = resolve(group, "isend")
    data = _send_buffer(tensor, "isend")
    return Work([pg.comm.Isend(data, _root(pg, dst, "isend", "dst"), tag)])


def send(tensor, dst, group=None, tag=0):
    isend(tensor, dst, group, tag).wait()


def irecv(tensor, src=None, group=None, tag=0):
    """Receive into `tensor` from rank `src` (any rank when None) without waiting."""
    pg = resolve(group, "irecv")
    out = _Output(tensor, "irecv")
    source = mpi().ANY_SOURCE if src is None else _root(pg, src, "irecv", "src")
    return Work([pg.comm.Irecv(out.array, source, tag)], out.done)


def recv(tensor, src=None, group=None, tag=0):
    """Receive into `tensor` from rank `src` (any rank when None); returns the sender's rank."""
    pg = resolve(group, "recv")
    out = _Output(tensor, "recv")
    source = mpi().ANY_SOURCE if src is None else _root(pg, src, "recv", "src")
    status = mpi().Status()
    pg.comm.Recv(out.array, source, tag, status)
    out.done()
    return pg.ranks[status.Get_source()]


# --- picklable objects --------------------------------------------------------------------

def broadcast_object_list(object_list, src=0, group=None, device=None):
    """Replace the contents of every rank's `object_list` by rank `src`'s."""
    pg = resolve(group, "broadcast_object_list")
    root = _root(pg, src, "broadcast_object_list", "src")
    object_list[:] = pg.comm.bcast(list(object_list) if pg.rank() == root else None, root)


def _object_slots(object_list, size, op):
    if not isinstance(object_list, list) or len(object_list) != size:
        raise ValueError(f"{op}: the output list must be a list of {size} items (one per rank)")


def all_gather_object(object_list, obj, group=None):
    """object_list[i] = rank i's `obj`, on every rank."""
    pg = resolve(group, "all_gather_object")
    _object_slots(object_list, pg.size(), "all_gather_object")
    object_list[:] = pg.comm.allgather(obj)


def gather_object(obj, object_gather_list=None, dst=0, group=None):
    """object_gather_list[i] = rank i's `obj`, on rank `dst`."""
    pg = resolve(group, "gather_object")
    root = _root(pg, dst, "gather_object", "dst")
    if pg.rank() == root:
        _object_slots(object_gather_list, pg.size(), "gather_object")
    gathered = pg.comm.gather(obj, root)
    if pg.rank() == root:
        object_gather_list[:] = gathered


def scatter_object_list(scatter_object_output_list, scatter_object_input_list=None, src=0,
                        group=None):
    """scatter_object_output_list[0] = scatter_object_input_list[i] of rank `src`, on each rank i."""
    pg = resolve(group, "scatter_object_list")
    root = _root(pg, src, "scatter_object_list", "src")
    if pg.rank() == root:
        _object_slots(scatter_object_input_list, pg.size(), "scatter_object_list")
    if not isinstance(scatter_object_output_list, list) or not scatter_object_output_list:
        raise ValueError("scatter_object_list: scatter_object_output_list must be a list of at "
                         "least one item")
    scatter_object_output_list[0] = pg.comm.scatter(
        list(scatter_object_input_list) if pg.rank() == root else None, root)
