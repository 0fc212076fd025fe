"""Tensor: an array (from `_array`) plus the autograd bookkeeping PyTorch users expect.

A tensor holds `_data` (its array), `requires_grad`, `grad`, and, when an op made
it, `grad_fn` (the op node) and `_out_nr` (which output of that node it is).  Views
share their base's array *and* its version counter (`_vc`), so an in-place change made
through any alias is seen by every saved-tensor check.

Operations are not written here: `diffprog/ops` defines each op once and binds the
method forms (`x.exp()`, `x + y`, `x.sum(dim)`) onto this class.
"""
from . import dtypes as _dt
from ._array import xp
from ._array import device as _device
from ._array.device import check_device, device_of, is_device_array
from ._dims import _wrap_dim
from ._repr import tensor_repr
from .autograd import engine


class Size(tuple):
    """The shape of a tensor: a tuple, with PyTorch's `numel()`."""

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n

    def __repr__(self):
        return f"diffprog.Size({list(self)})"


class Tensor:
    """An n-dimensional array that can record the operations applied to it."""

    __slots__ = ("_data", "_requires_grad", "_grad", "grad_fn", "_out_nr", "_vc", "_tangent",
                 "__weakref__", "__dict__")
    # Rarely set, so class-level defaults rather than slots (keeps tensor creation cheap).
    _base = None            # the tensor whose storage this view shares
    _view_fn = None         # recreates this view from _base
    _view_version = None    # the base's version when this view's grad_fn was derived
    _hooks = None           # gradient hooks of a leaf
    _post_hooks = None      # post-accumulate-grad hooks of a leaf
    _retains_grad = False
    __array_priority__ = 1000   # `ndarray * tensor` defers to Tensor's reflected operator

    # --- construction ----------------------------------------------------------------

    def __init__(self, *args, dtype=None, device=None, requires_grad=False):
        """Legacy constructor: `Tensor(data)` or `Tensor(*sizes)`, default float dtype."""
        check_device(device, "Tensor")
        dtype = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
        if not args:
            data = xp.empty((0,), dtype=dtype.np)
        elif len(args) == 1 and not isinstance(args[0], (int, Size)):
            data = _to_array(args[0], dtype)
        else:
            data = xp.empty(tuple(args[0] if len(args) == 1 and isinstance(args[0], Size) else args),
                            dtype=dtype.np)
        _init(self, data if device is None else _device.move(data, device))
        if requires_grad:
            self.requires_grad_()

    # --- basic properties ------------------------------------------------------------

    @property
    def shape(self):
        return Size(self._data.shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_wrap_dim(dim, self._data.ndim, "size")]

    @property
    def dtype(self):
        return _dt._FROM_NP[self._data.dtype]

    @property
    def device(self):
        return device_of(self._data)

    @property
    def ndim(self):
        return self._data.ndim

    def dim(self):
        return self._data.ndim

    ndimension = dim

    def numel(self):
        return self._data.size

    nelement = numel

    def element_size(self):
        return self._data.itemsize

    def is_floating_point(self):
        return self._data.dtype.kind == "f"

    def is_complex(self):
        return self._data.dtype.kind == "c"

    def is_contiguous(self, memory_format=None):
        return self._data.flags.c_contiguous

    def stride(self, dim=None):
        st = tuple(s // self._data.itemsize for s in self._data.strides)
        return st if dim is None else st[dim]

    @property
    def is_cuda(self):
        return self.device.type == "cuda"

    @property
    def layout(self):
        return "strided"

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def _version(self):
        return self._vc[0]

    # --- autograd attributes ---------------------------------------------------------

    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        if self.grad_fn is not None and not flag:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use a "
                "computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach().")
        if flag and self._data.dtype.kind not in "fc":
            raise RuntimeError(
                f"only Tensors of floating point and complex dtype can require gradients "
                f"(got {self.dtype})")
        self._requires_grad = bool(flag)

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = requires_grad
        return self

    @property
    def grad(self):
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got {type(value).__name__}")
            if value.shape != self.shape:
                raise RuntimeError(f"assigned grad has data of a different size: {tuple(value.shape)} "
                                   f"vs {tuple(self.shape)}")
        self._grad = value

    @property
    def data(self):
        """The same storage, detached from the graph (PyTorch's `.data`)."""
        return self.detach()

    @data.setter
    def data(self, value):
        self._data = value._data if isinstance(value, Tensor) else xp.asarray(value)
        self._vc = [0]

    def detach(self):
        """A new tensor sharing storage and version counter, outside the graph."""
        t = Tensor._make(self._data)
        t._vc = self._vc
        return t

    def detach_(self):
        if self._base is not None and self._base._requires_grad:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self.grad_fn = None
        self._requires_grad = False
        return self

    def retain_grad(self):
        """Keep `.grad` of a non-leaf tensor after backward."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is not None and not self._retains_grad:
            self._retains_grad = True
            self.grad_fn.retain_output(self._out_nr, self)

    @property
    def retains_grad(self):
        return self._retains_grad

    def register_hook(self, hook):
        """Call `hook(grad)` when the gradient w.r.t. this tensor is computed; a non-None
        return value replaces the gradient.  Returns a handle with `.remove()`."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            hooks = self.grad_fn.output_hooks(self._out_nr)
        else:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call `hook(self)` once a backward pass has accumulated this leaf's `.grad`: as soon
        as no node left in the pass can add to it (DistributedDataParallel's overlap)."""
        if not self._requires_grad or self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks can only be registered on leaf tensors "
                               "that require grad (this one is not a leaf or does not)")
        if self._post_hooks is None:
            self._post_hooks = []
            engine.post_hooked.add(self)
        self._post_hooks.append(hook)
        return _HookHandle(self._post_hooks, hook)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into each leaf's `.grad`."""
        engine.backward([self], None if gradient is None else [gradient], retain_graph, create_graph,
                 inputs=inputs)

    # --- conversion ------------------------------------------------------------------

    def numpy(self, force=False):
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. "
                               "Use tensor.detach().numpy() instead.")
        return self._host("numpy")

    def __array__(self, dtype=None, copy=None):
        a = self._host("__array__")
        return a if dtype is None else a.astype(dtype, copy=False)

    def _host(self, what):
        if is_device_array(self._data):
            raise TypeError(f"{what}: can't convert {self.device} device type tensor to numpy. "
                            "Use Tensor.cpu() to copy the tensor to host memory first.")
        return self._data

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return self._data.reshape(()).item()

    def tolist(self):
        return self._data.tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self._data.size} elements is ambiguous")
        return bool(self._data.reshape(()).item())

    def __complex__(self):
        return complex(self.item())

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __hash__(self):
        return id(self)

    def __reduce_ex__(self, protocol):
        return (_rebuild, (self._data, self._requires_grad))

    def __deepcopy__(self, memo):
        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support "
                               "the deepcopy protocol at the moment.")
        t = type(self).__new__(type(self))
        _init(t, self._data.copy())
        t._requires_grad = self._requires_grad
        if self._grad is not None:
            t._grad = self._grad.clone()
        for k, v in getattr(self, "__dict__", {}).items():
            import copy
            t.__dict__[k] = copy.deepcopy(v, memo)
        memo[id(self)] = t
        return t

    def to(self, *args, dtype=None, device=None, non_blocking=False, copy=False, memory_format=None):
        """`to(dtype)`, `to(device)`, `to(tensor)` or `to(device, dtype)`; returns self when
        nothing changes (and `copy` is False)."""
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, (str, _device.device)):
                device = a
            elif a is not None:
                dtype = a
        check_device(device, "to")
        t = self if device is None or _device.device(device) == self.device else self._move(device, non_blocking)
        if dtype is not None and _dt.to_dtype(dtype) is not t.dtype:
            return t._cast(_dt.to_dtype(dtype))
        return t.clone() if copy and t is self else t

    def type(self, dtype=None):
        if dtype is None:
            return _LEGACY_NAMES.get(self.dtype, f"torch.{self.dtype.name}")
        if isinstance(dtype, str) and dtype in _LEGACY_TYPES:
            dtype = _LEGACY_TYPES[dtype]
        elif isinstance(dtype, type) and issubclass(dtype, Tensor):
            dtype = dtype._legacy_dtype
        return self.to(dtype)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None, non_blocking=False):
        return self.to(_device.device("cuda", getattr(device, "index", device)), non_blocking=non_blocking)

    def share_memory_(self):
        return self

    def get_device(self):
        d = self.device
        return -1 if d.type == "cpu" else d.index or 0

    # --- printing --------------------------------------------------------------------

    def __repr__(self):
        return tensor_repr(self)

    def __format__(self, spec):
        if self._data.ndim == 0:
            return format(self.item(), spec)
        return format(repr(self), spec)

    # --- internal constructors -------------------------------------------------------

    _plain = True           # exactly a Tensor: False in every subclass (batched, Parameter, ...)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._plain = False

    def _new_plain(self, data):
        """A plain tensor of data with no history (how the engine makes gradients)."""
        return Tensor._make(data)

    @classmethod
    def _make(cls, data, requires_grad=False):
        """Wrap an array without copying (no checks: internal use)."""
        t = object.__new__(cls)
        t._data, t._requires_grad, t._grad, t.grad_fn, t._out_nr, t._vc, t._tangent = \
            data, requires_grad, None, None, 0, [0], None
        return t


# The casts x.float(), x.long(), ... (bound here: inside the class their names would shadow the builtins)
for _name, _dtype in (("float", _dt.float32), ("double", _dt.float64), ("half", _dt.float16), ("long", _dt.int64),
                      ("int", _dt.int32), ("short", _dt.int16), ("byte", _dt.uint8), ("char", _dt.int8),
                      ("bool", _dt.bool_)):
    setattr(Tensor, _name, lambda self, *, memory_format=None, _dtype=_dtype: self.to(_dtype))


def _init(t, data):
    t._data, t._requires_grad, t._grad, t.grad_fn, t._out_nr, t._vc, t._tangent = \
        data, False, None, None, 0, [0], None


def _rebuild(data, requires_grad):
    t = Tensor._make(data)
    if requires_grad:
        t.requires_grad_()
    return t


class _HookHandle:
    def __init__(self, hooks, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def _to_array(obj, dtype=None):
    """Convert nested lists / scalars / arrays / tensors to an array.

    Without `dtype`, PyTorch's inference applies: Python floats -> default float dtype,
    ints -> int64, bools -> bool; NumPy arrays keep their dtype.
    """
    if isinstance(obj, Tensor) or is_device_array(obj):
        a = getattr(obj, "_data", obj)
    elif isinstance(obj, (list, tuple)) and any(isinstance(o, Tensor) for o in _flat(obj)):
        a = xp.array([_to_array(o) for o in obj]) if obj else xp.zeros((0,))
    else:
        a = xp.asarray(obj)
    if dtype is not None:
        return a.astype(dtype.np, copy=False)
    if not isinstance(obj, (xp.ndarray, Tensor, xp.generic)) and not is_device_array(obj):
        kind = a.dtype.kind
        if kind == "f" or (a.size == 0 and kind not in "biuc"):
            a = a.astype(_dt.get_default_dtype().np, copy=False)
        elif kind in "iu":
            a = a.astype(xp.int64, copy=False)
        elif kind == "c":
            a = a.astype(_dt.to_dtype(complex).np, copy=False)
        elif kind not in "b":
            raise TypeError(f"tensor: can't convert object of type {type(obj).__name__} to a tensor")
    elif a.dtype not in _dt._FROM_NP:
        _dt.from_numpy_dtype(a.dtype)
    return a


def _flat(obj):
    for o in obj:
        if isinstance(o, (list, tuple)):
            yield from _flat(o)
        else:
            yield o


# Legacy typed constructors: FloatTensor([1, 2]), LongTensor(3), ...
def _legacy(name, dtype):
    class _Legacy(Tensor):
        _legacy_dtype = dtype

        def __new__(cls, *args, **kwargs):
            return Tensor(*args, dtype=dtype, **kwargs)

    _Legacy.__name__ = _Legacy.__qualname__ = name
    return _Legacy


FloatTensor = _legacy("FloatTensor", _dt.float32)
DoubleTensor = _legacy("DoubleTensor", _dt.float64)
HalfTensor = _legacy("HalfTensor", _dt.float16)
LongTensor = _legacy("LongTensor", _dt.int64)
IntTensor = _legacy("IntTensor", _dt.int32)
ShortTensor = _legacy("ShortTensor", _dt.int16)
ByteTensor = _legacy("ByteTensor", _dt.uint8)
CharTensor = _legacy("CharTensor", _dt.int8)
BoolTensor = _legacy("BoolTensor", _dt.bool_)

_LEGACY_TYPES = {f"torch.{c.__name__}": c._legacy_dtype for c in
                 (FloatTensor, DoubleTensor, HalfTensor, LongTensor, IntTensor, ShortTensor,
                  ByteTensor, CharTensor, BoolTensor)}
_LEGACY_TYPES.update({k.replace("torch.", "diffprog."): v for k, v in _LEGACY_TYPES.items()})
_LEGACY_NAMES = {v: k for k, v in _LEGACY_TYPES.items() if k.startswith("torch.")}
