"""`diffprog.nn.parallel` (`torch.nn.parallel`): data parallelism over the devices there are.

diffprog runs on one CPU device, where PyTorch's `DataParallel` and `data_parallel` call the
module directly; so do these. `DistributedDataParallel` needs torch.distributed, which
diffprog does not have.
"""
from ..modules.module import Module

__all__ = ["DataParallel", "data_parallel"]


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


def __getattr__(name):
    if name == "DistributedDataParallel":
        raise AttributeError("diffprog.nn.parallel has no DistributedDataParallel: diffprog has no "
                             "distributed training (torch.distributed); train in one process, "
                             "or wrap the model in DataParallel")
    raise AttributeError(f"module 'diffprog.nn.parallel' has no attribute {name!r}")
