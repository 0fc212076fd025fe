"""Shape operations: views (reshape, permute, expand, split, diagonal, ...) and copies
(cat, repeat, flip, roll, tril, ...).

A view op sets `is_view` and returns a NumPy view of its input, so in-place writes reach
the base; its derivative replays the same rearrangement backwards.  Ops that are only a
new shape (squeeze, flatten, unflatten, ...) are `Reshape`; slicing ones (narrow, select)
are indexing (`x[key]`).
"""
import functools

from .. import dtypes as _dt
from .._array import broadcast_view, sum_to, xp
from .._array.device import device_of, move, pin
from .._array.device import is_pinned as _is_pinned
from .._dims import _dims, _wrap_dim
from ..tensor import Tensor
from .batching import array_of, leading, lift, materialize
from .op import Op


def _shape_arg(shape):
    """Accept f(2, 3) and f((2, 3)) alike."""
    if len(shape) == 1 and not isinstance(shape[0], int):
        return tuple(int(s) for s in shape[0])
    return tuple(int(s) for s in shape)


def _zeros(shape, like):
    return Tensor._make(xp.zeros(shape, dtype=like.dtype.np, like=array_of(like)))


def _one_or_tuple(xs):
    return xs[0] if len(xs) == 1 else tuple(xs)


# --- views -------------------------------------------------------------------------------

class Reshape(Op):
    """A new shape for the same elements: a view when NumPy can make one, else a copy
    (`view=True` insists on a view, like `Tensor.view`)."""

    raw = True
    is_view = True

    @classmethod
    def batch(cls, n, args, batched, kwargs):
        shape, view = (n,) + tuple(kwargs["shape"]), kwargs.get("view", False)
        try:
            return cls.apply(args[0], shape=shape, view=view)
        except RuntimeError:
            if not view:
                raise
            return cls.apply(args[0], shape=shape)      # the batch's layout allows no view: a copy

    def forward(ctx, x, shape, view=False):
        ctx.in_shape = x.shape
        try:
            out = x.reshape(shape, copy=False) if view else x.reshape(shape)
        except ValueError:
            try:
                x.reshape(shape)
            except ValueError:
                raise RuntimeError(f"reshape: shape '{list(shape)}' is invalid for input of size "
                                   f"{x.size}") from None
            raise RuntimeError(
                f"view: view size {list(shape)} is not compatible with input tensor's size "
                f"{list(x.shape)} and stride {[s // x.itemsize for s in x.strides]} (at least one "
                "dimension spans across two contiguous subspaces). Use .reshape(...) instead.") from None
        ctx.shape = out.shape
        return out

    def vjp(ctx, g):
        return g.reshape(ctx.in_shape)

    def jvp(ctx, dx):
        return dx.reshape(ctx.shape)


class Permute(Op):
    """Reorder dimensions (transpose, t, T, mT, movedim, ...)."""

    is_view = True

    @classmethod
    def batch(cls, n, args, batched, kwargs):
        return cls.apply(args[0], dims=(0,) + tuple(d + 1 for d in kwargs["dims"]))

    def forward(ctx, x, dims):
        ctx.dims = dims
        return x.transpose(dims)

    def vjp(ctx, g):
        return g.permute(tuple(xp.argsort(ctx.dims).tolist()))

    def jvp(ctx, dx):
        return dx.permute(ctx.dims)


class Expand(Op):
    raw = True
    is_view = True

    @classmethod
    def batch(cls, n, args, batched, kwargs):
        shape = tuple(kwargs["shape"])
        return cls.apply(lift(args[0], len(shape)), shape=(n,) + shape)

    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        lead = len(shape) - x.ndim
        if lead < 0:
            raise RuntimeError(f"expand: the number of sizes provided ({len(shape)}) must be greater or "
                               f"equal to the number of dimensions in the tensor ({x.ndim})")
        shape = tuple(x.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(shape))
        try:
            return broadcast_view(x, shape)
        except ValueError:
            raise RuntimeError(f"expand: the expanded size {list(shape)} is not compatible with the "
                               f"existing size {list(x.shape)}") from None

    def vjp(ctx, g):
        return g.sum_to_size(ctx.in_shape) if isinstance(g, Tensor) else sum_to(g, ctx.in_shape)

    def jvp(ctx, dx):
        return dx.expand(ctx.output.shape)


class Split(Op):
    """Consecutive pieces of `sizes` along `dim` (views); `squeeze` drops the dim (unbind).
    The number of outputs is fixed per class, so `_splitter(n)` makes the n-output op."""

    is_view = True

    @classmethod
    def batch(cls, n, args, batched, kwargs):
        return cls.apply(args[0], **{**kwargs, "dim": kwargs["dim"] + 1})

    def forward(ctx, x, sizes, dim, squeeze=False):
        ctx.sizes, ctx.dim, ctx.squeeze = sizes, dim, squeeze
        lead, out, start = (slice(None),) * dim, [], 0
        for s in sizes:
            out.append(x[lead + ((start, Ellipsis) if squeeze else (slice(start, start + s),))])
            start += s
        return _one_or_tuple(out)

    def vjp(ctx, *grads):
        return stack(grads, ctx.dim) if ctx.squeeze else cat(grads, ctx.dim)

    def jvp(ctx, dx):
        return _one_or_tuple(unbind(dx, ctx.dim) if ctx.squeeze else split(dx, list(ctx.sizes), ctx.dim))


@functools.cache
def _splitter(n):
    return type("Split", (Split,), {"n_out": n})


def _diagonal(x, offset, dim1, dim2):
    """NumPy's diagonal view, made writable (it is read-only by default) when x is."""
    d = xp.diagonal(x, offset, dim1, dim2)
    if x.flags.writeable:
        d.flags.writeable = True
    return d


class Diagonal(Op):
    is_view = True

    @classmethod
    def batch(cls, n, args, batched, kwargs):
        return cls.apply(args[0], offset=kwargs["offset"], dim1=kwargs["dim1"] + 1,
                         dim2=kwargs["dim2"] + 1)

    def forward(ctx, x, offset, dim1, dim2):
        ctx.shape, ctx.opts = x.shape, (offset, dim1, dim2)
        return _diagonal(x, offset, dim1, dim2)

    def vjp(ctx, g):
        return diagonal_scatter(_zeros(ctx.shape, g), g, *ctx.opts)

    def jvp(ctx, dx):
        return dx.diagonal(*ctx.opts)


# --- copies ------------------------------------------------------------------------------

class DiagonalScatter(Op):
    """x with its diagonal replaced by src (the adjoint of diagonal, and diag_embed)."""

    promote = "common"

    @classmethod
    def batch(cls, n, args, batched, kwargs):
        x, src = materialize(args[0], n, batched[0]), args[1]
        return cls.apply(x, src, offset=kwargs["offset"], dim1=kwargs["dim1"] + 1,
                         dim2=kwargs["dim2"] + 1)

    def forward(ctx, x, src, offset, dim1, dim2):
        ctx.opts = (offset, dim1, dim2)
        out = x.copy()
        _diagonal(out, offset, dim1, dim2)[...] = src
        return out

    def vjp(ctx, g):
        need_x, need_src = ctx.needs_input_grad
        return (diagonal_scatter(g, 0, *ctx.opts) if need_x else None,
                g.diagonal(*ctx.opts) if need_src else None)

    def jvp(ctx, dx, dsrc):
        return diagonal_scatter(dx, dsrc, *ctx.opts)


def _join(cls, n, args, batched, kwargs):
    """The batching rule of cat and stack: every operand batched, the dim past the batch."""
    return cls.apply(*[materialize(x, n, b) for x, b in zip(args, batched)], dim=kwargs["dim"] + 1)


class Cat(Op):
    promote = "common"

    batch = classmethod(_join)

    def forward(ctx, *xs, dim):
        ctx.dim, ctx.sizes = dim, [x.shape[dim] if x.ndim else 0 for x in xs]
        try:
            return xp.concatenate(xs, axis=dim)
        except ValueError:
            shapes = ", ".join(str(x.shape) for x in xs)
            raise RuntimeError(f"cat: sizes of tensors must match except in dimension {dim} "
                               f"(and tensors must not be 0-d), got shapes {shapes}") from None

    def vjp(ctx, g):
        return split(g, ctx.sizes, ctx.dim)

    def jvp(ctx, *dxs):
        return cat([d if isinstance(d, Tensor) else _zeros(a.shape, ctx.output)
                    for d, a in zip(dxs, ctx.args)], ctx.dim)


class Stack(Op):
    """Join equal-shaped tensors along a new dim (one op, so collating a batch is cheap)."""

    promote = "common"

    batch = classmethod(_join)

    def forward(ctx, *xs, dim):
        ctx.dim = dim
        return xp.stack(xs, axis=dim)

    def vjp(ctx, g):
        return unbind(g, ctx.dim)

    def jvp(ctx, *dxs):
        return stack([d if isinstance(d, Tensor) else _zeros(a.shape, ctx.output)
                      for d, a in zip(dxs, ctx.args)], ctx.dim)


class Repeat(Op):
    @classmethod
    def batch(cls, n, args, batched, kwargs):
        sizes = tuple(kwargs["sizes"])
        return cls.apply(lift(args[0], len(sizes)), sizes=(1,) + sizes)

    def forward(ctx, x, sizes):
        ctx.in_shape, ctx.sizes = x.shape, sizes
        return xp.tile(x, sizes)

    def vjp(ctx, g):
        shape = (1,) * (len(ctx.sizes) - len(ctx.in_shape)) + ctx.in_shape
        pairs = [n for r, s in zip(ctx.sizes, shape) for n in (r, s)]
        return g.reshape(pairs).sum(tuple(range(0, len(pairs), 2))).reshape(ctx.in_shape)

    def jvp(ctx, dx):
        return dx.repeat(ctx.sizes)


class Flip(Op):
    """Reverse along dims (a copy, as in PyTorch: writes to it never reach the input)."""

    @classmethod
    def batch(cls, n, args, batched, kwargs):
        return cls.apply(args[0], dims=tuple(d + 1 for d in kwargs["dims"]))

    def forward(ctx, x, dims):
        ctx.dims = dims
        return xp.flip(x, dims).copy()

    def vjp(ctx, g):
        return g.flip(ctx.dims)

    def jvp(ctx, dx):
        return dx.flip(ctx.dims)


class Roll(Op):
    @classmethod
    def batch(cls, n, args, batched, kwargs):
        x, dims = args[0], kwargs["dims"]
        if dims is not None:
            return cls.apply(x, shifts=kwargs["shifts"], dims=tuple(d + 1 for d in dims))
        shape = tuple(x.shape)                  # no dims: roll the flattened element
        return cls.apply(x.reshape(n, -1), shifts=kwargs["shifts"], dims=(1,)).reshape(shape)

    def forward(ctx, x, shifts, dims):
        ctx.shifts, ctx.dims = shifts, dims
        return xp.roll(x, shifts, dims)

    def vjp(ctx, g):
        return g.roll(tuple(-s for s in ctx.shifts), ctx.dims)

    def jvp(ctx, dx):
        return dx.roll(ctx.shifts, ctx.dims)


class Tril(Op):
    batch = leading

    def forward(ctx, x, diagonal):
        ctx.k = diagonal
        return xp.tril(x, diagonal)

    def vjp(ctx, g):
        return g.tril(ctx.k)

    def jvp(ctx, dx):
        return dx.tril(ctx.k)


class Triu(Op):
    batch = leading

    def forward(ctx, x, diagonal):
        ctx.k = diagonal
        return xp.triu(x, diagonal)

    def vjp(ctx, g):
        return g.triu(ctx.k)

    def jvp(ctx, dx):
        return dx.triu(ctx.k)


class Cast(Op):
    """Change dtype (a copy). Gradients are cast back to the input's dtype."""

    op_name = "to"

    batch = leading

    def forward(ctx, x, dtype):
        ctx.in_dtype = _dt.from_numpy_dtype(x.dtype)
        return x.astype(dtype.np)

    def vjp(ctx, g):
        return g.to(ctx.in_dtype)

    def jvp(ctx, dx):
        return dx.to(ctx.output.dtype)


class Move(Op):
    """Copy to another device; gradients are copied back."""

    op_name = "to"

    batch = leading

    def forward(ctx, x, device, non_blocking=False):
        ctx.in_device = device_of(x)
        return move(x, device, non_blocking)

    def vjp(ctx, g):
        return g.to(ctx.in_device)

    def jvp(ctx, dx):
        return dx.to(ctx.output.device)


class PinMemory(Op):
    """A copy in page-locked host memory (`Tensor.pin_memory`); the gradient passes through."""

    op_name = "pin_memory"

    batch = leading

    def forward(ctx, x):
        return pin(x)

    def vjp(ctx, g):
        return g

    def jvp(ctx, dx):
        return dx


class Clone(Op):
    raw = True
    batch = leading

    def forward(ctx, x, memory_format=None):
        return x.copy()

    def vjp(ctx, g):
        return g

    def jvp(ctx, dx):
        return dx


# --- public functions: reshaping -----------------------------------------------------------

def reshape(input, *shape):
    return Reshape.apply(input, shape=_shape_arg(shape))


def view(input, *shape):
    """Like reshape, but only as a view (RuntimeError where the strides don't allow one)."""
    return Reshape.apply(input, shape=_shape_arg(shape), view=True)


def view_as(input, other):
    return Reshape.apply(input, shape=tuple(other.shape), view=True)


def reshape_as(input, other):
    return Reshape.apply(input, shape=tuple(other.shape))


def flatten(input, start_dim=0, end_dim=-1):
    if input.ndim == 0:
        return Reshape.apply(input, shape=(1,))
    s, e = _wrap_dim(start_dim, input.ndim, "flatten"), _wrap_dim(end_dim, input.ndim, "flatten")
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return input
    shape = input.shape
    return Reshape.apply(input, shape=shape[:s] + (-1,) + shape[e + 1:])


def unflatten(input, dim, sizes):
    d = _wrap_dim(dim, input.ndim, "unflatten")
    sizes = tuple(sizes)
    if -1 in sizes:
        known = 1
        for s in sizes:
            known *= s if s != -1 else 1
        sizes = tuple(input.shape[d] // known if known and s == -1 else s for s in sizes)
    return Reshape.apply(input, shape=input.shape[:d] + sizes + input.shape[d + 1:])


def squeeze(input, dim=None):
    """Drop dimensions of size 1 (all of them, or those among `dim` that have size 1)."""
    dims = _dims(dim, input.ndim) if input.ndim else ()
    shape = tuple(s for i, s in enumerate(input.shape) if not (i in dims and s == 1))
    return Reshape.apply(input, shape=shape)


def unsqueeze(input, dim):
    d = _wrap_dim(dim, input.ndim + 1, "unsqueeze")
    shape = input.shape
    return Reshape.apply(input, shape=shape[:d] + (1,) + shape[d:])


def atleast_1d(*tensors):
    out = [t.reshape(1) if t.ndim == 0 else t for t in _tensors(tensors)]
    return out[0] if len(out) == 1 and isinstance(tensors[0], Tensor) else tuple(out)


def atleast_2d(*tensors):
    out = [t.reshape((1,) * (2 - t.ndim) + t.shape) if t.ndim < 2 else t for t in _tensors(tensors)]
    return out[0] if len(out) == 1 and isinstance(tensors[0], Tensor) else tuple(out)


def _tensors(args):
    return args[0] if len(args) == 1 and not isinstance(args[0], Tensor) else args


# --- public functions: dimension order ---------------------------------------------------

def permute(input, *dims):
    dims = _shape_arg(dims)
    if len(dims) != input.ndim:
        raise RuntimeError(f"permute: number of dims don't match: the tensor has {input.ndim} "
                           f"dimensions but {len(dims)} were given ({list(dims)})")
    dims = tuple(_wrap_dim(d, input.ndim, "permute") for d in dims)
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"permute: repeated dim in {list(dims)}")
    return Permute.apply(input, dims=dims)


def transpose(input, dim0, dim1):
    n = input.ndim
    dims = list(range(n))
    a, b = _wrap_dim(dim0, n, "transpose"), _wrap_dim(dim1, n, "transpose")
    if n:
        dims[a], dims[b] = dims[b], dims[a]
    return Permute.apply(input, dims=tuple(dims))


def t(input):
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    return Permute.apply(input, dims=tuple(range(input.ndim))[::-1])


swapaxes = swapdims = transpose


def _T(self):
    return Permute.apply(self, dims=tuple(range(self.ndim))[::-1])


def _mT(self):
    if self.ndim < 2:
        raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices. "
                           f"Got {self.ndim}-D tensor.")
    return transpose(self, -2, -1)


def movedim(input, source, destination):
    n = input.ndim
    src = [_wrap_dim(d, n, "movedim") for d in ((source,) if isinstance(source, int) else source)]
    dst = [_wrap_dim(d, n, "movedim") for d in ((destination,) if isinstance(destination, int)
                                                 else destination)]
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({src} dims) should "
                           f"contain the same number of dims as destination ({dst} dims)")
    rest = [d for d in range(n) if d not in src]
    order = [None] * n
    for s, d in zip(src, dst):
        order[d] = s
    it = iter(rest)
    return Permute.apply(input, dims=tuple(o if o is not None else next(it) for o in order))


moveaxis = movedim


# --- public functions: broadcasting and repetition ----------------------------------------

def expand(input, *sizes):
    return Expand.apply(input, shape=_shape_arg(sizes))


def expand_as(input, other):
    return Expand.apply(input, shape=tuple(other.shape))


def broadcast_to(input, size):
    return Expand.apply(input, shape=tuple(size))


def repeat(input, *sizes):
    sizes = _shape_arg(sizes)
    if len(sizes) < input.ndim:
        raise RuntimeError(f"repeat: number of dimensions of repeat dims ({len(sizes)}) can not be "
                           f"smaller than number of dimensions of tensor ({input.ndim})")
    return Repeat.apply(input, sizes=sizes)


def tile(input, dims):
    dims = tuple(dims)
    return repeat(input, (1,) * (input.ndim - len(dims)) + dims)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeat each element `repeats` times (an int or one count per element) along dim.
    With only a tensor of counts, the indices 0, 1, ... repeated by those counts.  The
    counts are read on the host (the output's shape depends on them)."""
    if repeats is None:
        counts = input.cpu()._data
        return Tensor._make(xp.repeat(xp.arange(counts.size), counts)).to(input.device)
    if dim is None:
        input, dim = input.reshape(-1), 0
    n = input.shape[dim]
    counts = repeats.cpu()._data if isinstance(repeats, Tensor) else repeats
    index = Tensor._make(xp.repeat(xp.arange(n), counts)).to(input.device)
    return input.index_select(dim, index)


def _tensor_dims(dims):
    return (dims,) if isinstance(dims, int) else tuple(dims)


def flip(input, dims):
    dims = tuple(_wrap_dim(d, input.ndim, "flip") for d in _tensor_dims(dims))
    return Flip.apply(input, dims=dims)


def fliplr(input):
    if input.ndim < 2:
        raise RuntimeError("fliplr: input tensor must be >= 2-d")
    return flip(input, 1)


def flipud(input):
    if input.ndim < 1:
        raise RuntimeError("flipud: input tensor must be >= 1-d")
    return flip(input, 0)


def roll(input, shifts, dims=None):
    shifts = _tensor_dims(shifts)
    if dims is not None:
        dims = tuple(_wrap_dim(d, input.ndim, "roll") for d in _tensor_dims(dims))
        if len(dims) != len(shifts):
            raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(shifts)}, "
                               f"dims: {len(dims)}")
    elif len(shifts) != 1:
        raise RuntimeError("roll: without dims, shifts must be a single number")
    return Roll.apply(input, shifts=shifts, dims=dims)


# --- public functions: joining and splitting ----------------------------------------------

def cat(tensors, dim=0, *, out=None):
    """Join along an existing dim; 1-D empty tensors are skipped, as in PyTorch."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("cat: expected a non-empty list of Tensors")
    kept = [t for t in tensors if t.shape != (0,)] or tensors[:1]
    return Cat.apply(*kept, dim=_wrap_dim(dim, kept[0].ndim, "cat"))


concat = concatenate = cat


def stack(tensors, dim=0, *, out=None):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    shape = tensors[0].shape
    for i, x in enumerate(tensors):
        if x.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(shape)} at "
                               f"entry 0 and {list(x.shape)} at entry {i}")
    return Stack.apply(*tensors, dim=_wrap_dim(dim, len(shape) + 1, "stack"))


def hstack(tensors):
    tensors = atleast_1d(tuple(tensors))
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors):
    return cat(atleast_2d(tuple(tensors)), 0)


def _split_sizes(input, sizes, dim, name):
    d = _wrap_dim(dim, input.ndim, name)
    if sum(sizes) != input.shape[d] or any(s < 0 for s in sizes):
        raise RuntimeError(f"{name}: split sizes {list(sizes)} must be non-negative and sum exactly "
                           f"to {input.shape[d]} (input's size at dimension {d}, shape "
                           f"{tuple(input.shape)})")
    out = _splitter(len(sizes)).apply(input, sizes=tuple(sizes), dim=d)
    return (out,) if len(sizes) == 1 else out


def split(input, split_size_or_sections, dim=0):
    """Pieces of split_size (the last may be smaller), or of the given sizes (views)."""
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        n = input.shape[_wrap_dim(dim, input.ndim, "split")]
        if size <= 0 and n:
            raise RuntimeError(f"split: split_size must be positive, got {size}")
        sizes = [min(size, n - i) for i in range(0, n, size)] if n else [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
    return _split_sizes(input, sizes, dim, "split")


def chunk(input, chunks, dim=0):
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    n = input.shape[_wrap_dim(dim, input.ndim, "chunk")]
    return split(input, max(-(-n // chunks), 1), dim)


def tensor_split(input, indices_or_sections, dim=0):
    """`sections` near-equal pieces, or the pieces between the given indices (views)."""
    d = _wrap_dim(dim, input.ndim, "tensor_split")
    n = input.shape[d]
    if isinstance(indices_or_sections, int):
        k = indices_or_sections
        if k <= 0:
            raise RuntimeError(f"tensor_split: number of sections must be larger than 0, got {k}")
        return _split_sizes(input, [n // k + (i < n % k) for i in range(k)], d, "tensor_split")
    edges = [0] + [int(i) for i in indices_or_sections] + [n]
    lead = (slice(None),) * d
    return tuple(input[lead + (slice(a, max(a, b)),)] for a, b in zip(edges, edges[1:]))


def unbind(input, dim=0):
    d = _wrap_dim(dim, input.ndim, "unbind")
    n = input.shape[d]
    if n == 0:
        return ()
    out = _splitter(n).apply(input, sizes=(1,) * n, dim=d, squeeze=True)
    return (out,) if n == 1 else out


# --- public functions: slicing and diagonals ---------------------------------------------

def narrow(input, dim, start, length):
    d = _wrap_dim(dim, input.ndim, "narrow")
    n = input.shape[d]
    start = int(start)
    if start < 0:
        start += n
    if not 0 <= start <= n or length < 0 or start + length > n:
        raise RuntimeError(f"narrow: start ({start}) + length ({length}) exceeds dimension size ({n}) "
                           f"of a tensor of shape {tuple(input.shape)}")
    return input[(slice(None),) * d + (slice(start, start + length),)]


def select(input, dim, index):
    d = _wrap_dim(dim, input.ndim, "select")
    return input[(slice(None),) * d + (int(index),)]


def diagonal(input, offset=0, dim1=0, dim2=1):
    n = input.ndim
    d1, d2 = _wrap_dim(dim1, n, "diagonal"), _wrap_dim(dim2, n, "diagonal")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return Diagonal.apply(input, offset=offset, dim1=d1, dim2=d2)


def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    n = input.ndim
    d1, d2 = _wrap_dim(dim1, n, "diagonal_scatter"), _wrap_dim(dim2, n, "diagonal_scatter")
    return DiagonalScatter.apply(input, src, offset=offset, dim1=d1, dim2=d2)


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """Matrices (in dims dim1, dim2) whose `offset` diagonal is input's last dimension."""
    n = input.ndim + 1
    d1, d2 = _wrap_dim(dim1, n, "diag_embed"), _wrap_dim(dim2, n, "diag_embed")
    if d1 == d2:
        raise RuntimeError(f"diag_embed: diagonal dimensions cannot be identical {dim1}, {dim2}")
    size = input.shape[-1] + abs(offset)
    shape = list(input.shape[:-1])
    for d in sorted((d1, d2)):
        shape.insert(d, size)
    return DiagonalScatter.apply(_zeros(tuple(shape), input), input, offset=offset, dim1=d1, dim2=d2)


def diag(input, diagonal=0):
    """1-D -> the square matrix with input on its `diagonal`; 2-D -> that diagonal (a copy)."""
    if input.ndim == 1:
        return diag_embed(input, diagonal, 0, 1)
    if input.ndim == 2:
        return Diagonal.apply(input, offset=diagonal, dim1=0, dim2=1).clone()
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")


def tril(input, diagonal=0):
    if input.ndim < 2:
        raise RuntimeError(f"tril: input tensor must have at least 2 dimensions, got {input.ndim}")
    return Tril.apply(input, diagonal=diagonal)


def triu(input, diagonal=0):
    if input.ndim < 2:
        raise RuntimeError(f"triu: input tensor must have at least 2 dimensions, got {input.ndim}")
    return Triu.apply(input, diagonal=diagonal)


# --- public functions: copies and dtypes ----------------------------------------------------

def clone(input, *, memory_format=None):
    return Clone.apply(input)


def contiguous(input, memory_format=None):
    return input if input.is_contiguous() else Clone.apply(input)


def _cast(input, dtype):
    return Cast.apply(input, dtype=dtype)


def _move(input, device, non_blocking=False):
    return Move.apply(input, device=device, non_blocking=non_blocking)


def pin_memory(input, device=None):
    """A copy in page-locked host memory (itself when it is there), from which
    `to('cuda', non_blocking=True)` copies asynchronously; needs an accelerator."""
    _deprecated_device(device, "pin_memory")
    if input.device.type != "cpu":
        legacy = input.type().replace("torch.", f"torch.{input.device.type}.")
        raise RuntimeError(f"cannot pin '{legacy}' only dense CPU tensors can be pinned")
    return input if is_pinned(input) else PinMemory.apply(input)


def is_pinned(input, device=None):
    """Whether this tensor is in page-locked host memory (`pin_memory`)."""
    _deprecated_device(device, "is_pinned")
    return _is_pinned(input._data)


def _deprecated_device(device, method):
    if device is not None:
        import warnings
        warnings.warn(f"The argument 'device' of Tensor.{method}() is deprecated. Please do not pass "
                      "this argument.", DeprecationWarning, stacklevel=3)


def type_as(input, other):
    return input.to(other.dtype)


def _new(fill):
    """Tensor.new_zeros & co: a fresh tensor with self's dtype unless told otherwise."""
    def new(self, *size, dtype=None, device=None, requires_grad=False, **kwargs):
        from .. import creation
        return getattr(creation, fill)(*size, dtype=dtype or self.dtype, device=device or self.device,
                                       requires_grad=requires_grad)
    new.__name__ = f"new_{fill}"
    return new


def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
    from ..creation import full
    return full(size, fill_value, dtype=dtype or self.dtype, device=device or self.device,
                requires_grad=requires_grad)


def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
    from ..creation import tensor
    return tensor(data, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)


METHODS = {
    "reshape": reshape, "view": view, "view_as": view_as, "reshape_as": reshape_as,
    "flatten": flatten, "unflatten": unflatten, "squeeze": squeeze, "unsqueeze": unsqueeze,
    "permute": permute, "transpose": transpose, "swapaxes": transpose, "swapdims": transpose,
    "t": t, "T": property(_T), "mT": property(_mT), "movedim": movedim, "moveaxis": movedim,
    "expand": expand, "expand_as": expand_as, "broadcast_to": broadcast_to, "repeat": repeat,
    "tile": tile, "repeat_interleave": repeat_interleave, "flip": flip, "fliplr": fliplr,
    "flipud": flipud, "roll": roll, "split": split, "chunk": chunk, "tensor_split": tensor_split,
    "unbind": unbind, "narrow": narrow, "select": select, "diagonal": diagonal,
    "diagonal_scatter": diagonal_scatter, "diag_embed": diag_embed, "diag": diag, "tril": tril,
    "triu": triu, "clone": clone, "contiguous": contiguous, "_cast": _cast, "_move": _move,
    "pin_memory": pin_memory, "is_pinned": is_pinned, "type_as": type_as,
    "new_zeros": _new("zeros"), "new_ones": _new("ones"), "new_empty": _new("empty"),
    "new_full": new_full, "new_tensor": new_tensor,
}

__all__ = [
    "reshape", "view_as", "flatten", "unflatten", "squeeze", "unsqueeze", "atleast_1d", "atleast_2d",
    "permute", "transpose", "swapaxes", "swapdims", "t", "movedim", "moveaxis", "expand",
    "broadcast_to", "repeat_interleave", "tile", "flip", "fliplr", "flipud", "roll", "cat",
    "concat", "concatenate", "stack", "hstack", "vstack", "split", "chunk", "tensor_split", "unbind",
    "narrow", "select", "diagonal", "diagonal_scatter", "diag_embed", "diag", "tril", "triu",
    "clone",
]
