"""Graph neural network layers with PyTorch Geometric's names: `MessagePassing`, `GCNConv`
(Kipf & Welling 2017) and `GATConv` (Velickovic et al. 2018).

Node features are (N, F); edges an `edge_index` (2, E) from source edge_index[0] to target
edge_index[1] (see `nn.utils.graph`).
"""
import inspect
import math

from ... import creation
from ...ops import index_add, scatter_reduce
from .. import functional as F
from .. import init
from ..parameter import Parameter
from ..utils.graph import add_self_loops, gcn_norm, remove_self_loops, softmax, to_sparse_adj
from .linear import Linear
from .module import Module

__all__ = ["MessagePassing", "GCNConv", "GATConv"]


class MessagePassing(Module):
    """Base class: out_i = update(aggregate over edges j -> i of message(...)).

    `propagate(edge_index, **tensors)` calls `message` with the arguments it names: `x_j`
    is tensor `x` at each edge's source, `x_i` at its target, `index` the targets, other
    names are passed as given (per-edge tensors such as `edge_weight`).  Messages of a node
    are combined by `aggr`: 'sum' (or 'add'), 'mean' or 'max' (0 for nodes without edges).
    """

    def __init__(self, aggr="sum"):
        super().__init__()
        if aggr not in ("sum", "add", "mean", "max"):
            raise ValueError(f"{type(self).__name__}: aggr must be 'sum', 'add', 'mean' or 'max', got {aggr!r}")
        self.aggr = "sum" if aggr == "add" else aggr
        self._message_args = list(inspect.signature(self.message).parameters)

    def propagate(self, edge_index, size=None, **kwargs):
        src, dst = edge_index[0], edge_index[1]
        n = size if size is not None else next(v.shape[0] for k, v in kwargs.items()
                                               if k + "_j" in self._message_args or k + "_i" in self._message_args)
        args = {}
        for name in self._message_args:
            if name.endswith("_j"):
                args[name] = kwargs[name[:-2]][src]
            elif name.endswith("_i"):
                args[name] = kwargs[name[:-2]][dst]
            elif name == "index":
                args[name] = dst
            else:
                args[name] = kwargs.get(name)
        return self.update(self.aggregate(self.message(**args), dst, n))

    def message(self, x_j):
        return x_j

    def aggregate(self, inputs, index, dim_size):
        shape = (dim_size, *inputs.shape[1:])
        if self.aggr == "max":
            expanded = index.reshape(-1, *([1] * (inputs.ndim - 1))).expand(*inputs.shape)
            return scatter_reduce(creation.zeros(shape, dtype=inputs.dtype, device=inputs.device), 0, expanded,
                                  inputs, "amax", include_self=False)
        out = index_add(creation.zeros(shape, dtype=inputs.dtype, device=inputs.device), 0, index, inputs)
        if self.aggr == "mean":
            count = index_add(creation.zeros(dim_size, dtype=inputs.dtype, device=inputs.device), 0, index,
                              creation.ones(len(index), dtype=inputs.dtype, device=inputs.device))
            out = out / count.clamp(min=1).reshape(-1, *([1] * (inputs.ndim - 1)))
        return out

    def update(self, aggr_out):
        return aggr_out

    def extra_repr(self):
        return f"aggr={self.aggr!r}"


class GCNConv(Module):
    """Graph convolution: X' = D^-1/2 (A + I) D^-1/2 X W + b (Kipf & Welling 2017).

    The normalised adjacency is built as a sparse COO matrix and applied with one sparse @
    dense product.  `cached=True` keeps it across calls (transductive learning on one graph).

    Shape: x (N, in_channels), edge_index (2, E), edge_weight (E,) -> (N, out_channels).
    """

    def __init__(self, in_channels, out_channels, improved=False, cached=False, add_self_loops=True,
                 normalize=True, bias=True):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.improved, self.cached, self.add_self_loops, self.normalize = improved, cached, add_self_loops, normalize
        self.lin = Linear(in_channels, out_channels, bias=False)
        self.bias = Parameter(creation.empty(out_channels)) if bias else None
        self._cached_adj = None
        self.reset_parameters()

    def reset_parameters(self):
        init.xavier_uniform_(self.lin.weight)      # PyG's glorot
        if self.bias is not None:
            init.zeros_(self.bias)
        self._cached_adj = None

    def adjacency(self, edge_index, edge_weight, num_nodes, dtype):
        """The sparse propagation matrix (target, source) for these edges."""
        if self.cached and self._cached_adj is not None:
            return self._cached_adj
        if self.normalize:
            edge_index, edge_weight = gcn_norm(edge_index, edge_weight, num_nodes, self.improved,
                                               self.add_self_loops, dtype=dtype)
        if edge_weight is None:
            edge_weight = creation.ones(edge_index.shape[1], dtype=dtype, device=edge_index.device)
        adj = to_sparse_adj(edge_index, edge_weight, num_nodes).coalesce()
        if self.cached:
            self._cached_adj = adj
        return adj

    def forward(self, x, edge_index, edge_weight=None):
        adj = self.adjacency(edge_index, edge_weight, x.shape[0], x.dtype)
        out = adj @ self.lin(x)
        return out + self.bias if self.bias is not None else out

    def extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}"


class GATConv(MessagePassing):
    """Graph attention: x'_i = sum over j -> i of alpha_ij W x_j, with
    alpha_ij = softmax_j(LeakyReLU(a_src . W x_j + a_dst . W x_i)) over i's incoming edges
    (self-loops included), one attention per head (Velickovic et al. 2018).

    Heads are concatenated (`concat=True`: out_channels * heads features) or averaged.
    `dropout` drops attention coefficients during training.  `return_attention_weights=True`
    also returns (edge_index, alpha) with alpha (E, heads).
    """

    def __init__(self, in_channels, out_channels, heads=1, concat=True, negative_slope=0.2, dropout=0.0,
                 add_self_loops=True, bias=True):
        super().__init__(aggr="sum")
        self.in_channels, self.out_channels, self.heads, self.concat = in_channels, out_channels, heads, concat
        self.negative_slope, self.dropout, self.add_self_loops = negative_slope, dropout, add_self_loops
        self.lin = Linear(in_channels, heads * out_channels, bias=False)
        self.att_src = Parameter(creation.empty(1, heads, out_channels))
        self.att_dst = Parameter(creation.empty(1, heads, out_channels))
        self.bias = Parameter(creation.empty(heads * out_channels if concat else out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        init.xavier_uniform_(self.lin.weight)
        bound = math.sqrt(6.0 / (self.heads + self.out_channels))      # PyG's glorot on (1, H, C)
        for a in (self.att_src, self.att_dst):
            init.uniform_(a, -bound, bound)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, x, edge_index, return_attention_weights=None):
        n, h, c = x.shape[0], self.heads, self.out_channels
        x = self.lin(x).reshape(n, h, c)
        alpha_src, alpha_dst = (x * self.att_src).sum(-1), (x * self.att_dst).sum(-1)
        if self.add_self_loops:
            edge_index, _ = remove_self_loops(edge_index)
            edge_index, _ = add_self_loops(edge_index, num_nodes=n)
        src, dst = edge_index[0], edge_index[1]
        alpha = F.leaky_relu(alpha_src[src] + alpha_dst[dst], self.negative_slope)
        alpha = softmax(alpha, dst, n)
        alpha = F.dropout(alpha, self.dropout, self.training)
        out = self.propagate(edge_index, x=x, alpha=alpha)
        out = out.reshape(n, h * c) if self.concat else out.mean(1)
        if self.bias is not None:
            out = out + self.bias
        return (out, (edge_index, alpha)) if return_attention_weights else out

    def message(self, x_j, alpha):
        return alpha.unsqueeze(-1) * x_j

    def extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}, heads={self.heads}"
