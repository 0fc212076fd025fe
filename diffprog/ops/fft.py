"""Discrete Fourier transforms (`diffprog.fft`, PyTorch's `torch.fft`), on NumPy's pocketfft.

Three ops cover the family, each over a set of dims with sizes `s` (the input is cut or
zero-padded to `s` first) and a normalisation (`"backward"`: 1/n on the inverse,
`"forward"`: 1/n on the forward, `"ortho"`: 1/sqrt(n) on both):

  - `FFT`, complex to complex, forward or inverse.  A DFT is linear, and the adjoint of
    the transform with one normalisation is the inverse transform with the other
    (`_DUAL`), so the VJP is that inverse followed by the adjoint of the cut / pad.
  - `RFFT`, real to the half spectrum (the last dim keeps n // 2 + 1 bins).  Its adjoint
    zero-pads the spectrum to n bins, applies the full inverse, and keeps the real part.
  - `IRFFT`, half spectrum to real.  Each bin other than DC (and Nyquist, for even n)
    stands for itself and its conjugate, so the VJP is the forward real transform of the
    cotangent with those bins doubled.

The VJPs and JVPs are written with these ops, so derivatives of every order work.  The
Hermitian transforms (`hfft`, `ihfft`, ...) are conjugates of the real ones.
"""
from .. import dtypes as _dt
from .._array import full, xp
from ..tensor import Tensor
from .batching import along, array_of
from .complex import conj
from .op import Op

_DUAL = {"backward": "forward", "forward": "backward", "ortho": "ortho"}
_COMPLEX = {"float32": xp.complex64, "float64": xp.complex128, "complex64": xp.complex64,
            "complex128": xp.complex128}
_REAL = {xp.complex64: xp.float32, xp.complex128: xp.float64}


def _ctype(a):
    """The complex dtype a transform of `a` computes in (integers: the default float's)."""
    name = a.dtype.name if a.dtype.kind in "fc" else _dt.get_default_dtype().name
    if name not in _COMPLEX:
        raise RuntimeError(f"fft: unsupported dtype {a.dtype}")
    return _COMPLEX[name]


def _fit(t, dims, sizes):
    """t cut or zero-padded along each of dims to sizes (the adjoint of each is the other)."""
    from .shape import cat
    for d, n in zip(dims, sizes):
        have = t.shape[d]
        if have > n:
            t = t.narrow(d, 0, n)
        elif have < n:
            shape = list(t.shape)
            shape[d] = n - have
            t = cat([t, Tensor._make(xp.zeros(shape, dtype=t._data.dtype, like=array_of(t)))], d)
    return t


class FFT(Op):
    """The n-dimensional complex DFT (or its inverse) over `dims`, after cutting or padding
    them to `s`."""

    op_name = "fft"
    batch = along("dims", everything=False)

    def forward(ctx, x, *, s, dims, norm, inverse):
        ctx.opts = dict(s=s, dims=dims, norm=norm, inverse=inverse)
        ctx.in_sizes = tuple(x.shape[d] for d in dims)
        f = xp.fft.ifftn if inverse else xp.fft.fftn
        return f(x.astype(_ctype(x), copy=False), s=s, axes=dims, norm=norm).astype(_ctype(x), copy=False)

    def vjp(ctx, g):
        o = ctx.opts
        back = FFT.apply(g, s=o["s"], dims=o["dims"], norm=_DUAL[o["norm"]], inverse=not o["inverse"])
        return _fit(back, o["dims"], ctx.in_sizes)

    def jvp(ctx, dx):
        return FFT.apply(dx, **ctx.opts)


class RFFT(Op):
    """The DFT of a real tensor over `dims`, the last one halved to n // 2 + 1 bins."""

    op_name = "rfft"
    batch = along("dims", everything=False)

    def forward(ctx, x, *, s, dims, norm):
        if x.dtype.kind == "c":
            raise RuntimeError(f"rfft expects a real input tensor, but got {x.dtype}")
        ctx.opts = dict(s=s, dims=dims, norm=norm)
        ctx.in_sizes = tuple(x.shape[d] for d in dims)
        x = x.astype(_REAL[_ctype(x)], copy=False)
        return xp.fft.rfftn(x, s=s, axes=dims, norm=norm).astype(_ctype(x), copy=False)

    def vjp(ctx, g):
        o = ctx.opts
        whole = _fit(g, o["dims"][-1:], o["s"][-1:])
        back = FFT.apply(whole, s=o["s"], dims=o["dims"], norm=_DUAL[o["norm"]], inverse=True)
        return _fit(back.real, o["dims"], ctx.in_sizes)

    def jvp(ctx, dx):
        return RFFT.apply(dx, **ctx.opts)


class IRFFT(Op):
    """The inverse of RFFT: a half spectrum over `dims` to a real tensor of sizes `s`."""

    op_name = "irfft"
    batch = along("dims", everything=False)

    def forward(ctx, z, *, s, dims, norm):
        ctx.opts = dict(s=s, dims=dims, norm=norm)
        ctx.in_sizes = tuple(z.shape[d] for d in dims)
        ct = _ctype(z)
        return xp.fft.irfftn(z.astype(ct, copy=False), s=s, axes=dims, norm=norm).astype(
            _REAL[ct], copy=False)

    def vjp(ctx, g):
        o = ctx.opts
        n = o["s"][-1]
        half = RFFT.apply(g, s=o["s"], dims=o["dims"], norm=_DUAL[o["norm"]])
        weight = full(n // 2 + 1, 2.0, like=array_of(half))
        weight[0] = 1.0
        if n % 2 == 0:
            weight[-1] = 1.0
        shape = [1] * half.ndim
        shape[o["dims"][-1]] = n // 2 + 1
        half = half * Tensor._make(weight.reshape(shape).astype(_REAL[half._data.dtype.type]))
        return _fit(half, o["dims"], ctx.in_sizes)

    def jvp(ctx, dz):
        return IRFFT.apply(dz, **ctx.opts)


# --- arguments ---------------------------------------------------------------------------------

def _norm(norm, name):
    if norm is None:
        return "backward"
    if norm not in _DUAL:
        raise ValueError(f'{name}: Invalid normalization mode: "{norm}" (expected "backward", '
                         f'"forward" or "ortho")')
    return norm


def _tensor(input, name):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(input).__name__}")
    return input


def _plan(input, s, dim, name, default_all=True):
    """(s, dims) with PyTorch's defaults: dims from s's length (the last ones) or all dims."""
    nd = input.ndim
    if isinstance(dim, int):
        dim = (dim,)
    if isinstance(s, int):
        s = (s,)
    if dim is None:
        if s is not None:
            dim = tuple(range(nd - len(s), nd))
        else:
            dim = tuple(range(nd)) if default_all else (nd - 1,)
    dims = tuple(d % nd if nd else 0 for d in dim)
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"{name}: dims must be unique, got {tuple(dim)}")
    if not dims:
        raise RuntimeError(f"{name}: expected at least one dim to transform")
    if s is not None:
        if len(s) != len(dims):
            raise RuntimeError(f"{name}: When given, dim and shape arguments must have the same "
                               f"length, got s={tuple(s)} and dim={tuple(dim)}")
        s = tuple(input.shape[d] if n == -1 else int(n) for n, d in zip(s, dims))
    else:
        s = tuple(input.shape[d] for d in dims)
    if min(s) < 1:
        raise RuntimeError(f"{name}: Invalid number of data points ({min(s)}) specified")
    return s, dims


def _c2c(input, s, dim, norm, inverse, name, default_all=True):
    input = _tensor(input, name)
    s, dims = _plan(input, s, dim, name, default_all)
    return FFT.apply(input, s=s, dims=dims, norm=_norm(norm, name), inverse=inverse)


def _r2c(input, s, dim, norm, name, default_all=True):
    input = _tensor(input, name)
    s, dims = _plan(input, s, dim, name, default_all)
    return RFFT.apply(input, s=s, dims=dims, norm=_norm(norm, name))


def _c2r(input, s, dim, norm, name, default_all=True):
    """The output sizes: s, else the input's sizes with the last dim 2 (m - 1)."""
    input = _tensor(input, name)
    given = s
    s, dims = _plan(input, s, dim, name, default_all)
    if given is None:
        s = s[:-1] + (2 * (input.shape[dims[-1]] - 1),)
        if s[-1] < 1:
            raise RuntimeError(f"{name}: Invalid number of data points ({s[-1]}) specified")
    return IRFFT.apply(input, s=s, dims=dims, norm=_norm(norm, name))


# --- the torch.fft functions ------------------------------------------------------------------------

def fft(input, n=None, dim=-1, norm=None):
    """The 1-D DFT along dim (input cut or zero-padded to n)."""
    return _c2c(input, n, dim, norm, False, "fft")


def ifft(input, n=None, dim=-1, norm=None):
    return _c2c(input, n, dim, norm, True, "ifft")


def fft2(input, s=None, dim=(-2, -1), norm=None):
    return _c2c(input, s, dim, norm, False, "fft2")


def ifft2(input, s=None, dim=(-2, -1), norm=None):
    return _c2c(input, s, dim, norm, True, "ifft2")


def fftn(input, s=None, dim=None, norm=None):
    return _c2c(input, s, dim, norm, False, "fftn")


def ifftn(input, s=None, dim=None, norm=None):
    return _c2c(input, s, dim, norm, True, "ifftn")


def rfft(input, n=None, dim=-1, norm=None):
    """The DFT of a real signal: the n // 2 + 1 non-negative frequencies."""
    return _r2c(input, n, dim, norm, "rfft")


def irfft(input, n=None, dim=-1, norm=None):
    """The inverse of rfft: n real samples (default 2 (m - 1)) from m half-spectrum bins."""
    return _c2r(input, n, dim, norm, "irfft")


def rfft2(input, s=None, dim=(-2, -1), norm=None):
    return _r2c(input, s, dim, norm, "rfft2")


def irfft2(input, s=None, dim=(-2, -1), norm=None):
    return _c2r(input, s, dim, norm, "irfft2")


def rfftn(input, s=None, dim=None, norm=None):
    return _r2c(input, s, dim, norm, "rfftn")


def irfftn(input, s=None, dim=None, norm=None):
    return _c2r(input, s, dim, norm, "irfftn")


def hfft(input, n=None, dim=-1, norm=None):
    """The DFT of a Hermitian-symmetric signal given by its first half: a real spectrum."""
    return irfft(conj(_tensor(input, "hfft")), n, dim, _DUAL[_norm(norm, "hfft")])


def ihfft(input, n=None, dim=-1, norm=None):
    """The inverse of hfft: the first half of a Hermitian-symmetric signal."""
    return conj(rfft(input, n, dim, _DUAL[_norm(norm, "ihfft")]))


def hfft2(input, s=None, dim=(-2, -1), norm=None):
    return irfftn(conj(_tensor(input, "hfft2")), s, dim, _DUAL[_norm(norm, "hfft2")])


def ihfft2(input, s=None, dim=(-2, -1), norm=None):
    return conj(rfftn(input, s, dim, _DUAL[_norm(norm, "ihfft2")]))


def hfftn(input, s=None, dim=None, norm=None):
    return irfftn(conj(_tensor(input, "hfftn")), s, dim, _DUAL[_norm(norm, "hfftn")])


def ihfftn(input, s=None, dim=None, norm=None):
    return conj(rfftn(input, s, dim, _DUAL[_norm(norm, "ihfftn")]))


def _freq(values, dtype, requires_grad):
    from ..creation import tensor
    return tensor(values, dtype=dtype or _dt.get_default_dtype(), requires_grad=requires_grad)


def fftfreq(n, d=1.0, *, dtype=None, layout=None, device=None, requires_grad=False):
    """The sample frequencies of an n-point DFT with sample spacing d."""
    return _freq(xp.fft.fftfreq(n, d), dtype, requires_grad)


def rfftfreq(n, d=1.0, *, dtype=None, layout=None, device=None, requires_grad=False):
    """The non-negative sample frequencies of an n-point rfft."""
    return _freq(xp.fft.rfftfreq(n, d), dtype, requires_grad)


def _shift(input, dim, inverse):
    dims = range(input.ndim) if dim is None else ((dim,) if isinstance(dim, int) else tuple(dim))
    dims = tuple(dims)
    shifts = tuple((-(input.shape[d] // 2) if inverse else input.shape[d] // 2) for d in dims)
    return input.roll(shifts, dims) if dims else input


def fftshift(input, dim=None):
    """Move the zero frequency to the middle (a roll by n // 2 along each dim)."""
    return _shift(input, dim, False)


def ifftshift(input, dim=None):
    """The inverse of fftshift."""
    return _shift(input, dim, True)


METHODS = {}

__all__ = ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2",
           "rfftn", "irfftn", "hfft", "ihfft", "hfft2", "ihfft2", "hfftn", "ihfftn", "fftfreq",
           "rfftfreq", "fftshift", "ifftshift"]
