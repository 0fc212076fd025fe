"""`diffprog.nn`: modules, layers, parameters and the functional API, as `torch.nn`."""
from .parameter import Buffer, Parameter  # noqa: F401
from .modules import *  # noqa: F401,F403
from . import functional, init, utils, parallel  # noqa: F401
from .parallel import DataParallel  # noqa: F401
