"""`diffprog.accelerator`: PyTorch's device-agnostic accelerator queries (`torch.accelerator`).

The one accelerator diffprog could have is a CUDA GPU through `diffprog.cuda`; without one
(the NumPy backend) `is_available()` is False and `current_accelerator()` None, so the
official examples' `device = torch.accelerator.current_accelerator() if use_accel else
torch.device("cpu")` picks the CPU. Asking for a device index then fails as in PyTorch.
"""
from . import cuda


def is_available():
    return cuda.is_available()


def device_count():
    return cuda.device_count()


def current_accelerator(check_available=False):
    """The accelerator's device type (`device('cuda')`), or None when there is none."""
    if not is_available():
        return None
    from ._array.device import device
    return device("cuda")


def _check():
    if not is_available():
        raise RuntimeError("Cannot access accelerator device when none is available.")


def current_device_index():
    _check()
    return cuda.current_device()


def set_device_index(device):
    _check()
    cuda.set_device(device)


def synchronize(device=None):
    _check()
    cuda.synchronize(device)


def empty_cache():
    cuda.empty_cache()
