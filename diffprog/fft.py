"""`diffprog.fft`: PyTorch's `torch.fft` (the transforms, with their derivatives, live in
`diffprog/ops/fft.py`)."""
from .ops.fft import (fft, ifft, fft2, ifft2, fftn, ifftn, rfft, irfft, rfft2, irfft2,  # noqa: F401
                      rfftn, irfftn, hfft, ihfft, hfft2, ihfft2, hfftn, ihfftn, fftfreq, rfftfreq,
                      fftshift, ifftshift, __all__)
