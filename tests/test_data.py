"""diffprog.utils.data: datasets, samplers, collation and the DataLoader (in the main
process and with worker processes), compared with torch.utils.data where it is installed."""
import collections
import gc
import os
import time

import numpy as np
import pytest

import diffprog as dp
from diffprog.utils.data import (BatchSampler, ChainDataset, ConcatDataset, DataLoader, Dataset,
                                 IterableDataset, RandomSampler, SequentialSampler, Subset,
                                 SubsetRandomSampler, TensorDataset, WeightedRandomSampler,
                                 default_collate, default_convert, get_worker_info, random_split)

try:
    import torch
    import torch.utils.data as tdata
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="needs torch as the oracle")

Point = collections.namedtuple("Point", "x y")


def ids(loader):
    """The first field of every batch, as lists."""
    return [b[0].tolist() for b in loader]


def range_dataset(n=10):
    return TensorDataset(dp.arange(n), dp.arange(n) * 10.0)


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"i": i, "sq": np.array([i * i], dtype=np.int32)}


# --- batching -------------------------------------------------------------------------------

@pytest.mark.parametrize("n,batch_size,drop_last,expected", [
    (10, 3, False, [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]),
    (10, 3, True, [[0, 1, 2], [3, 4, 5], [6, 7, 8]]),
    (10, 5, True, [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]),
    (2, 5, True, []),
    (0, 4, False, []),
])
def test_batching_and_len(n, batch_size, drop_last, expected):
    loader = DataLoader(range_dataset(n), batch_size=batch_size, drop_last=drop_last)
    assert len(loader) == len(expected)
    batches = list(loader)
    assert [b[0].tolist() for b in batches] == expected
    for b in batches:
        assert b[0].dtype == dp.int64 and b[1].dtype == dp.float32
        assert b[1].tolist() == [10.0 * i for i in b[0].tolist()]


def test_batch_size_none_converts_single_samples():
    loader = DataLoader(Squares(3), batch_size=None)
    out = list(loader)
    assert len(loader) == 3
    assert out[2]["i"] == 2 and isinstance(out[2]["sq"], dp.Tensor)
    assert out[2]["sq"].dtype == dp.int32 and out[2]["sq"].tolist() == [4]


def test_custom_sampler_batch_sampler_and_collate_fn():
    loader = DataLoader(range_dataset(6), sampler=[5, 0, 3], batch_size=2)
    assert ids(loader) == [[5, 0], [3]]
    loader = DataLoader(range_dataset(6), batch_sampler=[[1, 2], [4]], collate_fn=len)
    assert list(loader) == [2, 1]


@pytest.mark.parametrize("kwargs,match", [
    (dict(shuffle=True, sampler=[0]), "mutually exclusive with shuffle"),
    (dict(batch_sampler=[[0]], batch_size=2), "batch_sampler option is mutually exclusive"),
    (dict(batch_size=None, drop_last=True), "disables auto-batching"),
    (dict(num_workers=-1), "non-negative"),
    (dict(persistent_workers=True), "needs num_workers > 0"),
    (dict(prefetch_factor=2), "only be specified in multiprocessing"),
    (dict(timeout=-1), "timeout"),
])
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DataLoader(range_dataset(4), **kwargs)


# --- shuffling ------------------------------------------------------------------------------

def test_shuffle_reproducible_with_generator():
    def epochs(seed):
        loader = DataLoader(range_dataset(), batch_size=4, shuffle=True,
                            generator=dp.Generator().manual_seed(seed))
        return [ids(loader), ids(loader)]

    first, second = epochs(3)
    assert first == epochs(3)[0] and second == epochs(3)[1]
    assert first != second and first != epochs(4)[0]
    assert sorted(sum(first, [])) == list(range(10))


def test_shuffle_reproducible_with_global_seed():
    loader = DataLoader(range_dataset(), batch_size=4, shuffle=True)
    dp.manual_seed(11)
    a = ids(loader)
    dp.manual_seed(11)
    assert ids(loader) == a
    assert sorted(sum(a, [])) == list(range(10)) and sum(a, []) != list(range(10))


# --- collation (torch's default_collate as the oracle) --------------------------------------

def same(mine, theirs):
    """Same structure, container types, dtypes and values."""
    if torch is not None and isinstance(theirs, torch.Tensor):
        assert isinstance(mine, dp.Tensor), type(mine)
        assert mine.dtype.name == str(theirs.dtype).replace("torch.", "")
        assert mine.shape == theirs.shape and mine.tolist() == theirs.tolist()
    elif isinstance(theirs, dict):
        assert type(mine) is type(theirs) and list(mine) == list(theirs)
        for k in theirs:
            same(mine[k], theirs[k])
    elif isinstance(theirs, (list, tuple)):
        assert type(mine) is type(theirs) and len(mine) == len(theirs)
        for m, t in zip(mine, theirs):
            same(m, t)
    else:
        assert type(mine) is type(theirs) and mine == theirs


def to_torch(sample):
    """The same sample with diffprog tensors turned into torch tensors."""
    if isinstance(sample, dp.Tensor):
        return torch.tensor(sample.numpy())
    if isinstance(sample, dict):
        out = sample.copy()
        out.update((k, to_torch(v)) for k, v in sample.items())
        return out
    if isinstance(sample, Point):
        return Point(*(to_torch(v) for v in sample))
    if isinstance(sample, (list, tuple)):
        return type(sample)(to_torch(v) for v in sample)
    return sample


BATCHES = {
    "floats": [1.5, 2.0],
    "ints": [1, 2, 3],
    "bools": [True, False],
    "strings": ["a", "bc"],
    "np_float32": [np.float32(1), np.float32(2)],
    "np_int32_scalar": [np.int32(1), np.int32(5)],
    "np_bool_scalar": [np.bool_(True), np.bool_(False)],
    "np_arrays": [np.zeros((2, 3), np.float16), np.ones((2, 3), np.float16)],
    "np_uint8": [np.arange(3, dtype=np.uint8), np.arange(3, dtype=np.uint8)],
    "tensors": [dp.tensor([1.0, 2.0]), dp.tensor([3.0, 4.0])],
    "int_tensors_0d": [dp.tensor(1), dp.tensor(2)],
    "tuples": [(1, "a", 2.0), (2, "b", 3.0)],
    "lists": [[1, 2], [3, 4]],
    "dicts": [{"x": 1, "y": np.array([1.0])}, {"x": 2, "y": np.array([2.0])}],
    "ordered": [collections.OrderedDict(b=1, a=2.5), collections.OrderedDict(b=3, a=4.5)],
    "namedtuples": [Point(1, 2.0), Point(3, 4.0)],
    "nested": [{"p": (dp.zeros(2), [1, 2]), "s": "u"}, {"p": (dp.ones(2), [3, 4]), "s": "v"}],
    "defaultdict": [collections.defaultdict(int, a=1), collections.defaultdict(int, a=2)],
}


@needs_torch
@pytest.mark.parametrize("name", list(BATCHES))
def test_default_collate_matches_torch(name):
    batch = BATCHES[name]
    same(default_collate(batch), tdata.default_collate([to_torch(s) for s in batch]))


@needs_torch
@pytest.mark.parametrize("name", ["np_arrays", "np_float32", "tuples", "dicts", "namedtuples",
                                  "nested", "strings"])
def test_default_convert_matches_torch(name):
    sample = BATCHES[name]
    same(default_convert(sample), tdata.default_convert(to_torch(sample)))


def test_collate_dtypes_without_torch():
    assert default_collate([1.0, 2.0]).dtype == dp.float64
    assert default_collate([1, 2]).dtype == dp.int64
    assert default_collate([True]).dtype == dp.bool
    assert default_collate([np.zeros(2, np.float32)]).dtype == dp.float32
    assert default_collate([(1, 2.0)])[1].dtype == dp.float64


@pytest.mark.parametrize("batch,error,match", [
    ([object()], TypeError, "default_collate: batch must contain"),
    ([np.array(["a"])], TypeError, "found <U1"),
    ([[1, 2], [3]], RuntimeError, "each element in list of batch should be of equal size"),
])
def test_collate_errors(batch, error, match):
    with pytest.raises(error, match=match):
        default_collate(batch)


def test_collated_tensors_keep_the_graph():
    x = dp.tensor([1.0, 2.0], requires_grad=True)
    default_collate([x * 2, x * 3]).sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]


# --- datasets -------------------------------------------------------------------------------

def test_tensor_dataset_and_size_mismatch():
    ds = range_dataset(4)
    assert len(ds) == 4 and [t.item() for t in ds[2]] == [2, 20.0]
    with pytest.raises(AssertionError, match="Size mismatch"):
        TensorDataset(dp.zeros(3), dp.zeros(4))


def test_subset_concat_and_add():
    a, b = range_dataset(3), range_dataset(5)
    sub = Subset(b, [4, 0])
    assert len(sub) == 2 and sub[0][0].item() == 4 and sub[-1][0].item() == 0
    cat = a + sub
    assert isinstance(cat, ConcatDataset) and len(cat) == 5 and cat.cumulative_sizes == [3, 5]
    assert [cat[i][0].item() for i in range(5)] == [0, 1, 2, 4, 0]
    assert cat[-2][0].item() == 4 and cat[-5][0].item() == 0
    with pytest.raises(ValueError, match="absolute value of index"):
        cat[-6]
    with pytest.raises(IndexError):
        cat[5]
    with pytest.raises(AssertionError, match="empty"):
        ConcatDataset([])


def test_subset_getitems_is_used_by_the_loader():
    class Batched(Dataset):
        def __len__(self):
            return 6

        def __getitems__(self, indices):
            return [("batched", i) for i in indices]

    loader = DataLoader(Subset(Batched(), [5, 4, 3]), batch_size=2, collate_fn=list)
    assert list(loader) == [[("batched", 5), ("batched", 4)], [("batched", 3)]]


@needs_torch
@pytest.mark.parametrize("n,lengths", [(10, [0.3, 0.7]), (5, [0.5, 0.5]), (7, [0.2, 0.3, 0.5]),
                                       (10, [3, 7]), (11, [0.25, 0.25, 0.25, 0.25])])
def test_random_split_lengths_match_torch(n, lengths):
    parts = random_split(range(n), lengths, generator=dp.Generator().manual_seed(0))
    expected = tdata.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [len(p) for p in expected]
    assert sorted(i for p in parts for i in p) == list(range(n))


def test_random_split_reproducible_and_errors():
    def split(seed):
        return [list(p) for p in random_split(range(10), [0.4, 0.6],
                                              generator=dp.Generator().manual_seed(seed))]
    assert split(1) == split(1) and split(1) != split(2)
    assert [len(p) for p in split(1)] == [4, 6]
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(range(10), [3, 4])
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(range(10), [0.5, 0.4])


# --- samplers -------------------------------------------------------------------------------

def test_sequential_and_random_samplers():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    g = dp.Generator().manual_seed(0)
    perm = list(RandomSampler(range(6), generator=g))
    assert sorted(perm) == list(range(6))
    long = list(RandomSampler(range(4), num_samples=10, generator=g))
    assert len(long) == 10 and sorted(long[:4]) == sorted(long[4:8]) == [0, 1, 2, 3]
    drawn = list(RandomSampler(range(3), replacement=True, num_samples=50, generator=g))
    assert len(drawn) == 50 and set(drawn) == {0, 1, 2}
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        RandomSampler(range(3), num_samples=0)
    with pytest.raises(TypeError, match="replacement should be a boolean"):
        RandomSampler(range(3), replacement=1)


def test_subset_random_sampler():
    s = SubsetRandomSampler([10, 20, 30, 40], generator=dp.Generator().manual_seed(0))
    assert len(s) == 4 and sorted(s) == [10, 20, 30, 40]


def test_weighted_random_sampler_distribution():
    s = WeightedRandomSampler([1.0, 3.0, 0.0], 4000, generator=dp.Generator().manual_seed(0))
    counts = np.bincount(list(s), minlength=3)
    assert len(s) == 4000 and counts[2] == 0
    assert abs(counts[1] / 4000 - 0.75) < 0.03
    no_repeat = list(WeightedRandomSampler([1.0, 2.0, 3.0, 4.0], 4, replacement=False))
    assert sorted(no_repeat) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="1d sequence"):
        WeightedRandomSampler([[1.0]], 1)


@needs_torch
@pytest.mark.parametrize("n,batch_size,drop_last", [(10, 3, False), (10, 3, True), (4, 4, True),
                                                    (3, 5, False)])
def test_batch_sampler_matches_torch(n, batch_size, drop_last):
    mine = BatchSampler(range(n), batch_size, drop_last)
    theirs = tdata.BatchSampler(range(n), batch_size, drop_last)
    assert list(mine) == list(theirs) and len(mine) == len(theirs)


# --- worker processes -----------------------------------------------------------------------

class WhoLoads(Dataset):
    """Each sample records the worker that loaded it and its random draws."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        return {"i": i, "worker": -1 if info is None else info.id, "pid": os.getpid(),
                "init": _INIT.get("worker", -1), "rand": dp.rand(1).item(),
                "np": float(np.random.rand())}


_INIT = {}


def remember_worker(worker_id):
    _INIT["worker"] = worker_id + 100


@pytest.mark.parametrize("shuffle", [False, True])
def test_workers_give_the_same_batches_in_order(shuffle):
    def batches(num_workers):
        loader = DataLoader(Squares(11), batch_size=3, shuffle=shuffle, num_workers=num_workers,
                            generator=dp.Generator().manual_seed(5), timeout=20)
        return [(b["i"].tolist(), b["sq"].tolist()) for b in loader]

    assert batches(2) == batches(0)
    assert len(batches(2)) == 4


def test_out_of_order_delivery_yields_every_batch():
    loader = DataLoader(range_dataset(9), batch_size=2, num_workers=2, in_order=False, timeout=20)
    assert sorted(sum(ids(loader), [])) == list(range(9))


def test_worker_info_init_fn_and_seeding():
    assert get_worker_info() is None
    loader = DataLoader(WhoLoads(), batch_size=2, num_workers=2, worker_init_fn=remember_worker,
                        generator=dp.Generator().manual_seed(0), timeout=20)
    first = list(loader)
    workers = [b["worker"].tolist() for b in first]
    assert workers == [[0, 0], [1, 1], [0, 0], [1, 1]]          # round-robin
    assert [b["init"].tolist() for b in first] == [[100, 100], [101, 101]] * 2
    assert first[0]["pid"][0].item() != os.getpid()
    # Workers are seeded from the generator: same seed, same draws; the two differ.
    again = list(DataLoader(WhoLoads(), batch_size=2, num_workers=2,
                            worker_init_fn=remember_worker,
                            generator=dp.Generator().manual_seed(0), timeout=20))
    assert [b["rand"].tolist() for b in again] == [b["rand"].tolist() for b in first]
    assert [b["np"].tolist() for b in again] == [b["np"].tolist() for b in first]
    assert first[0]["rand"].tolist() != first[1]["rand"].tolist()
    assert first[0]["np"].tolist() != first[1]["np"].tolist()


class Faulty(Dataset):
    def __init__(self, exc):
        self.exc = exc

    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == 3:
            raise self.exc
        return i


def test_worker_error_surfaces_with_original_traceback():
    loader = DataLoader(Faulty(ValueError("bad sample 3")), batch_size=2, num_workers=2, timeout=20)
    it = iter(loader)
    assert next(it).tolist() == [0, 1]
    with pytest.raises(ValueError) as info:
        next(it)
    msg = str(info.value)
    assert "Caught ValueError in DataLoader worker process 1." in msg
    assert "Original Traceback (most recent call last):" in msg
    assert "in __getitem__" in msg and "bad sample 3" in msg


def test_worker_key_error_message_is_readable():
    loader = DataLoader(Faulty(KeyError("missing")), batch_size=2, num_workers=1, timeout=20)
    with pytest.raises(KeyError) as info:
        list(loader)
    assert "Original Traceback" in str(info.value) and "\\n" not in str(info.value)


def test_worker_init_fn_error_surfaces():
    def broken(worker_id):
        raise OSError(f"init of {worker_id} failed")

    loader = DataLoader(range_dataset(4), num_workers=1, worker_init_fn=broken, timeout=20)
    with pytest.raises(OSError, match="init of 0 failed"):
        next(iter(loader))


def test_persistent_workers_survive_epochs():
    loader = DataLoader(WhoLoads(), batch_size=4, num_workers=2, persistent_workers=True,
                        shuffle=True, timeout=20)
    epochs = [list(loader) for _ in range(2)]
    pids = [sorted({p for b in epoch for p in b["pid"].tolist()}) for epoch in epochs]
    assert pids[0] == pids[1] and len(pids[0]) == 2
    for epoch in epochs:
        assert sorted(i for b in epoch for i in b["i"].tolist()) == list(range(8))
    # An epoch abandoned halfway: the next one still starts from the beginning.
    it = iter(loader)
    next(it)
    assert sorted(i for b in loader for i in b["i"].tolist()) == list(range(8))
    workers = loader._iterator._pool.workers
    del loader, it
    gc.collect()
    assert not any(w.is_alive() for w in workers)


def test_iterator_deleted_mid_epoch_stops_workers():
    it = iter(DataLoader(range_dataset(40), batch_size=2, num_workers=2, timeout=20))
    next(it)
    workers = it._pool.workers
    del it
    gc.collect()
    assert not any(w.is_alive() for w in workers)


def test_workers_exit_after_the_last_batch():
    it = iter(DataLoader(range_dataset(4), batch_size=2, num_workers=2, timeout=20))
    assert len(list(it)) == 2
    assert not any(w.is_alive() for w in it._pool.workers)


class Slow(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        time.sleep(1.0)
        return i


class Dies(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        os._exit(3)


def test_timeout_and_dead_worker():
    with pytest.raises(RuntimeError, match="timed out after 0.2 seconds"):
        list(DataLoader(Slow(), num_workers=1, timeout=0.2))
    with pytest.raises(RuntimeError, match="exited unexpectedly.*exit code 3"):
        list(DataLoader(Dies(), num_workers=1, timeout=20))


# --- iterable datasets ----------------------------------------------------------------------

class Stream(IterableDataset):
    """0..n-1, split between workers when `split` (else every worker yields all of it)."""

    def __init__(self, n, split=True):
        self.n, self.split = n, split

    def __iter__(self):
        info = get_worker_info()
        if info is None or not self.split:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))

    def __len__(self):
        return self.n


class TorchStream(tdata.IterableDataset if torch is not None else object):
    def __init__(self, n, split=True):
        self.n, self.split = n, split

    def __iter__(self):
        info = tdata.get_worker_info()
        if info is None or not self.split:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


def test_iterable_dataset_in_main_process():
    assert [b.tolist() for b in DataLoader(Stream(5), batch_size=2)] == [[0, 1], [2, 3], [4]]
    assert [b.tolist() for b in DataLoader(Stream(5), batch_size=2, drop_last=True)] == [[0, 1], [2, 3]]
    assert len(DataLoader(Stream(5), batch_size=2)) == 3
    assert list(DataLoader(Stream(3), batch_size=None)) == [0, 1, 2]
    assert [b.tolist() for b in DataLoader(Stream(2) + Stream(1), batch_size=5)] == [[0, 1, 0]]
    assert isinstance(Stream(2) + Stream(1), ChainDataset)
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        DataLoader(Stream(3), shuffle=True)


@needs_torch
@pytest.mark.parametrize("n,split,batch_size,drop_last", [
    (11, True, 2, False), (11, True, 2, True), (5, False, 2, False), (7, True, None, False),
])
def test_iterable_dataset_with_workers_matches_torch(n, split, batch_size, drop_last):
    def run(lib, ds):
        loader = lib.DataLoader(ds, batch_size=batch_size, drop_last=drop_last, num_workers=2,
                                timeout=20)
        return [b.tolist() if isinstance(b, (dp.Tensor, torch.Tensor)) else b for b in loader]

    assert run(dp.utils.data, Stream(n, split)) == run(tdata, TorchStream(n, split))


def test_iterable_dataset_with_persistent_workers():
    loader = DataLoader(Stream(7), batch_size=2, num_workers=2, persistent_workers=True, timeout=20)
    expected = [[0, 2], [1, 3], [4, 6], [5]]
    assert [b.tolist() for b in loader] == expected
    next(iter(loader))                                  # abandon an epoch halfway
    assert [b.tolist() for b in loader] == expected
