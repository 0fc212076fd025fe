"""Time the same workload on diffprog and PyTorch in one process and print the ratio.

Both sides run with the same number of BLAS threads (threadpoolctl for NumPy,
`torch.set_num_threads` for PyTorch), alternately, round after round, so that a busy
machine slows both alike; we report the median time per call of each side.
"""
import statistics
import time


def pin_threads(n):
    """Fix BLAS/OpenMP threads for NumPy and PyTorch; return a description."""
    import numpy  # noqa: F401  (threadpoolctl only limits BLAS libraries already loaded)
    from threadpoolctl import threadpool_limits
    threadpool_limits(n)
    try:
        import torch
        torch.set_num_threads(n)
    except ImportError:
        pass
    return f"{n} BLAS thread(s)"


def _time(fn, number):
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def compare(name, dp_fn, torch_fn, number=100, rounds=7, unit="us"):
    """Median seconds per call for each side, alternating; prints one table row."""
    scale = {"us": 1e6, "ms": 1e3}[unit]
    dp_fn(), torch_fn()                                    # warm up
    dp_t, th_t = [], []
    for _ in range(rounds):
        dp_t.append(_time(dp_fn, number))
        th_t.append(_time(torch_fn, number))
    d, t = statistics.median(dp_t), statistics.median(th_t)
    print(f"{name:<44s} diffprog {d * scale:9.1f} {unit}   torch {t * scale:9.1f} {unit}   "
          f"ratio {d / t:5.2f}x", flush=True)
    return d, t
