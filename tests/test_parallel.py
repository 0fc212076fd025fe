"""diffprog.parallel: PyTorch's set_num_threads family (the BLAS pool's size)."""
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import diffprog as dp
from diffprog import parallel
from diffprog.utils.data import DataLoader, Dataset


def blas_threads():
    return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}


@pytest.fixture(autouse=True)
def restore_threads():
    saved, blas = dict(parallel._state), blas_threads()
    yield
    parallel._state.update(saved)
    if blas:
        threadpool_limits(max(blas), user_api="blas")


def test_set_num_threads_sets_blas_and_reads_back():
    for n in (1, 3):
        dp.set_num_threads(n)
        assert dp.get_num_threads() == n and blas_threads() <= {n}


def test_the_default_is_the_blas_pools_size():
    parallel._state["threads"] = None
    threadpool_limits(1, user_api="blas")
    assert dp.get_num_threads() == (1 if blas_threads() else parallel._cpus())


@pytest.mark.parametrize("bad,error", [(0, RuntimeError), (-2, RuntimeError), (1.5, TypeError),
                                       (True, TypeError), ("2", TypeError)])
def test_bad_counts_are_refused_naming_the_function(bad, error):
    for fn in (dp.set_num_threads, dp.set_num_interop_threads):
        with pytest.raises(error, match=fn.__name__):
            fn(bad)


def test_interop_threads_are_recorded():
    dp.set_num_interop_threads(2)
    assert dp.get_num_interop_threads() == 2


def test_under_the_compat_shim_torch_has_them():
    from test_compat import python
    out = python("""
        import diffprog.compat; diffprog.compat.install()
        import torch
        torch.set_num_threads(1); torch.set_num_interop_threads(1)
        print(torch.get_num_threads(), torch.get_num_interop_threads())
    """)
    assert "1 1" in out


class _Threads(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        return dp.tensor(dp.get_num_threads())


def test_data_loader_workers_run_on_one_thread_as_in_pytorch():
    dp.set_num_threads(2)
    got = [int(v) for batch in DataLoader(_Threads(), batch_size=1, num_workers=2) for v in batch]
    assert got == [1, 1] and dp.get_num_threads() == 2
