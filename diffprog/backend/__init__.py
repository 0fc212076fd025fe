"""The array library behind tensors.

Everything above this layer does tensor math through `xp`, never by importing NumPy for it.
Today `xp` is NumPy (CPU); a CuPy backend for NVIDIA GPUs plugs in here.
"""
import numpy as xp



def broadcast_view(x, shape):
    """A read-only broadcast view of x (NumPy's broadcast_to, 4x cheaper for the common
    contiguous case, which matters in backward passes full of small expands)."""
    if not x.flags.c_contiguous or len(shape) < x.ndim or x.size == 0:
        return xp.broadcast_to(x, shape)
    lead = len(shape) - x.ndim
    strides = [0] * lead
    for size, want, stride in zip(x.shape, shape[lead:], x.strides):
        if size == want:
            strides.append(stride)
        elif size == 1:
            strides.append(0)
        else:
            raise ValueError(f"cannot broadcast shape {x.shape} to {tuple(shape)}")
    out = xp.ndarray(shape, x.dtype, x, 0, strides)
    out.flags.writeable = False
    return out


# Whether a GPU array library is wired in (the CuPy backend is not written yet).
GPU_BACKEND = False

__all__ = ["xp", "GPU_BACKEND", "broadcast_view"]
