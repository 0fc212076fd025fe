"""The array library behind tensors.

Everything above this layer does tensor math through `xp`, never by importing NumPy for it.
Today `xp` is NumPy (CPU); a CuPy backend for NVIDIA GPUs plugs in here.
"""
import numpy as xp

# Whether a GPU array library is wired in (the CuPy backend is not written yet).
GPU_BACKEND = False

__all__ = ["xp", "GPU_BACKEND"]
