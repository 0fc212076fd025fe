"""`diffprog.linalg`: PyTorch's `torch.linalg` names.

The operations (forward, VJP, JVP) live in `diffprog/ops/linalg.py`; where `torch.linalg`
differs from the top-level function of the same name (svd returns Vh, norm takes `ord`,
cross defaults to dim=-1, qr takes `mode`), the linalg flavour is chosen here.
"""
from .ops.linalg import (cholesky, det, eigh, eigvalsh, inv, lstsq, matmul, matrix_norm,  # noqa: F401
                         matrix_power, matrix_rank, multi_dot, pinv, slogdet, solve,
                         solve_triangular, svdvals, vector_norm)
from .ops.linalg import linalg_cross as cross  # noqa: F401
from .ops.linalg import linalg_norm as norm  # noqa: F401
from .ops.linalg import linalg_qr as qr  # noqa: F401
from .ops.linalg import linalg_svd as svd  # noqa: F401


def vecdot(x, y, *, dim=-1, out=None):
    """Dot products of vectors along `dim` (real tensors: no conjugation)."""
    return (x * y).sum(dim)


__all__ = ["cholesky", "cross", "det", "eigh", "eigvalsh", "inv", "lstsq", "matmul", "matrix_norm",
           "matrix_power", "matrix_rank", "multi_dot", "norm", "pinv", "qr", "slogdet", "solve",
           "solve_triangular", "svd", "svdvals", "vecdot", "vector_norm"]
