"""Sparse COO tensors (PyTorch's `sparse_coo_tensor` layout) and sparse @ dense products.

A `SparseCOOTensor` is `indices` (int64, (ndim, nnz)), `values` ((nnz,) tensor) and a size:
element indices[:, k] holds values[k], every other element is zero, and repeated indices
add up.  Gradients flow through `values` like through any tensor, so a sparse matrix built
from computed values (attention weights on graph edges, say) passes gradients back to them;
a sparse leaf (`requires_grad=True`) gets a sparse `.grad` at its own (coalesced) indices,
as `torch.sparse.mm` gives.

It is not a `Tensor` subclass: it has the methods below and nothing else, so a dense op
given one fails instead of silently treating it as its values.  Hybrid tensors (values
with dense dimensions of their own) are not supported.

The one new op is `SparseDenseMM`, A @ D with A sparse (n, m) and D dense (m, k):
    out[r] = sum over k with rows[k] = r of values[k] * D[cols[k]]
    d values[k] = <g[rows[k]], D[cols[k]]>        (the product sampled at A's pattern)
    d D         = A^T @ g                          (the same op on the transposed pattern)
Both rules are made of differentiable ops, so second derivatives work too.
"""
from .. import dtypes as _dt
from .._repr import tensor_repr
from .._array import xp
from ..tensor import Size, Tensor, _to_array
from .._array.device import check_device, device as _device
from .indexing import index_add, index_put, index_select
from .batching import array_of
from .op import Op
from .shape import cat


class SparseCOOTensor:
    """A sparse tensor in coordinate format; build one with `sparse_coo_tensor` or
    `Tensor.to_sparse()`."""

    __slots__ = ("_idx", "_vals", "_size", "_coalesced")
    is_sparse = True
    layout = "sparse_coo"

    def __init__(self, indices, values, size, coalesced=False):
        self._idx, self._vals, self._size, self._coalesced = indices, values, Size(size), coalesced

    # --- what it is -------------------------------------------------------------------

    @property
    def shape(self):
        return self._size

    def size(self, dim=None):
        return self._size if dim is None else self._size[dim]

    def dim(self):
        return len(self._size)

    ndim = property(dim)

    def sparse_dim(self):
        return len(self._size)

    def dense_dim(self):
        return 0

    @property
    def dtype(self):
        return self._vals.dtype

    @property
    def device(self):
        return self._vals.device

    def _nnz(self):
        return self._idx.shape[1]

    def is_coalesced(self):
        return self._coalesced

    def _indices(self):
        return self._idx

    def _values(self):
        return self._vals

    def indices(self):
        """The (ndim, nnz) indices; only of a coalesced tensor, as in PyTorch."""
        self._require_coalesced("indices")
        return self._idx

    def values(self):
        """The (nnz,) values; only of a coalesced tensor, as in PyTorch."""
        self._require_coalesced("values")
        return self._vals

    def _require_coalesced(self, what):
        if not self._coalesced:
            raise RuntimeError(f"Cannot get {what} on an uncoalesced tensor, please call .coalesce() first")

    # --- autograd ---------------------------------------------------------------------

    @property
    def requires_grad(self):
        return self._vals.requires_grad

    def requires_grad_(self, requires_grad=True):
        self._vals.requires_grad_(requires_grad)
        return self

    @property
    def grad_fn(self):
        return self._vals.grad_fn

    @property
    def is_leaf(self):
        return self._vals.is_leaf

    @property
    def grad(self):
        """The gradient of a sparse leaf: sparse, at the leaf's (coalesced) indices.  Each
        repeat of an index gets the whole derivative at that element, so one copy is kept."""
        g = self._vals.grad
        if g is None or self._coalesced:
            return None if g is None else SparseCOOTensor(self._idx, g, self._size, True)
        _, first = xp.unique(self._linear(), return_index=True)
        idx = self._idx._data[:, first]
        return SparseCOOTensor(Tensor._make(idx), Tensor._make(g._data[first]), self._size, True)

    def _linear(self):
        """Each entry's position in the row-major flattened tensor."""
        idx = self._idx._data
        return xp.ravel_multi_index(tuple(idx), self._size) if idx.shape[1] else xp.zeros(0, xp.int64)

    @grad.setter
    def grad(self, value):
        if value is not None:
            raise RuntimeError("a sparse tensor's grad can only be reset to None")
        self._vals.grad = None

    def detach(self):
        return SparseCOOTensor(self._idx, self._vals.detach(), self._size, self._coalesced)

    # --- conversions ------------------------------------------------------------------

    def coalesce(self):
        """Indices sorted (row-major) and unique, the values of repeated indices summed."""
        if self._coalesced:
            return self
        unique, inverse = xp.unique(self._linear(), return_inverse=True)
        indices = xp.stack(xp.unravel_index(unique, self._size)).astype(xp.int64).reshape(len(self._size), -1)
        values = index_add(_zeros((len(unique),), self._vals), 0, Tensor._make(inverse.reshape(-1)),
                           self._vals)
        return SparseCOOTensor(Tensor._make(indices), values, self._size, coalesced=True)

    def to_dense(self):
        """The dense tensor (differentiable in the values)."""
        dense = _zeros(tuple(self._size), self._vals)
        rows = tuple(Tensor._make(i) for i in self._idx._data)
        return index_put(dense, rows, self._vals, accumulate=True)

    def to(self, *args, dtype=None, device=None, **kwargs):
        for a in args:
            if isinstance(a, (str, _device)):
                device = a
            elif a is not None:
                dtype = a
        check_device(device, "to")
        if dtype is None or _dt.to_dtype(dtype) is self.dtype:
            return self
        return SparseCOOTensor(self._idx, self._vals.to(dtype), self._size, self._coalesced)

    def double(self):
        return self.to(_dt.float64)

    def float(self):
        return self.to(_dt.float32)

    def cpu(self):
        return self

    def t(self):
        """The transpose of a 2-D sparse tensor (indices swapped; not coalesced)."""
        if len(self._size) != 2:
            raise RuntimeError(f"t() expects a 2-D sparse tensor, got {len(self._size)}-D")
        return self.transpose(0, 1)

    def transpose(self, dim0, dim1):
        order = list(range(len(self._size)))
        order[dim0], order[dim1] = order[dim1], order[dim0]
        size = [self._size[d] for d in order]
        return SparseCOOTensor(Tensor._make(self._idx._data[order]), self._vals, size)

    # --- arithmetic -------------------------------------------------------------------

    def __mul__(self, other):
        if isinstance(other, (Tensor, SparseCOOTensor)) and other.dim() != 0:
            raise TypeError("sparse * tensor: only multiplication by a scalar is supported")
        return SparseCOOTensor(self._idx, self._vals * other, self._size, self._coalesced)

    __rmul__ = __mul__

    def __truediv__(self, other):
        return self * (1.0 / other)

    def __neg__(self):
        return self * -1.0

    def __add__(self, other):
        """Sparse + sparse of the same size: the union of the entries, coalesced."""
        if not isinstance(other, SparseCOOTensor) or other.shape != self.shape:
            raise TypeError(f"sparse + {type(other).__name__}: only sparse tensors of the same size "
                            f"({tuple(self.shape)}) can be added")
        indices = Tensor._make(xp.concatenate([self._idx._data, other._idx._data], axis=1))
        return SparseCOOTensor(indices, cat([self._vals, other._vals]), self._size).coalesce()

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(other, self)

    mm = matmul = __matmul__

    def __repr__(self):
        pad = " " * 7
        extra = f", dtype={self.dtype}" if self.dtype is not _dt.get_default_dtype() else ""
        values = tensor_repr(self._vals).replace("\n", "\n" + pad)
        indices = tensor_repr(self._idx).replace("\n", "\n" + pad)
        return (f"tensor(indices={indices},\n{pad}values={values},\n{pad}size={tuple(self._size)}, "
                f"nnz={self._nnz()}{extra}, layout=diffprog.sparse_coo)")


def _zeros(shape, like):
    return Tensor._make(xp.zeros(shape, dtype=like.dtype.np, like=array_of(like)))


# --- building -------------------------------------------------------------------------------

def sparse_coo_tensor(indices, values, size=None, *, dtype=None, device=None, requires_grad=False,
                      check_invariants=None, is_coalesced=None):
    """A sparse COO tensor with values[k] at indices[:, k] (PyTorch's signature).

    `size` defaults to one more than the largest index along each dimension.  Values that
    require grad keep their history, so gradients reach them through the sparse tensor."""
    check_device(device, "sparse_coo_tensor")
    values = values if isinstance(values, Tensor) else Tensor._make(_to_array(values, None))
    if device is not None:
        values = values.to(device)
    # as PyTorch's: indices given as data are made on the values' device; tensors must be there
    indices = indices.to(device) if isinstance(indices, Tensor) and device is not None else indices
    indices = indices if isinstance(indices, Tensor) else Tensor._make(_to_array(indices, None)).to(values.device)
    if indices.device != values.device:
        raise RuntimeError(f"sparse_coo_tensor: device of indices ({indices.device}) must match device "
                           f"of values ({values.device})")
    idx = indices._data
    if idx.dtype.kind not in "iu" or idx.ndim != 2:
        raise RuntimeError(f"sparse_coo_tensor: indices must be an int64 tensor of shape (ndim, nnz), "
                           f"got shape {tuple(idx.shape)} and dtype {indices.dtype}")
    if values.ndim != 1 or values.shape[0] != idx.shape[1]:
        raise RuntimeError(f"sparse_coo_tensor: expected values of shape ({idx.shape[1]},) to match "
                           f"indices of shape {tuple(idx.shape)}, got {tuple(values.shape)} (hybrid "
                           f"tensors with dense dimensions are not supported)")
    if size is None:
        size = tuple(int(m) + 1 for m in idx.max(axis=1)) if idx.shape[1] else (0,) * idx.shape[0]
    size = tuple(int(s) for s in size)
    if len(size) != idx.shape[0]:
        raise RuntimeError(f"sparse_coo_tensor: size {size} has {len(size)} dimensions but indices "
                           f"have {idx.shape[0]} rows")
    if idx.shape[1] and ((idx.min(axis=1) < 0).any() or
                         (idx.max(axis=1) >= xp.asarray(size, like=idx)).any()):
        raise RuntimeError(f"sparse_coo_tensor: indices out of range for size {size} (largest "
                           f"{idx.max(axis=1).tolist()}, smallest {idx.min(axis=1).tolist()})")
    if dtype is not None:
        values = values.to(dtype)
    if requires_grad:
        values = values.detach().requires_grad_()
    indices = Tensor._make(idx.astype(xp.int64, copy=False))
    return SparseCOOTensor(indices, values, size, coalesced=bool(is_coalesced))


def to_sparse(self, sparse_dim=None):
    """This dense tensor's nonzero elements as a coalesced sparse COO tensor; the gradient
    reaching the dense tensor is nonzero only at those elements (as PyTorch's)."""
    if sparse_dim is not None and sparse_dim != self.ndim:
        raise RuntimeError(f"to_sparse: only sparse_dim = ndim ({self.ndim}) is supported, got {sparse_dim}")
    idx = xp.stack(xp.nonzero(self._data)).astype(xp.int64).reshape(self.ndim, -1)
    values = self[tuple(Tensor._make(i) for i in idx)]
    return SparseCOOTensor(Tensor._make(idx), values, self.shape, coalesced=True)


def _to_dense_method(self):
    return self


# --- sparse @ dense -------------------------------------------------------------------------

class SparseDenseMM(Op):
    """Sparse (n_rows, m) with `values` at (rows, cols), times dense (m, k)."""

    op_name = "sparse_mm"

    @classmethod
    def batch(cls, n, args, batched, kwargs):
        """A batch of dense operands joins the columns; a batch of values makes one
        block-diagonal sparse matrix of the n matrices (its dense operand stacked too, if
        that is batched)."""
        (values, dense), (b_values, b_dense) = args, batched
        rows, cols, n_rows = kwargs["rows"], kwargs["cols"], kwargs["n_rows"]
        if not b_values:
            m, k = dense.shape[1:]
            out = cls.apply(values, dense.movedim(0, 1).reshape(m, n * k), rows=rows, cols=cols, n_rows=n_rows)
            return out.reshape(n_rows, n, k).movedim(1, 0)
        block = xp.repeat(xp.arange(n, like=rows), len(rows))
        if b_dense:
            cols = xp.tile(cols, n) + block * dense.shape[1]
            dense = dense.reshape(-1, dense.shape[-1])
        else:
            cols = xp.tile(cols, n)
        out = cls.apply(values.reshape(-1), dense, rows=xp.tile(rows, n) + block * n_rows, cols=cols,
                        n_rows=n * n_rows)
        return out.reshape(n, n_rows, -1)

    def forward(ctx, values, dense, rows, cols, n_rows):
        ctx.rows, ctx.cols, ctx.n_rows = rows, cols, n_rows
        products = values[:, None] * dense[cols]
        out = xp.zeros((n_rows, dense.shape[1]), dtype=products.dtype, like=products)
        if len(rows):
            if (rows[1:] < rows[:-1]).any():          # not coalesced: sort by row
                order = xp.argsort(rows, kind="stable")
                rows, products = rows[order], products[order]
            starts = xp.flatnonzero(xp.diff(rows, prepend=-1))     # rows are >= 0: 0 starts
            out[rows[starts]] = xp.add.reduceat(products, starts, axis=0)
        return out

    def vjp(ctx, g):
        values, dense = ctx.inputs
        need_values, need_dense = ctx.needs_input_grad
        rows, cols = Tensor._make(ctx.rows), Tensor._make(ctx.cols)
        g_values = (index_select(g, 0, rows) * index_select(dense, 0, cols)).sum(-1) if need_values else None
        g_dense = (SparseDenseMM.apply(values, g, rows=ctx.cols, cols=ctx.rows, n_rows=dense.shape[0])
                   if need_dense else None)
        return g_values, g_dense

    def jvp(ctx, d_values, d_dense):
        values, dense = ctx.inputs
        opts = dict(rows=ctx.rows, cols=ctx.cols, n_rows=ctx.n_rows)
        return SparseDenseMM.apply(d_values, dense, **opts) + SparseDenseMM.apply(values, d_dense, **opts)


def mm(sparse, dense):
    """sparse (n, m) @ dense (m, k) or (m,): a dense result; `diffprog.sparse.mm`."""
    if not isinstance(sparse, SparseCOOTensor) or sparse.dim() != 2:
        raise RuntimeError(f"sparse.mm: expected a 2-D sparse tensor first, got "
                           f"{type(sparse).__name__} of shape {tuple(sparse.shape)}")
    if not isinstance(dense, Tensor) or dense.ndim not in (1, 2):
        raise RuntimeError(f"sparse.mm: expected a 1-D or 2-D dense tensor second, got "
                           f"{type(dense).__name__} of shape {tuple(getattr(dense, 'shape', ()))}")
    n, m = sparse.shape
    if dense.shape[0] != m:
        raise RuntimeError(f"sparse.mm: shapes {tuple(sparse.shape)} and {tuple(dense.shape)} cannot be multiplied")
    if dense.dtype is not sparse.dtype:
        raise RuntimeError(f"sparse.mm: expected both operands to have the same dtype, but got "
                           f"{sparse.dtype.name} (sparse) and {dense.dtype.name} (dense)")
    rows, cols = sparse._idx._data
    column = dense.ndim == 1
    out = SparseDenseMM.apply(sparse._vals, dense.reshape(-1, 1) if column else dense,
                              rows=rows, cols=cols, n_rows=n)
    return out.reshape(-1) if column else out


def matmul(input, other):
    """`@` with a sparse operand: sparse @ dense, or dense @ sparse as (sparse^T @ dense^T)^T."""
    if isinstance(input, SparseCOOTensor):
        if isinstance(other, SparseCOOTensor):
            raise RuntimeError("matmul: sparse @ sparse is not supported; convert one with to_dense()")
        return mm(input, other)
    if input.ndim != 2:
        raise RuntimeError(f"matmul: dense @ sparse needs a 2-D dense tensor, got shape {tuple(input.shape)}")
    return mm(other.t(), input.mT).mT


METHODS = {"to_sparse": to_sparse, "to_dense": _to_dense_method, "is_sparse": False}

__all__ = ["sparse_coo_tensor", "SparseCOOTensor"]
