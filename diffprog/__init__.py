"""diffprog: a differentiable programming system with a PyTorch-compatible API."""
from .version import __version__

from . import dtypes as _dtypes
from .dtypes import (bool_ as bool, uint8, int8, int16, int32, int64, float16, float32, float64,  # noqa: A001
                     complex64, complex128, get_default_dtype, set_default_dtype, promote_types)
from ._array.device import device, get_default_device, set_default_device
from .tensor import (Tensor, Size, FloatTensor, DoubleTensor, HalfTensor, LongTensor,
                     IntTensor, ShortTensor, ByteTensor, CharTensor, BoolTensor)
from .autograd.grad_mode import (no_grad, enable_grad, set_grad_enabled, inference_mode,
                                 is_grad_enabled, is_inference_mode_enabled)
from .ops import *  # noqa: F401,F403
from .creation import *  # noqa: F401,F403
from . import linalg, fft, special, sparse  # noqa: E402
from . import autograd  # noqa: E402
from . import func  # noqa: E402
from .func import vmap  # noqa: E402
from .func.compiled import compile  # noqa: E402,A001

half, float, double, long, short = float16, float32, float64, int64, int16  # noqa: A001
cfloat, cdouble = complex64, complex128
dtype = _dtypes.DType
from . import random, cuda, backends, accelerator, version  # noqa: E402
from .random import (Generator, default_generator, manual_seed, seed, initial_seed,  # noqa: E402
                     get_rng_state, set_rng_state, rand, rand_like, randn, randn_like, randint,
                     randint_like, randperm, normal, bernoulli, multinomial, poisson)
from .parallel import (set_num_threads, get_num_threads, set_num_interop_threads,  # noqa: E402
                       get_num_interop_threads)
from . import utils, io  # noqa: E402
from .io import save, load  # noqa: E402
from . import optim  # noqa: E402
from . import vision  # noqa: E402
from . import nn  # noqa: E402
from . import train  # noqa: E402
from . import distributions  # noqa: E402
from . import relax  # noqa: E402
from . import viz  # noqa: E402
from . import text  # noqa: E402
from . import models  # noqa: E402
from . import testing, serialization  # noqa: E402
from . import distributed  # noqa: E402
