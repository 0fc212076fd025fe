"""`diffprog.distributed` (`torch.distributed`): data-parallel training over MPI.

    python -m diffprog.distributed.run --nproc-per-node 2 train.py     # the launcher

    import diffprog.distributed as dist
    dist.init_process_group("mpi")
    model = diffprog.nn.parallel.DistributedDataParallel(model)

Process groups and their queries live in `process_group`, the collectives in
`collectives`, the differentiable ones (and SyncBatchNorm's op) in `nn`, the launcher in
`run` (docs/distributed.md). mpi4py and an MPI runtime come
with `pip install 'diffprog[distributed]'`; without them this module still imports and
`is_available()` is False.
"""
from .process_group import (Backend, GroupMember, ProcessGroup, ReduceOp,  # noqa: F401
                            destroy_process_group, get_backend, get_global_rank, get_group_rank,
                            get_rank, get_world_size, group, init_process_group, is_available,
                            is_gloo_available, is_initialized, is_mpi_available,
                            is_nccl_available, is_torchelastic_launched, new_group)
from .collectives import (P2POp, Work, all_gather, all_gather_into_tensor,  # noqa: F401
                          all_gather_object, all_gather_single, all_reduce, all_to_all,
                          all_to_all_single, barrier, batch_isend_irecv, broadcast,
                          broadcast_object_list, gather, gather_object, irecv, isend, recv,
                          reduce, reduce_scatter, reduce_scatter_single, reduce_scatter_tensor,
                          scatter, scatter_object_list, send)
from . import collectives, process_group

__all__ = process_group.__all__ + collectives.__all__
