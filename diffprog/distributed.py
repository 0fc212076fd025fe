"""`diffprog.distributed` does not exist yet: distributed training needs an MPI runtime
(mpi4py), which this build has not got. Importing this module (also as `torch.distributed`
through diffprog.compat, or `from torch import distributed`) says so."""
from .compat import UNAVAILABLE as _UNAVAILABLE, _unavailable

raise _unavailable("torch.distributed", _UNAVAILABLE["torch.distributed"])
