"""Graph utilities with PyTorch Geometric's names and conventions.

A graph of N nodes is an `edge_index`, an int64 tensor (2, E) whose column (j, i) is an edge
from source node j to target node i: messages flow along edges, from edge_index[0] to
edge_index[1].  Undirected graphs list each edge in both directions.
"""
from ... import creation
from ... import dtypes as _dt
from ..._array import xp
from ...ops import cat, index_add, scatter_reduce, sparse_coo_tensor
from ...tensor import Tensor


def _num_nodes(edge_index, num_nodes):
    if num_nodes is not None:
        return int(num_nodes)
    return int(edge_index.max().item()) + 1 if edge_index.numel() else 0


def _check(edge_index, who):
    if not isinstance(edge_index, Tensor) or edge_index.ndim != 2 or edge_index.shape[0] != 2 \
            or edge_index.dtype.name not in ("int64", "int32"):
        raise ValueError(f"{who}: edge_index must be an integer tensor of shape (2, E), got "
                         f"{type(edge_index).__name__} of shape {tuple(getattr(edge_index, 'shape', ()))}")


def degree(index, num_nodes=None, dtype=None):
    """How often each node occurs in `index` (e.g. edge_index[1]: in-degrees)."""
    n = _num_nodes(index.reshape(1, -1), num_nodes)
    counts = xp.bincount(index._data.reshape(-1), minlength=n)
    return creation.tensor(counts, dtype=dtype or _dt.get_default_dtype(), device=index.device)


def remove_self_loops(edge_index, edge_attr=None):
    """Drop the edges i -> i (and their attributes)."""
    keep = Tensor._make(xp.flatnonzero(edge_index._data[0] != edge_index._data[1]))
    edge_index = edge_index[:, keep]
    return edge_index, (None if edge_attr is None else edge_attr[keep])


def add_self_loops(edge_index, edge_attr=None, fill_value=1.0, num_nodes=None):
    """Append the edges i -> i for every node (attributes `fill_value`)."""
    n = _num_nodes(edge_index, num_nodes)
    loops = creation.arange(n, device=edge_index.device).expand(2, n)
    edge_index = cat([edge_index, loops], 1)
    if edge_attr is not None:
        edge_attr = cat([edge_attr, creation.full((n, *edge_attr.shape[1:]), fill_value, dtype=edge_attr.dtype,
                                                  device=edge_attr.device)])
    return edge_index, edge_attr


def add_remaining_self_loops(edge_index, edge_attr=None, fill_value=1.0, num_nodes=None):
    """Add i -> i only for the nodes that lack it; existing loops keep their attributes."""
    n = _num_nodes(edge_index, num_nodes)
    src, dst = edge_index._data
    has_loop = xp.zeros(n, bool, like=src)
    has_loop[src[src == dst]] = True
    missing = Tensor._make(xp.flatnonzero(~has_loop))
    edge_index = cat([edge_index, missing.expand(2, len(missing))], 1)
    if edge_attr is not None:
        fill = creation.full((len(missing), *edge_attr.shape[1:]), fill_value, dtype=edge_attr.dtype,
                             device=edge_attr.device)
        edge_attr = cat([edge_attr, fill])
    return edge_index, edge_attr


def to_undirected(edge_index, num_nodes=None):
    """Both directions of every edge, each edge once, sorted by (source, target)."""
    n = _num_nodes(edge_index, num_nodes)
    e = xp.concatenate([edge_index._data, edge_index._data[::-1]], axis=1)
    linear = xp.unique(e[0] * n + e[1])
    return Tensor._make(xp.stack([linear // n, linear % n]))


def gcn_norm(edge_index, edge_weight=None, num_nodes=None, improved=False, add_self_loops=True, dtype=None):
    """Kipf & Welling's propagation weights D^-1/2 (A + I) D^-1/2, as (edge_index, weight).

    Degrees are weighted in-degrees (over edge_index[1]) including the self-loops, whose
    weight is 2 with `improved=True`.  Differentiable in `edge_weight`; `dtype` is that of
    the default unit weights."""
    _check(edge_index, "gcn_norm")
    n = _num_nodes(edge_index, num_nodes)
    if edge_weight is None:
        edge_weight = creation.ones(edge_index.shape[1], dtype=dtype, device=edge_index.device)
    if add_self_loops:
        edge_index, edge_weight = add_remaining_self_loops(edge_index, edge_weight, 2.0 if improved else 1.0, n)
    src, dst = edge_index[0], edge_index[1]
    deg = index_add(creation.zeros(n, dtype=edge_weight.dtype, device=edge_weight.device), 0, dst, edge_weight)
    isolated = deg == 0
    inv_sqrt = deg.masked_fill(isolated, 1.0).pow(-0.5).masked_fill(isolated, 0.0)
    return edge_index, inv_sqrt[src] * edge_weight * inv_sqrt[dst]


def to_sparse_adj(edge_index, edge_weight=None, num_nodes=None):
    """The (N, N) sparse matrix A with A[i, j] = weight of edge j -> i, so that A @ x sums
    each node's incoming messages (PyG's transposed adjacency, adj_t)."""
    _check(edge_index, "to_sparse_adj")
    n = _num_nodes(edge_index, num_nodes)
    if edge_weight is None:
        edge_weight = creation.ones(edge_index.shape[1], device=edge_index.device)
    return sparse_coo_tensor(edge_index.flip(0), edge_weight, (n, n))


def softmax(src, index, num_nodes=None):
    """Softmax of `src` (E, ...) over the groups of entries sharing an `index` (E,): e.g. over
    each node's incoming edges (GAT's attention).  Groups are independent; an empty group
    is simply absent."""
    n = _num_nodes(index.reshape(1, -1), num_nodes)
    shape = (n, *src.shape[1:])
    # the group maximum only keeps exp() in range: softmax does not depend on it, so it is
    # taken without gradient
    expanded = index.reshape(-1, *([1] * (src.ndim - 1))).expand(*src.shape)
    peak = scatter_reduce(creation.zeros(shape, dtype=src.dtype, device=src.device), 0, expanded, src.detach(), "amax",
                          include_self=False)
    e = (src - peak[index]).exp()
    total = index_add(creation.zeros(shape, dtype=src.dtype, device=src.device), 0, index, e)
    return e / total[index]


__all__ = ["degree", "remove_self_loops", "add_self_loops", "add_remaining_self_loops", "to_undirected",
           "gcn_norm", "to_sparse_adj", "softmax"]
