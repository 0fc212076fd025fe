"""How many threads diffprog's CPU work uses: PyTorch's `set_num_threads` family.

The threads are the BLAS library's, which run NumPy's matrix products; threadpoolctl sets
their number.  Elementwise work (NumPy's ufuncs, the numba kernels of `ops/*_numba.py`)
runs in the calling thread.  Splitting the numba kernels over numba's threads was measured
and left out (bench/README.md, 2026-12-08): OpenMP's spinning workers starve OpenBLAS's,
and an MLP VAE step took twice as long on 2 threads.

diffprog runs ops one after another: there is no inter-op pool, so
`set_num_interop_threads` only records the number that `get_num_interop_threads` returns.
"""
import os

__all__ = ["set_num_threads", "get_num_threads", "set_num_interop_threads", "get_num_interop_threads"]

_state = {"threads": None, "interop": None}


def _cpus():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _count(fn, n):
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"{fn}: expected an int number of threads, got {type(n).__name__}")
    if n < 1:
        raise RuntimeError(f"{fn}: expected a positive number of threads, got {n}")
    return n


def set_num_threads(n):
    """Run the matrix products on n BLAS threads."""
    from threadpoolctl import threadpool_limits
    _state["threads"] = _count("set_num_threads", n)
    threadpool_limits(n, user_api="blas")


def get_num_threads():
    """The number of BLAS threads: the last `set_num_threads`, else the BLAS pool's own size
    (OPENBLAS_NUM_THREADS, or the CPUs this process may run on)."""
    if _state["threads"] is None:
        from threadpoolctl import threadpool_info
        return max((i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"),
                   default=_cpus())
    return _state["threads"]


def set_num_interop_threads(n):
    """Recorded only: diffprog has no inter-op pool (ops run one after another)."""
    _state["interop"] = _count("set_num_interop_threads", n)


def get_num_interop_threads():
    return _state["interop"] or _cpus()
