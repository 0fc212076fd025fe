"""Random numbers: generators, seeding, sampling functions and in-place fills.

A `Generator` wraps NumPy's PCG64 bit generator.  Its whole state (seed and PCG64's
counter) packs into a 56-byte uint8 tensor, so `get_state`/`set_state` round-trip
exactly.  Like PyTorch, the default generator starts from a fresh random seed in each
process; `manual_seed` makes runs reproducible.

Samples are never differentiable (PyTorch's reparameterised sampling lives in
`distributions`); in-place fills (`x.uniform_()`, `x.normal_()`, ...) keep the tensor's
dtype and are what `nn.init` and dropout use under `no_grad`.

Every function that draws is marked `@sampler`, so that `diffprog.compile` replays the draw
rather than baking its numbers into a trace.
"""
import contextlib
import functools
import math
import weakref

import numpy as np

from . import dtypes as _dt
from .autograd.grad_mode import no_grad, state
from ._array import xp
from .creation import _finish, shape_arg
from .ops.batching import leading, levels_of, peel, physical, random_levels, rewrap
from .ops.fast import numba
from .ops.inplace import apply_inplace
from .ops.op import Op
from .tensor import Tensor
from ._array import device as _device
from ._array.device import check_device

__all__ = ["Generator", "default_generator", "manual_seed", "seed", "initial_seed",
           "get_rng_state", "set_rng_state", "fork_rng", "rand", "rand_like", "randn",
           "randn_like", "randint", "randint_like", "randperm", "normal", "bernoulli",
           "multinomial", "poisson"]


class Generator:
    """A source of random numbers with its own state (`torch.Generator`)."""

    def __init__(self, device="cpu"):
        check_device(device, "Generator")
        self.device = _device.device(device)
        self.manual_seed(int(np.random.SeedSequence().entropy) % 2**64)
        generators.add(self)

    def manual_seed(self, seed):
        seed = int(seed)
        if not -2**63 <= seed < 2**64:
            raise RuntimeError(f"manual_seed: seed must be within the range [-2**63, 2**64), got {seed}")
        self._seed = seed % 2**64
        self._bits = np.random.PCG64(self._seed)
        self._rng = np.random.Generator(self._bits)
        return self

    def seed(self):
        """Re-seed from OS entropy; return the new seed."""
        self.manual_seed(int(np.random.SeedSequence().entropy) % 2**64)
        return self._seed

    def initial_seed(self):
        return self._seed

    def get_state(self):
        """The state as a uint8 tensor: seed, PCG64 state and increment, cached 32-bit draw."""
        s = self._bits.state
        words = (self._seed, s["state"]["state"], s["state"]["inc"], s["has_uint32"], s["uinteger"])
        sizes = (8, 16, 16, 8, 8)
        raw = b"".join(w.to_bytes(n, "little") for w, n in zip(words, sizes))
        return Tensor._make(np.frombuffer(raw, dtype=np.uint8).copy())

    def set_state(self, new_state):
        raw = bytes(np.asarray(new_state._data if isinstance(new_state, Tensor) else new_state,
                               dtype=np.uint8))
        if len(raw) != 56:
            raise RuntimeError(f"set_state: expected a uint8 state tensor of 56 bytes, got {len(raw)}")
        seed, state, inc, has, cached = (int.from_bytes(raw[a:b], "little") for a, b in
                                         ((0, 8), (8, 24), (24, 40), (40, 48), (48, 56)))
        self.manual_seed(seed)
        self._bits.state = {"bit_generator": "PCG64", "state": {"state": state, "inc": inc},
                            "has_uint32": has, "uinteger": cached}
        return self

    def __repr__(self):
        return f"<diffprog.Generator object at {id(self):#x}>"


generators = weakref.WeakSet()       # every Generator, so that a trace can watch them all
default_generator = Generator()


def sampler(fn):
    """Mark `fn` as drawing from a generator.  While `diffprog.compile` traces a call, each
    call of fn is recorded as one step that every replay runs again, so that a replay draws
    fresh numbers exactly where the eager code would."""
    @functools.wraps(fn)
    def draw(*args, **kwargs):
        if state.tracer is not None:
            return state.tracer.sample(fn, args, kwargs)
        return fn(*args, **kwargs)
    return draw


def _rng(generator):
    return (generator or default_generator)._rng


def manual_seed(seed):
    """Seed the default generator (returns it, like PyTorch)."""
    return default_generator.manual_seed(seed)


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(new_state):
    default_generator.set_state(new_state)


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, **kwargs):
    """Restore the default generator's state on leaving the block."""
    if not enabled:
        yield
        return
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)


# --- sampling ----------------------------------------------------------------------------

def _float_dtype(dtype, who):
    dtype = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    if not dtype.is_floating_point:
        raise RuntimeError(f"{who}: expected a floating point dtype, got {dtype}")
    return dtype


def _native(dtype):
    """NumPy draws float32 or float64 directly; others are drawn in float32 and cast."""
    return dtype.np if dtype.np in (np.float32, np.float64) else np.float32


def _levels(who):
    """Inside vmap, the levels with a draw per element (and the shape they add in front)."""
    if not state.vmap:
        return (), ()
    levels = random_levels(who)
    return levels, tuple(lv.size for lv in levels)


def _wrap(a, dtype, device, requires_grad, who, levels=(), pin_memory=False):
    """A tensor of the host draws `a` (random numbers come from the host generator on every
    device, so a seed gives the same numbers everywhere)."""
    if a.dtype != dtype.np:
        a = a.astype(dtype.np)
    return rewrap(_finish(a, dtype, device, requires_grad, who, pin_memory), levels)


@sampler
def rand(*size, generator=None, dtype=None, device=None, requires_grad=False, out=None, layout=None,
         pin_memory=False):
    """Uniform samples in [0, 1)."""
    dtype = _float_dtype(dtype, "rand")
    levels, lead = _levels("rand")
    rng, shape = _rng(generator), lead + shape_arg(size, "rand")
    if dtype.np.type in (np.float32, np.float64):
        a = rng.random(shape, dtype=dtype.np)
    else:   # multiples of 2**-bits: exact in dtype, so rounding can't reach 1
        bits = np.finfo(dtype.np).nmant + 1
        a = rng.integers(0, 2**bits, shape) * 2.0**-bits
    return _wrap(a, dtype, device, requires_grad, "rand", levels, pin_memory)


@sampler
def randn(*size, generator=None, dtype=None, device=None, requires_grad=False, out=None, layout=None,
          pin_memory=False):
    """Standard normal samples."""
    dtype = _float_dtype(dtype, "randn")
    levels, lead = _levels("randn")
    a = _rng(generator).standard_normal(lead + shape_arg(size, "randn"), dtype=_native(dtype))
    return _wrap(a, dtype, device, requires_grad, "randn", levels, pin_memory)


@sampler
def randint(*args, size=None, generator=None, dtype=None, device=None, requires_grad=False, out=None,
            layout=None, pin_memory=False):
    """Integers uniform in [low, high): `randint(high, size)` or `randint(low, high, size)`."""
    if size is None:
        *args, size = args
    low, high = (0, *args) if len(args) == 1 else args
    low, high = int(low), int(high)
    if low >= high:
        raise RuntimeError(f"randint: random_ expects 'from' to be less than 'to', but got "
                           f"from={low} >= to={high}")
    dtype = _dt.to_dtype(dtype) if dtype is not None else _dt.int64
    levels, lead = _levels("randint")
    a = _rng(generator).integers(low, high, lead + shape_arg((size,), "randint"), dtype=np.int64)
    return _wrap(a, dtype, device, requires_grad, "randint", levels, pin_memory)


@sampler
def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False, out=None,
             layout=None, pin_memory=False):
    """A random permutation of 0..n-1."""
    dtype = _dt.to_dtype(dtype) if dtype is not None else _dt.int64
    levels, lead = _levels("randperm")
    rng = _rng(generator)
    a = xp.argsort(rng.random(lead + (int(n),)), axis=-1) if lead else rng.permutation(int(n))
    return _wrap(a, dtype, device, requires_grad, "randperm", levels, pin_memory)


def _like(fn, input, dtype, kwargs):
    kwargs["device"] = kwargs["device"] or input.device
    return fn(*input.shape, dtype=input.dtype if dtype is None else dtype, **kwargs)


def rand_like(input, *, dtype=None, generator=None, device=None, requires_grad=False, layout=None,
              memory_format=None, pin_memory=False):
    return _like(rand, input, dtype, dict(generator=generator, device=device, requires_grad=requires_grad,
                                          pin_memory=pin_memory))


def randn_like(input, *, dtype=None, generator=None, device=None, requires_grad=False, layout=None,
               memory_format=None, pin_memory=False):
    return _like(randn, input, dtype, dict(generator=generator, device=device, requires_grad=requires_grad,
                                           pin_memory=pin_memory))


def randint_like(input, low=0, high=None, *, dtype=None, generator=None, device=None,
                 requires_grad=False, layout=None, memory_format=None, pin_memory=False):
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(input.shape), generator=generator, device=device or input.device,
                   dtype=input.dtype if dtype is None else dtype, requires_grad=requires_grad,
                   pin_memory=pin_memory)


def _array(x):
    """The values of a tensor argument (of every batch element, inside vmap: for checks)."""
    return physical(x)._data if isinstance(x, Tensor) else x


@sampler
def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad=False, out=None, layout=None, pin_memory=False):
    """Normal samples with (broadcast) `mean` and `std`, tensors or floats; with two floats,
    `size` gives the shape."""
    tensors = [x for x in (mean, std) if isinstance(x, Tensor)]
    if tensors:
        dtype = _dt.result_type(*tensors) if dtype is None else _dt.to_dtype(dtype)
        if not dtype.is_floating_point:
            raise RuntimeError(f"normal: expected a floating point mean/std, got {dtype}")
        shape = (np.broadcast_shapes(*(t.shape for t in tensors)) if size is None
                 else shape_arg((size,), "normal"))
    else:
        dtype = _float_dtype(dtype, "normal")
        shape = shape_arg((size,), "normal") if size is not None else ()
    if xp.any(xp.asarray(_array(std)) < 0):
        raise RuntimeError("normal expects all elements of std >= 0.0")
    levels, lead = _levels("normal")
    z = _wrap(_rng(generator).standard_normal(lead + tuple(shape), dtype=_native(dtype)), dtype,
              device, False, "normal", levels)
    if not state.vmap:
        return _wrap(z._data * _array(std) + _array(mean), dtype, device, requires_grad, "normal")
    with no_grad():                       # (mean and std may be batched)
        out = (z * std + mean).to(dtype)
    return out.requires_grad_() if requires_grad else out


@sampler
def dropout_mask(input, p, shape):
    """Dropout's mask: a constant tensor of `shape` and input's dtype, 0 where dropped
    (probability p), 1/(1-p) where kept; drawn from the default generator.

    On the host, outside vmap, an element is kept where a uniform 32-bit integer is at least
    p 2^32 (rounded): from `ops/dropout_numba.py` where numba is installed, else two per
    64-bit draw of the generator (a float32 uniform would take one)."""
    scale = 0.0 if p == 1 else 1 / (1 - p)
    dtype = None if state.vmap or type(input._data) is not np.ndarray else input._data.dtype
    if dtype is not None and dtype.type in (np.float32, np.float64):
        threshold = np.uint32(min(round(p * 2**32), 2**32 - 1))
        if numba() is not None:
            from .ops import dropout_numba
            out = np.empty(shape, dtype)
            dropout_numba.dropout_mask(out.reshape(-1), np.uint64(default_generator._bits.random_raw()),
                                       threshold, dtype.type(scale))
            return Tensor._make(out)
        n = math.prod(shape)
        bits = default_generator._bits.random_raw((n + 1) // 2).view(np.uint32)[:n].reshape(shape)
        return Tensor._make(np.multiply(bits >= threshold, scale, dtype=dtype))
    u = rand(shape, dtype=input.dtype, device=input.device)
    if type(u) is not Tensor:          # inside vmap, one mask per element: with ops
        return (u >= p).to(input.dtype) * scale
    return Tensor._make(xp.multiply(u._data >= p, scale, dtype=u._data.dtype))


@sampler
def bernoulli(input, p=None, *, generator=None, out=None):
    """0/1 samples with probability `input` (or the float `p`), in input's dtype."""
    probs = _array(input) if p is None else _array(p)
    if xp.any((xp.asarray(probs) < 0) | (xp.asarray(probs) > 1)):
        raise RuntimeError("bernoulli: expected all probabilities to be in [0, 1]")
    levels, lead = _levels("bernoulli")
    u = _rng(generator).random(lead + tuple(input.shape), dtype=_native(input.dtype)
                               if input.dtype.is_floating_point else np.float64)
    if not state.vmap:
        return Tensor._make((u < probs).astype(input._data.dtype))
    with no_grad():                       # u < p, the probabilities possibly batched
        return (rewrap(Tensor._make(u), levels) < (input if p is None else p)).to(input.dtype)


def _per_element_draws(rows=False):
    """Inside vmap, a sampler of an input that is made batched at every level whose elements
    draw their own (randomness 'different'), then drawn from at once, elementwise (or by
    rows of the last dim)."""
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(input, *args, **kwargs):
            if not state.vmap:
                return fn(input, *args, **kwargs)
            levels = random_levels(fn.__name__)
            if any(lv not in levels for lv in levels_of(input)):
                raise RuntimeError(f"vmap: {fn.__name__} of an input that differs across the batch "
                                   "draws differently for each element: use randomness='different'")
            x = peel(input, levels)        # the levels' batch dims in front
            if not rows:
                return rewrap(fn(x, *args, **kwargs), levels)
            out = fn(x.reshape(-1, x.shape[-1]), *args, **kwargs)
            return rewrap(out.reshape(tuple(x.shape[:-1]) + (out.shape[-1],)), levels)
        return wrapper
    return decorate


@sampler
@_per_element_draws(rows=True)
def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    """Indices drawn from the categorical distribution(s) with weights in the rows of `input`."""
    w = input._data
    if w.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim, got {w.ndim} dims")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: {input.dtype}")
    rows = w.reshape(-1, w.shape[-1]).astype(np.float64)
    k = rows.shape[1]
    if num_samples <= 0:
        raise RuntimeError("multinomial: cannot sample n_sample <= 0 samples")
    if not replacement and num_samples > k:
        raise RuntimeError("multinomial: cannot sample n_sample > prob_dist.size(-1) samples without "
                           "replacement")
    if not xp.all(xp.isfinite(rows)) or xp.any(rows < 0):
        raise RuntimeError("multinomial: probability tensor contains either `inf`, `nan` or element < 0")
    totals = rows.sum(1)
    if xp.any(totals <= 0):
        raise RuntimeError("multinomial: invalid multinomial distribution (sum of probabilities <= 0)")
    rng = _rng(generator)
    if replacement:
        # Inverse CDF: the first category whose cumulative weight exceeds u.
        cdf = xp.cumsum(rows, axis=1) / totals[:, None]
        u = rng.random((len(rows), num_samples))
        idx = xp.stack([xp.searchsorted(c, v, side="right") for c, v in zip(cdf, u)])
    else:
        # Exponential race: w / Exp(1) is largest for the category that would be drawn
        # first, and so on; the top num_samples keys are a sample without replacement.
        if xp.any((rows > 0).sum(1) < num_samples):
            raise RuntimeError("multinomial: invalid multinomial distribution (with replacement=False, "
                               "not enough non-negative category to sample)")
        keys = rows / rng.standard_exponential(rows.shape)
        idx = xp.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
    return Tensor._make(idx.astype(np.int64).reshape(w.shape[:-1] + (num_samples,)))


@sampler
@_per_element_draws()
def poisson(input, generator=None):
    """Poisson samples with rates `input`, in input's dtype."""
    return Tensor._make(_rng(generator).poisson(input._data).astype(input._data.dtype))


# --- in-place fills (Tensor methods) ------------------------------------------------------

class Fill(Op):
    """Overwrite with freshly drawn values: no gradient flows to what was there before."""

    op_name = "random_fill"
    batch = leading                 # (values come with the batch dims: see _fill)

    def forward(ctx, x, values):
        return values

    def vjp(ctx, g):
        return None

    def jvp(ctx, dx):
        return dx * 0


def _fill(self, draw, who, float_only=True):
    """Draw values of self's shape (in a native dtype close to self's) and write them in."""
    if float_only and not self.is_floating_point():
        raise RuntimeError(f"{who}: expected a floating point tensor, got {self.dtype}")
    shape = full = tuple(self.shape)
    if state.vmap:                    # inside vmap: the values of every element of self
        different, mine = random_levels(who), levels_of(self)
        if any(lv not in mine for lv in different):
            raise RuntimeError(f"vmap: Cannot ask for different inplace randomness ({who}) on an "
                               "unbatched tensor. This will appear like same randomness.")
        if different and len(different) != len(mine):
            raise RuntimeError(f"vmap: {who} on a tensor batched at vmap levels of both 'same' and "
                               "'different' randomness is not supported")
        full = tuple(physical(self).shape)
        shape = full if different else shape         # 'same': one draw, broadcast to all
    values = draw(shape, _native(self.dtype) if self.is_floating_point() else np.float64)
    values = xp.broadcast_to(xp.asarray(values).astype(self.dtype.np, copy=False), full)
    return apply_inplace(Fill, self, values=values)


@sampler
def uniform_(self, a=0.0, b=1.0, *, generator=None):
    if a > b:
        raise RuntimeError(f"uniform_: expects to return a [from, to) range, but found from={a} > to={b}")
    rng = _rng(generator)
    return _fill(self, lambda s, d: rng.random(s, dtype=d) * (b - a) + a, "uniform_")


@sampler
def normal_(self, mean=0.0, std=1.0, *, generator=None):
    if std < 0:
        raise RuntimeError(f"normal_ expects std >= 0.0, but found std {std}")
    rng = _rng(generator)
    return _fill(self, lambda s, d: rng.standard_normal(s, dtype=d) * std + mean, "normal_")


@sampler
def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    rng = _rng(generator)
    return _fill(self, lambda s, d: xp.exp(rng.standard_normal(s, dtype=d) * std + mean), "log_normal_")


@sampler
def exponential_(self, lambd=1.0, *, generator=None):
    rng = _rng(generator)
    return _fill(self, lambda s, d: rng.standard_exponential(s, dtype=d) / lambd, "exponential_")


@sampler
def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    rng = _rng(generator)
    return _fill(self, lambda s, d: rng.standard_cauchy(s) * sigma + median, "cauchy_")


@sampler
def geometric_(self, p, *, generator=None):
    """Number of Bernoulli(p) trials up to and including the first success."""
    rng = _rng(generator)
    return _fill(self, lambda s, d: rng.geometric(p, s), "geometric_", float_only=False)


@sampler
def bernoulli_(self, p=0.5, *, generator=None):
    probs = _array(p)
    if xp.any((xp.asarray(probs) < 0) | (xp.asarray(probs) > 1)):
        raise RuntimeError("bernoulli_: expected all probabilities to be in [0, 1]")
    rng = _rng(generator)
    return _fill(self, lambda s, d: rng.random(s) < probs, "bernoulli_", float_only=False)


@sampler
def random_(self, from_=0, to=None, *, generator=None):
    """Integers uniform in [from, to); `random_(to)` means [0, to); without bounds, every
    integer the dtype represents exactly (up to 2**mantissa for floats)."""
    if to is None and from_ != 0:
        from_, to = 0, from_
    if to is None:
        d = self._data.dtype
        to = 2 ** (xp.finfo(d).nmant + 1) + 1 if d.kind == "f" else 2 if d.kind == "b" else \
            int(xp.iinfo(d).max) + 1
    if from_ >= to:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={from_} >= to={to}")
    rng = _rng(generator)
    return _fill(self, lambda s, d: rng.integers(from_, to, s), "random_", float_only=False)


def _bernoulli_method(self, p=None, *, generator=None):
    return bernoulli(self, p, generator=generator)


def _multinomial_method(self, num_samples, replacement=False, *, generator=None):
    return multinomial(self, num_samples, replacement, generator=generator)


METHODS = {"uniform_": uniform_, "normal_": normal_, "log_normal_": log_normal_,
           "exponential_": exponential_, "cauchy_": cauchy_, "geometric_": geometric_,
           "bernoulli_": bernoulli_, "random_": random_, "bernoulli": _bernoulli_method,
           "multinomial": _multinomial_method}

for _name, _fn in METHODS.items():
    setattr(Tensor, _name, _fn)
