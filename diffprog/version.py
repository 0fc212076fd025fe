"""`diffprog.version` (`torch.version`): the version, and no CUDA or ROCm build."""
__version__ = "0.1.0"

cuda = None
hip = None
