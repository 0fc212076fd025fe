"""`diffprog.cuda`: what PyTorch code asks about GPUs.

A GPU is available when CuPy is installed and sees an NVIDIA device (`pip install
'diffprog[cuda]'`); tensors on it (`device="cuda"`) compute with CuPy.  Without one,
`is_available()` is False, so device-agnostic scripts pick the CPU and run, and seeding
and synchronising are harmless no-ops.  (`DIFFPROG_FAKE_GPU=1` puts a CPU stand-in behind
'cuda' instead, for testing device handling on machines without a GPU.)
"""
from ._array.device import library


def _real_cupy():
    """The cupy module where a real GPU is in use; None without one or on the CPU stand-in."""
    lib = library("cuda")
    return lib.xp if lib is not None and hasattr(lib.xp, "cuda") else None


def _device_count():
    if library("cuda") is None:
        return 0
    cupy = _real_cupy()
    return int(cupy.cuda.runtime.getDeviceCount()) if cupy else 1    # the stand-in: one device


def is_available():
    return _device_count() > 0


def device_count():
    return _device_count()


def _unavailable(what):
    return RuntimeError(f"diffprog.cuda.{what}: no CUDA GPU is available (diffprog runs on the CPU "
                        "here; a GPU needs an NVIDIA driver and CuPy). Check "
                        "diffprog.cuda.is_available() first.")


def _cupy(what):
    """`_real_cupy()`, raising where there is no GPU (nor the stand-in)."""
    if not is_available():
        raise _unavailable(what)
    return _real_cupy()


def _index(device):
    return int(getattr(device, "index", device) or 0)


def current_device():
    cupy = _cupy("current_device")
    return int(cupy.cuda.runtime.getDevice()) if cupy else 0


def set_device(device):
    cupy = _cupy("set_device")
    if cupy:
        cupy.cuda.Device(_index(device)).use()


def get_device_name(device=None):
    cupy = _cupy("get_device_name")
    if not cupy:
        return "CPU stand-in (DIFFPROG_FAKE_GPU)"
    index = current_device() if device is None else _index(device)
    return cupy.cuda.runtime.getDeviceProperties(index)["name"].decode()


def is_initialized():
    return is_available()


def manual_seed(seed):
    """diffprog draws random numbers on the host and copies them, so one seed (diffprog's
    manual_seed) serves every device: this is a no-op, as PyTorch's is without a GPU."""


manual_seed_all = seed = seed_all = manual_seed


def synchronize(device=None):
    """Wait for the GPU's queued work (nothing to wait for on the CPU)."""
    cupy = _real_cupy()
    if cupy:
        cupy.cuda.runtime.deviceSynchronize()


def _pool():
    cupy = _real_cupy()
    return cupy.get_default_memory_pool() if cupy else None


def empty_cache():
    """Give CuPy's cached, unused GPU memory back to the driver."""
    pool = _pool()
    if pool:
        pool.free_all_blocks()


def memory_allocated(device=None):
    """Bytes of GPU memory held by tensors (CuPy's memory pool); 0 without a GPU."""
    pool = _pool()
    return int(pool.used_bytes()) if pool else 0


def memory_reserved(device=None):
    """Bytes of GPU memory the pool holds, used or cached; 0 without a GPU."""
    pool = _pool()
    return int(pool.total_bytes()) if pool else 0


def max_memory_allocated(device=None):
    """An upper bound on the peak: CuPy's pool keeps what it once allocated until
    `empty_cache`, so its size is at least the peak since then."""
    return memory_reserved(device)
