"""`diffprog.nn.parallel` (`torch.nn.parallel`): data parallelism.

diffprog runs on one CPU device, where PyTorch's `DataParallel` and `data_parallel` call the
module directly; so do these. `DistributedDataParallel` (distributed.py) trains one replica
per process, over MPI (diffprog.distributed).
"""
from ..modules.module import Module
from .distributed import DistributedDataParallel

__all__ = ["DataParallel", "data_parallel", "DistributedDataParallel"]


class DataParallel(Module):
    """Wraps `module` (as `self.module`, so state_dict keys start with 'module.'); with no
    GPU the forward is the module's own."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        self.module = module
        self.device_ids = []
        self.output_device = None
        self.dim = dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0, module_kwargs=None):
    """module(*inputs) replicated over `device_ids`: with no GPU, one call on the CPU."""
    if not isinstance(inputs, tuple):
        inputs = (inputs,) if inputs is not None else ()
    return module(*inputs, **(module_kwargs or {}))

