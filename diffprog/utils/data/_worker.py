"""The loop each DataLoader worker process runs, and what it tells the main process.

A worker reads tasks `(task_id, index)` from its own index queue, fetches and collates
the batch, and puts `(task_id, batch)` on the result queue shared by all workers.  An
exception travels back as an `ExceptionWrapper` holding the original traceback text; the
end of an iterable dataset as `IterationEnd`.  `None` asks the worker to exit;
`ResumeIteration` starts a new epoch (persistent workers) and is echoed back, so the
main process knows where the stale results of the previous epoch end.
"""
import os
import pickle
import queue
import random
import sys
import traceback

import numpy as np

from ... import parallel, random as _random
from ._fetch import make_fetcher

__all__ = ["WorkerInfo", "get_worker_info"]

STATUS_INTERVAL = 1.0      # seconds between checks that the other side is still alive

_worker_info = None


class WorkerInfo:
    """What a worker knows about itself: `id`, `num_workers`, `seed` and its `dataset`
    copy.  Returned by `get_worker_info()` inside a worker process."""

    def __init__(self, id, num_workers, seed, dataset):
        self.id, self.num_workers, self.seed, self.dataset = id, num_workers, seed, dataset

    def __repr__(self):
        return (f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed}, "
                f"dataset={self.dataset!r})")


def get_worker_info():
    """Information about the current DataLoader worker, or None in the main process."""
    return _worker_info


class ResumeIteration:
    pass


class IterationEnd:
    def __init__(self, worker_id):
        self.worker_id = worker_id


class _KeyErrorMessage(str):
    """KeyError shows its argument's repr; this keeps the traceback text readable."""

    def __repr__(self):
        return self


class ExceptionWrapper:
    """The exception being handled, as its type and a message holding its traceback."""

    def __init__(self, where):
        exc_type, exc, tb = sys.exc_info()
        self.msg = (f"Caught {exc_type.__name__} {where}.\nOriginal "
                    + "".join(traceback.format_exception(exc_type, exc, tb)))
        try:
            pickle.dumps(exc_type)
            self.exc_type = exc_type
        except Exception:   # a class the main process can't look up (e.g. defined locally)
            self.exc_type = RuntimeError

    def reraise(self):
        msg = _KeyErrorMessage(self.msg) if self.exc_type is KeyError else self.msg
        try:
            exc = self.exc_type(msg)
        except Exception:   # the type needs other constructor arguments
            raise RuntimeError(msg) from None
        raise exc


def _seed(seed):
    """Seed every generator a dataset is likely to use: Python's, ours and NumPy's."""
    random.seed(seed)
    _random.manual_seed(seed)
    np.random.seed(np.random.SeedSequence(seed).generate_state(4))


def worker_loop(worker_id, num_workers, dataset, fetch_options, index_queue, result_queue,
                done_event, base_seed, init_fn, parent_pid):
    """Serve tasks until told to stop, the loader is shut down, or the parent dies."""
    global _worker_info
    try:
        parallel.set_num_threads(1)         # as PyTorch's workers: no pool per worker
        seed = base_seed + worker_id
        _seed(seed)
        _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
        where = f"in DataLoader worker process {worker_id}"
        init_error = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = make_fetcher(dataset, *fetch_options)
        except Exception:
            init_error = ExceptionWrapper(where)    # reported as the answer to the first task
        iteration_end = False
        while True:
            try:
                task = index_queue.get(timeout=STATUS_INTERVAL)
            except queue.Empty:
                if os.getppid() != parent_pid:
                    break
                continue
            if task is None:
                break
            if isinstance(task, ResumeIteration):
                if init_error is None:
                    fetcher = make_fetcher(dataset, *fetch_options)
                iteration_end = False
                result_queue.put((task, None))
                continue
            if done_event.is_set() or iteration_end:
                continue
            task_id, index = task
            if init_error is not None:
                batch = init_error
            else:
                try:
                    batch = fetcher.fetch(index)
                except StopIteration:
                    batch, iteration_end = IterationEnd(worker_id), True
                except Exception:
                    batch = ExceptionWrapper(where)
            result_queue.put((task_id, batch))
            del batch, task, index       # don't hold the last batch's memory while waiting
    except KeyboardInterrupt:
        pass                             # the main process handles Ctrl-C
    if done_event.is_set():              # results nobody will read: exit without flushing
        result_queue.cancel_join_thread()
        result_queue.close()
