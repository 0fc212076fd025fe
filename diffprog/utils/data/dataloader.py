"""DataLoader: batches from a dataset, in the main process or in worker processes.

With `num_workers > 0` each worker is a process (forked on Linux) with its own copy of the
dataset.  The main process hands out batches of indices round-robin, keeping
`prefetch_factor` tasks per worker in flight, and yields the results in sampler order
(`in_order=False`: as they arrive).  Batches travel back pickled through a pipe (no shared
memory).  `pin_memory=True` puts the tensors of each batch in page-locked memory (in the
main process), from which `to('cuda', non_blocking=True)` copies asynchronously; where
there is no accelerator it warns, as PyTorch, and leaves the batches as they are.
"""
import itertools
import multiprocessing
import os
import queue
import sys
import time
import warnings
import weakref
from collections.abc import Mapping

from ... import random as _random
from ..._array.device import library
from ...tensor import Tensor
from ._worker import (STATUS_INTERVAL, ExceptionWrapper, IterationEnd, ResumeIteration,
                      worker_loop)
from ._fetch import make_fetcher
from .collate import _is_namedtuple, _same_mapping, default_collate, default_convert
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader"]

_JOIN_TIMEOUT = 5.0    # seconds a worker gets to exit before it is terminated


class _InfiniteConstantSampler(Sampler):
    """Index source for iterable datasets: the fetcher ignores the values (None)."""

    def __iter__(self):
        return itertools.repeat(None)


class DataLoader:
    """Iterate over `dataset` in batches.

    Args:
        dataset: a map-style `Dataset` or an `IterableDataset`.
        batch_size: samples per batch; None turns batching off (samples are only converted
            by `collate_fn`, default `default_convert`).
        shuffle: visit samples in a new random order each epoch (draws from `generator`).
        sampler, batch_sampler: custom index order / custom batches of indices.
        num_workers: worker processes; 0 loads in the main process.
        collate_fn: merges a list of samples into a batch (default `default_collate`).
        drop_last: drop the last batch when it is smaller than `batch_size`.
        timeout: seconds to wait for a batch from the workers (0: forever).
        worker_init_fn: called as `worker_init_fn(worker_id)` in each worker, after seeding.
        multiprocessing_context: a start method name or context (default: fork on Linux).
        generator: source of the shuffling order and of the workers' base seed.
        prefetch_factor: batches loaded ahead per worker (default 2 with workers).
        persistent_workers: keep the workers alive between epochs.
        in_order: yield batches in sampler order (False: as soon as any is ready).
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device="",
                 in_order=True):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing. "
                             "let num_workers > 0 to enable multiprocessing, otherwise set "
                             "prefetch_factor to None.")
        if prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if isinstance(dataset, IterableDataset):
            if shuffle not in (None, False):
                raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler "
                                 f"option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")

        if sampler is None:
            if isinstance(dataset, IterableDataset):
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.collate_fn = collate_fn or (default_collate if batch_sampler is not None
                                         else default_convert)
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        self.prefetch_factor = 2 if prefetch_factor is None and num_workers > 0 else prefetch_factor
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self._iterator = None

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def _fetch_options(self):
        return self._auto_collation, self.collate_fn, self.drop_last

    def __iter__(self):
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        if not self.persistent_workers:
            return _MultiProcessIter(self)
        if self._iterator is None:
            self._iterator = _MultiProcessIter(self)
        else:
            self._iterator._reset(self)
        return self._iterator

    def __len__(self):
        if isinstance(self.dataset, IterableDataset):
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self._index_sampler)


def _base_seed(loader):
    """The workers' base seed.  Drawn by single-process iterators too, so that a shuffled
    loader yields the same batches whatever its num_workers (as in PyTorch)."""
    return int(_random.randint(0, 2**63 - 1, (), generator=loader.generator).item())


def _pins(loader):
    """Whether this loader's batches go to pinned memory, with PyTorch's warnings."""
    if loader.pin_memory and loader.pin_memory_device:
        warnings.warn("pin_memory_device is deprecated, the current accelerator will be used as the device,"
                      f"ignore pin_memory_device='{loader.pin_memory_device}'.")
    if loader.pin_memory and library("cuda") is None:
        warnings.warn("'pin_memory' argument is set as true but no accelerator is found, then device "
                      "pinned memory won't be used.")
        return False
    return loader.pin_memory


def pin_batch(data):
    """`data` with every tensor in it in pinned memory: through mappings, named and plain
    tuples, lists, and objects with a `pin_memory` method (as torch.utils.data's)."""
    if isinstance(data, Tensor):
        return data.pin_memory()
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, Mapping):
        return _same_mapping(data, {k: pin_batch(v) for k, v in data.items()})
    if _is_namedtuple(data):
        return type(data)(*(pin_batch(v) for v in data))
    if isinstance(data, (tuple, list)):
        return type(data)(pin_batch(v) for v in data)
    return data.pin_memory() if hasattr(data, "pin_memory") else data


class _SingleProcessIter:
    def __init__(self, loader):
        self._length = loader.__len__
        self._pin = _pins(loader)
        _base_seed(loader)
        self._indices = iter(loader._index_sampler)
        self._fetcher = make_fetcher(loader.dataset, *loader._fetch_options())

    def __iter__(self):
        return self

    def __len__(self):
        return self._length()

    def __next__(self):
        batch = self._fetcher.fetch(next(self._indices))
        return pin_batch(batch) if self._pin else batch


def _default_context():
    # fork is fast and needs nothing picklable; elsewhere it is unsafe (macOS) or missing.
    return multiprocessing.get_context("fork" if sys.platform.startswith("linux") else None)


class _WorkerPool:
    """The worker processes of one iterator and the queues that connect them to it."""

    def __init__(self, loader, base_seed):
        ctx = loader.multiprocessing_context or _default_context()
        if isinstance(ctx, str):
            ctx = multiprocessing.get_context(ctx)
        self.result_queue = ctx.Queue()
        self.done = ctx.Event()
        self.index_queues, self.workers = [], []
        for worker_id in range(loader.num_workers):
            index_queue = ctx.Queue()
            index_queue.cancel_join_thread()    # never block exit on tasks nobody will run
            worker = ctx.Process(target=worker_loop, daemon=True, args=(
                worker_id, loader.num_workers, loader.dataset, loader._fetch_options(), index_queue,
                self.result_queue, self.done, base_seed, loader.worker_init_fn, os.getpid()))
            worker.start()
            self.index_queues.append(index_queue)
            self.workers.append(worker)
        self.closed = False

    def check_alive(self):
        dead = [w for w in self.workers if not w.is_alive()]
        if dead:
            self.shutdown()
            codes = ", ".join(f"pid {w.pid}: exit code {w.exitcode}" for w in dead)
            raise RuntimeError(f"DataLoader worker(s) exited unexpectedly ({codes})")

    def shutdown(self):
        """Stop every worker: ask politely, then terminate the ones that don't listen."""
        if self.closed:
            return
        self.closed = True
        self.done.set()
        for q in self.index_queues:
            q.put(None)
        deadline = time.monotonic() + _JOIN_TIMEOUT
        for w in self.workers:
            w.join(max(0.0, deadline - time.monotonic()))
            if w.is_alive():
                w.terminate()
                w.join()
        for q in self.index_queues:
            q.close()
        self.result_queue.cancel_join_thread()
        self.result_queue.close()


class _MultiProcessIter:
    """Hands out index batches to workers and collects their results.

    `_task_info[task_id]` is the worker a task went to, or `(worker, batch)` once its
    batch arrived ahead of its turn.  Tasks are numbered in sampler order; `_rcvd_idx` is
    the next one to yield."""

    def __init__(self, loader):
        self._length = loader.__len__
        self._num_workers = loader.num_workers
        self._prefetch = loader.prefetch_factor * loader.num_workers
        self._timeout = loader.timeout
        self._in_order = loader.in_order
        self._persistent = loader.persistent_workers
        self._pin = _pins(loader)
        self._pool = _WorkerPool(loader, _base_seed(loader))
        self._shutdown = weakref.finalize(self, self._pool.shutdown)
        self._reset(loader, first_epoch=True)

    def _reset(self, loader, first_epoch=False):
        self._indices = iter(loader._index_sampler)
        self._send_idx = self._rcvd_idx = self._outstanding = 0
        self._task_info = {}
        self._active = [True] * self._num_workers
        self._next_worker = itertools.cycle(range(self._num_workers))
        if not first_epoch:     # persistent workers: drop results of an unfinished epoch
            for q in self._pool.index_queues:
                q.put(ResumeIteration())
            acknowledged = 0
            while acknowledged < self._num_workers:
                acknowledged += isinstance(self._get()[0], ResumeIteration)
        for _ in range(self._prefetch):
            self._try_put_index()

    def __iter__(self):
        return self

    def __len__(self):
        return self._length()

    def _try_put_index(self):
        if self._outstanding >= self._prefetch or not any(self._active):
            return
        worker = next(w for w in self._next_worker if self._active[w])
        index = next(self._indices, StopIteration)
        if index is StopIteration:
            return
        self._pool.index_queues[worker].put((self._send_idx, index))
        self._task_info[self._send_idx] = worker
        self._send_idx += 1
        self._outstanding += 1

    def _get(self):
        """The next `(task_id, batch)` from any worker, watching for timeout and dead workers."""
        start = time.monotonic()
        while True:
            wait = STATUS_INTERVAL
            if self._timeout:
                wait = min(wait, start + self._timeout - time.monotonic())
            try:
                return self._pool.result_queue.get(timeout=max(wait, 0.0))
            except queue.Empty:
                if self._timeout and time.monotonic() - start >= self._timeout:
                    raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds") from None
                self._pool.check_alive()

    def _skip_done_tasks(self):
        """Move past tasks already yielded (out of order) or lost with a finished worker."""
        while self._rcvd_idx < self._send_idx:
            entry = self._task_info.get(self._rcvd_idx)
            if entry is not None and (isinstance(entry, tuple) or self._active[entry]):
                return
            self._task_info.pop(self._rcvd_idx, None)
            self._rcvd_idx += 1

    def _deliver(self, task_id, batch):
        del self._task_info[task_id]
        self._try_put_index()
        if isinstance(batch, ExceptionWrapper):
            batch.reraise()
        return pin_batch(batch) if self._pin else batch

    def __next__(self):
        if self._pool.closed:
            raise StopIteration
        while True:
            self._skip_done_tasks()
            if self._rcvd_idx == self._send_idx:
                if not self._persistent:
                    self._shutdown()
                raise StopIteration
            entry = self._task_info[self._rcvd_idx]
            if isinstance(entry, tuple):
                return self._deliver(self._rcvd_idx, entry[1])
            task_id, batch = self._get()
            self._outstanding -= 1
            if isinstance(batch, IterationEnd):
                self._active[batch.worker_id] = False
                del self._task_info[task_id]
                self._try_put_index()
            elif task_id == self._rcvd_idx or not self._in_order:
                return self._deliver(task_id, batch)
            else:
                self._task_info[task_id] = (self._task_info[task_id], batch)
