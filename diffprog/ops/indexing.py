"""Indexing: `x[key]`, `x[key] = v`, gather/scatter, index_*, masked_*, take, nonzero.

Three ops carry most of it:
  - `Index`: `x[key]` (a view for basic keys, a copy for advanced ones);
  - `IndexBackward`: its adjoint, zeros with `g` added at `key` (repeated indices add up);
  - `IndexPut`: `x` with `x[key] = v` (or `+= v`), the out-of-place form of every write.
gather, index_select, take, masked_select are `Index` with a key built from their
arguments; scatter, index_add/copy/fill, masked_fill/scatter, put_ are `IndexPut`.
`scatter_reduce` has its own op; `copy_`/`fill_`/`zero_` (and writes through a basic
index, `x[1:] = v`) are `Copy` applied in place to a view.
"""
import functools
import math
import operator

from .._array import as_array, ufunc_method, xp
from .._array.device import device_of, is_array, key_for, move
from .._dims import _wrap_dim
from ..tensor import Tensor
from ..autograd.grad_mode import state
from .batching import BatchedTensor, batch_function, innermost, lift, materialize, shift, unwrap, wrap
from .inplace import apply_inplace
from .op import Op


# --- keys ------------------------------------------------------------------------------

def _index_key(idx):
    """A PyTorch index as a NumPy key tuple, and whether it is basic (no index arrays)."""
    if isinstance(idx, list) and len(idx) < 32 and any(
            isinstance(i, (list, tuple, slice, Tensor)) or is_array(i) or i is None or i is Ellipsis
            for i in idx):
        idx = tuple(idx)             # as PyTorch (and old NumPy): x[[[0, 1], [2, 2]]] == x[[0, 1], [2, 2]]
    elif not isinstance(idx, tuple):
        idx = (idx,)
    key, arrays, ints = [], False, 0
    for i in idx:
        if isinstance(i, Tensor):
            if state.tracer is not None and (i._data.ndim == 0 or i._data.dtype == xp.uint8):
                state.tracer.fail("indexing with a 0-d or uint8 tensor (its values enter the key)")
            i = i._data
        elif isinstance(i, (list, bool)):
            i = xp.asarray(i) if i != [] else xp.zeros(0, dtype=xp.int64)
        if is_array(i):
            if i.dtype.kind not in "iub":
                raise IndexError(f"tensors used as indices must be long, int, byte or bool tensors "
                                 f"(got {i.dtype})")
            if i.dtype == xp.uint8:
                i = i.astype(bool)
            if i.ndim == 0 and i.dtype != bool:
                i = int(i)           # a 0-d integer index selects, like an int (a view)
            else:
                arrays = True
        elif isinstance(i, slice):
            if i.step is not None and operator.index(i.step) <= 0:
                raise ValueError("step must be greater than zero")
        elif i is not None and i is not Ellipsis:
            try:
                i = operator.index(i)
            except TypeError:
                raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or byte "
                                 f"tensors are valid indices (got {type(i).__name__})") from None
        ints += isinstance(i, int)
        key.append(i)
    if not arrays:
        if ints == len(key):
            key.append(Ellipsis)     # x[1, 2] as a 0-d view, not a NumPy scalar copy
        return tuple(key), True
    if ints:
        return _Staged(key), False
    return tuple(key), False


class _Staged(tuple):
    """A key applied in two steps, integers first: (integer part, the rest).  PyTorch selects
    at integer indices before advanced indexing, so unlike in NumPy they never count as
    index arrays (which would move the result's advanced dimensions to the front)."""

    def __new__(cls, key):
        first = []
        for k in key:
            if isinstance(k, int) or k is Ellipsis:
                first.append(k)
            elif k is not None:
                first.extend((slice(None),) * (k.ndim if is_array(k) and k.dtype == bool
                                               else 1))
        return super().__new__(cls, (tuple(first), tuple(k for k in key if not isinstance(k, int))))


def _target(x, key):
    """The array a key's index arrays apply to (x, or its integer-selected view) and those,
    on x's device."""
    x, key = (x[key[0]], key[1]) if type(key) is _Staged else (x, key)
    return x, key_for(x, key)


def _is_basic(key):
    return type(key) is not _Staged and not any(is_array(k) for k in key)


def _int_index(index, op):
    a = index._data if isinstance(index, Tensor) else as_array(index)
    if a.dtype.kind not in "iu":
        raise RuntimeError(f"{op}(): Expected dtype int64 for index, got {a.dtype}")
    return a


def _check_bounds(index, size, d, op, error, negatives=False):
    """PyTorch's bounds: indices in [0, size), or [-size, size) where negatives count from
    the end (NumPy would wrap every negative index, and name no op when one is too large)."""
    if index.size and (index.min() < (-size if negatives else 0) or index.max() >= size):
        bad = index[(index < (-size if negatives else 0)) | (index >= size)].flat[0]
        raise error(f"{op}(): index {bad} is out of bounds for dimension {d} with size {size}")


def _dim_key(input, dim, index, op):
    """Key for `index` along `dim` (index_select, index_add, ...): x[:, :, index]."""
    index = _int_index(index, op)
    if index.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector, got shape {index.shape}")
    d = _wrap_dim(dim, input.ndim, op)
    _check_bounds(index, input.shape[d] if input.ndim else 1, d, op, IndexError)
    index = index if index.ndim else index.reshape(1)    # (the index itself: no new array)
    return (slice(None),) * d + (index,)


def _along_key(input, dim, index, op):
    """Key picking, at each position of `index`, the element `index[pos]` along `dim`
    (gather's rule: out[i][j] = x[index[i][j]][j] for dim 0)."""
    index = _int_index(index, op)
    d = _wrap_dim(dim, input.ndim, op)
    if index.ndim != input.ndim:
        raise RuntimeError(f"{op}(): Index tensor must have the same number of dimensions as input "
                           f"tensor (index {index.shape}, input {tuple(input.shape)})")
    nd = index.ndim
    for k, (a, b) in enumerate(zip(index.shape, input.shape)):
        if k != d and a > b:
            raise RuntimeError(f"{op}(): Size does not match at dimension {k}: expected index "
                               f"{list(index.shape)} to be no larger than self {list(input.shape)} "
                               f"apart from dimension {d}")
    _check_bounds(index, input.shape[d] if input.ndim else 1, d, op, RuntimeError,
                  negatives=op == "take_along_dim")
    return tuple(index if k == d else xp.arange(n, like=index).reshape((n,) + (1,) * (nd - 1 - k))
                 for k, n in enumerate(index.shape))


def _flat_key(input, index, op):
    """Key for positions in the flattened input (take, put_); negative indices wrap."""
    if isinstance(index, Tensor) and state.tracer is not None:
        state.tracer.fail("take/put_ with a tensor index (the key is computed from its values)")
    index = _int_index(index, op)
    n = input.numel()
    if index.size and (index.min() < -n or index.max() >= n):
        bad = index[(index < -n) | (index >= n)].flat[0]
        raise IndexError(f"{op}(): index {bad} out of range for tensor of size {list(input.shape)}")
    return xp.unravel_index(index % max(n, 1), input.shape)


def _mask_key(input, mask, op):
    if type(mask) is BatchedTensor:
        raise RuntimeError(f"vmap: {op} with a mask that differs across the batch has a "
                           "data-dependent output shape, so it cannot be batched")
    m = mask._data if isinstance(mask, Tensor) else as_array(mask)
    if m.dtype != bool:
        raise RuntimeError(f"{op}: expected a boolean mask, got mask with dtype {m.dtype}")
    try:
        return (xp.broadcast_to(m, input.shape),)
    except ValueError:
        raise RuntimeError(f"{op}: mask of shape {m.shape} can't be broadcast to the input's shape "
                           f"{tuple(input.shape)}") from None


def _leading(src, index):
    """src's leading part of index's shape (scatter reads only src[:i, :j, ...])."""
    if isinstance(src, Tensor) and src.shape != index.shape:
        return src[tuple(slice(0, n) for n in index.shape)]
    return src



# --- keys inside vmap ----------------------------------------------------------------------

def _physical_key(key):
    """The key of one element as a key of the physical tensor: the batch dim kept whole."""
    if type(key) is _Staged:
        return tuple.__new__(_Staged, ((slice(None),) + key[0], (slice(None),) + key[1]))
    return (slice(None),) + tuple(key)


def _advanced_first(key):
    """How many leading dims of a key's result come from index arrays when NumPy moves them
    to the front (index arrays not next to each other); 0 when they stay in place."""
    rest = key[1] if type(key) is _Staged else key
    pos = [i for i, k in enumerate(rest) if is_array(k)]
    if not pos or pos[-1] - pos[0] + 1 == len(pos):
        return 0
    shapes = [(int(k.sum()) if k.ndim else 1,) if k.dtype == bool else k.shape
              for k in rest if is_array(k)]
    return len(xp.broadcast_shapes(*shapes))


def _to_element_layout(out, key):
    """Physical `x[key']` -> batch first (NumPy put the index arrays' dims before it)."""
    k = _advanced_first(key)
    return out.movedim(k, 0) if k else out


def _to_key_layout(v, key):
    """The inverse: a batch-first tensor laid out like physical `x[key']`."""
    k = _advanced_first(key)
    return v.movedim(0, k) if k else v


# --- ops -------------------------------------------------------------------------------

class Index(Op):
    """`x[key]`: a view for basic keys (ints, slices, None, ...), a copy for index arrays."""

    is_view = True

    @classmethod
    def batch(cls, n, args, batched, kwargs):
        key = kwargs["key"]
        return _to_element_layout(cls.apply(args[0], key=_physical_key(key)), key)

    def forward(ctx, x, key):
        ctx.key, ctx.shape = key, x.shape
        x, rest = _target(x, key)
        out = x[rest]
        return as_array(out)

    def vjp(ctx, g):
        return IndexBackward.apply(g, key=ctx.key, shape=ctx.shape)

    def jvp(ctx, dx):
        return Index.apply(dx, key=ctx.key)


class IndexBackward(Op):
    """Zeros of `shape` with `g` added at `key` (repeated indices accumulate)."""

    @classmethod
    def batch(cls, n, args, batched, kwargs):
        key = kwargs["key"]
        return cls.apply(_to_key_layout(args[0], key), key=_physical_key(key),
                         shape=(n,) + tuple(kwargs["shape"]))

    def forward(ctx, g, key, shape):
        ctx.key, ctx.shape = key, shape
        size = math.prod(shape)
        if g.dtype.kind == "f" and g.size * 4 >= size > 0 and not _is_basic(key):
            # bincount over linear positions: several times faster than add.at, and cheap
            # while the output is not much larger than g
            grid, rest = _target(xp.arange(size, like=g).reshape(shape), key)
            sums = xp.bincount(grid[rest].reshape(-1), weights=g.reshape(-1), minlength=size)
            return sums.reshape(shape).astype(g.dtype, copy=False)
        out = xp.zeros(shape, dtype=g.dtype, like=g)
        target, rest = _target(out, key)
        if _is_basic(key):
            target[rest] = g
        else:
            xp.add.at(target, rest, g)
        return out

    def vjp(ctx, g):
        return Index.apply(g, key=ctx.key)

    def jvp(ctx, dg):
        return IndexBackward.apply(dg, key=ctx.key, shape=ctx.shape)


class IndexPut(Op):
    """`x` with `x[key] = v`, or `x[key] += v` with accumulate (repeated indices add up)."""

    op_name = "index_put"

    @classmethod
    def batch(cls, n, args, batched, kwargs):
        x, v = materialize(args[0], n, batched[0]), args[1]
        key = kwargs["key"]
        if isinstance(v, Tensor):
            target, rest = _target(xp.empty(tuple(x.shape[1:]), dtype=bool), key)
            rank = target[rest].ndim                       # of x[key] for one element
            v = _to_key_layout(lift(materialize(v, n, batched[1]), rank), key)
        return cls.apply(x, v, key=_physical_key(key), accumulate=kwargs.get("accumulate", False))

    def forward(ctx, x, v, key, accumulate=False):
        ctx.key, ctx.accumulate = key, accumulate
        out = x.copy()
        target, rest = _target(out, key)
        if accumulate:
            xp.add.at(target, rest, as_array(v).astype(x.dtype, copy=False))
        else:
            target[rest] = v
        return out

    def vjp(ctx, g):
        need_x, need_v = ctx.needs_input_grad
        gx = (g if ctx.accumulate else IndexPut.apply(g, 0, key=ctx.key)) if need_x else None
        return gx, (Index.apply(g, key=ctx.key) if need_v else None)

    def jvp(ctx, dx, dv):
        return IndexPut.apply(dx, dv, key=ctx.key, accumulate=ctx.accumulate)


class Copy(Op):
    """What `x.copy_(src)` writes: src broadcast to x's shape, in x's dtype."""

    op_name = "copy_"

    @classmethod
    def batch(cls, n, args, batched, kwargs):
        x, src = materialize(args[0], n, batched[0]), args[1]
        return cls.apply(x, lift(src, x.ndim - 1) if batched[1] else src)

    def forward(ctx, x, src):
        return xp.broadcast_to(as_array(move(src, device_of(x)), x.dtype), x.shape)

    def vjp(ctx, g):
        return None, g

    def jvp(ctx, dx, dsrc):
        return dsrc


_REDUCERS = {"sum": xp.add, "mean": xp.add, "prod": xp.multiply, "amax": xp.maximum,
             "amin": xp.minimum}


def _identity(reduce, dtype):
    """The value that leaves any element unchanged under `reduce`."""
    if reduce in ("amax", "amin"):
        if dtype.kind == "f":
            return -xp.inf if reduce == "amax" else xp.inf
        return xp.iinfo(dtype).min if reduce == "amax" else xp.iinfo(dtype).max
    return _REDUCERS[reduce].identity


class ScatterReduce(Op):
    """Combine src into x at `key` with sum, prod, mean, amax or amin; `include_self=False`
    leaves x's old values out wherever something is scattered.

    Gradients: sum and mean spread g back (divided by the counts for mean); amax/amin
    split g evenly among all elements equal to the result (as PyTorch); prod uses
    result / element, so it assumes no zeros among the combined elements.
    """

    @classmethod
    def batch(cls, n, args, batched, kwargs):
        x, src = materialize(args[0], n, batched[0]), args[1]
        if isinstance(src, Tensor):
            src = materialize(src, n, batched[1])
        return cls.apply(x, src, **{**kwargs, "key": _physical_key(kwargs["key"])})

    def forward(ctx, x, src, key, reduce, include_self=True):
        ctx.key, ctx.reduce, ctx.include_self = key, reduce, include_self
        ufunc = _REDUCERS[reduce]
        src = as_array(src).astype(x.dtype, copy=False)
        out = x.copy()
        if not include_self:
            out[key] = _identity(reduce, x.dtype)
        ufunc_method(ufunc, "at", out, key, src)
        if reduce == "mean":
            count = xp.zeros(x.shape, dtype=x.dtype, like=x)
            xp.add.at(count, key, 1)
            count = xp.maximum(count + include_self, 1)
            ctx.count = Tensor._make(count)
            out = out / count if x.dtype.kind == "f" else out // count
        return out

    def _others_out(ctx, t):
        """t where x's old value is part of the result, zero where include_self=False dropped it."""
        return t if ctx.include_self else IndexPut.apply(t, 0, key=ctx.key)

    def _ties(ctx, x, src):
        """For amax/amin: each x element's share of the gradient (1/ties where it equals
        the result), which src elements equal their result, and 1/ties per position."""
        x, src, out = x._data, src._data, ctx.output._data
        in_x = x == out
        if not ctx.include_self:
            in_x[ctx.key] = False
        in_src = src == out[ctx.key]
        n = in_x.astype(out.dtype)
        xp.add.at(n, ctx.key, in_src)
        inv = 1 / xp.maximum(n, 1)
        return Tensor._make(in_x * inv), Tensor._make(in_src.astype(out.dtype)), Tensor._make(inv)

    def vjp(ctx, g):
        r, key = ctx.reduce, ctx.key
        if r in ("sum", "mean"):
            g = g / ctx.count if r == "mean" else g
            return ctx._others_out(g), Index.apply(g, key=key)
        if r == "prod":
            x, src = ctx.inputs
            gy = g * ctx.output
            return ctx._others_out(gy / x), Index.apply(gy, key=key) / src
        x_share, in_src, inv = ctx._ties(*ctx.inputs)
        return g * x_share, Index.apply(g * inv, key=key) * in_src

    def jvp(ctx, dx, dsrc):
        r, key = ctx.reduce, ctx.key
        if r in ("sum", "mean"):
            t = IndexPut.apply(ctx._others_out(dx), dsrc, key=key, accumulate=True)
            return t / ctx.count if r == "mean" else t
        if r == "prod":
            x, src = ctx.args
            return ctx.output * IndexPut.apply(ctx._others_out(dx / x), dsrc / src, key=key,
                                               accumulate=True)
        x_share, in_src, inv = ctx._ties(*ctx.args)
        return dx * x_share + IndexBackward.apply(dsrc * in_src, key=key, shape=dx.shape) * inv


# --- getitem / setitem -------------------------------------------------------------------

def _getitem(self, idx):
    if state.vmap:
        batched = _BatchedIndex.of(self, idx)
        if batched is not None:
            return batched.get()
    return Index.apply(self, key=_index_key(idx)[0])


def _setitem(self, idx, value):
    """`x[idx] = value` in place: basic keys write through the view x[idx], advanced keys
    put into the whole tensor; both keep autograd history (as PyTorch's copy_/index_put_)."""
    if state.vmap:
        batched = _BatchedIndex.of(self, idx)
        if batched is not None:
            return batched.set(value)
    key, basic = _index_key(idx)
    if isinstance(value, (list, tuple, xp.ndarray)):
        value = Tensor._make(xp.asarray(value, like=self._data))
    if state.tracer is None and not state.fw_level and not state.vmap and not (state.grad_enabled and (
            self._requires_grad or isinstance(value, Tensor) and value._requires_grad)):
        target, rest = _target(self._data, key)          # nothing to record: write directly
        try:
            target[rest] = value._data if isinstance(value, Tensor) else value
        except ValueError as e:
            raise RuntimeError(f"setitem: value of shape {tuple(getattr(value, 'shape', ()))} can't be "
                               f"written into the indexed part of a tensor of shape "
                               f"{tuple(self.shape)}: {e}") from None
        self._vc[0] += 1
        return
    if isinstance(value, Tensor) and value.ndim and value.shape[0] == 1:
        lead = next((i for i, s in enumerate(value.shape) if s != 1), value.ndim)
        value = value.reshape(value.shape[lead:])          # leading 1s broadcast away
    if basic:
        apply_inplace(Copy, Index.apply(self, key=key), value)
    else:
        apply_inplace(IndexPut, self, value, key=key)


class _BatchedIndex:
    """`x[idx]` and `x[idx] = v` inside vmap when idx holds batched index tensors: one
    physical advanced index, `arange(n)` (for the batch dim) broadcast with the index
    tensors' physical values, and the result's dims put in an element's order."""

    @classmethod
    def of(cls, x, idx):
        entries = tuple(idx) if isinstance(idx, tuple) or (isinstance(idx, list) and any(
            isinstance(i, (list, tuple, slice, Tensor)) or i is None or i is Ellipsis for i in idx)) \
            else (idx,)
        level = innermost(entries)
        if level is None:
            return None
        return cls(x, entries, level)

    def __init__(self, x, entries, level):
        n = self.n = level.size
        self.level = level
        phys, batched = unwrap(entries, level)
        if any(b and p.dtype.np.kind == "b" for p, b in zip(phys, batched)):
            raise RuntimeError("vmap: indexing with a boolean mask that differs across the batch "
                               "has a data-dependent shape; use where() or masked_fill instead")
        self.x = x
        nd = x.ndim
        arrays = [k for k, e in enumerate(entries) if _is_array_index(e)]
        rank = max((p.ndim - 1 if b else (p.ndim if isinstance(p, Tensor) else xp.ndim(p)))
                   for k, (p, b) in enumerate(zip(phys, batched)) if k in arrays)
        keyed = [lift(p, rank) if b else p for p, b in zip(phys, batched)]
        arange = Tensor._make(xp.arange(n).reshape((n,) + (1,) * rank))
        self.key = (arange,) + tuple(keyed)
        # Where an element's index arrays sit together after other dims, NumPy puts the
        # arrays' dims (batch included) first: `before` dims must move back behind them.
        rest = [e for e in entries if not _is_int(e)]
        pos = [k for k, e in enumerate(rest) if _is_array_index(e)]
        self.before = 0
        if pos[-1] - pos[0] + 1 == len(pos) and pos[0] > 0:
            used = sum(_consumed(e) for e in entries)
            self.before = sum(nd - used if e is Ellipsis else 1 for e in rest[:pos[0]])
        self.width = rank           # the index arrays' broadcast dims, without the batch

    def _order(self, ndim):
        """Physical result dims -> batch, before, index arrays, after."""
        b, w = self.before, self.width
        return (0,) + tuple(range(1 + w, 1 + w + b)) + tuple(range(1, 1 + w)) + \
            tuple(range(1 + w + b, ndim))

    def get(self):
        out = _getitem(materialize(self.x, self.n, False) if type(self.x) is not BatchedTensor
                       or self.x._level is not self.level else self.x._value, self.key)
        if self.before:
            out = out.permute(self._order(out.ndim))
        return wrap(out, self.level)

    def set(self, value):
        x = self.x
        if type(x) is not BatchedTensor or x._level is not self.level:
            raise RuntimeError("vmap: x[idx] = v with an index that differs across the batch "
                               "needs x to be batched too (it is the same for every element)")
        if isinstance(value, Tensor):
            shape = self.get().shape          # an element's x[idx]
            (v,), (b,) = unwrap((value,), self.level)
            v = lift(materialize(v, self.n, b), len(shape)).expand((self.n,) + tuple(shape))
            if self.before:
                v = v.permute(tuple(xp.argsort(self._order(v.ndim)).tolist()))
            value = v
        _setitem(x._value, self.key, value)


def _is_int(e):
    return isinstance(e, int) or (isinstance(e, Tensor) and type(e) is not BatchedTensor
                                  and e.ndim == 0 and e.dtype.np.kind != "b")


def _is_array_index(e):
    return (isinstance(e, Tensor) and not _is_int(e)) or isinstance(e, (list, xp.ndarray))


def _consumed(e):
    """How many dims of the indexed tensor a key entry uses."""
    if e is None or e is Ellipsis:
        return 0
    if isinstance(e, Tensor) and e.dtype.np.kind == "b":
        return e.ndim
    return 1


# --- batching rules of the functions that read index tensors (inside vmap) ----------------

def _along(n, a, batched, *names):
    """gather-style arguments for physical tensors: the named tensors batched, dim shifted."""
    out = dict(a)
    nd = a["input"].ndim - ("input" in batched)
    for k in names:
        if isinstance(a[k], Tensor):
            out[k] = materialize(a[k], n, k in batched)
    out["dim"] = shift(a["dim"], nd)
    return out


def _per_position(n, a, batched, like="input"):
    """index_select & co with a batched index: the index as a gather-style one (an index
    per position of `like`), for physical tensors; returns (input, dim, index)."""
    x = materialize(a["input"], n, "input" in batched)
    d = _wrap_dim(a["dim"], x.ndim - 1, "index") + 1
    index = materialize(a["index"], n, "index" in batched).reshape(n, -1)
    shape = list(materialize(a[like], n, like in batched).shape)
    shape[d] = index.shape[1]
    return x, d, index.reshape((n,) + tuple(-1 if k == d else 1 for k in range(1, len(shape)))).expand(shape)


def _scalar_src(n, a, batched, index):
    """A batched 0-d `value` as a src tensor of index's (physical) shape."""
    v = a["value"]
    return v.reshape((n,) + (1,) * (index.ndim - 1)).expand(tuple(index.shape))


def _gather_rule(n, a, batched):
    return gather(**_along(n, a, batched, "input", "index"))


def _take_along_dim_rule(n, a, batched):
    x, i = materialize(a["input"], n, "input" in batched), materialize(a["indices"], n, "indices" in batched)
    if a["dim"] is None:
        return take_along_dim(x.reshape(n, -1), i.reshape(n, -1), 1)
    return take_along_dim(x, i, shift(a["dim"], x.ndim - 1))


def _take_rule(n, a, batched):
    x = materialize(a["input"], n, "input" in batched).reshape(n, -1)
    index = materialize(a["index"], n, "index" in batched)
    flat = index.reshape(n, -1)
    flat = flat + (flat < 0).long() * x.shape[1]          # negative positions count from the end
    return gather(x, 1, flat).reshape(tuple(index.shape))


def _index_select_rule(n, a, batched):
    return gather(*_per_position(n, a, batched, like="input"))


def _scatter_rule(n, a, batched):
    a = _along(n, a, batched, "input", "index", "src")
    if "value" in batched:
        a["src"], a["value"] = _scalar_src(n, a, batched, a["index"]), None
    return scatter(**a)


def _scatter_add_rule(n, a, batched):
    return scatter_add(**_along(n, a, batched, "input", "index", "src"))


def _scatter_reduce_rule(n, a, batched):
    return scatter_reduce(**_along(n, a, batched, "input", "index", "src"))


def _index_add_rule(n, a, batched):
    x, d, index = _per_position(n, a, batched, like="source")
    src = materialize(a["source"], n, "source" in batched)
    return scatter_add(x, d, index, src if a["alpha"] == 1 else src * a["alpha"])


def _index_copy_rule(n, a, batched):
    x, d, index = _per_position(n, a, batched, like="source")
    return scatter(x, d, index, materialize(a["source"], n, "source" in batched))


def _index_fill_rule(n, a, batched):
    x, d, index = _per_position(n, a, batched, like="input")
    if "value" in batched:
        return scatter(x, d, index, _scalar_src(n, a, batched, index))
    return scatter(x, d, index, value=a["value"])


def _masked_fill_rule(n, a, batched):
    x, mask, value = a["input"], a["mask"], a["value"]
    rank = max(x.ndim - ("input" in batched), mask.ndim - ("mask" in batched))
    x = lift(materialize(x, n, "input" in batched), rank)
    mask = lift(materialize(mask, n, "mask" in batched), rank)
    value = lift(value, rank).to(x.dtype) if "value" in batched else \
        Tensor._make(xp.asarray(value._data if isinstance(value, Tensor) else value, dtype=x.dtype.np,
                                like=x._data))
    from .selection import where
    return where(mask, value, x)


def _put_rule(n, a, batched):
    x = materialize(a["input"], n, "input" in batched)
    flat = x.reshape(n, -1)
    index = materialize(a["index"], n, "index" in batched).reshape(n, -1)
    index = index + (index < 0).long() * flat.shape[1]
    src = materialize(a["source"], n, "source" in batched).reshape(n, -1)
    write = scatter_add if a["accumulate"] else scatter
    return write(flat, 1, index, src).reshape(tuple(x.shape))


def _dynamic_shape(name):
    def rule(n, a, batched):
        raise RuntimeError(f"vmap: {name} has a data-dependent output shape (it can differ across "
                           "the batch), so it cannot be batched; use where() or masks instead")
    return rule


# --- reading -------------------------------------------------------------------------------

@batch_function(_index_select_rule)
def index_select(input, dim, index):
    return Index.apply(input, key=_dim_key(input, dim, index, "index_select"))


@batch_function(_gather_rule)
def gather(input, dim, index, *, sparse_grad=False):
    return Index.apply(input, key=_along_key(input, dim, index, "gather"))


@batch_function(_take_along_dim_rule)
def take_along_dim(input, indices, dim=None):
    """gather with NumPy's broadcasting of input and indices (flattened when dim is None)."""
    if dim is None:
        input, indices, dim = input.reshape(-1), indices.reshape(-1), 0
    d = _wrap_dim(dim, input.ndim, "take_along_dim")
    idx = _int_index(indices, "take_along_dim")
    shape = list(xp.broadcast_shapes(_without(input.shape, d), _without(idx.shape, d)))
    if _without(input.shape, d) != tuple(shape):
        input = input.expand(shape[:d] + [input.shape[d]] + shape[d + 1:])
    idx = xp.broadcast_to(idx, tuple(shape[:d] + [idx.shape[d]] + shape[d + 1:]))
    return Index.apply(input, key=_along_key(input, d, idx, "take_along_dim"))


def _without(shape, d):
    return tuple(1 if k == d else s for k, s in enumerate(shape))


@batch_function(_take_rule)
def take(input, index):
    return Index.apply(input, key=_flat_key(input, index, "take"))


def masked_select(input, mask):
    m = mask._data if isinstance(mask, Tensor) else mask
    shape = xp.broadcast_shapes(input.shape, m.shape)
    if shape != input.shape:
        input = input.expand(shape)
    return Index.apply(input, key=_mask_key(input, mask, "masked_select"))


@batch_function(_dynamic_shape("nonzero"))
def nonzero(input, *, out=None, as_tuple=False):
    """Indices of the non-zero elements: an (n, ndim) int64 tensor, or one tensor per dim."""
    a = input._data
    if as_tuple:
        return tuple(Tensor._make(i) for i in xp.nonzero(xp.atleast_1d(a)))
    return Tensor._make(xp.argwhere(a))


def argwhere(input):
    return nonzero(input)


def _where_indices(condition):
    """The one-argument `where(condition)`: `nonzero(condition, as_tuple=True)`."""
    return nonzero(condition, as_tuple=True)


# --- writing: each plan returns (op, (target, operands...), options) ------------------------

def _writer(plan, rule=None):
    """The out-of-place function and the in-place method of the write described by `plan`;
    `rule` is the out-of-place function's batching rule (the in-place one writes its result)."""
    @functools.wraps(plan)
    def out_of_place(input, *args, **kwargs):
        cls, operands, options = plan(input, *args, **kwargs)
        return cls.apply(*operands, **options)

    @functools.wraps(plan)
    def in_place(self, *args, **kwargs):
        cls, (target, *operands), options = plan(self, *args, **kwargs)
        if target is not self:
            raise RuntimeError(f"{plan.__name__}_: output with shape {list(self.shape)} doesn't match "
                               f"the broadcast shape {list(target.shape)}")
        return apply_inplace(cls, self, *operands, **options)
    in_place.__name__ = in_place.__qualname__ = plan.__name__ + "_"
    if rule is None:
        return batch_function()(out_of_place), batch_function()(in_place)

    def write_back(n, a, batched):
        if "input" not in batched:
            raise RuntimeError(f"vmap: {in_place.__name__}(self, ...) is not possible because self is "
                               "the same for every batch element and the result is not")
        # the result is computed from a copy of self, which its backward may save
        return a["input"].copy_(rule(n, {**a, "input": a["input"].clone()}, batched))
    return batch_function(rule)(out_of_place), batch_function(write_back)(in_place)


def _put(target, v, key, accumulate=False):
    return IndexPut, (target, v), {"key": key, "accumulate": accumulate}


def _scalar_value(value, op):
    if isinstance(value, Tensor) and value.ndim:
        raise RuntimeError(f"{op} only supports a 0-dimensional value tensor, but got tensor with "
                           f"{value.ndim} dimension(s).")
    return value


def _broadcast_to_mask(input, mask):
    """Masked ops broadcast input against the mask (which fails in place, as in PyTorch)."""
    shape = xp.broadcast_shapes(input.shape, tuple(mask.shape))
    return input if shape == input.shape else input.expand(shape)


def index_put(input, indices, values, accumulate=False):
    return _put(input, values, _index_key(tuple(indices))[0], accumulate)


def index_add(input, dim, index, source, *, alpha=1):
    key = _dim_key(input, dim, index, "index_add")
    return _put(input, source if alpha == 1 else source * alpha, key, True)


def index_copy(input, dim, index, source):
    return _put(input, source, _dim_key(input, dim, index, "index_copy"))


def index_fill(input, dim, index, value):
    return _put(input, _scalar_value(value, "index_fill"), _dim_key(input, dim, index, "index_fill"))


def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    """Write src (or a scalar value) at gather-style positions; reduce='add'/'multiply'
    combines instead."""
    key = _along_key(input, dim, index, "scatter")
    v = _leading(src if src is not None else value, index)
    if reduce == "multiply":
        return ScatterReduce, (input, v), {"key": key, "reduce": "prod"}
    if reduce not in (None, "add"):
        raise RuntimeError(f"scatter: reduce argument must be either add or multiply, got {reduce!r}")
    return _put(input, v, key, reduce == "add")


def scatter_add(input, dim, index, src):
    return _put(input, _leading(src, index), _along_key(input, dim, index, "scatter_add"), True)


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    if reduce not in _REDUCERS:
        raise RuntimeError(f"scatter_reduce: reduce argument must be one of {sorted(_REDUCERS)}, "
                           f"got {reduce!r}")
    key = _along_key(input, dim, index, "scatter_reduce")
    return ScatterReduce, (input, _leading(src, index)), {"key": key, "reduce": reduce,
                                                          "include_self": include_self}


def masked_fill(input, mask, value):
    input = _broadcast_to_mask(input, mask)
    return _put(input, _scalar_value(value, "masked_fill"), _mask_key(input, mask, "masked_fill"))


def masked_scatter(input, mask, source):
    input = _broadcast_to_mask(input, mask)
    key = _mask_key(input, mask, "masked_scatter")
    count = int(key[0].sum())
    if source.numel() < count:
        raise RuntimeError(f"masked_scatter: expected source to have at least {count} elements "
                           f"(the mask's number of True values), got {source.numel()}")
    return _put(input, source.reshape(-1)[:count], key)


def put(input, index, source, accumulate=False):
    key = _flat_key(input, index, "put")
    return _put(input, source.reshape(key[0].shape) if key else source, key, accumulate)


index_put, index_put_ = _writer(index_put)
index_add, index_add_ = _writer(index_add, _index_add_rule)
index_copy, index_copy_ = _writer(index_copy, _index_copy_rule)
index_fill, index_fill_ = _writer(index_fill, _index_fill_rule)
scatter, scatter_ = _writer(scatter, _scatter_rule)
scatter_add, scatter_add_ = _writer(scatter_add, _scatter_add_rule)
scatter_reduce, scatter_reduce_ = _writer(scatter_reduce, _scatter_reduce_rule)
masked_fill, masked_fill_ = _writer(masked_fill, _masked_fill_rule)
masked_scatter, masked_scatter_ = _writer(masked_scatter)
put, put_ = _writer(put, _put_rule)


# --- in-place basics -----------------------------------------------------------------------

def copy_(self, src, non_blocking=False):
    return apply_inplace(Copy, self, src)


def fill_(self, value):
    return apply_inplace(Copy, self, _scalar_value(value, "fill_"))


def zero_(self):
    return apply_inplace(Copy, self, 0)


METHODS = {
    "__getitem__": _getitem, "__setitem__": _setitem,
    "index_select": index_select, "gather": gather, "take_along_dim": take_along_dim, "take": take,
    "masked_select": masked_select, "nonzero": nonzero, "argwhere": argwhere,
    "index_put": index_put, "index_put_": index_put_, "index_add": index_add,
    "index_add_": index_add_, "index_copy": index_copy, "index_copy_": index_copy_,
    "index_fill": index_fill, "index_fill_": index_fill_, "scatter": scatter, "scatter_": scatter_,
    "scatter_add": scatter_add, "scatter_add_": scatter_add_, "scatter_reduce": scatter_reduce,
    "scatter_reduce_": scatter_reduce_, "masked_fill": masked_fill, "masked_fill_": masked_fill_,
    "masked_scatter": masked_scatter, "masked_scatter_": masked_scatter_, "put": put, "put_": put_,
    "copy_": copy_, "fill_": fill_, "zero_": zero_,
}

__all__ = [
    "index_select", "gather", "take_along_dim", "take", "masked_select", "nonzero", "argwhere",
    "index_put", "index_add", "index_copy", "index_fill", "scatter", "scatter_add",
    "scatter_reduce", "masked_fill", "masked_scatter", "put",
]
