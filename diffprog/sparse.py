"""`diffprog.sparse`: products with sparse COO tensors (see `ops/sparse.py`), as `torch.sparse`."""
from .ops.sparse import SparseCOOTensor, mm, sparse_coo_tensor

__all__ = ["mm", "SparseCOOTensor", "sparse_coo_tensor"]
