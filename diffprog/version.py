"""`diffprog.version` (`torch.version`): the version, and no CUDA or ROCm build."""
from . import __version__  # noqa: F401

cuda = None
hip = None
