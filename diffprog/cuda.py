"""`diffprog.cuda`: what PyTorch code asks about GPUs.

diffprog computes with NumPy on the CPU.  A GPU will count as available once the CuPy
backend exists (`_array.GPU_BACKEND`); until then `is_available()` is False even where
CuPy sees a device, so device-agnostic scripts pick the CPU and run.  Seeding and
synchronising are harmless no-ops, so `manual_seed_all` and `synchronize` run unchanged.
"""
from ._array import GPU_BACKEND


def _device_count():
    if not GPU_BACKEND:
        return 0
    try:
        import cupy
        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:       # no CuPy, no driver, no device: all mean "no GPU"
        return 0


def is_available():
    return _device_count() > 0


def device_count():
    return _device_count()


def _unavailable(what):
    return RuntimeError(f"diffprog.cuda.{what}: no CUDA GPU is available (diffprog runs on the CPU "
                        "here; a GPU needs an NVIDIA driver and CuPy). Check "
                        "diffprog.cuda.is_available() first.")


def current_device():
    if not is_available():
        raise _unavailable("current_device")
    import cupy
    return int(cupy.cuda.runtime.getDevice())


def set_device(device):
    if not is_available():
        raise _unavailable("set_device")


def get_device_name(device=None):
    if not is_available():
        raise _unavailable("get_device_name")
    import cupy
    index = current_device() if device is None else int(getattr(device, "index", device) or 0)
    return cupy.cuda.runtime.getDeviceProperties(index)["name"].decode()


def is_initialized():
    return False


def manual_seed(seed):
    """No-op without a GPU (PyTorch silently ignores it too)."""


def manual_seed_all(seed):
    """No-op without a GPU."""


def seed():
    """No-op without a GPU."""


def seed_all():
    """No-op without a GPU."""


def synchronize(device=None):
    """Nothing runs asynchronously on the CPU."""


def empty_cache():
    """No cached GPU memory to free."""


def memory_allocated(device=None):
    return 0


def max_memory_allocated(device=None):
    return 0
