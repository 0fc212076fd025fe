"""Batched tensors and batching rules: what `func.vmap` runs on.

Inside `vmap(f)`, f sees `BatchedTensor`s. One holds a *physical* tensor, `_value`, whose
dim 0 runs over the batch, and shows the shape of a single element (`x.shape`, `x.ndim`,
`x.size()` are per element). An op given a batched operand runs its batching rule,

    Op.batch(n, args, batched, kwargs)

which receives the physical operands (batch in dim 0 where `batched[i]`, the others as
given) and the op's options as the caller wrote them (per element: `dim=0` is the first
dim of an element), rewrites the call - shifting dims past the batch, lining operands up
for broadcasting, folding the batch into a dim the op already loops over - and runs the op
*once* on physical tensors. Its result, batch first, is wrapped again. Rules are tensor
code, so autograd records the physical computation: grad, vjp and jvp compose with vmap in
any order. An op without a rule runs once per batch element and the results are stacked
(`fallback`, installed by func/vmap.py, warns once per op).

Nested vmaps are `Level`s (innermost last in `state.vmap`). A tensor batched at several
levels is a BatchedTensor of the innermost one whose value is batched at the outer ones.
An op dispatches at the innermost level among its operands; tensors of outer levels look
unbatched to that rule and are dealt with when the rule's physical op dispatches again.
"""
import functools
import inspect
import itertools
import math

from .. import dtypes as _dt
from ..autograd.grad_mode import state
from ..tensor import Size, Tensor

# Set by diffprog.func.vmap: the rule of ops without one (run per element and stack), and
# the same for public functions that have no rule (see `batch_function`).
fallback = None
function_fallback = None


class Level:
    """One running vmap: its batch size and randomness mode ('error', 'same' or
    'different').  Ids grow with nesting, so the innermost of two levels has the larger."""

    __slots__ = ("id", "size", "randomness")
    _ids = itertools.count(1)

    def __init__(self, size, randomness):
        self.id, self.size, self.randomness = next(Level._ids), size, randomness

    def __repr__(self):
        return f"Level({self.id}, size={self.size})"


class BatchedTensor(Tensor):
    """A tensor inside vmap: `_value` holds every batch element (dim 0 is the batch);
    shape, ndim and the ops' dims are those of one element."""

    __slots__ = ("_value", "_level")

    @staticmethod
    def wrap(value, level):
        t = object.__new__(BatchedTensor)
        t._value, t._level = value, level
        return t

    # Code that reads the array itself cannot see one batch element: say so.
    @property
    def _data(self):
        if self._level not in state.vmap:
            raise _escaped_error()
        raise _data_error("reads the data of a batched tensor directly")

    # --- what one element looks like ----------------------------------------------------

    @property
    def shape(self):
        return Size(self._value.shape[1:])

    def size(self, dim=None):
        shape = self.shape
        return shape if dim is None else shape[_wrap(dim, len(shape), "size")]

    @property
    def ndim(self):
        return self._value.ndim - 1

    def dim(self):
        return self._value.ndim - 1

    ndimension = dim

    def numel(self):
        return math.prod(self._value.shape[1:])

    nelement = numel

    @property
    def dtype(self):
        return self._value.dtype

    @property
    def device(self):
        return self._value.device

    def is_floating_point(self):
        return self._value.is_floating_point()

    def is_complex(self):
        return self._value.is_complex()

    def element_size(self):
        return self._value.element_size()

    def is_contiguous(self, memory_format=None):
        return self._value.is_contiguous()

    def stride(self, dim=None):
        raise _data_error("asked for the strides of a batched tensor")

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._value.shape[1]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    # --- autograd state is the physical tensor's -----------------------------------------

    @property
    def requires_grad(self):
        return self._value.requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        self._value.requires_grad = flag

    def requires_grad_(self, requires_grad=True):
        self._value.requires_grad_(requires_grad)
        return self

    @property
    def _requires_grad(self):
        return self._value._requires_grad

    @property
    def grad_fn(self):
        return self._value.grad_fn

    @property
    def _out_nr(self):
        return self._value._out_nr

    @property
    def _vc(self):
        return self._value._vc

    @property
    def grad(self):
        g = self._value.grad
        return None if g is None else BatchedTensor.wrap(g, self._level)

    @property
    def _tangent(self):
        t = self._value._tangent
        return None if t is None else BatchedTensor.wrap(t, self._level)

    @_tangent.setter
    def _tangent(self, value):
        if value is not None:
            raise _data_error("sets a tangent on a batched tensor (use func.jvp inside vmap)")
        self._value._tangent = None

    @property
    def is_leaf(self):
        return self._value.is_leaf

    def detach(self):
        return BatchedTensor.wrap(self._value.detach(), self._level)

    @property
    def data(self):
        return self.detach()

    def backward(self, *args, **kwargs):
        raise RuntimeError("vmap: backward() of a batched tensor is not supported inside vmap; "
                           "use func.grad or func.vjp inside the vmapped function instead")

    def retain_grad(self):
        raise _data_error("called retain_grad() on a batched tensor")

    def register_hook(self, hook):
        raise _data_error("registered a hook on a batched tensor")

    # --- values are per element: Python cannot branch on them ----------------------------

    def item(self):
        raise _value_error(".item()")

    def tolist(self):
        raise _value_error(".tolist()")

    def numpy(self, force=False):
        raise _value_error(".numpy()")

    def __array__(self, dtype=None, copy=None):
        raise _value_error("numpy.asarray()")

    def __bool__(self):
        raise _value_error("bool() (Python control flow on a tensor's value)")

    def __float__(self):
        raise _value_error("float()")

    def __int__(self):
        raise _value_error("int()")

    def __index__(self):
        raise _value_error("an index conversion")

    def __complex__(self):
        raise _value_error("complex()")

    def __reduce_ex__(self, protocol):
        raise _data_error("pickles a batched tensor")

    def __deepcopy__(self, memo):
        raise _data_error("deep-copies a batched tensor")

    def __repr__(self):
        value = "\n".join("  " + line for line in repr(self._value).splitlines())
        return f"BatchedTensor(lvl={self._level.id}, bdim=0, value=\n{value}\n)"


class BatchingError(RuntimeError):
    """Code read the array behind a batched tensor (which one element does not have)."""


def _data_error(what):
    return BatchingError(f"vmap: this code {what}, which has no meaning for one element of the "
                         "batch; write it with tensor operations (their batching rules handle "
                         "the batch), or move it out of the vmapped function")


def _value_error(what):
    return RuntimeError(f"vmap: It looks like you're calling {what} on a batched tensor. Values "
                        "differ across the batch, so Python cannot act on them; rewrite this with "
                        "tensor operations (e.g. where() instead of if), or move it out of vmap")


def _wrap(dim, ndim, op):
    n = max(ndim, 1)
    if not isinstance(dim, int) or not -n <= dim < n:
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return dim % n


# --- dispatch ----------------------------------------------------------------------------

def innermost(items):
    """The innermost vmap level among the tensors in items (None if none is batched)."""
    level = None
    for a in items:
        if type(a) is BatchedTensor and (level is None or a._level.id > level.id):
            level = a._level
    if level is not None and level not in state.vmap:
        raise _escaped_error()
    return level


def _escaped_error():
    return RuntimeError("vmap: a batched tensor was used outside of the vmap that made it (it "
                        "escaped through a closure, a global or an attribute)")


def unwrap(items, level):
    """The physical values of the tensors batched at `level`, and which ones those are."""
    phys, batched = [], []
    for a in items:
        hit = type(a) is BatchedTensor and a._level is level
        phys.append(a._value if hit else a)
        batched.append(hit)
    return phys, tuple(batched)


def loop(cls, n, args, batched, kwargs):
    """Run the op once per batch element (what ops without a rule do; rules use it for the
    cases they do not cover)."""
    return fallback(cls, n, args, batched, kwargs)


def physical(t):
    """t with every vmap level unwrapped: all batch elements of all levels.  For checks of
    values that must hold everywhere (`bool(physical(x >= 0).all())`), inside vmap or not."""
    while type(t) is BatchedTensor:
        t = t._value
    return t


def array_of(t):
    """An array of t's device (its whole physical array, inside vmap too): the `like=` of
    arrays an op makes from nothing."""
    return physical(t)._data


def wrap(out, level):
    if isinstance(out, tuple):
        return tuple(BatchedTensor.wrap(o, level) for o in out)
    return BatchedTensor.wrap(out, level)


def apply_op(cls, args, kwargs):
    """Op.apply with batched operands: the op's rule on the physical operands, wrapped."""
    level = innermost(args)
    if level is None:
        return None
    if cls.promote is not None:
        args = _promote(cls, args)
    phys, batched = unwrap(args, level)
    phys = tuple(phys)
    rule = getattr(cls, "batch", None)
    out = rule(level.size, phys, batched, kwargs) if rule is not None else \
        loop(cls, level.size, phys, batched, kwargs)
    return wrap(out, level)


def _promote(cls, args):
    """Cast the operands to PyTorch's result type for one element, before the physical op
    sees them: a 0-d element is 1-d physically and would promote differently."""
    dtypes = {a.dtype for a in args if isinstance(a, Tensor)}
    if len(dtypes) == 1 and not any(isinstance(a, (bool, int, float, complex)) for a in args):
        return args
    dtype = _dt.result_type(*args)
    if cls.promote == "float" and dtype._cat < 2:
        dtype = _dt.get_default_dtype()
    return tuple(a.to(dtype) if isinstance(a, Tensor) and a.dtype is not dtype else a for a in args)


def batch_function(rule=None):
    """Give a public function (one that reads index tensors' values, say) a batching rule
    of its own, for calls inside vmap with a batched argument: `rule(n, args, batched)`
    gets the arguments by name (physical values, as `inspect.BoundArguments.arguments`)
    and the names of the batched ones, and returns the physical result.  Without a rule
    such calls run once per element.  Outside vmap this costs one check."""
    def decorate(fn):
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if state.vmap:
                level = innermost(args + tuple(kwargs.values()))
                if level is not None:
                    bound = signature.bind(*args, **kwargs)
                    bound.apply_defaults()
                    values = bound.arguments
                    batched = {k for k, v in values.items()
                               if type(v) is BatchedTensor and v._level is level}
                    for k in batched:
                        values[k] = values[k]._value
                    out = rule(level.size, values, batched) if rule is not None else \
                        function_fallback(fn, level.size, bound, batched)
                    return wrap(out, level)
            return fn(*args, **kwargs)
        return wrapper
    return decorate


def elementwise_function(fn):
    """Decorate a public function that is elementwise (broadcasting) in its tensor arguments
    and computes on their arrays directly: under vmap it runs once, on the physical tensors
    lined up for broadcasting."""
    def rule(n, a, batched):
        rank = max(v.ndim - (k in batched) for k, v in a.items() if isinstance(v, Tensor))
        return fn(**{k: lift(v, rank) if k in batched else v for k, v in a.items()})
    return batch_function(rule)(fn)


# --- helpers for rules -------------------------------------------------------------------

def ndim_of(x, batched):
    """The per-element ndim of a physical operand."""
    return x.ndim - 1 if batched else x.ndim


def lift(x, rank):
    """Physical x (batch first) with unit dims after the batch, so that one element has
    `rank` dims and lines up with others for broadcasting."""
    extra = rank - (x.ndim - 1)
    if extra <= 0:
        return x
    shape = tuple(x.shape)
    return x.reshape(shape[:1] + (1,) * extra + shape[1:])


def materialize(x, n, batched):
    """x batched: physical, batch first (an unbatched x is expanded, without a copy)."""
    return x if batched else x.expand((n,) + tuple(x.shape))


def shift(dim, ndim, everything=True):
    """A per-element dim (int, sequence, or None / () for 'all dims' when `everything`)
    as the physical dim(s): non-negative dims move past the batch; negative ones count from
    the end, which the batch does not change."""
    if dim is None or (isinstance(dim, (tuple, list)) and not dim):
        if not everything:
            return dim
        return tuple(range(1, ndim + 1))
    if isinstance(dim, (tuple, list)):
        return tuple(shift(d, ndim) for d in dim)
    _wrap(dim, ndim, "vmap")
    return dim + 1 if dim >= 0 else dim


@functools.cache
def _defaults(cls):
    """The defaults of cls.forward's keyword parameters."""
    return {k: p.default for k, p in inspect.signature(cls.forward).parameters.items()
            if p.default is not inspect.Parameter.empty}


# --- shared rules ------------------------------------------------------------------------

@classmethod
def broadcasting(cls, n, args, batched, kwargs):
    """Elementwise ops: line the operands up (trailing dims) and run once."""
    rank = max(ndim_of(a, b) for a, b in zip(args, batched) if isinstance(a, Tensor))
    args = [lift(a, rank) if b else a for a, b in zip(args, batched)]
    return cls.apply(*args, **kwargs)


@classmethod
def leading(cls, n, args, batched, kwargs):
    """Ops that already treat leading dims as a batch (matrix functions on the last two
    dims, say): the physical call is the same call, when only the first operand is batched."""
    if any(batched[1:]):
        return loop(cls, n, args, batched, kwargs)
    return cls.apply(*args, **kwargs)


def along(*names, everything=True):
    """The rule of ops on one tensor whose options `names` are dims (reductions, scans,
    softmax, sort, ...): shift those dims past the batch.  A 0-d element is lifted to one
    dim (and the results back to 0-d).  With `everything`, dim=None means all dims."""
    @classmethod
    def rule(cls, n, args, batched, kwargs):
        if any(batched[1:]):
            return loop(cls, n, args, batched, kwargs)
        x, nd = args[0], args[0].ndim - 1
        kw = dict(kwargs)
        defaults = _defaults(cls)
        scalar = nd == 0
        if scalar:
            x = x.reshape(n, 1)
        for name in names:
            dim = kw.get(name, defaults.get(name))
            if scalar:
                if dim is not None and not (isinstance(dim, (tuple, list)) and not dim):
                    shift(dim, 0)                  # only 0 and -1 name the dim of a 0-d tensor
                kw[name] = 1 if dim is not None or everything else None
            else:
                kw[name] = shift(dim, nd, everything)
        out = cls.apply(x, *args[1:], **kw)
        if scalar:
            out = tuple(o.reshape(n) for o in out) if isinstance(out, tuple) else out.reshape(n)
        return out
    return rule


def folding(first=1):
    """Ops that treat dim 0 of their first operand as a batch of samples (convolutions,
    pooling, norms over trailing dims, ...): fold vmap's batch into that dim and unfold the
    result(s), when only the first `first` operands are batched."""
    @classmethod
    def rule(cls, n, args, batched, kwargs):
        if any(batched[first:]):
            return loop(cls, n, args, batched, kwargs)
        args = list(args)
        for i in range(first):
            if batched[i]:
                args[i] = fold_batch(args[i])
            elif isinstance(args[i], Tensor):
                args[i] = fold_batch(materialize(args[i], n, False))
        out = cls.apply(*args, **kwargs)
        return tuple(unfold_batch(o, n) for o in out) if isinstance(out, tuple) else unfold_batch(out, n)
    return rule


def fold_batch(x):
    """(n, m, ...) -> (n * m, ...)"""
    shape = tuple(x.shape)
    return x.reshape((shape[0] * shape[1],) + shape[2:])


def unfold_batch(x, n):
    """(n * m, ...) -> (n, m, ...)"""
    shape = tuple(x.shape)
    return x.reshape((n, shape[0] // n) + shape[1:])


# --- physical tensors: the other transforms and random draws inside vmap ----------------------

def levels_of(t):
    """The levels at which t is batched, outermost first."""
    out = []
    while type(t) is BatchedTensor:
        out.append(t._level)
        t = t._value
    return out[::-1]


def peel(t, levels):
    """t as a tensor batched at no level of `levels` (running levels, outermost first):
    their batch dims become t's leading dims, in that order (expanded where t was not
    batched at one).  t stays batched at its other levels, which must be inner ones."""
    if not levels or not isinstance(t, Tensor):
        return t
    present = levels_of(t)
    p = t
    while type(p) is BatchedTensor:
        p = p._value
    order = []                       # the levels of p's leading dims
    for lv in sorted(set(present) | set(levels), key=lambda lv: lv.id):
        if lv not in present:
            p = p.unsqueeze(len(order)).expand(tuple(p.shape[:len(order)]) + (lv.size,) +
                                               tuple(p.shape[len(order):]))
        order.append(lv)
    inner = [lv for lv in order if lv not in levels]
    if inner and inner[0].id < levels[-1].id:
        raise RuntimeError("vmap: a tensor batched at an outer level reached a transform "
                           "made inside it")
    k = len(levels)
    if inner:                        # inner batch dims first again, for the wrappers
        nb = len(order)
        p = p.permute(tuple(range(k, nb)) + tuple(range(k)) + tuple(range(nb, p.ndim)))
        for lv in inner:
            p = BatchedTensor.wrap(p, lv)
    return p


def rewrap(t, levels):
    """The inverse of `peel`: t's leading dims become the batch dims of `levels`."""
    if not levels or not isinstance(t, Tensor):
        return t
    inner = levels_of(t)
    p = t
    while type(p) is BatchedTensor:
        p = p._value
    nb = len(levels) + len(inner)
    if inner:                        # p: inner batch dims, then levels' dims
        p = p.permute(tuple(range(len(inner), nb)) + tuple(range(len(inner))) +
                      tuple(range(nb, p.ndim)))
    for lv in list(levels) + inner:
        p = BatchedTensor.wrap(p, lv)
    return p


def random_levels(who):
    """The running levels whose elements draw random numbers of their own (randomness
    'different'), outermost first; an error under a level with randomness 'error'."""
    for lv in state.vmap:
        if lv.randomness == "error":
            raise RuntimeError(f"vmap: called random operation {who} while in randomness error mode. "
                               "Please either use the 'same' or 'different' randomness flags on vmap "
                               "or perform the randomness operation out of vmap")
    return [lv for lv in state.vmap if lv.randomness == "different"]
