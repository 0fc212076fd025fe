"""diffprog.fft and the complex ops against PyTorch (oracle.check: forward, VJP, double VJP,
JVP, finite differences).  The oracle feeds real arrays, so complex inputs are built with
view_as_complex and complex outputs read with view_as_real."""
import numpy as np
import pytest

import diffprog as dp
from oracle import check, rand, torch

X = rand(4, 6, seed=1)
Z = rand(4, 6, 2, seed=2)        # a complex (4, 6) tensor as its real view
Z3 = rand(3, 4, 5, 2, seed=3)
W = rand(4, 6, 2, seed=4)


def _both(fn):
    return (lambda *a: fn(dp, *a)), (lambda *a: fn(torch, *a))


def c2c(name, **kw):
    return lambda m, z: m.view_as_real(getattr(m.fft, name)(m.view_as_complex(z), **kw))


def r2c(name, **kw):
    return lambda m, x: m.view_as_real(getattr(m.fft, name)(x, **kw).resolve_conj())


def c2r(name, **kw):
    return lambda m, z: getattr(m.fft, name)(m.view_as_complex(z), **kw)


CASES = [
    ("fft", c2c("fft"), Z), ("fft_n_pad", c2c("fft", n=9), Z), ("fft_n_cut", c2c("fft", n=4), Z),
    ("fft_dim0_ortho", c2c("fft", dim=0, norm="ortho"), Z),
    ("ifft", c2c("ifft"), Z), ("ifft_forward", c2c("ifft", norm="forward", n=7), Z),
    ("fft2", c2c("fft2"), Z3), ("ifft2_s", c2c("ifft2", s=(5, 3)), Z3),
    ("fftn", c2c("fftn"), Z3), ("fftn_dims", c2c("fftn", s=(2, 6), dim=(0, 2), norm="forward"), Z3),
    ("ifftn", c2c("ifftn", norm="ortho"), Z3),
    ("fft_real_input", r2c("fft"), X),
    ("rfft", r2c("rfft"), X), ("rfft_n", r2c("rfft", n=9, norm="ortho"), X),
    ("rfft_cut", r2c("rfft", n=3, dim=0), X), ("rfft2", r2c("rfft2", norm="forward"), X),
    ("rfftn", r2c("rfftn", s=(5, 7)), X),
    ("irfft", c2r("irfft"), Z), ("irfft_odd", c2r("irfft", n=9), Z),
    ("irfft_cut", c2r("irfft", n=6, norm="ortho"), Z), ("irfft_dim0", c2r("irfft", dim=0, norm="forward"), Z),
    ("irfft2", c2r("irfft2"), Z3), ("irfftn_s", c2r("irfftn", s=(3, 4, 7)), Z3),
    ("hfft", c2r("hfft"), Z), ("hfft_n", c2r("hfft", n=7, norm="ortho"), Z),
    ("ihfft", r2c("ihfft"), X), ("ihfft_fwd", r2c("ihfft", norm="forward"), X),
    ("hfft2", c2r("hfft2"), Z3), ("ihfft2", r2c("ihfft2"), X),
    ("hfftn", c2r("hfftn", s=(3, 4, 6)), Z3), ("ihfftn", r2c("ihfftn"), X),
    ("fftshift", lambda m, x: m.fft.fftshift(x), X),
    ("ifftshift_dim", lambda m, x: m.fft.ifftshift(x, dim=1), X),
    ("ifftshift_3", lambda m, x: m.fft.ifftshift(x[:3], dim=(0, 1)), X),
    ("filter", lambda m, x, w: m.fft.irfft(m.fft.rfft(x) * m.view_as_complex(w)[:, :4], n=6), X, W),
    ("spectrum_abs", lambda m, x: m.fft.fft(x).abs(), X),
    ("spectrum_angle", lambda m, x: m.fft.rfft(x).angle(), X),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_fft(case):
    _, fn, *args = case
    check(*_both(fn), *args)


def test_fft_float32_keeps_precision():
    x = rand(8, dtype=np.float32)
    check(*_both(r2c("rfft")), x)
    assert dp.fft.rfft(dp.tensor(x)).dtype == dp.complex64
    assert dp.fft.fft(dp.arange(4)).dtype == dp.complex64


def test_frequencies():
    for n, d in [(8, 1.0), (7, 0.1)]:
        np.testing.assert_allclose(dp.fft.fftfreq(n, d).numpy(), torch.fft.fftfreq(n, d).numpy())
        np.testing.assert_allclose(dp.fft.rfftfreq(n, d).numpy(), torch.fft.rfftfreq(n, d).numpy())
    assert dp.fft.fftfreq(4, dtype=dp.float64).dtype == dp.float64


def test_errors_name_the_transform():
    with pytest.raises(ValueError, match="Invalid normalization mode"):
        dp.fft.fft(dp.zeros(4), norm="unitary")
    with pytest.raises(RuntimeError, match="rfft expects a real input"):
        dp.fft.rfft(dp.zeros(4, dtype=dp.complex64))
    with pytest.raises(RuntimeError, match="Invalid number of data points"):
        dp.fft.fft(dp.zeros(4), n=0)
    with pytest.raises(RuntimeError, match="same length"):
        dp.fft.fftn(dp.zeros(4, 4), s=(4,), dim=(0, 1))


COMPLEX_CASES = [
    ("real", lambda m, z: m.view_as_complex(z).real, Z),
    ("imag", lambda m, z: m.view_as_complex(z).imag, Z),
    ("conj", lambda m, z: m.view_as_real(m.view_as_complex(z).conj() * m.view_as_complex(z + 1)), Z),
    ("angle", lambda m, z: m.view_as_complex(z).angle(), Z),
    ("angle_real", lambda m, x: m.angle(x), X),
    ("abs", lambda m, z: m.view_as_complex(z).abs(), Z),
    ("complex", lambda m, x, y: m.view_as_real(m.complex(x, y)), X, X[::-1].copy()),
    ("polar", lambda m, x, y: m.view_as_real(m.polar(x.abs() + 0.1, y)), X, X[::-1].copy()),
    ("mul", lambda m, z, w: m.view_as_real(m.view_as_complex(z) * m.view_as_complex(w)), Z, W),
    ("div", lambda m, z, w: m.view_as_real(m.view_as_complex(z) / (m.view_as_complex(w) + 2)), Z, W),
    ("exp_log", lambda m, z: m.view_as_real((m.view_as_complex(z) + 2).log().exp().sin()), Z),
    ("pow", lambda m, z: m.view_as_real((m.view_as_complex(z) + 2) ** 2.5), Z),
    ("matmul", lambda m, z, w: m.view_as_real(m.view_as_complex(z) @ m.view_as_complex(w).mT), Z, W),
    ("real_times_complex", lambda m, x, w: m.view_as_real(x * m.view_as_complex(w)), X, W),
    ("sgn", lambda m, z: m.view_as_real(m.view_as_complex(z).sgn()), Z),
    ("adjoint", lambda m, z: m.view_as_real(m.view_as_complex(z).adjoint().resolve_conj()), Z),
]


@pytest.mark.parametrize("case", COMPLEX_CASES, ids=[c[0] for c in COMPLEX_CASES])
def test_complex_ops(case):
    _, fn, *args = case
    check(*_both(fn), *args)


def test_complex_errors():
    with pytest.raises(RuntimeError, match="last dimension of size 2"):
        dp.view_as_complex(dp.zeros(3, 3))
    with pytest.raises(RuntimeError, match="view_as_real"):
        dp.view_as_real(dp.zeros(3))
