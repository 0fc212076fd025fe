"""What `Trial` does differently when it runs on several ranks (an initialised
diffprog.distributed process group, typically with a DistributedDataParallel model):

- the metrics of each pass of `run()` are averaged over the ranks before callbacks see
  them, so every rank logs, early-stops and checkpoints on the same numbers (a mean of
  per-rank means: the mean over all samples when the ranks see equally many, as
  DistributedSampler arranges); `evaluate()` and `predict()` stay local, so that one rank
  may evaluate alone;
- only rank 0 writes files (checkpoints, CSV logs); every rank resumes from them;
- a DistributedSampler in the training loader is told the epoch, so each epoch (resumed
  or not) reshuffles the same way on every rank.
"""
from .. import distributed

__all__ = ["several_ranks", "writes_files", "average_over_ranks", "set_sampler_epoch"]


def several_ranks():
    return distributed.is_initialized() and distributed.get_world_size() > 1


def writes_files():
    """Whether this process writes the trial's files: rank 0, or a process on its own."""
    return not distributed.is_initialized() or distributed.get_rank() == 0


def average_over_ranks(metrics):
    """`metrics` with each float value replaced by its mean over the ranks (every rank
    must call this with the same keys)."""
    if not several_ranks():
        return metrics
    mine = {k: v for k, v in metrics.items() if isinstance(v, float)}
    gathered = [None] * distributed.get_world_size()
    distributed.all_gather_object(gathered, mine)
    shared = [k for k in mine if all(k in other for other in gathered)]
    return dict(metrics, **{k: sum(other[k] for other in gathered) / len(gathered) for k in shared})


def set_sampler_epoch(loader, epoch):
    """Tell the loader's sampler (a DistributedSampler) which epoch is starting."""
    sampler = getattr(loader, "sampler", None)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)
