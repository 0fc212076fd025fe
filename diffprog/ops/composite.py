"""Functions written with other ops, so their derivatives of every order come for free:
arithmetic helpers (`addcmul`, `logaddexp`, `ldexp`, ...), differences and rotations,
order statistics (`kthvalue`, `quantile`), covariance, renormalisation, splits, scatters
into slices, and in-place forms of out-of-place ops.  `copysign` is the one small `Op`
here: PyTorch gives its second operand a zero gradient, which a composite cannot.

Also the Tensor attributes that only describe a tensor (`is_cpu`, `itemsize`, `nbytes`,
`data_ptr`, ...) and the legacy in-place resizing methods.  Integer-only functions (`gcd`,
`lcm`) and bit-level ones (`frexp`, `nextafter`, `signbit`) have no derivative and run on
the arrays directly.
"""
import math

from .. import dtypes as _dt
from ..autograd.grad_mode import state
from .._array import ones, xp
from ..tensor import Size, Tensor
from .batching import batch_function, broadcasting, elementwise_function
from .complex import complex_sign
from .inplace import apply_inplace
from .op import Op
from .reduction import _return_type

_kthvalue = _return_type("kthvalue")


def _t(x, like=None):
    """x as a tensor (Python numbers get `like`'s dtype; it goes to `like`'s device)."""
    if isinstance(x, Tensor):
        return x
    from ..creation import tensor
    return tensor(x, dtype=like.dtype if like is not None and isinstance(x, (int, float)) else None,
                  device=None if like is None else like.device)


def _constant(a):
    return Tensor._make(xp.asarray(a))


# --- arithmetic ---------------------------------------------------------------------------

def addcmul(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 * tensor2."""
    return input + value * (tensor1 * tensor2)


def addcdiv(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 / tensor2."""
    return input + value * (tensor1 / tensor2)


def logaddexp(input, other):
    """log(exp(x) + exp(y)), computed without overflow."""
    m = input.maximum(other).detach()
    m = m.masked_fill(m.isinf(), 0.0)
    return m + ((input - m).exp() + (other - m).exp()).log()


def logaddexp2(input, other):
    """log2(2**x + 2**y)."""
    return logaddexp(input * math.log(2.0), other * math.log(2.0)) / math.log(2.0)


class CopySign(Op):
    """|x| with the sign (bit) of y; d/dx is +-1 (0 at x = 0), d/dy is 0."""

    promote = "float"
    batch = broadcasting

    def forward(ctx, x, y):
        return xp.copysign(x, y)

    def _ratio(ctx):
        x, out = ctx.input(0).detach(), ctx.output.detach()      # piecewise constant
        return (out / x.masked_fill(x == 0, 1.0)).masked_fill(x == 0, 0.0)

    def vjp(ctx, g):
        return g * ctx._ratio(), g * 0

    def jvp(ctx, dx, dy):
        return dx * ctx._ratio()


def copysign(input, other):
    """|input| with the sign of other (its sign bit: -0.0 counts as negative)."""
    return CopySign.apply(input, other)


def deg2rad(input):
    return input * (math.pi / 180.0)


def rad2deg(input):
    return input * (180.0 / math.pi)


def ldexp(input, other):
    """input * 2**other."""
    return input * _t(2.0, input).pow(other)


def float_power(input, exponent):
    """input ** exponent in double precision (complex128 for complex operands)."""
    kind = _dt.complex128 if (isinstance(input, Tensor) and input.is_complex()) or (
        isinstance(exponent, Tensor) and exponent.is_complex()) or isinstance(exponent, complex) \
        else _dt.float64
    base = _t(input).to(kind)
    return base.pow(exponent.to(kind) if isinstance(exponent, Tensor) else exponent)


def sgn(input):
    """sign(x) for real x; x / |x| (0 at 0) for complex x."""
    return complex_sign(input) if input.is_complex() else input.sign()


@elementwise_function
def heaviside(input, values):
    """0 where x < 0, `values` where x == 0, 1 where x > 0 (no derivative, as PyTorch)."""
    x, v = input._data, _t(values, input)._data
    out = xp.where(x == 0, v, (x > 0).astype(xp.result_type(x, v)))
    return Tensor._make(out.astype(xp.result_type(x, v)))


def _integers(name, fn):
    def f(input, other):
        a, b = _t(input), _t(other)
        if a._data.dtype.kind not in "biu" or b._data.dtype.kind not in "biu":
            raise RuntimeError(f'"{name}_cpu" not implemented for {a.dtype.name} and {b.dtype.name} '
                               f"(it takes integer tensors)")
        return Tensor._make(fn(a._data, b._data))
    f.__name__ = name
    f.__doc__ = f"Elementwise {name} of integer tensors."
    return elementwise_function(f)


gcd = _integers("gcd", xp.gcd)
lcm = _integers("lcm", xp.lcm)


@elementwise_function
def signbit(input):
    return Tensor._make(xp.signbit(_t(input)._data))


@elementwise_function
def isposinf(input):
    return Tensor._make(xp.isposinf(input._data) if input.is_floating_point()
                        else xp.zeros(input._data.shape, bool))


@elementwise_function
def isneginf(input):
    return Tensor._make(xp.isneginf(input._data) if input.is_floating_point()
                        else xp.zeros(input._data.shape, bool))


@elementwise_function
def isreal(input):
    """True where the imaginary part is zero (everywhere for real tensors)."""
    d = input._data
    return Tensor._make(d.imag == 0 if d.dtype.kind == "c" else ones(d.shape, bool, like=d))


@elementwise_function
def frexp(input):
    """(mantissa, exponent) with input = mantissa * 2**exponent, |mantissa| in [0.5, 1)."""
    if not input.is_floating_point():
        raise RuntimeError(f"torch.frexp() only supports floating-point dtypes, got {input.dtype.name}")
    m, e = xp.frexp(input._data)
    return _return_type("frexp")(Tensor._make(m), Tensor._make(e.astype(xp.int32)))


@elementwise_function
def nextafter(input, other):
    """The next floating-point value after input towards other (no derivative)."""
    return Tensor._make(xp.nextafter(input._data, _t(other, input)._data))


# --- differences, rotations, splits ------------------------------------------------------

def diff(input, n=1, dim=-1, prepend=None, append=None):
    """The n-th forward difference along dim (with prepend / append joined on first)."""
    from .shape import cat
    parts = [p for p in (prepend, input, append) if p is not None]
    parts = [_t(p, input) if isinstance(p, Tensor) else _t(p, input).expand(
        *[1 if d == dim % input.ndim else s for d, s in enumerate(input.shape)]) for p in parts]
    x = cat(parts, dim) if len(parts) > 1 else input
    for _ in range(n):
        k = x.shape[dim]
        if x.dtype == _dt.bool_:
            x = Tensor._make(x.narrow(dim, 1, k - 1)._data ^ x.narrow(dim, 0, k - 1)._data)
        else:
            x = x.narrow(dim, 1, k - 1) - x.narrow(dim, 0, k - 1)
    return x


def diagflat(input, offset=0):
    """A 2-D tensor with the flattened input on diagonal `offset`."""
    return input.reshape(-1).diag(offset)


def rot90(input, k=1, dims=(0, 1)):
    """Rotate by 90 degrees k times in the plane of dims (from the first towards the second)."""
    d0, d1 = dims
    if len(dims) != 2 or d0 % input.ndim == d1 % input.ndim:
        raise RuntimeError(f"rot90: expected two different dims, got {tuple(dims)} for a "
                           f"{input.ndim}-D tensor")
    k %= 4
    if k == 1:
        return input.flip(d1).transpose(d0, d1)
    if k == 2:
        return input.flip((d0, d1))
    if k == 3:
        return input.flip(d0).transpose(d0, d1)
    return input.clone()


def _split_along(input, sections, dim, name, min_dims):
    if input.ndim < min_dims:
        raise RuntimeError(f"torch.{name} requires a tensor with at least {min_dims} dimension, but "
                           f"got a tensor with {input.ndim} dimensions!")
    if isinstance(sections, int) and input.shape[dim] % sections:
        raise RuntimeError(f"torch.{name} attempted to split along dimension {dim}, but the size of "
                           f"the dimension {input.shape[dim]} is not divisible by the split_size "
                           f"{sections}!")
    return input.tensor_split(sections, dim)


def hsplit(input, indices_or_sections):
    return _split_along(input, indices_or_sections, 1 if input.ndim > 1 else 0, "hsplit", 1)


def vsplit(input, indices_or_sections):
    return _split_along(input, indices_or_sections, 0, "vsplit", 2)


def dsplit(input, indices_or_sections):
    return _split_along(input, indices_or_sections, 2, "dsplit", 3)


def split_with_sizes(input, split_sizes, dim=0):
    return input.split(list(split_sizes), dim)


def select_scatter(input, src, dim, index):
    """input with input.select(dim, index) replaced by src."""
    return slice_scatter(input, src.unsqueeze(dim), dim, index % input.shape[dim],
                         index % input.shape[dim] + 1)


def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    """input with input[..., start:end:step, ...] (along dim) replaced by src."""
    key = [slice(None)] * input.ndim
    key[dim] = slice(start, end, step)
    out = input.clone()
    out[tuple(key)] = src
    return out


def narrow_copy(input, dim, start, length):
    return input.narrow(dim, start, length).clone()


# --- order statistics ----------------------------------------------------------------------

def kthvalue(input, k, dim=-1, keepdim=False):
    """(values, indices): the k-th smallest element along dim (1-based k)."""
    n = input.shape[dim] if input.ndim else 1
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {dim} "
                           f"(k={k}, size {n})")
    x = input if input.ndim else input.reshape(1)
    values, indices = x.sort(dim)
    v, i = values.narrow(dim, k - 1, 1), indices.narrow(dim, k - 1, 1)
    if not keepdim or not input.ndim:
        v, i = v.squeeze(dim), i.squeeze(dim)
    return _kthvalue(v, i)


def msort(input):
    return input.sort(0)[0]


def _quantile(input, q, dim, keepdim, interpolation, ignore_nan, name):
    if not input.is_floating_point():
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype, got "
                           f"{input.dtype.name}")
    scalar_q = not isinstance(q, Tensor)
    qs = xp.atleast_1d(xp.asarray(q.cpu()._data if isinstance(q, Tensor) else q, dtype=xp.float64))
    if qs.ndim > 1 or ((qs < 0) | (qs > 1)).any():
        raise RuntimeError(f"{name}() q values must be in the range [0, 1] (a scalar or 1-D tensor)")
    x = input.reshape(-1) if dim is None else input
    d = 0 if dim is None else dim % max(x.ndim, 1)
    x = x.movedim(d, -1) if x.ndim else x.reshape(1)
    srt = x.sort(-1)[0]                                   # NaNs sort last
    n = x.shape[-1]
    count = (~x.isnan()).sum(-1, keepdim=True) if ignore_nan else None
    rows = []
    for qv in qs:
        if ignore_nan:
            pos = (count.to(_dt.float64) - 1).clamp(min=0) * float(qv)
        else:
            pos = x.new_full(tuple(x.shape[:-1]) + (1,), (n - 1) * float(qv), dtype=_dt.float64)
        lo, hi = pos.floor(), pos.ceil()
        if interpolation == "lower":
            pos = lo
        elif interpolation == "higher":
            pos = hi
        elif interpolation == "nearest":
            pos = pos.round()              # rounds half to even, as PyTorch
        elif interpolation not in ("linear", "midpoint"):
            raise ValueError(f"{name}() interpolation must be one of linear, lower, higher, "
                             f"midpoint or nearest. Got {interpolation}")
        lo_i, hi_i = pos.floor().long(), pos.ceil().long()
        a, b = srt.gather(-1, lo_i), srt.gather(-1, hi_i)
        if interpolation == "midpoint":
            w = 0.5 * (hi_i != lo_i)
        else:
            w = (pos - lo_i).to(srt.dtype)
        v = a + (b - a) * w.to(srt.dtype) if interpolation in ("linear", "midpoint") else a
        if not ignore_nan:     # any NaN in a row makes its quantile NaN
            v = v.masked_fill(x.isnan().any(-1, keepdim=True), float("nan"))
        else:
            v = v.masked_fill(count == 0, float("nan"))
        rows.append(v.squeeze(-1))
    out = rows[0].unsqueeze(0) if len(rows) == 1 else _stack(rows)
    if keepdim:
        shape = [1] * input.ndim if dim is None else list(input.shape)
        if dim is not None and input.ndim:
            shape[d] = 1
        out = out.reshape((len(qs),) + tuple(shape))
    return out[0] if scalar_q else out


def _stack(ts):
    from .shape import stack
    return stack(ts)


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """The q-th quantiles along dim (of all elements when dim is None)."""
    return _quantile(input, q, dim, keepdim, interpolation, False, "quantile")


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """quantile that ignores NaNs (NaN only where a row has nothing else)."""
    return _quantile(input, q, dim, keepdim, interpolation, True, "nanquantile")


# --- statistics and norms -------------------------------------------------------------------

def cov(input, *, correction=1, fweights=None, aweights=None):
    """Covariance of the rows of input (variables) over its columns (observations)."""
    x = input if input.ndim == 2 else input.reshape(1, -1)
    if not x.is_floating_point() and not x.is_complex():
        x = x.to(_dt.get_default_dtype())
    n = x.shape[1]
    w = None
    if fweights is not None:
        w = fweights.to(x.dtype)
    if aweights is not None:
        w = aweights.to(x.dtype) if w is None else w * aweights.to(x.dtype)
    if w is None:
        mean = x.mean(1, keepdim=True)
        total = float(n)
        norm = total - correction
    else:
        total = w.sum()
        mean = (x * w).sum(1, keepdim=True) / total
        if correction == 0:
            norm = total
        elif aweights is None:
            norm = total - correction
        else:
            norm = total - correction * (w * aweights.to(x.dtype)).sum() / total
    xc = x - mean
    xw = xc if w is None else xc * w
    c = xw @ xc.conj().T if x.is_complex() else xw @ xc.T
    c = c / (norm.clamp(min=0) if isinstance(norm, Tensor) else max(norm, 0))
    return c.squeeze() if input.ndim < 2 else c


def corrcoef(input):
    """Pearson correlation coefficients of the rows of input, clipped to [-1, 1]."""
    c = cov(input)
    if c.ndim == 0:
        return c / c
    d = c.diagonal().sqrt()
    return (c / d.unsqueeze(1) / d.unsqueeze(0)).clamp(-1, 1)


def renorm(input, p, dim, maxnorm):
    """Each slice along dim with p-norm above maxnorm scaled down to norm maxnorm."""
    others = tuple(d for d in range(input.ndim) if d != dim % input.ndim)
    norm = input.abs().pow(p).sum(others, keepdim=True).pow(1.0 / p)
    scale = (maxnorm / (norm + 1e-7)).where(norm > maxnorm, _t(1.0, input))
    return input * scale


def pdist(input, p=2):
    """The p-norm distances between all pairs of rows i < j of a 2-D input, flattened."""
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    i, j = xp.triu_indices(input.shape[0], 1)
    diff = input[_constant(i)] - input[_constant(j)]
    return diff.norm(p, dim=-1) if diff.shape[0] else diff.sum(-1)


@batch_function()         # (bin edges from each element's range: once per element)
def histogram(input, bins=100, *, range=None, weight=None, density=False):
    """(hist, bin_edges) as NumPy's histogram (no derivative)."""
    b = bins._data if isinstance(bins, Tensor) else bins
    w = weight._data if weight is not None else None
    h, edges = xp.histogram(input._data, bins=b, range=range, weights=w, density=density)
    dt = input._data.dtype
    return _return_type("histogram")(Tensor._make(h.astype(dt)), Tensor._make(edges.astype(dt)))


# --- describing a tensor ----------------------------------------------------------------------

def _root(a):
    while isinstance(a.base, xp.ndarray):
        a = a.base
    return a


def data_ptr(self):
    """The address of the tensor's first element."""
    return int(self._data.__array_interface__["data"][0])


def storage_offset(self):
    """How many elements the tensor starts after the start of its storage."""
    root = _root(self._data)
    return (data_ptr(self) - int(root.__array_interface__["data"][0])) // self._data.itemsize


def is_same_size(self, other):
    return self.shape == other.shape


def is_signed(self):
    return self._data.dtype.kind in "ifc"


def dim_order(self, *, ambiguity_check=False):
    """The dims from outermost to innermost in memory."""
    strides = self._data.strides
    return tuple(sorted(range(self.ndim), key=lambda d: -abs(strides[d])))


def _false(self):
    return False


_DEVICE_FLAGS = ["is_sparse", "is_sparse_csr", "is_quantized", "is_meta", "is_mkldnn", "is_mps",
                 "is_xpu", "is_xla", "is_ipu", "is_vulkan", "is_maia", "is_mtia", "is_nested"]


# --- legacy constructors and resizing ------------------------------------------------------------

def new(self, *args, **kwargs):
    """Legacy `x.new(...)`: x.new(2, 3) an uninitialised tensor of x's dtype, x.new(data) one
    made from data, x.new() an empty one."""
    from ..creation import empty, tensor
    if kwargs.get("device") is not None:
        from .._array.device import check_device
        check_device(kwargs["device"], "new")
    if not args:
        return empty(0, dtype=self.dtype)
    if len(args) == 1 and isinstance(args[0], Tensor):
        return args[0].to(self.dtype).clone()
    if all(isinstance(a, int) for a in args) or (len(args) == 1 and isinstance(args[0], Size)):
        return empty(*args, dtype=self.dtype)
    return tensor(args[0], dtype=self.dtype)


def resize_(self, *sizes, memory_format=None):
    """Give the tensor this shape in place; elements beyond its old size are uninitialised."""
    shape = tuple(sizes[0]) if len(sizes) == 1 and not isinstance(sizes[0], int) else sizes
    if self._requires_grad:
        raise RuntimeError("cannot resize variables that require grad")
    n = math.prod(shape)
    flat = self._data.reshape(-1)
    if n <= flat.size and self._data.flags.c_contiguous:
        self._data = flat[:n].reshape(shape)
    else:
        fresh = xp.empty(n, dtype=self._data.dtype, like=self._data)
        k = min(n, flat.size)
        fresh[:k] = flat[:k]
        self._data = fresh.reshape(shape)
    self._vc[0] += 1
    return self


def resize_as_(self, other, memory_format=None):
    return resize_(self, other.shape)


def resize(self, *sizes):
    """Deprecated out-of-place resize: a resized copy."""
    import warnings
    warnings.warn("non-inplace resize is deprecated", stacklevel=2)
    return resize_(self.detach().clone(), *sizes)


def resize_as(self, other):
    return resize(self, other.shape)


def apply_(self, callable):
    """Replace each element x by callable(x), a Python function (slow; CPU only)."""
    if self._requires_grad and state.grad_enabled:
        raise RuntimeError("Can't call apply_() on Variable that requires grad. Use "
                           "var.detach().apply_() instead.")
    flat = self._data.reshape(-1)
    for i, v in enumerate(flat.tolist()):
        flat[i] = callable(v)
    self._vc[0] += 1
    return self


def map_(self, tensor, callable):
    """Replace each element x by callable(x, y), y the matching element of `tensor`."""
    if self._requires_grad and state.grad_enabled:
        raise RuntimeError("Can't call map_() on Variable that requires grad. Use "
                           "var.detach().map_() instead.")
    flat = self._data.reshape(-1)
    other = xp.broadcast_to(tensor._data, self._data.shape).reshape(-1).tolist()
    for i, (a, b) in enumerate(zip(flat.tolist(), other)):
        flat[i] = callable(a, b)
    self._vc[0] += 1
    return self


def fill_diagonal_(self, fill_value, wrap=False):
    """Write fill_value on the main diagonal (of a matrix, or of an all-equal-sides tensor)."""
    if self.ndim < 2 or (self.ndim > 2 and len(set(self.shape)) != 1):
        raise RuntimeError("all dimensions of input must be of equal length")
    n = min(self.shape)
    idx = xp.arange(n)
    key = (idx,) * self.ndim
    if self.ndim == 2 and wrap and self.shape[0] > self.shape[1] + 1:
        rows = xp.arange(self.shape[0])
        step = self.shape[1] + 1                    # NumPy's wrap: restart after a blank row
        rows = rows[rows % step != self.shape[1]]
        key = (rows, (xp.arange(rows.size)) % self.shape[1])
    value = _t(fill_value, self)
    mask = xp.zeros(self._data.shape, bool)
    mask[key] = True
    return self.masked_fill_(Tensor._make(mask), value)


# --- in-place forms ------------------------------------------------------------------------------

class _Composite:
    """Lets `apply_inplace` (which calls `cls.apply` and `cls.name()`) run a function made of
    several ops: its checks, the saved original and the rebase come with it."""

    def __init__(self, fn):
        self.fn = fn

    def apply(self, *args, **kwargs):
        return self.fn(*args, **kwargs)

    def name(self):
        return self.fn.__name__


def _inplace(fn):
    via = _Composite(fn)

    def method(self, *args, **kwargs):
        return apply_inplace(via, self, *args, **kwargs)
    method.__name__ = fn.__name__ + "_"
    method.__doc__ = f"In-place {fn.__name__}."
    return method


def _view_inplace(name):
    """squeeze_, unsqueeze_, t_, transpose_, ...: self takes the view's shape and strides,
    its storage unchanged (as PyTorch, for tensors without history; a tensor in a graph
    takes the view's node)."""
    def method(self, *args):
        if self._requires_grad and self.grad_fn is None and state.grad_enabled:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                               "operation.")
        src = Tensor._make(self._data, self._requires_grad)     # keeps self's old shape for
        src.grad_fn, src._out_nr, src._vc = self.grad_fn, self._out_nr, self._vc   # the view's node
        view = getattr(src, name)(*args)
        self._data = view._data
        if view._requires_grad:
            self.grad_fn, self._out_nr = view.grad_fn, view._out_nr
        if self._base is not None:
            parent = self._view_fn
            self._view_fn = lambda base: getattr(parent(base), name)(*args)
        return self
    method.__name__ = name + "_"
    method.__doc__ = f"In-place {name}: self becomes its own {name} view."
    return method


def ravel(self):
    return self.reshape(-1)


METHODS = {
    "addcmul": addcmul, "addcdiv": addcdiv, "addcmul_": _inplace(addcmul),
    "addcdiv_": _inplace(addcdiv), "logaddexp": logaddexp, "logaddexp2": logaddexp2,
    "copysign": copysign, "copysign_": _inplace(copysign), "deg2rad": deg2rad,
    "deg2rad_": _inplace(deg2rad), "rad2deg": rad2deg, "rad2deg_": _inplace(rad2deg),
    "ldexp": ldexp, "ldexp_": _inplace(ldexp), "float_power": float_power,
    "float_power_": _inplace(float_power), "sgn": sgn, "sgn_": _inplace(sgn),
    "heaviside": heaviside, "heaviside_": _inplace(heaviside), "gcd": gcd, "gcd_": _inplace(gcd),
    "lcm": lcm, "lcm_": _inplace(lcm), "signbit": signbit, "isposinf": isposinf,
    "isneginf": isneginf, "isreal": isreal, "frexp": frexp, "nextafter": nextafter,
    "nextafter_": _inplace(nextafter), "diff": diff, "diagflat": diagflat, "rot90": rot90,
    "hsplit": hsplit, "vsplit": vsplit, "dsplit": dsplit, "split_with_sizes": split_with_sizes,
    "unsafe_split": lambda self, size, dim=0: self.split(size, dim),
    "unsafe_chunk": lambda self, chunks, dim=0: self.chunk(chunks, dim),
    "unsafe_split_with_sizes": split_with_sizes,
    "select_scatter": select_scatter, "slice_scatter": slice_scatter, "narrow_copy": narrow_copy,
    "kthvalue": kthvalue, "msort": msort, "quantile": quantile, "nanquantile": nanquantile,
    "cov": cov, "corrcoef": corrcoef, "renorm": renorm, "renorm_": _inplace(renorm),
    "histogram": histogram,
    "cumsum_": _inplace(lambda self, dim, dtype=None: self.cumsum(dim, dtype=dtype)),
    "cumprod_": _inplace(lambda self, dim, dtype=None: self.cumprod(dim, dtype=dtype)),
    "tril_": _inplace(lambda self, diagonal=0: self.tril(diagonal)),
    "triu_": _inplace(lambda self, diagonal=0: self.triu(diagonal)),
    "squeeze_": _view_inplace("squeeze"), "unsqueeze_": _view_inplace("unsqueeze"),
    "t_": _view_inplace("t"), "transpose_": _view_inplace("transpose"),
    "swapaxes_": _view_inplace("transpose"), "swapdims_": _view_inplace("transpose"),
    "ravel": ravel,
    "data_ptr": data_ptr, "const_data_ptr": data_ptr, "storage_offset": storage_offset,
    "is_same_size": is_same_size, "is_signed": is_signed, "dim_order": dim_order,
    "is_shared": _false, "is_inference": _false, "is_conj": _false,
    "is_neg": _false,
    "is_cpu": property(lambda self: True),
    "itemsize": property(lambda self: self._data.itemsize),
    "nbytes": property(lambda self: self._data.nbytes),
    "name": property(lambda self: None),
    "output_nr": property(lambda self: self._out_nr),
    "new": new, "resize_": resize_, "resize_as_": resize_as_, "resize": resize,
    "resize_as": resize_as, "apply_": apply_, "map_": map_, "fill_diagonal_": fill_diagonal_,
    "to_dense": lambda self, dtype=None, masked_grad=None: self if dtype is None else self.to(dtype),
    "cfloat": lambda self: self.to(_dt.complex64), "cdouble": lambda self: self.to(_dt.complex128),
}
METHODS.update({flag: property(_false) for flag in _DEVICE_FLAGS})

__all__ = ["addcmul", "addcdiv", "logaddexp", "logaddexp2", "copysign", "deg2rad", "rad2deg",
           "ldexp", "float_power", "sgn", "heaviside", "gcd", "lcm", "signbit", "isposinf",
           "isneginf", "isreal", "frexp", "nextafter", "diff", "diagflat", "rot90", "hsplit",
           "vsplit", "dsplit", "split_with_sizes", "select_scatter", "slice_scatter", "narrow_copy",
           "kthvalue", "msort", "quantile", "nanquantile", "cov", "corrcoef", "renorm",
           "pdist", "histogram", "is_same_size", "is_signed"]
