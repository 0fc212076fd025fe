"""`diffprog.backends`: PyTorch's backend switches, accepted so that scripts run unchanged."""
from . import cudnn, cuda, mps  # noqa: F401
