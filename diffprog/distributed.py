"""`diffprog.distributed` does not exist yet: distributed training needs an MPI runtime
(mpi4py), which this build has not got. Importing this module (also as `torch.distributed`
through diffprog.compat, or `from torch import distributed`) says so."""
raise ModuleNotFoundError("No module named 'torch.distributed' in diffprog: diffprog has no distributed "
                          "training (it would need an MPI runtime); run the script as a single process")
