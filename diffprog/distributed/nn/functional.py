"""Differentiable collectives, and batch norm over several processes built on them.

The job's loss is the sum of the ranks' losses (each rank's own `backward()`), as in
PyTorch. So the gradient of `all_reduce` (y = sum over ranks of x, on every rank) is the
same all_reduce of the gradients: d loss / d x_r = sum over ranks s of d loss_s / d y_s.

`SyncBatchNorm` is the fused batch-norm op (ops/nn.py `Normalize`) with its means taken
over every element of the group: forward sums the channels' values and then their
squared deviations from the global mean over the ranks (two allreduces); the VJP and JVP
are Normalize's, whose two means over the batch each become an all_reduce here, so
double backward and forward mode work too.
"""
from ..._array import xp
from ...ops.nn import BatchNorm
from ...ops.op import Op
from ..process_group import ReduceOp, mpi, resolve

__all__ = ["all_reduce", "sync_batch_norm"]


def _sum_over(pg, array):
    """The elementwise sum over the ranks of `pg` of a (copied) array."""
    out = xp.array(array, copy=True, order="C")
    pg.comm.Allreduce(mpi().IN_PLACE, out, mpi().SUM)
    return out


class AllReduce(Op):
    """y = the sum (or mean, ReduceOp.AVG) over the ranks of x, on every rank."""
    op_name = "all_reduce"

    def forward(ctx, x, *, op, group):
        ctx.op, ctx.group = op, group
        y = _sum_over(group, x)
        return y / group.size() if op is ReduceOp.AVG else y

    def vjp(ctx, g):
        return AllReduce.apply(g, op=ctx.op, group=ctx.group)

    def jvp(ctx, dx):
        return AllReduce.apply(dx, op=ctx.op, group=ctx.group)


def all_reduce(tensor, op=ReduceOp.SUM, group=None):
    """`torch.distributed.nn.all_reduce`: a new tensor, the sum (or mean) over the ranks
    of `tensor`, through which gradients flow back to every rank."""
    if op not in (ReduceOp.SUM, ReduceOp.AVG):
        raise ValueError(f"distributed.nn.all_reduce: only ReduceOp.SUM and ReduceOp.AVG have a "
                         f"gradient, got {op}")
    return AllReduce.apply(tensor, op=op, group=resolve(group, "distributed.nn.all_reduce"))


class SyncBatchNorm(BatchNorm):
    """Batch norm in training over the union of the ranks' batches (which may differ in size)."""
    op_name = "sync_batch_norm"

    def forward(ctx, x, w=None, b=None, *, group, **kwargs):
        ctx.group = group
        return super().forward(x, w, b, **kwargs)

    def moments(ctx, x):
        sums = x.sum(axis=ctx.dims, keepdims=True)
        total = _sum_over(ctx.group, xp.append(sums.astype(xp.float64).ravel(), x.size // sums.size))
        ctx.count = int(total[-1])
        if ctx.count <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got {ctx.count} "
                             f"over the {ctx.group.size()} ranks (input size {x.shape} here)")
        mean = (total[:-1] / ctx.count).astype(x.dtype).reshape(sums.shape)
        xc = x - mean
        sq = xp.multiply(xc, xc)
        var = _sum_over(ctx.group, sq.sum(axis=ctx.dims, keepdims=True)) / ctx.count
        return mean, xc, sq, var.astype(x.dtype), ctx.count

    def mean_over(ctx, t):
        return AllReduce.apply(t.sum(ctx.dims, keepdim=True), op=ReduceOp.SUM,
                               group=ctx.group) / ctx.count


def sync_batch_norm(input, running_mean, running_var, weight, bias, momentum, eps, group):
    """Batch norm in training with the statistics of the whole batch of `group` (a
    ProcessGroup); the running statistics (if given) are updated with them, the same on
    every rank."""
    c = input.shape[1]
    shape = (c,) + (1,) * (input.ndim - 2)
    running = (running_mean, running_var, momentum) if (
        running_mean is not None or running_var is not None) else None
    return SyncBatchNorm.apply(input, weight.reshape(shape) if weight is not None else None,
                               bias.reshape(shape) if bias is not None else None,
                               dims=(0,) + tuple(range(2, input.ndim)), eps=eps, running=running,
                               group=group)
